"""bot.nlu.linear_classifier: trained inside a real (small) Rasa pipeline, saved
as arrays, loaded back, and blended with the classifier before it."""

from __future__ import annotations

import asyncio
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("rasa")

TRAINING = {
    "track_order": ["where is my order", "my parcel has not arrived", "when will my package come",
                    "track my order please", "has my order shipped yet", "where's my delivery"],
    "cancel_order": ["cancel my order", "i want to cancel the purchase", "please cancel it",
                     "stop my order i don't want it", "cancel order now", "i changed my mind, cancel"],
    "greet": ["hi", "hello there", "good morning", "hey", "hello", "hi bot"],
}


def write_project(folder: Path, pipeline: list) -> None:
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in TRAINING.items():
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {e}" for e in examples]
    (folder / "nlu.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {"recipe": "default.v1", "assistant_id": "test", "language": "en", "pipeline": pipeline, "policies": []}
    (folder / "config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")


def train(folder: Path, pipeline: list) -> str:
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    from rasa.model_training import train_nlu

    write_project(folder, pipeline)
    model = train_nlu(str(folder / "config.yml"), str(folder / "nlu.yml"), str(folder / "models"))
    assert model
    return model


FEATURIZERS = [
    {"name": "WhitespaceTokenizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "word", "min_ngram": 1, "max_ngram": 2},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
]


def test_alone_it_classifies_unseen_wording_and_saves_no_pickle(tmp_path: Path) -> None:
    from rasa.core.agent import Agent

    model = train(tmp_path, FEATURIZERS + [{"name": "bot.nlu.linear_classifier.LinearIntentClassifier"}])
    agent = Agent.load(model)
    for text, intent in [("where is my parcel", "track_order"), ("please cancel my purchase", "cancel_order"),
                         ("hello, good evening", "greet")]:
        parsed = asyncio.run(agent.parse_message(text))
        assert parsed["intent"]["name"] == intent, parsed["intent_ranking"]
        ranking = parsed["intent_ranking"]
        assert [r["name"] for r in ranking][0] == intent
        confidences = [r["confidence"] for r in ranking]
        assert confidences == sorted(confidences, reverse=True)
        assert abs(sum(confidences) - 1.0) < 1e-6  # all three intents are ranked
        assert parsed["intent"]["confidence"] > 1 / 3

    with tarfile.open(model) as archive:
        names = [m.name for m in archive.getmembers() if "LinearIntentClassifier" in m.name and m.isfile()]
    assert sorted(Path(n).name for n in names) == ["linear.json", "linear.npz"], names


def test_blended_with_diet_the_ranking_is_the_weighted_average(tmp_path: Path) -> None:
    from rasa.core.agent import Agent

    pipeline = FEATURIZERS + [
        {"name": "DIETClassifier", "epochs": 5, "random_seed": 1, "entity_recognition": False},
        {"name": "bot.nlu.linear_classifier.LinearIntentClassifier", "weight": 0.5},
    ]
    model = train(tmp_path, pipeline)
    agent = Agent.load(model)
    linear = next(node._component for node in agent.processor.graph_runner._instantiated_nodes.values()
                  if type(getattr(node, "_component", None)).__name__ == "LinearIntentClassifier")

    text = "where is my parcel"
    blended = asyncio.run(agent.parse_message(text))["intent_ranking"]
    linear._config["weight"] = 0.0  # DIET alone, through the same component
    diet = {r["name"]: r["confidence"] for r in asyncio.run(agent.parse_message(text))["intent_ranking"]}
    linear._config["weight"] = 1.0  # the linear model alone
    own = {r["name"]: r["confidence"] for r in asyncio.run(agent.parse_message(text))["intent_ranking"]}
    assert diet != own
    for entry in blended:
        expected = 0.5 * own[entry["name"]] + 0.5 * diet[entry["name"]]
        assert entry["confidence"] == pytest.approx(expected, abs=1e-6)


def test_probability_temperature_is_fitted_to_held_out_margins() -> None:
    from bot.nlu.linear_classifier import fit_temperature, softmax

    gold = np.array([0, 1, 2, 0, 1, 2])
    sharp = np.eye(3)[gold] * 2 - 1  # right class +1, others -1: always right
    assert fit_temperature(sharp, gold) == 20.0  # confident when the margins are always right
    noisy = sharp.copy()
    noisy[0], noisy[1] = noisy[1].copy(), noisy[0].copy()  # two of six wrong
    assert fit_temperature(noisy, gold) < 20.0
    probabilities = softmax(np.array([[1.0, 0.0, -1.0]]) * 3)
    assert probabilities.sum() == pytest.approx(1.0) and probabilities[0, 0] > probabilities[0, 1]
