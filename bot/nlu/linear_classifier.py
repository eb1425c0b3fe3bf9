"""A linear intent classifier over the sparse n-gram features, blended with DIET.

Why: DIET trained from scratch (we have no pretrained weights) learns a good
model of the words it has seen, but on a few thousand examples a linear SVM
over TF-IDF weighted word and character n-grams generalises at least as well
and is far cheaper to train. The two make different mistakes, so this
component averages its probabilities with those of the classifier before it
in the pipeline (DIET) and writes the blended `intent` and `intent_ranking`.
Measured figures are in docs/nlu.md.

It reads the *sentence* sparse features the featurizers already computed
(CountVectorsFeaturizer word 1-2 grams and char_wb n-grams, RegexFeaturizer),
so it adds no second text pipeline: per featurizer block it applies
sublinear TF (1 + log count), IDF learnt on the training data and L2
normalisation, as sklearn's TfidfVectorizer(sublinear_tf=True) would, then a
one-vs-rest LinearSVC. SVM margins are turned into probabilities by a softmax
whose temperature is fitted on cross-validated margins of the training data,
so a confidence of 0.4 means roughly what DIET's 0.4 means to the
FallbackClassifier after it.

The model is persisted as plain arrays (numpy .npz + JSON), nothing pickled.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Text

import numpy as np
import scipy.sparse

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)


@dataclass
class LinearModel:
    """Everything needed at parse time; arrays only."""

    intents: List[str]
    blocks: List[str]  # featurizer names, in column order
    block_sizes: List[int]
    idf: np.ndarray  # one weight per column
    coef: np.ndarray  # (intents, columns)
    intercept: np.ndarray  # (intents,)
    temperature: float

    def weigh(self, counts: scipy.sparse.csr_matrix) -> scipy.sparse.csr_matrix:
        """Sublinear TF x IDF, L2-normalised per featurizer block."""
        from sklearn.preprocessing import normalize

        weighted = counts.astype(np.float64).tocsr(copy=True)
        weighted.data = 1.0 + np.log(np.maximum(weighted.data, 1e-12))
        weighted = weighted.multiply(self.idf).tocsr()
        edges = np.cumsum([0] + self.block_sizes)
        return scipy.sparse.hstack([normalize(weighted[:, start:end]) for start, end in zip(edges, edges[1:])]).tocsr()

    def margins(self, weighted: scipy.sparse.csr_matrix) -> np.ndarray:
        return np.asarray(weighted @ self.coef.T) + self.intercept

    def probabilities(self, counts: scipy.sparse.csr_matrix) -> np.ndarray:
        return softmax(self.margins(self.weigh(counts)) * self.temperature)


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(margins: np.ndarray, gold: np.ndarray) -> float:
    """The softmax scale that minimises the log-loss of held-out margins."""
    best, best_loss = 1.0, float("inf")
    for scale in (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20):
        probabilities = softmax(margins * scale)
        loss = -float(np.mean(np.log(probabilities[np.arange(len(gold)), gold] + 1e-12)))
        if loss < best_loss:
            best, best_loss = float(scale), loss
    return best


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Linear SVM on TF-IDF n-grams, blended with the previous intent classifier."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Inverse regularisation of the LinearSVC (0.5 was best on our held-out
            # set, BANKING77 and MASSIVE fa-IR alike).
            "C": 0.5,
            # Weight of this classifier's probabilities in the blend with the
            # previous classifier's ranking (1.0 = this one alone; used alone too
            # when no classifier ran before it).
            "weight": 0.7,
            # Folds for fitting the probability temperature.
            "calibration_folds": 3,
            "ranking_length": 10,
            # Sparse featurizers to read (names from config.yml); None = all.
            "featurizers": None,
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[LinearModel] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LinearIntentClassifier":
        return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    # -- features ---------------------------------------------------------------

    def _sentence_blocks(self, message: Message) -> Dict[str, scipy.sparse.spmatrix]:
        wanted = self._config.get("featurizers")
        blocks: Dict[str, scipy.sparse.spmatrix] = {}
        for feature in message.features:
            if feature.attribute != TEXT or not feature.is_sparse() or feature.type != FEATURE_TYPE_SENTENCE:
                continue
            if wanted and feature.origin not in wanted:
                continue
            origin = feature.origin if isinstance(feature.origin, str) else "+".join(feature.origin)
            blocks[origin] = feature.features
        return blocks

    @staticmethod
    def _counts(found_per_message: Sequence[Dict[str, scipy.sparse.spmatrix]], blocks: List[str],
                sizes: List[int]) -> scipy.sparse.csr_matrix:
        """One row per message: its blocks in column order, zeros where a featurizer gave none."""
        rows = [scipy.sparse.hstack([found[name] if name in found else scipy.sparse.csr_matrix((1, size))
                                     for name, size in zip(blocks, sizes)]).tocsr()
                for found in found_per_message]
        return scipy.sparse.vstack(rows).tocsr()

    # -- training ---------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.model_selection import StratifiedKFold
        from sklearn.svm import LinearSVC

        featured = [(m, self._sentence_blocks(m)) for m in training_data.intent_examples]
        featured = [(m, found) for m, found in featured if found]
        intents = sorted({m.get(INTENT) for m, _ in featured})
        if len(intents) < 2:
            logger.warning("LinearIntentClassifier: fewer than two intents, not trained")
            return self._resource
        widths: Dict[str, int] = {}
        for _, found in featured:
            for name, block in found.items():
                widths.setdefault(name, block.shape[1])
        blocks = sorted(widths)
        sizes = [widths[name] for name in blocks]
        counts = self._counts([found for _, found in featured], blocks, sizes)
        gold = np.array([intents.index(m.get(INTENT)) for m, _ in featured])

        idf = TfidfTransformer(smooth_idf=True).fit(counts).idf_  # log((1 + n) / (1 + df)) + 1
        model = LinearModel(intents, blocks, sizes, idf, np.zeros((len(intents), counts.shape[1])),
                            np.zeros(len(intents)), 1.0)
        weighted = model.weigh(counts)

        # Temperature from out-of-fold margins (classes with too few examples for
        # a fold are simply absent from it).
        folds = int(self._config["calibration_folds"])
        smallest = int(np.bincount(gold).min())
        if folds >= 2 and smallest >= 2:
            splitter = StratifiedKFold(n_splits=min(folds, smallest), shuffle=True, random_state=42)
            margins = np.full((len(gold), len(intents)), -10.0)
            for train_idx, test_idx in splitter.split(weighted, gold):
                svm = LinearSVC(C=self._config["C"]).fit(weighted[train_idx], gold[train_idx])
                margins[np.ix_(test_idx, svm.classes_)] = svm.decision_function(weighted[test_idx])
            model.temperature = fit_temperature(margins, gold)

        svm = LinearSVC(C=self._config["C"]).fit(weighted, gold)
        model.coef = svm.coef_ if len(intents) > 2 else np.vstack([-svm.coef_[0], svm.coef_[0]])
        model.intercept = svm.intercept_ if len(intents) > 2 else np.array([-svm.intercept_[0], svm.intercept_[0]])
        self._model = model
        self._persist()
        return self._resource

    def _persist(self) -> None:
        assert self._model is not None
        with self._storage.write_to(self._resource) as directory:
            np.savez_compressed(directory / "linear.npz", idf=self._model.idf, coef=self._model.coef,
                                intercept=self._model.intercept)
            (directory / "linear.json").write_text(json.dumps({
                "intents": self._model.intents, "blocks": self._model.blocks,
                "block_sizes": self._model.block_sizes, "temperature": self._model.temperature,
            }, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / "linear.json").read_text(encoding="utf-8"))
                arrays = np.load(directory / "linear.npz")
                model = LinearModel(meta["intents"], meta["blocks"], meta["block_sizes"], arrays["idf"],
                                    arrays["coef"], arrays["intercept"], float(meta["temperature"]))
        except (ValueError, FileNotFoundError, KeyError):
            logger.warning("LinearIntentClassifier: no trained model in %s; it will pass messages through", resource.name)
            model = None
        return cls(config, model_storage, resource, model)

    # -- parsing ----------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        for message in messages:
            found = self._sentence_blocks(message)
            if not found:
                # nothing to read (a message of invisible characters only): no intent, so the
                # FallbackClassifier answers nlu_fallback instead of failing on a missing intent
                if not message.get(INTENT):
                    message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                    message.set(INTENT_RANKING_KEY, [], add_to_output=True)
                continue
            counts = self._counts([found], self._model.blocks, self._model.block_sizes)
            own = dict(zip(self._model.intents, self._model.probabilities(counts)[0]))
            blended = self._blend(own, message.get(INTENT_RANKING_KEY) or [])
            ranking = sorted(blended.items(), key=lambda item: -item[1])[: int(self._config["ranking_length"])]
            message.set(INTENT, {INTENT_NAME_KEY: ranking[0][0], PREDICTED_CONFIDENCE_KEY: float(ranking[0][1])},
                        add_to_output=True)
            message.set(INTENT_RANKING_KEY,
                        [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: float(p)} for name, p in ranking],
                        add_to_output=True)
        return messages

    def _blend(self, own: Dict[str, float], previous: List[Dict[str, Any]]) -> Dict[str, float]:
        """weight x ours + (1 - weight) x the previous classifier's (absent = 0)."""
        weight = float(self._config["weight"])
        if not previous:
            return own
        theirs = {r[INTENT_NAME_KEY]: float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0) for r in previous}
        names = set(own) | set(theirs)
        return {name: weight * own.get(name, 0.0) + (1 - weight) * theirs.get(name, 0.0) for name in names}
