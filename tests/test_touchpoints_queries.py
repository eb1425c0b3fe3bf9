"""The reads other packages make of the touchpoints table (bot.touchpoints.queries), on SQLite and
PostgreSQL: rows stored with the real `insert_rows`, an SMS conversation under its reference, and a
journey's own row written by `bot.orchestration.engine.touchpoint` carrying the conversation's state."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot import schema
from bot.channels.addresses import channel_of
from bot.touchpoints import queries
from bot.touchpoints.privacy import conversation_ref
from bot.touchpoints.store import insert_rows, rows_for

PHONE = "sms:+989121234567"
T0 = dt.datetime(2026, 3, 1, 10, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "fresh_postgres_url")
    yield schema.init_db(url)


def row(n: int, conversation: str, actor: str = "customer", customer: str = "C1", **values: Any) -> Dict[str, Any]:
    """Touchpoint `n` (its minute after T0 orders the rows) with the columns the recorder always fills."""
    base = {"event_id": f"q-{n}", "occurred_at": T0 + dt.timedelta(minutes=n), "conversation_id": conversation,
            "customer_id": customer, "channel": channel_of(conversation), "actor": actor, "language": "fa",
            "journey_stage": None, "goal": None, "goal_status": None, "actions": None, "handoff": False,
            "fallback": False}
    return {**base, **values}


def seed(engine: Engine) -> None:
    sms = conversation_ref(PHONE)
    rows = [
        row(1, "tg:42", journey_stage="consideration", goal="ask_price", goal_status="started"),
        row(2, sms, journey_stage="purchase", goal="place_order", goal_status="started"),
        row(3, sms, actor="system", goal="place_order", goal_status="abandoned", actions=["goal_abandoned"]),
        row(4, "tg:42"),
        row(5, "tg:42", actor="bot"),                                   # newer, but not the customer's own
        row(6, "web:ref-other", customer="C2", actor="system", goal="pay", goal_status="abandoned",
            actions=["goal_abandoned"]),
        row(7, "rest:x", customer=None, actor="system", goal="pay", goal_status="abandoned",
            actions=["goal_abandoned"]),                                # no customer: no journey can use it
        row(8, "tg:42", actor="system", goal="ask_price", goal_status="completed", actions=["goal_completed"]),
    ]
    assert insert_rows(engine, rows) == len(rows)


def test_conversation_state_finds_an_sms_conversation_under_its_reference(engine: Engine) -> None:
    seed(engine)
    with engine.connect() as conn:
        state = queries.conversation_state(conn, PHONE)
        assert state == {"channel": "sms", "customer_id": "C1", "language": "fa",
                         "journey_stage": None, "goal": "place_order", "goal_status": "abandoned", "handoff": False}
        assert queries.conversation_state(conn, "tg:42")["goal_status"] == "completed"
        assert queries.conversation_state(conn, "tg:999") == {}


def test_latest_customer_conversation_is_the_last_one_the_customer_wrote_in(engine: Engine) -> None:
    seed(engine)
    with engine.connect() as conn:
        assert queries.latest_customer_conversation(conn, "C1") == "tg:42"     # row 4, not the bot's row 5
        assert queries.latest_customer_conversation(conn, "C2") is None       # only a system row


def test_conversations_of_lists_the_current_one_and_the_customers_others(engine: Engine) -> None:
    seed(engine)
    with engine.connect() as conn:
        listed = queries.conversations_of(conn, PHONE, "C1")
        alone = queries.conversations_of(conn, PHONE, None)
    assert [(c.conversation_id, c.turns, c.current) for c in listed] == [
        ("tg:42", 4, False), (conversation_ref(PHONE), 2, True)]   # latest first; C2's conversation left out
    assert (listed[0].first, listed[0].last) == (T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=8))
    assert [(c.conversation_id, c.current) for c in alone] == [(conversation_ref(PHONE), True)]


def test_goal_abandonments_after_a_cursor(engine: Engine) -> None:
    seed(engine)
    with engine.connect() as conn:
        found = queries.goal_abandonments_after(conn, 0, 10)
        assert [(r["event_id"], r["customer_id"], r["goal"]) for r in found] == [
            ("q-3", "C1", "place_order"), ("q-6", "C2", "pay")]
        assert found[0]["conversation_id"] == conversation_ref(PHONE)
        assert [r["event_id"] for r in queries.goal_abandonments_after(conn, found[0]["id"], 10)] == ["q-6"]
        assert [r["event_id"] for r in queries.goal_abandonments_after(conn, 0, 1)] == ["q-3"]


def test_a_journey_row_carries_the_state_of_the_conversation_it_went_to(engine: Engine) -> None:
    from bot.orchestration.engine import touchpoint

    seed(engine)
    entry = {"customer_key": "C1", "customer_id": "C1", "language": "fa", "journey": "abandoned_payment"}
    with engine.begin() as conn:
        touchpoint(conn, what=["journey_message"], event_key="m1", at=T0 + dt.timedelta(minutes=9),
                   entry=entry, channel="sms", conversation_id=PHONE, step="payment_link", text="pay here")
        touchpoint(conn, what=["journey_message"], event_key="m1", at=T0 + dt.timedelta(minutes=9),
                   entry=entry, channel="sms", conversation_id=PHONE, step="payment_link")   # written once
    written = [r for r in rows_for(engine, conversation_ref(PHONE)) if r["journey"] == "abandoned_payment"]
    assert len(written) == 1
    assert (written[0]["goal"], written[0]["goal_status"], written[0]["journey_step"]) == (
        "place_order", "abandoned", "payment_link")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM touchpoints")).scalar_one() == 9
