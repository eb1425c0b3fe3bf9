"""Tracker reads stay bounded in a long conversation (issue 16), driven on the tracker store itself.

The store reads a long session as a checkpoint plus the events after it
(bot/stores.py `WindowedSQLTrackerStore`). These tests play whole conversations
the way Rasa's processor does (retrieve, add the turn's events, save) on real
SQLite and PostgreSQL databases and check the work a read does (event rows
deserialised), that the windowed tracker holds the same state as Rasa's whole-session
read, that two store instances on one database (two Rasa processes) store every
event once, and that delivery dedup and erasure still work. No bot is started.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, List, Optional

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.base import AlreadyProcessed, inbound_metadata
from bot.stores import WINDOW_KEY, ReliableSQLTrackerStore, window_of

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, ask_price, order, inform, thanks]
entities: [product]
slots:
  product:
    type: text
    mappings: [{type: from_entity, entity: product}]
  handoff_active:
    type: bool
    initial_value: false
    mappings: [{type: custom}]
  language:
    type: categorical
    values: [fa, en]
    mappings: [{type: custom}]
  phone:
    type: text
    mappings: [{type: custom}]
forms:
  order_form:
    required_slots: [phone]
responses:
  utter_price: [{text: "price"}]
  utter_greet: [{text: "hi"}]
actions: [action_price]
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
""")

WINDOW_MAX = 40   # small windows keep the test fast; the production sizes are the class defaults
WINDOW_KEEP = 12


def store_on(url: str) -> ReliableSQLTrackerStore:
    store = ReliableSQLTrackerStore(domain=DOMAIN, host=url)
    store.window_max, store.window_keep = WINDOW_MAX, WINDOW_KEEP
    return store


def turn_events(turn: int, delivery: Optional[str] = None) -> List[Any]:
    """One customer turn: message, slot, action, answer, listen; an order form opens at turn 7 and
    stays open until turn 30 (so a checkpoint falls inside it), the language is set once at turn 1."""
    intent = "order" if turn == 7 else "ask_price"
    events: List[Any] = [
        UserUttered(f"message {turn}", {"name": intent, "confidence": 1.0},
                    [{"entity": "product", "value": f"p{turn % 4}"}],
                    metadata=inbound_metadata("rest", delivery) if delivery else None),
        SlotSet("product", f"p{turn % 4}"),
    ]
    if turn == 1:
        events.append(SlotSet("language", "fa"))
    if turn == 7:
        events += [ActionExecuted("order_form"), ActiveLoop("order_form"), SlotSet("requested_slot", "phone")]
    elif turn == 30:
        events += [ActionExecuted("order_form"), SlotSet("phone", "+989120000000"), ActiveLoop(None),
                   SlotSet("requested_slot", None)]
    else:
        events += [ActionExecuted("action_price"), BotUttered(f"answer {turn}"), ActionExecuted("utter_price")]
    events.append(ActionExecuted(ACTION_LISTEN_NAME))
    return events


async def play_turn(store: ReliableSQLTrackerStore, sender: str, turn: int, delivery: Optional[str] = None) -> int:
    """What Rasa's processor does with a message: read, add the turn, save. The rows the read deserialised."""
    before = store.events_read
    tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
    if turn == 1:
        for event in (ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)):
            tracker.update(event)
    for event in turn_events(turn, delivery):
        tracker.update(event)
    await store.save(tracker)
    return store.events_read - before


async def full_session(url: str, sender: str) -> DialogueStateTracker:
    """Rasa's own read of the session (every event), to compare with."""
    plain = SQLTrackerStore(domain=DOMAIN, host=url)
    try:
        tracker = await plain.retrieve(sender)
    finally:
        plain.engine.dispose()
    assert tracker is not None
    return tracker


def assert_same_state(windowed: DialogueStateTracker, full: DialogueStateTracker) -> None:
    assert window_of(windowed) is not None, "the long session was not read through a checkpoint"
    assert windowed.current_slot_values() == full.current_slot_values()
    assert windowed.active_loop_name == full.active_loop_name
    assert windowed.latest_message.text == full.latest_message.text
    assert windowed.latest_action_name == full.latest_action_name
    # what Memoization/TED (max_history 5) and the rules see
    assert windowed.past_states(DOMAIN)[-5:] == full.past_states(DOMAIN)[-5:]
    assert windowed.past_states(DOMAIN, omit_unset_slots=True)[-5:] == \
        full.past_states(DOMAIN, omit_unset_slots=True)[-5:]


def stored_rows(url: str, sender: str) -> List[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
                                     {"s": sender}))
    finally:
        engine.dispose()


def test_a_read_costs_the_same_at_turn_150_as_at_turn_5(sqlite_url: str) -> None:
    store = store_on(sqlite_url)

    async def run() -> List[int]:
        return [await play_turn(store, "rest:long", turn) for turn in range(1, 151)]

    reads = asyncio.run(run())
    events_per_turn = len(turn_events(3))
    # Rasa's read grows by a turn's events every turn (over 800 rows at turn 150); ours stays within
    # the window once the order form (turns 7-30, never cut) is over
    assert max(reads[35:]) <= WINDOW_MAX + events_per_turn
    assert max(reads[100:]) <= max(reads[:40])
    assert reads[149] < 150 * events_per_turn / 5
    # nothing was dropped from the database: every event of every turn is stored, once
    rows = stored_rows(sqlite_url, "rest:long")
    assert len(rows) == 3 + sum(len(turn_events(t)) for t in range(1, 151))
    assert not any(WINDOW_KEY in row.data for row in rows)
    assert [json.loads(r.data)["text"] for r in rows if r.type_name == "user"] == [f"message {t}" for t in range(1, 151)]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_processes_on_one_database_store_every_event_once_and_agree_with_rasa(
        database: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "fresh_postgres_url")
    first, second = store_on(url), store_on(url)

    async def run() -> None:
        for turn in range(1, 61):   # alternate stores, as a load balancer without sticky sessions would
            await play_turn(first if turn % 3 else second, "tg:42", turn)
            if turn in (20, 45, 60):   # inside the order form, after it, at the end
                for store in (first, second):
                    assert_same_state(await store.retrieve("tg:42"), await full_session(url, "tg:42"))

    try:
        asyncio.run(run())
    finally:
        first.engine.dispose()
        second.engine.dispose()
    rows = stored_rows(url, "tg:42")
    assert len(rows) == 3 + sum(len(turn_events(t)) for t in range(1, 61))
    if database == "postgresql":   # "the events after the checkpoint" is an index range there too
        engine = sa.create_engine(url)
        try:
            assert "ix_events_sender_id_id" in {index["name"] for index in sa.inspect(engine).get_indexes("events")}
        finally:
            engine.dispose()
    assert [json.loads(r.data)["text"] for r in rows if r.type_name == "user"] == [f"message {t}" for t in range(1, 61)]


def test_state_set_before_the_checkpoint_survives_it(sqlite_url: str) -> None:
    """A handoff flagged at turn 2 is still there at turn 25, with its time; the order form opened at
    turn 7 is still open and its opening message still in the tracker (a window never starts in a form)."""
    store = store_on(sqlite_url)

    handoff_at: List[float] = []

    async def run() -> DialogueStateTracker:
        for turn in range(1, 26):
            tracker = await store.get_or_create_tracker("web:7", append_action_listen=False)
            if turn == 1:
                for event in (ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(),
                              ActionExecuted(ACTION_LISTEN_NAME)):
                    tracker.update(event)
            events = turn_events(turn)
            if turn == 2:
                events.insert(1, SlotSet("handoff_active", True))
                handoff_at.append(events[1].timestamp)
            for event in events:
                tracker.update(event)
            await store.save(tracker)
        return await store.retrieve("web:7")

    tracker = asyncio.run(run())
    assert window_of(tracker) is not None
    assert not any(isinstance(e, UserUttered) and e.text == "message 2" for e in tracker.events)
    assert tracker.get_slot("handoff_active") is True
    assert tracker.get_slot("language") == "fa"
    assert tracker.active_loop_name == "order_form"
    assert tracker.get_slot("requested_slot") == "phone"
    assert any(isinstance(e, UserUttered) and e.text == "message 7" for e in tracker.events)
    handoff = [e for e in tracker.events if isinstance(e, SlotSet) and e.key == "handoff_active"]
    assert [e.timestamp for e in handoff] == handoff_at
    assert_same_state(tracker, asyncio.run(full_session(sqlite_url, "web:7")))


def test_delivery_dedup_and_a_new_session_after_a_windowed_read(sqlite_url: str) -> None:
    store, other = store_on(sqlite_url), store_on(sqlite_url)

    async def run() -> None:
        for turn in range(1, 41):
            await play_turn(store, "sms:+98912", turn, delivery=f"d{turn}")
        stale = await other.retrieve("sms:+98912")   # windowed; the same delivery comes in again
        assert window_of(stale) is not None
        for event in turn_events(40, delivery="d40"):
            stale.update(event)
        with pytest.raises(AlreadyProcessed):
            await other.save(stale)
        # a new session carries the slots over (Rasa copies the SlotSets, metadata too): no marker is stored
        tracker = await store.retrieve("sms:+98912")
        for event in (ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(),
                      *[SlotSet(e.key, e.value, metadata=e.metadata) for e in tracker.applied_events()
                        if isinstance(e, SlotSet)],
                      ActionExecuted(ACTION_LISTEN_NAME)):
            tracker.update(event)
        await store.save(tracker)
        fresh = await store.retrieve("sms:+98912")
        assert window_of(fresh) is None and any(isinstance(e, SessionStarted) for e in list(fresh.events)[:2])
        assert fresh.get_slot("language") == "fa"

    asyncio.run(run())
    rows = stored_rows(sqlite_url, "sms:+98912")
    assert sum(1 for r in rows if r.type_name == "user") == 40
    assert not any(WINDOW_KEY in r.data for r in rows)


def test_an_erased_conversation_is_not_rebuilt_from_its_checkpoint(sqlite_url: str) -> None:
    store = store_on(sqlite_url)

    async def run() -> None:
        for turn in range(1, 21):
            await play_turn(store, "tg:9", turn)
        assert window_of(await store.retrieve("tg:9")) is not None
        with store.engine.begin() as conn:   # what `hamsafar erase` does to Rasa's events
            conn.execute(sa.text("DELETE FROM events WHERE sender_id = 'tg:9'"))
        assert await store.retrieve("tg:9") is None

    asyncio.run(run())


def test_a_save_with_an_event_broker_counts_the_stored_events_once_and_publishes_what_it_stores(sqlite_url: str) -> None:
    """Rasa counted the session's stored events for the stream and again for the save; the count is
    now made once per message, and what is published is exactly what is stored, windowed or not."""
    from rasa.core.brokers.broker import EventBroker

    class Recording(EventBroker):
        """Keeps what the tracker store publishes."""

        def __init__(self) -> None:
            self.events: List[Any] = []

        def publish(self, event: Any) -> None:
            self.events.append(event)

        def is_ready(self) -> bool:
            return True

    broker = Recording()
    store = store_on(sqlite_url)
    store.event_broker = broker
    counts: List[str] = []

    def count_statements(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "count(" in statement.lower():
            counts.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count_statements)

    async def run() -> None:
        for turn in range(1, 51):   # past the window: windowed trackers too
            tracker = await store.get_or_create_tracker("rest:counted", append_action_listen=False)
            if turn == 1:
                for event in (ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)):
                    tracker.update(event)
            for event in turn_events(turn):
                tracker.update(event)
            counts.clear()
            await store.save(tracker)
            assert len(counts) == 1, f"turn {turn}: {len(counts)} counts"

    asyncio.run(run())
    rows = stored_rows(sqlite_url, "rest:counted")
    assert [json.loads(row.data)["event"] for row in rows] == [event["event"] for event in broker.events]
    assert all(WINDOW_KEY not in json.dumps(event) for event in broker.events)
