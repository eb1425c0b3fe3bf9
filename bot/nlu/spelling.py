"""Typos in product names fixed before the NLU reads them ("how much is the ipone 15").

Customers type fast on phones: "ipone", "samsnug", "galxy", "macbok". The intent
classifier's character n-grams forgive some of that, the product rules none — an
alias either matches or not. `SpellingCorrector` learns the Latin words of the
product names (synonyms and lookup tables) and the words the training data knows;
at parse time, a word it does not know at all, one edit away from exactly one
product word (a letter missing, extra, wrong, or two letters swapped — never the
first, which typos keep), becomes that word. Only product words are targets: the training data is too small a dictionary
of English to correct ordinary words ("sorry" is in none of its examples, and is
one edit from "worry"). Short words, words in capitals or with digits (codes,
models), emails and web addresses, and Persian words are left as typed.

A product word glued to its number is split ("flip6", "iphone15"), and so are Persian letters
glued to Latin letters or digits («گلکسیA55», «آیفون15»).

One kind of typo is also fixed in ordinary words: two neighbouring letters swapped
("how mcuh is…", "waht", "delviery"), the commonest slip of fast thumbs. A swap is
narrow where an edit is not: an unknown word of four letters or more becomes the one
word, among those the training data uses often (`COMMON`), that the swap of two of
its letters (not the first) makes.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# A word on its own: not part of an email, a web address, a code or a model ("ali@gmial.com", "x6pro").
_LONE_WORD = re.compile(r"(?<![\w@./:\-])[A-Za-z]+(?:'[A-Za-z]+)?(?![\w@/:\-]|\.\w)")


def latin_words(text: str) -> List[str]:
    return [w.lower() for w in _LATIN_WORD.findall(text or "")]


def _deletes(word: str) -> List[str]:
    return [word[:i] + word[i + 1:] for i in range(len(word))]


def one_edit_apart(a: str, b: str) -> bool:
    """One insertion, deletion, substitution or swap of two neighbouring letters."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


class Vocabulary:
    """Known words with their counts; the target words (product names) indexed by their
    one-letter deletions."""

    MIN_LENGTH = 5   # "able" is one edit from "cable", "nose" from "note"
    SWAP_MIN_LENGTH = 4   # "mcuh", "waht"; "teh" is left alone
    COMMON = 5   # a word of the training data a swap may lead to: used at least this often

    def __init__(self, counts: Dict[str, int], targets: Optional[Iterable[str]] = None) -> None:
        self.counts = counts
        self.targets = set(counts if targets is None else targets)
        self._by_deletion: Dict[str, List[str]] = {}
        for word in self.targets:
            for key in [word] + _deletes(word):
                self._by_deletion.setdefault(key, []).append(word)

    @classmethod
    def of_texts(cls, texts: Iterable[str], targets: Optional[Iterable[str]] = None) -> "Vocabulary":
        counts = Counter(w for text in texts for w in latin_words(text))
        target_words = None if targets is None else {w for text in targets for w in latin_words(text)}
        counts.update({w: 1 for w in target_words or () if w not in counts})
        return cls(dict(counts), target_words)

    def correction(self, word: str) -> Optional[str]:
        """The known word `word` was meant as, or None (known, too short, or no single closest)."""
        lower = word.lower()
        if len(lower) < self.SWAP_MIN_LENGTH or lower in self.counts or word.isupper():
            return None
        swapped = self._swapped(lower)
        if swapped is not None or len(lower) < self.MIN_LENGTH:
            return swapped
        # a typo keeps the first letter ("ipone", "samsnug"); "table" is no "cable"
        candidates = {c for key in [lower] + _deletes(lower) for c in self._by_deletion.get(key, ())
                      if c[0] == lower[0] and one_edit_apart(lower, c)}
        if not candidates:
            return None
        ranked = sorted(candidates, key=lambda c: -self.counts.get(c, 1))
        if len(ranked) > 1 and self.counts.get(ranked[0], 1) < 3 * self.counts.get(ranked[1], 1):
            return None   # "cse" could be "case" or "use": no guess
        return ranked[0]

    def _swapped(self, lower: str) -> Optional[str]:
        """The one common word two swapped neighbouring letters (not the first) make of `lower`."""
        found = {lower[:i] + lower[i + 1] + lower[i] + lower[i + 2:] for i in range(1, len(lower) - 1)}
        common = [w for w in found if self.counts.get(w, 0) >= self.COMMON]
        return common[0] if len(common) == 1 else None

    def corrected(self, text: str) -> str:
        def fix(match: "re.Match[str]") -> str:
            word = match.group(0)
            better = self.correction(word)
            return better if better is not None else word

        def split(match: "re.Match[str]") -> str:
            letters, number = match.group(1), match.group(2)
            if match.group(0).lower() in self.counts:
                return match.group(0)
            word = letters if letters.lower() in self.targets else self.correction(letters)
            return f"{word} {number}" if word and word.lower() in self.targets else match.group(0)

        return _LONE_WORD.sub(fix, _GLUED_NUMBER.sub(split, _SCRIPT_SEAM.sub(" ", text)))


# Persian letters glued to Latin letters or digits: «گلکسیA55», «آیفون15», «پلی استیشن5», «سفارش100188»
# (the normaliser has made the digits ASCII) — a space between them, so each is read as a word.
_FA_LETTER = r"\u0621-\u064a\u066e-\u06d3\u06d5\u06fa-\u06ff"
_SCRIPT_SEAM = re.compile(rf"(?<=[{_FA_LETTER}])(?=[A-Za-z0-9])|(?<=[A-Za-z0-9])(?=[{_FA_LETTER}])")

# A product word and its number typed as one ("flip6", "iphone15", "note13"); not a model code
# whose letters are no word ("s24", "xm5", "k380").
_GLUED_NUMBER = re.compile(r"(?<![\w@./:\-])([A-Za-z]{3,})(\d{1,4})(?![\w@/:\-]|\.\w)")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SpellingCorrector(GraphComponent):
    """Replaces unknown Latin words of a message with the known word one edit away (see module)."""

    FILE = "vocabulary.json"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 vocabulary: Optional[Vocabulary] = None) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SpellingCorrector":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        texts: List[str] = [str(m.get(TEXT) or "") for m in training_data.training_examples]
        products: List[str] = [str(k) for k in training_data.entity_synonyms]
        for table in training_data.lookup_tables:
            products += [str(e) for e in table.get("elements") or [] if isinstance(table.get("elements"), list)]
        self._vocabulary = Vocabulary.of_texts(texts, targets=products)
        with self._storage.write_to(self._resource) as directory:
            (directory / self.FILE).write_text(json.dumps({"counts": self._vocabulary.counts,
                                                           "targets": sorted(self._vocabulary.targets)}),
                                               encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SpellingCorrector":
        try:
            with model_storage.read_from(resource) as directory:
                stored = json.loads((directory / cls.FILE).read_text(encoding="utf-8"))
                vocabulary = Vocabulary(stored["counts"], stored["targets"])
        except (ValueError, FileNotFoundError, KeyError, TypeError):
            logger.warning("SpellingCorrector: no vocabulary in %s; messages pass unchanged", resource.name)
            vocabulary = None
        return cls(config, model_storage, resource, vocabulary)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data   # the training data is the vocabulary: nothing to correct

    def process(self, messages: List[Message]) -> List[Message]:
        if self._vocabulary is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and text and not text.startswith("/"):
                corrected = self._vocabulary.corrected(text)
                if corrected != text:
                    message.set(TEXT, corrected)
        return messages
