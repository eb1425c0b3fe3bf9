"""One customer's profile across channels (bot.identity.profile, actions.profile).

Database level on SQLite and PostgreSQL (HAMSAFAR_TEST_POSTGRES_URL): touchpoints
are produced by the real `TurnAssembler` from Rasa events and stored with the real
`insert_rows`. Action level: rasa_sdk trackers against the SQL CRM seeded with the
demo shop, customers verified through the real `bot.identity` verifier.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional

import pytest
import sqlalchemy as sa

from actions.greeting import ActionGreet
from actions.journey import ActionSwitchLanguage, ActionValidateSlotMappings
from bot.identity import profile
from bot.touchpoints.assembler import TurnAssembler
from bot.touchpoints.privacy import conversation_ref
from bot.touchpoints.store import insert_rows
from tests.test_actions_support import make_tracker, run, shop, slots_of, texts  # noqa: F401  (fixture)

C001_PHONE = "09121234567"  # demo customer C001, علی رضایی, CRM language fa


def record(url: str, conversation: str, channel: str, customer_id: Optional[str], start: float,
           turns: List[Dict[str, Any]]) -> None:
    """Store the touchpoints of a conversation: each turn is a user message (text,
    intent, language, stage) followed by the slots the bot set and a reply."""
    assembler = TurnAssembler()
    events: List[Dict[str, Any]] = []
    stamp = start
    if customer_id:
        events.append({"event": "slot", "name": "customer_id", "value": customer_id, "timestamp": stamp})
    for turn in turns:
        stamp += 10
        events.append({"event": "user", "text": turn["text"], "timestamp": stamp, "input_channel": channel,
                       "message_id": f"{conversation}-{stamp}",
                       "parse_data": {"intent": {"name": turn["intent"], "confidence": 0.95}, "entities": [],
                                      "language": turn["language"], "journey_stage": turn.get("stage")}})
        for name, value in turn.get("slots", {}).items():
            stamp += 1
            events.append({"event": "slot", "name": name, "value": value, "timestamp": stamp})
        events.append({"event": "bot", "text": "…", "timestamp": stamp + 1})
        events.append({"event": "action", "name": "action_listen", "timestamp": stamp + 2})
    rows = []
    for event in events:
        rows += assembler.feed({"sender_id": conversation, **event})
    engine = sa.create_engine(url, future=True)
    try:
        assert insert_rows(engine, rows) == len(rows)
    finally:
        engine.dispose()


def persian_telegram(url: str, customer_id: str = "C001", start: float = 1_780_000_000.0) -> None:
    """On Telegram, in Persian: asks a price (consideration, completed), then shipping."""
    record(url, "tg:4242", "hamsafar_telegram", customer_id, start, [
        {"text": "قیمت گوشی سامسونگ چنده", "intent": "ask_price", "language": "fa", "stage": "consideration",
         "slots": {"language": "fa", "journey_stage": "consideration", "goal": "know_price",
                   "goal_status": "started"}},
        {"text": "ممنون", "intent": "thank_you", "language": "fa", "slots": {"goal_status": "completed"}},
        {"text": "ارسال به شیراز چقدر طول میکشه", "intent": "ask_shipping", "language": "fa",
         "stage": "consideration", "slots": {"goal": "know_shipping", "goal_status": "started"}},
    ])


# --------------------------------------------------------------------------- database level


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from bot import db, schema

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'profile.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    schema.init_db(url)
    yield url
    db.dispose_engines()


def test_latest_journey_and_goal_history_span_every_channel(database: str) -> None:
    persian_telegram(database)
    # later, by SMS: track an order (retention), then a handoff row that is not a goal
    record(database, "sms:+989121234567", "sms", "C001", 1_780_000_500.0, [
        {"text": "سفارشم کجاست", "intent": "track_order", "language": "fa", "stage": "retention",
         "slots": {"language": "fa", "journey_stage": "retention", "goal": "track_order", "goal_status": "started"}},
        {"text": "با یه آدم وصلم کن", "intent": "request_human", "language": "fa",
         "slots": {"handoff_active": True}},
    ])
    # someone else, even later, on the web
    record(database, "web:other", "web", "C002", 1_780_001_000.0, [
        {"text": "I want to return my headphones", "intent": "return_item", "language": "en", "stage": "retention",
         "slots": {"language": "en", "journey_stage": "retention", "goal": "return_item", "goal_status": "started"}},
    ])

    latest = profile.latest_journey("C001", database)
    assert (latest.journey_stage, latest.goal, latest.goal_status, latest.channel) == \
        ("retention", "track_order", "started", "sms")
    earlier = profile.latest_journey("C001", database, exclude_conversation="sms:+989121234567")
    assert (earlier.journey_stage, earlier.goal, earlier.channel) == ("consideration", "know_shipping", "telegram")
    by_reference = profile.latest_journey("C001", database, exclude_conversation=conversation_ref("sms:+989121234567"))
    assert (by_reference.journey_stage, by_reference.channel) == ("consideration", "telegram")
    assert profile.latest_journey("C999", database) is None

    history = [(g.goal, g.status, g.channel, g.conversation_id) for g in profile.goal_history("C001", database)]
    assert history == [
        ("track_order", "started", "sms", conversation_ref("sms:+989121234567")),  # the stored (pseudonymous) form
        ("know_shipping", "started", "telegram", "tg:4242"),
        ("know_price", "completed", "telegram", "tg:4242"),
        ("know_price", "started", "telegram", "tg:4242"),
    ]  # newest first; the handoff row and C002's goal are not C001's goals
    assert [g.goal for g in profile.goal_history("C001", database, limit=2)] == ["track_order", "know_shipping"]
    assert profile.goal_history("C002", database)[0].channel == "web"

    assert profile.last_language("C001", database) == "fa"
    assert profile.last_language("C002", database) == "en"
    assert profile.last_language("C002", database, exclude_conversation="web:other") is None


def test_language_choice_is_saved_and_replaced(database: str) -> None:
    assert profile.saved_language("C001", database) is None
    profile.save_language("C001", "en", database)
    assert profile.saved_language("C001", database) == "en"
    profile.save_language("C001", "fa", database)
    assert profile.saved_language("C001", database) == "fa"
    with pytest.raises(ValueError):
        profile.save_language("C001", "de", database)
    assert profile.saved_language("C001", database) == "fa"
    assert profile.saved_language("C002", database) is None


# --------------------------------------------------------------------------- action level


def test_new_channel_restores_language_and_stage(shop) -> None:  # type: ignore[no-untyped-def]
    persian_telegram(shop.url)
    # the same person writes by SMS: the sender's number identifies them
    assert shop.verifier.verify_sms_sender("sms:+989121234567", C001_PHONE).ok
    # a message with no words ("👍") says nothing about the language; greet has no stage
    tracker = make_tracker(intent="greet", text="👍", language="en", stage=None, sender="sms:+989121234567")
    slots = slots_of(run(ActionValidateSlotMappings(), tracker)[0])
    assert slots == {"customer_id": "C001", "language": "fa", "journey_stage": "consideration"}


def test_the_message_own_language_and_stage_win_without_an_explicit_choice(shop) -> None:  # type: ignore[no-untyped-def]
    persian_telegram(shop.url)
    assert shop.verifier.verify_sms_sender("sms:+989121234567", C001_PHONE).ok
    tracker = make_tracker(intent="track_order", text="where is my order", language="en", stage="retention",
                           sender="sms:+989121234567")
    slots = slots_of(run(ActionValidateSlotMappings(), tracker)[0])
    assert (slots["language"], slots["journey_stage"], slots["customer_id"]) == ("en", "retention", "C001")
    assert "preferred_language" not in slots


def test_no_history_falls_back_to_the_crm_language(shop) -> None:  # type: ignore[no-untyped-def]
    assert shop.verifier.verify_sms_sender("sms:+989351234567", "09351234567").ok  # C002, CRM language en
    tracker = make_tracker(intent="greet", text="100004", language="fa", sender="sms:+989351234567")
    slots = slots_of(run(ActionValidateSlotMappings(), tracker)[0])
    assert slots == {"customer_id": "C002", "language": "en"}   # no touchpoints: no stage to restore


def test_switching_language_carries_to_the_next_channel(shop) -> None:  # type: ignore[no-untyped-def]
    persian_telegram(shop.url)
    # on Telegram (verified by their own contact) the customer asks for English
    assert shop.verifier.verify_telegram_contact("tg:4242", C001_PHONE, 4242, 4242).ok
    tracker = make_tracker({"customer_id": "C001", "language": "fa"}, intent="switch_language",
                           text="English please", language="en", sender="tg:4242")
    events, messages = run(ActionSwitchLanguage(), tracker)
    assert slots_of(events) == {"preferred_language": "en", "language": "en"}
    assert profile.saved_language("C001", shop.url) == "en"

    # next, by SMS, in Persian words: the explicit choice wins, as it did on Telegram
    assert shop.verifier.verify_sms_sender("sms:+989121234567", C001_PHONE).ok
    tracker = make_tracker(intent="greet", text="سلام", language="fa", sender="sms:+989121234567")
    slots = slots_of(run(ActionValidateSlotMappings(), tracker)[0])
    assert slots["preferred_language"] == "en" and slots["language"] == "en"
    greeted = make_tracker({"customer_id": "C001", **slots}, intent="greet", text="سلام", language="fa",
                           sender="sms:+989121234567")
    assert texts(run(ActionGreet(), greeted)[1]).startswith("Hi علی")

    # back to Persian on SMS: the web conversation later greets in Persian, by name
    tracker = make_tracker({"customer_id": "C001", "preferred_language": "en", "language": "en"},
                           intent="switch_language", text="فارسی بنویس", language="fa",
                           sender="sms:+989121234567")
    run(ActionSwitchLanguage(), tracker)
    assert profile.saved_language("C001", shop.url) == "fa"
    web = make_tracker({"customer_id": "C001"}, intent="greet", text="hello", language="en", sender="web:s1")
    assert texts(run(ActionGreet(), web)[1]).startswith("سلام علی رضایی عزیز")


def test_unverified_switch_saves_nothing(shop) -> None:  # type: ignore[no-untyped-def]
    tracker = make_tracker(intent="switch_language", text="English please", language="en", sender="web:anon")
    assert slots_of(run(ActionSwitchLanguage(), tracker)[0]) == {"preferred_language": "en", "language": "en"}
    with sa.create_engine(shop.url, future=True).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM customer_preferences")).scalar_one() == 0


def test_unreadable_profile_never_breaks_the_turn(shop, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    from actions import common

    class BrokenStore:
        """Knows the customer, but its database cannot be opened."""
        url = f"sqlite:///{tmp_path / 'no-such-directory' / 'profile.db'}"

        def customer_for(self, *args: Any, **kwargs: Any) -> str:
            return "C001"

    common.set_verifier(BrokenStore())
    tracker = make_tracker(intent="greet", text="👍", language="en", sender="sms:+989121234567")
    slots = slots_of(run(ActionValidateSlotMappings(), tracker)[0])
    assert slots == {"customer_id": "C001", "language": "fa"}   # the CRM's saved language still answers
    assert "customer profile unreadable" in caplog.text


def test_erasing_the_customer_removes_identities_and_preferences(shop) -> None:  # type: ignore[no-untyped-def]
    from bot.touchpoints.erasure import erase_customer

    persian_telegram(shop.url)
    assert shop.verifier.verify_telegram_contact("tg:4242", C001_PHONE, 4242, 4242).ok
    assert shop.verifier.verify_sms_sender("sms:+989351234567", "09351234567").ok   # C002 stays
    profile.save_language("C001", "en", shop.url)
    deleted = erase_customer("C001", shop.url)
    assert deleted["verified_identities"] == 2 and deleted["customer_preferences"] == 1
    assert deleted["touchpoints"] > 0
    assert shop.verifier.customer_for("tg:4242") is None
    assert shop.verifier.customer_for("x", channel="telegram", external_id="4242") is None
    assert profile.saved_language("C001", shop.url) is None and profile.latest_journey("C001", shop.url) is None
    assert shop.verifier.customer_for("sms:+989351234567") == "C002"
