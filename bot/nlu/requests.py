"""Several requests in one message: "thanks, and what's the warranty?", «ارسال به تبریز دارید و چند روزه میرسه؟».

Rasa gives a message one intent. A customer who asks two things, or wraps a
question in thanks or a greeting, gets only one answered — or none, when the
two intents tie and the FallbackClassifier calls it `nlu_fallback`. This
component splits the message into clauses (at sentence punctuation, commas
and words like "and", "also", «و», «ضمناً», «راستی») and classifies each clause
with its own small linear model (TF-IDF word and character n-grams, linear
SVM), trained on the same NLU examples. When at least two clauses are
understood, or one clause says something other than the message's intent,
it adds `requests`: [{intent, confidence, text}] in the order asked.
`bot.dialogue.moves` decides what to answer from them.

The model is persisted as arrays and vocabularies (npz + JSON), nothing pickled.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.dialogue.expectations import CHITCHAT, QUESTIONS
from bot.nlu.linear_classifier import softmax
from bot.text.persian import ZWNJ, normalise

logger = logging.getLogger(__name__)

REQUESTS_KEY = "requests"
_SPLIT = re.compile(
    r"[?؟!.;؛]+\s+|[,،]\s*|\s+[-–—]+\s+|\s+(?:and also|and then|and|also|plus|btw|by the way|oh and|va|"
    r"و|و همچنین|همچنین|ضمنا|ضمناً|راستی|بعدش|یه سوال دیگه|یک سوال دیگر)\s+",
    re.IGNORECASE,
)


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", normalise(text or "").replace(ZWNJ, " ").lower()).strip()


_GREETING = re.compile(r"^((?:سلام|درود|سلام علیکم|salam|slm|hi|hello|hey|good (?:morning|afternoon|evening))"
                       r"(?: (?:وقت ?(?:تون|ت|شما)? ?بخیر|خسته نباشید|عرض ادب|there|guys|team))?)[\s!,،]+(?=\S+\s+\S)")


def clauses(text: str, minimum_words: int = 2) -> List[str]:
    """The clauses of a message; a fragment too short to stand alone joins the clause before it.
    A greeting that opens a longer message is a clause of its own («سلام یه ماوس میخواستم»)."""
    return [part for part, _ in clauses_with_marks(text, minimum_words)]


# A clause that opens like a question asks one, with or without its question mark ("how can I pay, and …").
_QUESTION_OPENING = re.compile(
    r"^(?:(?:and|so|also|ok|okay|و|ولی|راستی) )?(?:how|what|when|where|which|who|why|is|are|do|does|can|could|"
    r"will|would|should|any|آیا|چطور|چطوری|چجوری|چگونه|چند|چقدر|کی|کجا|کجاست|چرا|میشه|می شه|امکانش هست)\b")


def clauses_with_marks(text: str, minimum_words: int = 2) -> List[Tuple[str, bool]]:
    """(clause, asked) pairs: `asked` when the clause ends with a question mark or opens like a question."""
    marked = _GREETING.sub(r"\1, ", clean(text))
    pieces: List[Tuple[str, bool]] = []
    position = 0
    for match in _SPLIT.finditer(marked + " "):
        piece = marked[position:match.start()]
        if piece.strip(" ?؟!.,،"):
            pieces.append((piece.strip(" ?؟!.,،"), "?" in match.group(0) or "؟" in match.group(0)))
        position = match.end()
    tail = marked[position:]
    if tail.strip(" ?؟!.,،"):
        pieces.append((tail.strip(" ?؟!.,،"), tail.rstrip().endswith(("?", "؟"))))
    merged: List[Tuple[str, bool]] = []
    for part, asked in pieces:
        if merged and len(part.split()) < minimum_words:
            merged[-1] = (f"{merged[-1][0]} {part}", asked or merged[-1][1])
        else:
            merged.append((part, asked))
    if len(merged) > 1 and len(merged[0][0].split()) < minimum_words and merged[0][0] not in _SHORT_CLAUSES:
        merged[1] = (f"{merged[0][0]} {merged[1][0]}", merged[1][1])
        merged.pop(0)
    return [(part, asked or bool(_QUESTION_OPENING.match(part))) for part, asked in merged]


# Short clauses that stand alone: greetings and thanks around a question.
_SHORT_CLAUSES = {"hi", "hello", "hey", "thanks", "thank you", "thx", "ok", "سلام", "ممنون", "مرسی", "ممنونم",
                  "salam", "slm", "mersi", "merci", "mamnoon", "درود"}
# Intents that wrap a request ("hi, …", "thanks, and …"): when the whole message got one of
# them, its clauses are trusted; otherwise a clause's intent must be among the whole message's.
WRAPPERS = {"greet", "thank_you", "goodbye", "affirm", "deny", "stop"}
# Questions answered in one go: such a clause asking its question stands on its own.
ONE_GO = QUESTIONS | CHITCHAT


class ClauseModel:
    """TF-IDF (word 1–2, char_wb 2–4) + linear SVM, stored as plain arrays."""

    def __init__(self, intents: List[str], word_vocabulary: Dict[str, int], char_vocabulary: Dict[str, int],
                 word_idf: np.ndarray, char_idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 temperature: float) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.intents = intents
        self.words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                     token_pattern=r"[\w']+", vocabulary=word_vocabulary)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True,
                                     vocabulary=char_vocabulary)
        self.words.idf_, self.chars.idf_ = word_idf, char_idf
        self.coef, self.intercept, self.temperature = coef, intercept, temperature

    def features(self, texts: List[str]) -> Any:
        import scipy.sparse

        return scipy.sparse.hstack([self.words.transform(texts), self.chars.transform(texts)]).tocsr()

    def probabilities(self, texts: List[str]) -> np.ndarray:
        margins = np.asarray(self.features(texts) @ self.coef.T) + self.intercept
        return softmax(margins * self.temperature)


def train_clause_model(texts: List[str], labels: List[str], c: float = 0.5) -> Optional[ClauseModel]:
    import scipy.sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import cross_val_predict
    from sklearn.svm import LinearSVC

    from bot.nlu.linear_classifier import fit_temperature

    intents = sorted(set(labels))
    if len(intents) < 2:
        return None
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[\w']+", min_df=2)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=3)
    features = scipy.sparse.hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
    gold = np.array([intents.index(label) for label in labels])
    svm = LinearSVC(C=c)
    margins = cross_val_predict(svm, features, gold, cv=3, method="decision_function")
    temperature = fit_temperature(np.asarray(margins), gold)
    svm.fit(features, gold)
    return ClauseModel(intents, {k: int(v) for k, v in words.vocabulary_.items()},
                       {k: int(v) for k, v in chars.vocabulary_.items()}, words.idf_, chars.idf_,
                       svm.coef_.astype(np.float32), svm.intercept_.astype(np.float32), temperature)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RequestSplitter(GraphComponent):
    """Adds `requests` to a message that asks several things (after the intent classifiers)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # A clause counts as a request when its intent is at least this likely.
        # …and, unless the message is a greeting or thanks around it, has at least `agreement`
        # in the whole message's intent ranking.
        # A one-go question asked in a clause of its own counts when its intent is at least `one_go`
        # likely («اقساطی هم میفروشین؟ ارسال به مشهد چند روزه؟»: both are answered).
        return {"threshold": 0.5, "agreement": 0.02, "one_go": 0.6, "C": 0.5}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[ClauseModel] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage, self._resource, self._model = model_storage, resource, model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "RequestSplitter":
        return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    def train(self, training_data: TrainingData) -> Resource:
        examples = [(clean(m.get(TEXT) or ""), m.get(INTENT)) for m in training_data.intent_examples]
        examples = [(text, intent) for text, intent in examples if text and intent]
        self._model = train_clause_model([t for t, _ in examples], [i for _, i in examples], float(self._config["C"]))
        if self._model is not None:
            self._persist(self._model)
        return self._resource

    def _persist(self, model: ClauseModel) -> None:
        with self._storage.write_to(self._resource) as directory:
            np.savez_compressed(directory / "clauses.npz", word_idf=model.words.idf_, char_idf=model.chars.idf_,
                                coef=model.coef, intercept=model.intercept)
            (directory / "clauses.json").write_text(json.dumps({
                "intents": model.intents, "temperature": model.temperature,
                "words": model.words.vocabulary, "chars": model.chars.vocabulary,
            }, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "RequestSplitter":
        model = None
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / "clauses.json").read_text(encoding="utf-8"))
                arrays = np.load(directory / "clauses.npz")
                model = ClauseModel(meta["intents"], meta["words"], meta["chars"], arrays["word_idf"],
                                    arrays["char_idf"], arrays["coef"], arrays["intercept"],
                                    float(meta["temperature"]))
        except (ValueError, FileNotFoundError, KeyError):
            logger.warning("RequestSplitter: no trained model in %s; messages pass through", resource.name)
        return cls(config, model_storage, resource, model)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        for message in messages:
            ranking = {r.get("name"): float(r.get("confidence") or 0.0) for r in message.get(INTENT_RANKING_KEY) or []}
            text = message.get(TEXT) or ""
            named = [clean(text[e["start"]:e["end"]]) for e in message.get(ENTITIES) or []
                     if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)]
            found = self.requests(text, (message.get(INTENT) or {}).get("name"), ranking, named)
            if found:
                message.set(REQUESTS_KEY, found, add_to_output=True)
        return messages

    def requests(self, text: str, message_intent: Optional[str], ranking: Optional[Dict[str, float]] = None,
                 named: Optional[List[str]] = None) -> List[Dict[str, Any]]:
        """The requests of a message with several clauses, or [] when it asks one thing.

        A clause counts when its own model is sure of it and either the whole message opens with a
        greeting or thanks (read as that), or the classifiers of the whole message saw its intent
        too (`ranking`, at least `agreement`), or it names what it asks about (an order number, a
        product: `named`), or it is itself a question of a kind answered in one go (bot challenge,
        shipping, promotions…): one clause read wrongly must not add a request nobody made, and
        "whoa, pricey. thanks anyway" is a thanks."""
        assert self._model is not None
        parts = clauses_with_marks(text)
        if len(parts) < 2:
            return []
        probabilities = self._model.probabilities([part for part, _ in parts])
        best_of = [(self._model.intents[int(np.argmax(row))], float(np.max(row))) for row in probabilities]
        trust_clauses = ranking is None or (message_intent in WRAPPERS and best_of[0][0] in WRAPPERS)
        found = []
        sure_of_message = (ranking or {}).get(message_intent or "", 0.0) >= 0.8
        for (part, asked), (intent, confidence) in zip(parts, best_of):
            if confidence < float(self._config["threshold"]) and not (
                    sure_of_message and intent == message_intent and confidence >= 0.3):
                # (a clause the whole message is surely about counts at less: «یه کد هم دارم به اسم
                # HAMRAH5، معتبره؟» beside «الان تخفیف دارید؟»)
                continue
            agreed = trust_clauses or intent in WRAPPERS \
                or (ranking or {}).get(intent, 0.0) >= float(self._config["agreement"]) \
                or any(name and name in part for name in named or []) \
                or (intent in ONE_GO and confidence >= float(self._config["one_go"]) and asked) \
                or (intent in CHITCHAT and confidence >= 0.95)
            if agreed:
                found.append({"intent": intent, "confidence": round(confidence, 3), "text": part})
        intents = {f["intent"] for f in found}
        if len(intents) >= 2 or (len(intents) == 1 and message_intent not in intents):
            return found
        return []
