"""End to end: train a tiny NLU model with config.yml's pipeline on a slice of
data/nlu and parse a Persian message through all our components (~20-40 s)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

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
    config["policies"] = []
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def test_tiny_model_parses_persian_end_to_end(tmp_path: Path) -> None:
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    (tmp_path / "nlu.yml").write_text(training_slice(), encoding="utf-8")
    tiny_config(tmp_path / "config.yml")
    model = train_nlu(str(tmp_path / "config.yml"), str(tmp_path / "nlu.yml"), str(tmp_path / "models"))
    assert model
    agent = Agent.load(model)

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
