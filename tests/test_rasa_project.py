"""The Rasa project as a whole: data validation, the journey file, conversation tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.journey import load_journey
from bot.journey.definition import JourneyDefinitionError, parse_journey
from tests.conftest import PROJECT_ROOT

RASA = str(Path(sys.executable).with_name("rasa"))
SPEC_INTENTS = {
    "greet", "goodbye", "affirm", "deny", "thank_you", "bot_challenge", "request_human", "inform", "stop",
    "switch_language", "out_of_scope", "ask_about_company", "ask_contact_info", "ask_promotions",
    "browse_products", "ask_product_details", "compare_products", "ask_price", "ask_shipping", "ask_warranty",
    "place_order", "ask_payment_methods", "apply_discount_code", "payment_problem", "track_order",
    "change_order", "cancel_order", "return_item", "report_problem", "ask_usage_help", "give_feedback",
    "leave_review", "ask_referral", "ask_loyalty_points",
}


def rasa_env() -> dict:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false")
    env.setdefault("HAMSAFAR_DATABASE_URL", "sqlite:///" + str(PROJECT_ROOT / ".hamsafar" / "hamsafar.db"))
    env.setdefault("HAMSAFAR_ACTIONS_URL", "http://127.0.0.1:5055/webhook")
    env.setdefault("HAMSAFAR_ACTION_TOKEN", "unused-in-tests")
    return env


def domain() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def test_journey_covers_exactly_the_spec_intents() -> None:
    journey = load_journey()
    assert set(journey.intents) == SPEC_INTENTS
    assert len(journey.intents) == len(SPEC_INTENTS)


def test_domain_declares_exactly_the_spec_intents() -> None:
    assert set(domain()["intents"]) == SPEC_INTENTS


def test_every_goal_completing_action_exists_in_the_domain() -> None:
    actions = set(domain()["actions"])
    for goal in load_journey().goals.values():
        missing = set(goal.completed_by) - actions
        assert not missing, f"goal {goal.name}: {missing} not in domain.yml"


def test_journey_refuses_unknown_stage() -> None:
    broken = {"stages": [{"name": "awareness"}], "goals": {}, "intents": {"greet": {"stage": "nowhere"}}}
    with pytest.raises(JourneyDefinitionError):
        parse_journey(broken)


def test_rasa_data_validate_passes_with_no_warnings() -> None:
    result = subprocess.run(
        [RASA, "data", "validate", "--fail-on-warnings", "--domain", "domain.yml", "--data", "data", "--config", "config.yml"],
        cwd=PROJECT_ROOT, env=rasa_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.skipif(not list((PROJECT_ROOT / "models").glob("*.tar.gz")), reason="no trained model: run `hamsafar setup`")
def test_rasa_conversation_tests_pass(tmp_path: Path) -> None:
    stories = sorted(str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "tests").glob("test_*.yml"))
    assert stories, "no conversation tests in tests/test_*.yml"
    result = subprocess.run(
        # through bot.runtime.rasa_server, as the server runs: its model loading and action validation
        [sys.executable, "-m", "bot.runtime.rasa_server", "test", "core", "--model", "models", "--stories", *stories, "--out", str(tmp_path),
         "--fail-on-prediction-errors", "--endpoints", "endpoints.yml"],
        cwd=PROJECT_ROOT, env=rasa_env(), capture_output=True, text=True, timeout=1200,
    )
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text(encoding="utf-8")[:6000] if failed.exists() else ""
    assert result.returncode == 0, detail + result.stdout[-3000:] + result.stderr[-3000:]


def _training_counts() -> dict:
    """(language, intent) -> number of training examples; Persian script means fa."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    counts: dict = {}
    for path in sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")):
        for message in RasaYAMLReader().read(str(path)).intent_examples:
            text = message.get("text")
            language = "fa" if any("\u0600" <= ch <= "\u06ff" for ch in text) else "en"
            key = (language, message.get("intent"))
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_every_intent_has_enough_training_examples_in_both_languages() -> None:
    counts = _training_counts()
    # Finglish counts as Persian but is written in Latin letters, so the English
    # count here includes it: the Persian-script minimum is the strict one.
    short = {intent: (counts.get(("fa", intent), 0), counts.get(("en", intent), 0)) for intent in SPEC_INTENTS
             if counts.get(("fa", intent), 0) < 40 or counts.get(("en", intent), 0) < 25}
    assert not short, f"intents below 40 fa / 25 en examples: {short}"


def test_the_held_out_set_is_never_trained_on_and_large_enough() -> None:
    from collections import Counter

    from bot.nlu.evaluate import load_heldout, training_overlap

    held_out = load_heldout()
    assert training_overlap(held_out) == []
    counts = Counter((e.language, e.intent) for e in held_out)
    short = {key: n for key, n in counts.items() if n < (10 if key[0] == "fa" else 6)}
    missing = {(lang, intent) for lang in ("fa", "en") for intent in SPEC_INTENTS} - set(counts)
    assert not short and not missing, (short, missing)


def test_the_fresh_held_out_set_is_never_trained_on_and_covers_every_intent() -> None:
    """tests/nlu_heldout_fresh: written on 2026-12-03 after all tuning, from SPEC.md alone."""
    from collections import Counter

    from bot.nlu.evaluate import load_heldout, training_overlap

    fresh = load_heldout(PROJECT_ROOT / "tests" / "nlu_heldout_fresh")
    assert training_overlap(fresh) == []
    counts = Counter((e.language, e.intent) for e in fresh)
    missing = {(lang, intent) for lang in ("fa", "en") for intent in SPEC_INTENTS} - set(counts)
    assert not missing and set(counts) <= {(lang, i) for lang in ("fa", "en") for i in SPEC_INTENTS}, missing


def test_every_component_option_fingerprints_the_same_in_rasas_cache_check_and_training() -> None:
    """A nested option given in part (e.g. only `text` of `hidden_layers_sizes`) made DIET retrain on every `rasa train`.

    Rasa's cache check merges a component's options with its defaults shallowly
    (`{**defaults, **config}`, engine/training/components.py), the training run
    deeply (`override_defaults`, engine/graph.py); the fingerprints match only
    where both merges agree."""
    pytest.importorskip("rasa")
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.utils.common import override_defaults

    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    mismatched = {}
    for entry in config["pipeline"] + config["policies"]:
        options = {key: value for key, value in entry.items() if key != "name"}
        defaults = DefaultV1Recipe._from_registry(entry["name"]).clazz.get_default_config()
        shallow, deep = {**defaults, **options}, override_defaults(defaults, options)
        differing = sorted(key for key in deep if shallow.get(key) != deep[key])
        if differing:
            mismatched[entry["name"]] = differing
    assert mismatched == {}, f"give every key of these nested options in config.yml: {mismatched}"
