"""Persian/English sentiment and frustration detector, and its Rasa NLU component.

`analyse(text)` -> `{"label": "positive"|"neutral"|"negative", "score": -1..1, "frustrated": bool}`.

Two parts, both from files we wrote (`bot/handoff/data/`):

* a logistic regression on character (2-5) and word (1-2) n-grams, trained at first
  use (well under a second) on `sentiment.tsv` — ~220 Persian, Finglish and English
  customer messages labelled pos / neu / neg / angry — and `sentiment_neutral.tsv`,
  ~290 ordinary turns (greetings, goodbyes, yes/no, product names, questions) from
  our NLU data, so that ordinary shop talk is not read as anger;
* a cue lexicon (`lexicon.tsv`): positive and negative words shift the score, anger
  cues ("کلاهبردار", "افتضاح", "scam", "fed up", ...) and shouting ("!!!", "؟؟؟",
  ALL CAPS) mark frustration.

`frustrated` is deliberately strict (a hand-off is expensive): the model must find
the message angry, or an anger cue / shouting must come with a clearly negative
score. Measured on real Persian customer feedback by `bench/sentiment_snappfood.py`
(figures in docs/handoff.md).

Add to config.yml's pipeline after the language detector:

    - name: bot.handoff.sentiment.SentimentAnalyzer
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

from bot.text.persian import normalise

DATA_DIR = Path(__file__).resolve().parent / "data"
NEGATIVE_AT, POSITIVE_AT = -0.2, 0.25
ANGRY_PROBABILITY = 0.6
_WORD = re.compile(r"[\w\u200c']+", re.UNICODE)
_SHOUT = re.compile(r"(!{2,}|[؟?]{3,}|[!؟?]{3,})")


def _clean(text: str) -> str:
    return normalise(text or "").replace("\u200c", " ").lower()


EXAMPLE_FILES = (DATA_DIR / "sentiment.tsv", DATA_DIR / "sentiment_neutral.tsv")


def load_examples(*paths: Path) -> List[Tuple[str, str]]:
    """label<TAB>text rows of our training files (both by default: the labelled
    messages and the ordinary turns that keep shop talk from reading as anger)."""
    rows = []
    for path in paths or EXAMPLE_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            label, text = line.split("\t", 1)
            rows.append((label.strip(), text.strip()))
    return rows


def load_lexicon(path: Path = DATA_DIR / "lexicon.tsv") -> Dict[str, List[Tuple[str, float]]]:
    lexicon: Dict[str, List[Tuple[str, float]]] = {"pos": [], "neg": [], "anger": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, weight, phrase = line.split("\t", 2)
        lexicon[kind].append((_clean(phrase), float(weight)))
    return lexicon


class SentimentModel:
    """A small Persian/English sentiment classifier (TF-IDF, logistic regression and a lexicon), to notice
    a frustrated customer."""

    def __init__(self, examples: Optional[List[Tuple[str, str]]] = None,
                 lexicon: Optional[Dict[str, List[Tuple[str, float]]]] = None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        examples = examples if examples is not None else load_examples()
        self.lexicon = lexicon if lexicon is not None else load_lexicon()
        features = FeatureUnion([
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)),
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                      token_pattern=r"[\w']+")),
        ])
        self.pipeline = make_pipeline(features, LogisticRegression(C=8.0, max_iter=2000, class_weight="balanced",
                                                                   random_state=0))
        self.pipeline.fit([_clean(t) for _, t in examples], [label for label, _ in examples])
        self.classes = list(self.pipeline.classes_)

    def _cues(self, clean: str) -> Dict[str, float]:
        padded = f" {' '.join(_WORD.findall(clean))} "
        hits = {}
        for kind, entries in self.lexicon.items():
            hits[kind] = sum(weight for phrase, weight in entries if f" {phrase} " in padded)
        return hits

    def analyse_many(self, texts: List[str]) -> List[Dict[str, Any]]:
        cleaned = [_clean(t) for t in texts]
        probabilities = self.pipeline.predict_proba(cleaned) if cleaned else []
        return [self._combine(raw, clean, dict(zip(self.classes, p)))
                for raw, clean, p in zip(texts, cleaned, probabilities)]

    def analyse(self, text: str) -> Dict[str, Any]:
        return self.analyse_many([text])[0]

    def _combine(self, raw: str, clean: str, p: Dict[str, float]) -> Dict[str, Any]:
        model_score = p.get("pos", 0.0) - p.get("neg", 0.0) - p.get("angry", 0.0)
        cues = self._cues(clean)
        lexical = (cues["pos"] - cues["neg"] - cues["anger"]) / (cues["pos"] + cues["neg"] + cues["anger"] + 1.0)
        score = max(-1.0, min(1.0, 0.7 * model_score + 0.3 * lexical))
        label = "negative" if score <= NEGATIVE_AT else "positive" if score >= POSITIVE_AT else "neutral"
        latin = [w for w in re.findall(r"[A-Za-z]+", raw or "") if len(w) > 1]
        shouting = bool(_SHOUT.search(raw or "")) or (len(latin) >= 3 and all(w.isupper() for w in latin))
        # strict: clearly negative, and an anger cue, shouting, or a confident "angry" from the model
        frustrated = score <= -0.3 and (cues["anger"] > 0 or shouting or p.get("angry", 0.0) >= ANGRY_PROBABILITY)
        return {"label": label, "score": round(score, 3), "frustrated": bool(frustrated)}


_model: Optional[SentimentModel] = None
_lock = threading.Lock()


def get_model() -> SentimentModel:
    global _model
    with _lock:
        if _model is None:
            _model = SentimentModel()
        return _model


def analyse(text: str) -> Dict[str, Any]:
    return get_model().analyse(text)


# --------------------------------------------------------------------------- Rasa NLU component
try:
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message
except ImportError:  # pragma: no cover - the detector works without Rasa (bench, tests)
    GraphComponent = None  # type: ignore[assignment,misc]

if GraphComponent is not None:

    @DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
    class SentimentAnalyzer(GraphComponent):
        """Sets `sentiment` = {label, score, frustrated} on every parsed message (added to the output)."""

        @staticmethod
        def get_default_config() -> Dict[Text, Any]:
            return {}

        def __init__(self, config: Dict[Text, Any]) -> None:
            self.config = config
            # Fitted here, when Rasa loads the model, not on the first customer's message
            # (about 0.4 s: that message used to wait for it).
            self.model = get_model()

        @classmethod
        def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                   execution_context: ExecutionContext) -> "SentimentAnalyzer":
            return cls(config)

        def process_training_data(self, training_data: Any) -> Any:
            return training_data

        def process(self, messages: List[Message]) -> List[Message]:
            texts = [m.get(TEXT) or "" for m in messages]
            if not any(texts):
                return messages
            for message, result in zip(messages, self.model.analyse_many(texts)):
                if message.get(TEXT):
                    message.set("sentiment", result, add_to_output=True)
            return messages
