"""End to end: train a tiny model with config.yml's pipeline (a slice of data/nlu)
and a TED policy (two stories), then parse Persian and English through all our
components — and check that the serving load (bot.runtime.model_loading)
predicts exactly as Rasa's own load. One training for the module (~1 min)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

pytest.importorskip("rasa")

SLICE = {  # intent -> file it comes from
    "greet": "general.yml",
    "goodbye": "general.yml",
    "track_order": "retention.yml",
    "give_feedback": "advocacy.yml",
}
STORIES = """version: "3.1"
stories:
- story: track
  steps:
  - intent: greet
  - action: utter_greet
  - intent: track_order
  - action: utter_track
- story: feedback
  steps:
  - intent: give_feedback
  - action: utter_thanks
  - intent: goodbye
  - action: utter_goodbye
"""
DOMAIN = {
    "version": "3.1",
    "intents": sorted(SLICE),
    "responses": {name: [{"text": name}] for name in ("utter_greet", "utter_track", "utter_thanks", "utter_goodbye")},
}
MESSAGES = ["سلام", "سفارشم کجاست؟", "where is my order 100234", "5 stars, great service", "bye, thanks", "خداحافظ"]


def training_slice(per_intent: int = 25) -> str:
    lines = ['version: "3.1"', "nlu:"]
    for intent, filename in SLICE.items():
        data = yaml.safe_load((PROJECT_ROOT / "data" / "nlu" / filename).read_text(encoding="utf-8"))
        block = next(item for item in data["nlu"] if item.get("intent") == intent)
        examples = [e for e in block["examples"].splitlines() if e.strip().startswith("-")]
        # spread over the block, which holds Persian first and English later
        examples = examples[::max(1, len(examples) // per_intent)][:per_intent]
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    {e.strip()}" for e in examples]
    return "\n".join(lines) + "\n"


def tiny_config(path: Path) -> None:
    from bot.nlu.spacy_model import ensure_blank_spacy_model

    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "DIETClassifier":
            component["epochs"] = 20
        if component["name"] == "SpacyNLP":
            assert component["model"] == ".hamsafar/spacy/fa_blank"
            component["model"] = str(ensure_blank_spacy_model())
    config["policies"] = [{"name": "TEDPolicy", "epochs": 40, "max_history": 3}]
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    from rasa.model_training import train

    folder = tmp_path_factory.mktemp("tiny")
    (folder / "data").mkdir()
    (folder / "data" / "nlu.yml").write_text(training_slice(), encoding="utf-8")
    (folder / "data" / "stories.yml").write_text(STORIES, encoding="utf-8")
    (folder / "domain.yml").write_text(yaml.safe_dump(DOMAIN), encoding="utf-8")
    tiny_config(folder / "config.yml")
    result = train(str(folder / "domain.yml"), str(folder / "config.yml"), [str(folder / "data")], str(folder / "models"))
    assert result.code == 0 and result.model
    return result.model


@pytest.fixture(scope="module")
def agent_loaded_by_rasa(tiny_model: str) -> Any:
    from rasa.core.agent import Agent
    from rasa.utils.tensorflow.models import RasaModel

    from bot.runtime import model_loading

    assert RasaModel.load.__func__ is not model_loading.load_for_serving, "an earlier test left the serving load installed"
    return Agent.load(tiny_model)


def test_tiny_model_parses_persian_end_to_end(agent_loaded_by_rasa: Any) -> None:
    agent = agent_loaded_by_rasa
    intent_only = asyncio.run(agent.parse_message("سفارشم كجاست؟ هنوز نرسيده"))
    assert intent_only["intent"]["name"] == "track_order", intent_only["intent_ranking"][:3]
    assert intent_only["journey_stage"] == "retention"

    parsed = asyncio.run(agent.parse_message("سلام، سفارش #۱۰۰۲۳۴ كجاست؟ شماره‌م ۰۹۱۲ ۳۴۵ ۶۷۸۹"))
    assert parsed["language"] == "fa"
    assert "ي" not in parsed["text"] and "100234" in parsed["text"]
    values = sorted((e["entity"], e["value"]) for e in parsed["entities"])
    assert values == [("order_id", "100234"), ("phone_number", "+989123456789")]
    for entity in parsed["entities"]:  # offsets point into the (normalised) parse text
        assert parsed["text"][entity["start"]:entity["end"]].replace(" ", "") in ("#100234", "100234", "09123456789")

    english = asyncio.run(agent.parse_message("bye, thanks"))
    assert english["language"] == "en"
    assert english.get("journey_stage") is None

    # invisible characters only (a lone ZWNJ, a vowel mark): nothing to read, a fallback — it crashed
    # Rasa's FallbackClassifier on a missing intent, and every channel answered 500
    for blank in ("\u200c", "\u064b\u200b"):
        assert asyncio.run(agent.parse_message(blank))["intent"]["name"] == "nlu_fallback"


def predictions(agent: Any) -> Dict[str, List[Any]]:
    """Every message's parse, and TED's probabilities and choice after it."""
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    ted = next(node._component for node in agent.processor.graph_runner._instantiated_nodes.values()
               if isinstance(node._component, TEDPolicy))
    found: Dict[str, List[Any]] = {}
    for text in MESSAGES:
        parsed = asyncio.run(agent.parse_message(text))
        tracker = DialogueStateTracker.from_events(
            "t", [ActionExecuted("action_listen"), UserUttered(text, parsed["intent"], parsed["entities"], parse_data=parsed)])
        probabilities = ted.predict_action_probabilities(tracker, agent.domain).probabilities
        found[text] = [
            [(item["name"], round(item["confidence"], 5)) for item in parsed["intent_ranking"]],
            sorted((e["entity"], e["value"]) for e in parsed["entities"]),
            [round(p, 5) for p in probabilities],
            agent.domain.action_names_or_texts[max(range(len(probabilities)), key=probabilities.__getitem__)],
        ]
    return found


def test_the_serving_load_predicts_exactly_as_rasas_load(
        tiny_model: str, agent_loaded_by_rasa: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.agent import Agent
    from rasa.utils.tensorflow.models import RasaModel

    from bot.runtime import model_loading

    by_rasa = predictions(agent_loaded_by_rasa)
    monkeypatch.setattr(RasaModel, "load", RasaModel.load)  # Rasa's load is back after the test
    model_loading.install()
    assert RasaModel.load.__func__ is model_loading.load_for_serving
    by_us = predictions(Agent.load(tiny_model))
    assert by_us == by_rasa
    # Both loads start from fresh random weights, so agreeing means the trained ones were read;
    # and the model learnt something.
    assert by_rasa["سفارشم کجاست؟"][0][0][0] == "track_order"
    assert by_rasa["سلام"][2] != by_rasa["5 stars, great service"][2]


def test_the_start_up_warm_up_runs_the_model(agent_loaded_by_rasa: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """bot.runtime.warm_up through a real model: its NLU graph runs on the throwaway text."""
    from types import SimpleNamespace

    from bot.runtime import warm_up

    processor = agent_loaded_by_rasa.processor
    seen: List[str] = []
    original = processor.parse_message

    async def spy(message: Any, *args: Any, **kwargs: Any) -> Any:
        parsed = await original(message, *args, **kwargs)
        seen.append(parsed["intent"]["name"])
        return parsed

    monkeypatch.setattr(processor, "parse_message", spy)
    assert asyncio.run(warm_up.parse_once(SimpleNamespace(ctx=SimpleNamespace(agent=agent_loaded_by_rasa))))
    assert len(seen) == 1 and seen[0]   # the graph ran and classified the text
