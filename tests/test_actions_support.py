"""Fixtures for the action tests: a real SQLite CRM with the demo shop, an SMS recorder.

Not a test module itself (no tests here); `tests/test_actions_*.py` import it.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.conftest import PROJECT_ROOT

DOMAIN: Dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"


class SmsRecorder:
    def __init__(self) -> None:
        self.sent: List[tuple] = []

    def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))

    def last_code(self) -> str:
        from bot.text.persian import to_ascii_digits

        return re.search(r"\d{6}", to_ascii_digits(self.sent[-1][1])).group(0)


class Shop:
    """The CRM and verifier the actions use during one test."""

    def __init__(self, url: str) -> None:
        from bot.crm.importer import seed_demo_if_empty
        from bot.crm.sql import SQLCRM
        from bot.identity.verification import Verifier

        seed_demo_if_empty(url)
        self.url = url
        self.crm = SQLCRM(url)
        self.sms = SmsRecorder()
        self.verifier = Verifier(self.crm, url=url, sender=self.sms, otp_pepper="test-pepper")


@pytest.fixture
def shop(tmp_path: Path):  # type: ignore[no-untyped-def]
    from actions import common

    url = f"sqlite:///{tmp_path / 'actions-test.db'}"
    the_shop = Shop(url)
    common.set_crm(the_shop.crm)
    common.set_verifier(the_shop.verifier)
    try:
        yield the_shop
    finally:
        common.set_crm(None)
        common.set_verifier(None)
        the_shop.crm.close()


def make_tracker(slots: Optional[Dict[str, Any]] = None, *, intent: str = "greet", text: str = "",
                 language: Optional[str] = "fa", stage: Optional[str] = None,
                 entities: Optional[List[Dict[str, Any]]] = None, sender: str = "conv-1",
                 events: Optional[List[Dict[str, Any]]] = None, active_loop: Optional[str] = None,
                 ranking: Optional[List[Dict[str, Any]]] = None,
                 fresh: Optional[Dict[str, Any]] = None) -> Tracker:
    """A tracker after a user message; `fresh` are the slot candidates extracted from it."""
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots.update({"handoff_active": False, "fallback_count": 0, "requested_slot": None})
    all_slots.update(slots or {})
    latest = {"intent": {"name": intent, "confidence": 0.9}, "text": text, "entities": entities or [],
              "language": language, "journey_stage": stage, "intent_ranking": ranking or []}
    history = list(events or []) + [{"event": "user", "text": text, "parse_data": latest,
                                     "input_channel": "rest"}]
    for name, value in (fresh or {}).items():
        history.append({"event": "slot", "name": name, "value": value})
        all_slots[name] = value
    return Tracker(sender, all_slots, latest, history, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


def run(action: Any, tracker: Tracker) -> tuple:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return events, dispatcher.messages


def slots_of(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def test_what_repeats_the_answer_not_the_verified_acknowledgement() -> None:
    """"what?" after a tracking answer: the answer again, without "You're verified" before it."""
    from actions.repair import last_answer
    from bot.text.catalogue import text

    events = [{"event": "user", "text": "123456"},
              {"event": "bot", "text": text("verified", "en")},
              {"event": "bot", "text": "Order 100004 was shipped", "data": {"buttons": [{"title": "t", "payload": "/x"}]}}]
    assert last_answer(make_tracker(intent="nlu_fallback", text="what?", events=events)) == [
        {"text": "Order 100004 was shipped", "buttons": [{"title": "t", "payload": "/x"}]}]


def test_what_after_i_did_not_understand_repeats_the_answer_before() -> None:
    """"hm?" was not understood, then "sorry, what?": the price said before, not "I didn't get that" again."""
    from actions.repair import last_answer
    from bot.text.catalogue import text

    events = [{"event": "user", "text": "price of the s24"},
              {"event": "bot", "text": "The price of the S24: 52,500,000 Toman"},
              {"event": "user", "text": "hm?"},
              {"event": "bot", "text": text("rephrase_with_suggestions", "en"),
               "data": {"buttons": [{"title": "Are you a bot?", "payload": "/bot_challenge"}]}}]
    assert last_answer(make_tracker(intent="nlu_fallback", text="sorry, what?", events=events)) == [
        {"text": "The price of the S24: 52,500,000 Toman", "buttons": None}]


def test_what_after_only_i_did_not_understand_repeats_that() -> None:
    from actions.repair import last_answer
    from bot.text.catalogue import text

    events = [{"event": "user", "text": "blorp"}, {"event": "bot", "text": text("rephrase", "en")}]
    assert last_answer(make_tracker(intent="nlu_fallback", text="what?", events=events)) == [
        {"text": text("rephrase", "en"), "buttons": None}]
