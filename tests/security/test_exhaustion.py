"""Resource exhaustion (issue 17, finding 9): handoff requests and per-conversation memory are bounded.

* Handoffs: one conversation (or one known customer on any channel) cannot start more than
  `HAMSAFAR_HANDOFF_MAX_REQUESTS_PER_DAY` handoffs in 24 hours; the queue never holds more than
  `HAMSAFAR_HANDOFF_MAX_WAITING` waiting conversations; after hours one CRM ticket per
  conversation or customer until agents are back, and at most
  `HAMSAFAR_HANDOFF_MAX_AFTER_HOURS_TICKETS` a day in all. The customer is told why, in their
  language, and the bot keeps serving. Real SQLite and PostgreSQL, the real `action_request_human`.
* Memory: the touchpoint recorder (in the Rasa server, one state per conversation ever seen)
  remembers a bounded number of conversations, writes the open turn of one it drops, and
  continues a returning one from the database.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa

from bot.handoff import config, service, texts
from bot.handoff.models import Handoff
from tests.security.test_handoff_never_silent import (conversation, handoff_slot_events, queue,  # noqa: F401
                                                      run_request_human, user)

FRIDAY_NOON_TEHRAN = dt.datetime(2025, 6, 6, 8, 30)   # agents are off (Friday)
CLOSED = config.WorkingHours()                        # Asia/Tehran 09-18, Friday off


def rows(conversation_id: str) -> List[Handoff]:
    from bot.db import session_scope

    with session_scope() as session:
        return list(session.execute(sa.select(Handoff).where(Handoff.conversation_id == conversation_id)).scalars())


def ask_and_hand_back(conversation_id: str, customer_id: Any = None) -> service.HandoffOutcome:
    """A request an agent takes and hands back at once: the conversation may ask again."""
    outcome = service.request_handoff(conversation_id, channel="telegram", customer_id=customer_id)
    if outcome.status == "queued":
        assert service.claim(outcome.handoff_id, "bob")
        assert service.end(outcome.handoff_id, "bob", "returned")
    return outcome


# ----------------------------------------------------------------------------- handoff requests
@pytest.mark.parametrize("language", ["fa", "en"])
def test_one_conversation_cannot_keep_asking_for_agents(queue, monkeypatch, language):  # noqa: F811
    monkeypatch.delenv("HAMSAFAR_HANDOFF_MAX_REQUESTS_PER_DAY", raising=False)   # the default, 5
    sender = f"tg:asks-again-{language}"
    assert [ask_and_hand_back(sender).status for _ in range(5)] == ["queued"] * 5

    tracker = conversation(sender, language, user("operator!", "request_human", language))
    messages, events = run_request_human(tracker)

    assert [m.get("text") for m in messages] == [texts.text("limited", language)]
    assert True not in handoff_slot_events(events)       # not handed off: the bot keeps serving
    assert len(rows(sender)) == 5 and service.open_handoff(sender) is None
    # A day later the conversation may ask again.
    later = service.utcnow() + dt.timedelta(hours=25)
    assert service.request_handoff(sender, channel="telegram", now=later).status == "queued"


def test_a_known_customer_cannot_fill_the_queue_from_many_conversations(queue):  # noqa: F811
    outcomes = [ask_and_hand_back(f"web:customer-c7-session-{i:02d}", customer_id="C7").status for i in range(6)]
    assert outcomes == ["queued"] * 5 + ["limited"]
    assert service.request_handoff("tg:someone-else", channel="telegram").status == "queued"


def test_the_queue_has_a_ceiling(queue, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HAMSAFAR_HANDOFF_MAX_WAITING", "3")
    assert [service.request_handoff(f"web:flood-{i}", channel="web").status for i in range(3)] == ["queued"] * 3

    tracker = conversation("web:flood-3", "en", user("human please", "request_human", "en"))
    messages, events = run_request_human(tracker)
    assert [m.get("text") for m in messages] == [texts.text("queue_full", "en")]
    assert True not in handoff_slot_events(events)
    assert rows("web:flood-3") == []                       # the refused insert was rolled back
    assert len([h for h in service.list_queue() if h["status"] == "waiting"]) == 3
    # An agent takes one: there is room again.
    assert service.claim(service.open_handoff("web:flood-0")["id"], "bob")
    assert service.request_handoff("web:flood-3", channel="web").status == "queued"


@pytest.mark.parametrize("language", ["fa", "en"])
def test_after_hours_one_ticket_per_conversation_until_agents_are_back(queue, language):  # noqa: F811
    crm = queue
    sender = f"tg:night-owl-{language}"
    outcomes = [service.request_handoff(sender, channel="telegram", language=language, customer_id="C9",
                                        now=FRIDAY_NOON_TEHRAN + dt.timedelta(minutes=i), hours=CLOSED)
                for i in range(10)]
    assert len(crm.tickets) == 1 and len(rows(sender)) == 1
    assert {o.ticket for o in outcomes} == {crm.tickets[0].reference}
    assert all(o.status == "after_hours" and o.back_at == outcomes[0].back_at for o in outcomes)
    # The same customer on another channel gets the same ticket.
    other = service.request_handoff("web:night-owl-too", channel="web", customer_id="C9",
                                    now=FRIDAY_NOON_TEHRAN + dt.timedelta(hours=1), hours=CLOSED)
    assert other.ticket == crm.tickets[0].reference and len(crm.tickets) == 1
    # The next closure (Saturday evening) is a new request: a new ticket.
    saturday_evening = dt.datetime(2025, 6, 7, 16, 0)   # 19:30 in Tehran
    again = service.request_handoff(sender, channel="telegram", customer_id="C9", now=saturday_evening, hours=CLOSED)
    assert again.ticket == crm.tickets[1].reference and len(crm.tickets) == 2


def test_after_hours_tickets_have_a_daily_ceiling(queue, monkeypatch):  # noqa: F811
    crm = queue
    monkeypatch.setenv("HAMSAFAR_HANDOFF_MAX_AFTER_HOURS_TICKETS", "3")
    outcomes = [service.request_handoff(f"web:anonymous-{i}", channel="web", now=FRIDAY_NOON_TEHRAN, hours=CLOSED)
                for i in range(6)]
    assert len(crm.tickets) == 3
    assert [o.ticket is not None for o in outcomes] == [True] * 3 + [False] * 3
    # Beyond it the customer is asked to write again when agents are back (no ticket is promised).
    from actions.handoff import customer_text

    assert customer_text(outcomes[-1], "requested", "en") == texts.text(
        "after_hours_no_ticket", "en", when=texts.when_back(outcomes[-1].back_at, "en"))


# ----------------------------------------------------------------------------- per-conversation memory
def _turn(sender: str, stamp: float, text: str = "hello") -> List[Dict[str, Any]]:
    parse = {"intent": {"name": "greet", "confidence": 0.9}, "entities": [], "language": "en"}
    return [{"event": "user", "sender_id": sender, "timestamp": stamp, "text": text, "parse_data": parse,
             "input_channel": "telegram", "message_id": f"m-{sender}-{stamp}"},
            {"event": "slot", "sender_id": sender, "timestamp": stamp, "name": "customer_id", "value": f"C-{sender}"},
            {"event": "action", "sender_id": sender, "timestamp": stamp + 0.1, "name": "utter_greet"},
            {"event": "bot", "sender_id": sender, "timestamp": stamp + 0.1, "text": "Hi!"},
            {"event": "action", "sender_id": sender, "timestamp": stamp + 0.2, "name": "action_listen"}]


def test_the_touchpoint_recorder_remembers_a_bounded_number_of_conversations(tmp_path: Path) -> None:
    from bot.touchpoints.recorder import TouchpointRecorder
    from bot.touchpoints.store import count_rows, rows_for

    url = f"sqlite:///{tmp_path / 'touchpoints.db'}"
    recorder = TouchpointRecorder(database_url=url, max_conversations=50, flush_interval_s=0.05,
                                  spool_path=tmp_path / "spool.jsonl").start()
    try:
        start = time.time()
        for i in range(1000):   # a thousand conversations, one turn each
            for event in _turn(f"tg:{i}", start + i):
                recorder.publish(event)
        # One conversation asked for its one-time code, then went quiet while others talked.
        recorder.publish({"event": "action", "sender_id": "tg:code", "timestamp": start + 1000,
                          "name": "action_ask_otp_code"})
        for i in range(1000, 1200):
            for event in _turn(f"tg:{i}", start + i + 1):
                recorder.publish(event)
        for event in _turn("tg:code", start + 1300, text="my code is 482913"):
            recorder.publish(event)
        # The first conversation comes back: its customer id continues from the database.
        recorder.publish({"event": "user", "sender_id": "tg:0", "timestamp": start + 1400, "text": "back again",
                          "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": []},
                          "message_id": "m-again"})
        recorder.publish({"event": "action", "sender_id": "tg:0", "timestamp": start + 1401, "name": "action_listen"})
        assert recorder.flush(60)
        held = len(recorder._assembler.states)
    finally:
        recorder.close()

    assert held <= 51, f"{held} conversations held"                # the bound (+ the pinned one)
    engine = sa.create_engine(url)
    assert count_rows(engine, actor="customer") == 1200 + 2        # no turn lost to the eviction
    coded = [r for r in rows_for(engine, "tg:code") if r["actor"] == "customer"]
    assert "482913" not in (coded[0]["text"] or "")                # still masked as a code
    again = [r for r in rows_for(engine, "tg:0") if r["actor"] == "customer"]
    assert [r["customer_id"] for r in again] == ["C-tg:0", "C-tg:0"]
