"""Touchpoint recording: turn assembly, idempotent writes, masking, and a database outage."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa

from bot.db import get_engine
from bot.schema import init_db
from bot.touchpoints.assembler import TurnAssembler
from bot.touchpoints.privacy import mask_personal_data
from bot.touchpoints.recorder import TouchpointRecorder
from bot.touchpoints.store import count_rows, rows_for

T0 = 1_750_000_000.0


def user(sender: str, t: float, text: str, intent: str, confidence: float = 0.9, language: str = "fa",
         stage: str | None = None, channel: str = "web", entities: list | None = None) -> Dict[str, Any]:
    return {
        "sender_id": sender, "event": "user", "timestamp": t, "text": text, "input_channel": channel,
        "message_id": f"m-{t}",
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": entities or [],
                       "language": language, "journey_stage": stage},
    }


def action(sender: str, t: float, name: str) -> Dict[str, Any]:
    return {"sender_id": sender, "event": "action", "timestamp": t, "name": name}


def bot(sender: str, t: float, text: str, metadata: dict | None = None) -> Dict[str, Any]:
    return {"sender_id": sender, "event": "bot", "timestamp": t, "text": text, "metadata": metadata or {}}


def slot(sender: str, t: float, name: str, value: Any) -> Dict[str, Any]:
    return {"sender_id": sender, "event": "slot", "timestamp": t, "name": name, "value": value}


def conversation(sender: str, start: float = T0) -> List[Dict[str, Any]]:
    """Greeting, then tracking an order that completes, as Rasa streams it."""
    return [
        action(sender, start, "action_session_start"),
        action(sender, start + 0.01, "action_listen"),
        user(sender, start + 1, "سلام", "greet"),
        bot(sender, start + 1.2, "سلام! چطور کمکتون کنم؟"),
        action(sender, start + 1.2, "utter_greet"),
        action(sender, start + 1.25, "action_listen"),
        user(sender, start + 5, "سفارش ۱۰۰۲۳۴ کجاست؟ شماره‌ام ۰۹۱۲۳۴۵۶۷۸۹", "track_order", 0.97, stage="retention",
             entities=[{"entity": "order_id", "value": "100234"}]),
        slot(sender, start + 5.1, "journey_stage", "retention"),
        slot(sender, start + 5.1, "goal", "track_order"),
        slot(sender, start + 5.1, "goal_status", "started"),
        action(sender, start + 5.2, "action_track_order"),
        bot(sender, start + 5.3, "سفارش شما ارسال شده است."),
        slot(sender, start + 5.3, "goal_status", "completed"),
        action(sender, start + 5.4, "action_listen"),
    ]


def test_a_conversation_becomes_customer_turns_and_goal_transitions() -> None:
    rows: List[Dict[str, Any]] = []
    assembler = TurnAssembler()
    for event in conversation("c1"):
        rows += assembler.feed(event)
    customer = [r for r in rows if r["actor"] == "customer"]
    system = [r for r in rows if r["actor"] == "system"]
    assert [r["intent"] for r in customer] == ["greet", "track_order"]
    first, second = customer
    assert first["actions"] == ["utter_greet"] and first["latency_ms"] == 250
    assert second["journey_stage"] == "retention" and second["goal"] == "track_order"
    assert second["goal_status"] == "completed" and second["latency_ms"] == 400
    assert second["entities"] == [{"entity": "order_id", "value": "100234"}]
    assert "۰۹۱۲۳۴۵۶۷۸۹" not in second["text"] and "[phone]" in second["text"]
    assert [r["actions"] for r in system] == [["goal_started"], ["goal_completed"]]
    assert len({r["event_id"] for r in rows}) == len(rows)


def test_agent_messages_and_handoff_are_their_own_rows() -> None:
    assembler = TurnAssembler()
    rows: List[Dict[str, Any]] = []
    events = [
        user("c2", T0, "I want a human", "request_human", language="en"),
        slot("c2", T0 + 0.1, "handoff_active", True),
        action("c2", T0 + 0.2, "action_request_human"),
        action("c2", T0 + 0.3, "action_listen"),
        bot("c2", T0 + 60, "Hi, this is Sara from support", {"hamsafar_actor": "agent", "agent": "sara"}),
        slot("c2", T0 + 120, "handoff_active", False),
    ]
    for event in events:
        rows += assembler.feed(event)
    assert [(r["actor"], r["actions"]) for r in rows] == [
        ("system", ["handoff_started"]),
        ("customer", ["action_request_human"]),
        ("agent", ["message"]),
        ("system", ["handoff_ended"]),
    ]
    assert rows[1]["handoff"] is True and rows[2]["handoff"] is True and rows[3]["handoff"] is False


@pytest.mark.parametrize(
    "text, expected",
    [
        ("شماره‌ام ۰۹۱۲۳۴۵۶۷۸۹ است", "شماره‌ام [phone] است"),
        ("call me on +98 912 345 6789", "call me on [phone]"),
        ("mail: reza.k@yahoo.com", "mail: [email]"),
        ("کارتم ۶۰۳۷ ۹۹۷۵ ۱۲۳۴ ۵۶۷۸ هست", "کارتم [card] هست"),
        ("کد ملی ۰۰۱۲۳۴۵۶۷۸", "کد ملی [national-id]"),
        ("order 100234 please", "order 100234 please"),
    ],
)
def test_personal_data_is_masked_in_any_digits(text: str, expected: str) -> None:
    assert mask_personal_data(text) == expected


def test_raw_text_switch_keeps_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.touchpoints.privacy import prepare_text

    monkeypatch.setenv("HAMSAFAR_TOUCHPOINTS_RAW_TEXT", "1")
    assert prepare_text("09123456789") == "09123456789"


def wait_for(condition, message: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def record(url: str, tmp_path: Path, events: List[Dict[str, Any]], **kwargs: Any) -> TouchpointRecorder:
    recorder = TouchpointRecorder(url, flush_interval_s=0.05, spool_path=tmp_path / "touchpoints-spool-1.jsonl", **kwargs).start()
    for event in events:
        recorder.publish(event)
    return recorder


def test_recorder_writes_each_row_once_even_when_events_are_published_twice(sqlite_url: str, tmp_path: Path) -> None:
    events = conversation("dup")
    recorder = record(sqlite_url, tmp_path, events)
    assert recorder.flush()
    recorder.close()
    first = count_rows(get_engine(sqlite_url), conversation_id="dup")
    again = record(sqlite_url, tmp_path, events)  # a retried publish of the same events
    assert again.flush()
    again.close()
    assert first == 4
    assert count_rows(get_engine(sqlite_url), conversation_id="dup") == first


def test_a_new_process_continues_the_conversation_state(sqlite_url: str, tmp_path: Path) -> None:
    recorder = record(sqlite_url, tmp_path, conversation("cont"))
    assert recorder.flush()
    recorder.close()
    later = record(sqlite_url, tmp_path, [user("cont", T0 + 100, "ممنون", "thank_you"), action("cont", T0 + 100.5, "action_listen")])
    assert later.flush()
    later.close()
    last = rows_for(get_engine(sqlite_url), "cont")[-1]
    assert (last["intent"], last["goal"], last["journey_stage"], last["channel"]) == ("thank_you", "track_order", "retention", "web")


def test_sqlite_outage_mid_stream_loses_and_doubles_nothing(sqlite_url: str, tmp_path: Path) -> None:
    init_db(sqlite_url)
    path = sqlite_url.replace("sqlite:///", "")
    senders = [f"out-{i}" for i in range(30)]
    recorder = record(sqlite_url, tmp_path, [e for s in senders[:10] for e in conversation(s)])
    assert recorder.flush()
    blocker = sqlite3.connect(path, timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")  # the database is now unavailable to writers
    for s in senders[10:20]:
        for event in conversation(s):
            recorder.publish(event)
    wait_for(lambda: recorder.failures > 0, "the outage was not noticed")
    blocker.rollback()
    blocker.close()
    for s in senders[20:]:
        for event in conversation(s):
            recorder.publish(event)
    assert recorder.flush(30)
    recorder.close()
    engine = get_engine(sqlite_url)
    with engine.connect() as conn:
        per_conversation = dict(conn.execute(sa.text(
            "SELECT conversation_id, COUNT(*) FROM touchpoints WHERE conversation_id LIKE 'out-%' GROUP BY conversation_id")).all())
    assert per_conversation == {s: 4 for s in senders}


def spool_while_the_database_is_locked(sqlite_url: str, tmp_path: Path, sender: str) -> None:
    """Record a conversation while SQLite is locked, and close: its rows end in the spool file."""
    init_db(sqlite_url)
    blocker = sqlite3.connect(sqlite_url.replace("sqlite:///", ""), timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")
    recorder = record(sqlite_url, tmp_path, conversation(sender))
    time.sleep(0.5)
    recorder.close(timeout_s=1)
    blocker.rollback()
    blocker.close()


def test_rows_pending_at_shutdown_are_spooled_and_replayed(sqlite_url: str, tmp_path: Path) -> None:
    spool_while_the_database_is_locked(sqlite_url, tmp_path, "spool")
    assert (tmp_path / "touchpoints-spool-1.jsonl").exists(), "pending rows were not saved at shutdown"
    replay = TouchpointRecorder(sqlite_url, flush_interval_s=0.05, spool_path=tmp_path / "touchpoints-spool-1.jsonl").start()
    deadline = time.monotonic() + 10
    while count_rows(get_engine(sqlite_url), conversation_id="spool") < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    replay.close()
    assert count_rows(get_engine(sqlite_url), conversation_id="spool") == 4
    assert not (tmp_path / "touchpoints-spool-1.jsonl").exists()


def test_a_corrupt_spool_line_is_quarantined_and_the_rest_recorded(sqlite_url: str, tmp_path: Path) -> None:
    """A torn or corrupt line (a crash mid-write, a disk error) does not stop the replay:
    it is set aside in touchpoints-quarantine.jsonl and every other row is recorded (#17 finding 12)."""
    spool_while_the_database_is_locked(sqlite_url, tmp_path, "torn")
    spool = tmp_path / "touchpoints-spool-1.jsonl"
    lines = spool.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 2, lines
    spool.write_text("\n".join(lines[:1] + ['{"conversation_id": "torn", "occ', "not json at all"] + lines[1:]) + "\n",
                     encoding="utf-8")
    replay = TouchpointRecorder(sqlite_url, flush_interval_s=0.05, spool_path=spool).start()
    deadline = time.monotonic() + 10
    while count_rows(get_engine(sqlite_url), conversation_id="torn") < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    replay.close()
    assert count_rows(get_engine(sqlite_url), conversation_id="torn") == 4
    quarantined = (tmp_path / "touchpoints-quarantine.jsonl").read_text(encoding="utf-8").splitlines()
    assert quarantined == ['{"conversation_id": "torn", "occ', "not json at all"]
    assert not spool.exists() and not spool.with_suffix(".replaying").exists()


def test_postgres_outage_mid_stream_loses_and_doubles_nothing(fresh_postgres_url: str, tmp_path: Path) -> None:
    from tests.conftest import postgres_url

    init_db(fresh_postgres_url)
    name = fresh_postgres_url.rsplit("/", 1)[1]
    admin = sa.create_engine(postgres_url(), isolation_level="AUTOCOMMIT", future=True)
    senders = [f"pg-{i}" for i in range(20)]
    recorder = record(fresh_postgres_url, tmp_path, [e for s in senders[:10] for e in conversation(s)])
    assert recorder.flush()
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": name})
    for s in senders[10:]:
        for event in conversation(s):
            recorder.publish(event)
    wait_for(lambda: recorder.failures > 0, "the outage was not noticed")
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    assert recorder.flush(30)
    recorder.close()
    admin.dispose()
    engine = get_engine(fresh_postgres_url)
    with engine.connect() as conn:
        per_conversation = dict(conn.execute(sa.text(
            "SELECT conversation_id, COUNT(*) FROM touchpoints GROUP BY conversation_id")).all())
    assert per_conversation == {s: 4 for s in senders}


def test_erase_removes_the_customers_conversations_and_reports_counts(sqlite_url: str, tmp_path: Path) -> None:
    from bot.touchpoints.erasure import erase_customer

    identified = conversation("erase-me") + [slot("erase-me", T0 + 6, "customer_id", "C042"),
                                              user("erase-me", T0 + 7, "ممنون", "thank_you"), action("erase-me", T0 + 7.2, "action_listen")]
    recorder = record(sqlite_url, tmp_path, identified + conversation("someone-else"))
    assert recorder.flush()
    recorder.close()
    engine = get_engine(sqlite_url)
    with engine.begin() as conn:  # a tracker-store table as Rasa's SQLTrackerStore makes it
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, data TEXT)"))
        conn.execute(sa.text("INSERT INTO events (sender_id, type_name, data) VALUES ('erase-me','user','{}'), ('erase-me','bot','{}'), ('someone-else','user','{}')"))
    deleted = erase_customer("C042", sqlite_url)
    assert deleted["touchpoints"] == 5  # all rows of the conversation, also those before identification
    assert deleted["events (Rasa tracker store)"] == 2
    assert count_rows(engine, conversation_id="erase-me") == 0
    assert count_rows(engine, conversation_id="someone-else") == 4


def test_erase_finds_conversations_known_only_through_verification(sqlite_url: str, tmp_path: Path) -> None:
    """A conversation whose touchpoints never carried the customer id (verified by
    bot.identity, e.g. on another channel) is still the customer's, and goes."""
    import datetime as dt

    from bot import db
    from bot.identity.models import VerifiedIdentity
    from bot.touchpoints.erasure import erase_customer
    from bot.touchpoints.privacy import conversation_ref

    recorder = record(sqlite_url, tmp_path, conversation("tg:77:77") + conversation("web:other"))
    assert recorder.flush()
    recorder.close()
    with db.session_scope(sqlite_url) as session:  # as bot.identity stores a verified Telegram chat
        for channel, external_id in (("conversation", "tg:77:77"), ("telegram", "77")):
            session.add(VerifiedIdentity(channel=channel, external_id=external_id, customer_id="C043",
                                         method="telegram_contact", verified_at=dt.datetime(2025, 1, 1)))
    engine = get_engine(sqlite_url)
    assert count_rows(engine, conversation_id="tg:77:77") == 4
    deleted = erase_customer("C043", sqlite_url)
    assert deleted["touchpoints"] == 4
    assert count_rows(engine, conversation_id="tg:77:77") == 0
    # someone else's widget conversation, stored by its reference, stays
    assert count_rows(engine, conversation_id=conversation_ref("web:other")) == 4
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM verified_identities WHERE customer_id = 'C043'")).scalar() == 0


def test_drop_old_text_keeps_rows_but_not_text(sqlite_url: str, tmp_path: Path) -> None:
    import datetime as dt

    from bot.touchpoints.erasure import drop_old_text

    recorder = record(sqlite_url, tmp_path, conversation("old", start=T0) + conversation("new", start=T0 + 86400 * 200))
    assert recorder.flush()
    recorder.close()
    now = dt.datetime.utcfromtimestamp(T0 + 86400 * 201)
    assert drop_old_text(30, sqlite_url, now=now) == 2  # the two customer rows of "old" had text
    old = rows_for(get_engine(sqlite_url), "old")
    assert len(old) == 4 and all(r["text"] is None for r in old)
    assert any(r["text"] for r in rows_for(get_engine(sqlite_url), "new"))


def _plain_rows(ids: range) -> List[Dict[str, Any]]:
    import datetime as dt

    return [{"event_id": f"rc-{i}", "occurred_at": dt.datetime(2025, 1, 1) + dt.timedelta(seconds=i),
             "conversation_id": f"rc-{i % 7}", "channel": "web", "actor": "customer", "language": "fa",
             "actions": ["utter_greet"], "entities": [], "handoff": False, "fallback": False} for i in ids]


def _check_insert_rows_counts_what_it_inserts(url: str) -> None:
    """More rows than one page, duplicates against stored rows and within one batch."""
    from bot.touchpoints.store import MAX_PARAMETERS, insert_rows

    engine = init_db(url)
    big = 3 * MAX_PARAMETERS // 10 + 17  # several pages of ~10 columns each
    assert insert_rows(engine, _plain_rows(range(big))) == big
    assert insert_rows(engine, _plain_rows(range(big - 1000, big + 1500))) == 1500
    assert insert_rows(engine, _plain_rows(range(big + 1500, big + 1501)) * 2) == 1  # the same id twice
    assert insert_rows(engine, _plain_rows(range(big + 1500, big + 1501))) == 0
    sparse = _plain_rows(range(big + 2000, big + 2002))
    del sparse[1]["language"], sparse[1]["handoff"]  # rows need not carry every key
    assert insert_rows(engine, sparse) == 2
    assert count_rows(engine) == big + 1500 + 1 + 2
    assert count_rows(engine, event_id=f"rc-{big + 2001}", handoff=False) == 1


def test_insert_rows_returns_the_real_count_on_sqlite(sqlite_url: str) -> None:
    _check_insert_rows_counts_what_it_inserts(sqlite_url)


def test_insert_rows_returns_the_real_count_on_postgres(fresh_postgres_url: str) -> None:
    # psycopg2's paged executemany used to report only its last page (500 of 2500)
    _check_insert_rows_counts_what_it_inserts(fresh_postgres_url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_adds_the_analytics_indexes_to_an_older_database(backend: str, request: pytest.FixtureRequest) -> None:
    from bot.db import dispose_engines
    from bot.touchpoints.models import ANALYTICS_INDEXES

    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "fresh_postgres_url")
    engine = init_db(url)
    listing = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'touchpoints'" if backend == "sqlite"
               else "SELECT indexname FROM pg_indexes WHERE tablename = 'touchpoints'")

    def indexes() -> set:
        with engine.connect() as conn:
            return set(conn.execute(sa.text(listing)).scalars())

    assert set(ANALYTICS_INDEXES) <= indexes()  # a new table has them from the model
    with engine.begin() as conn:  # the table as released before them
        for name in ANALYTICS_INDEXES:
            conn.execute(sa.text(f"DROP INDEX {name}"))
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE module = 'touchpoints'"))
    assert not set(ANALYTICS_INDEXES) & indexes()
    dispose_engines()
    engine = init_db(url)
    assert set(ANALYTICS_INDEXES) <= indexes()
    init_db(url)  # recorded as done: nothing to do the next time
    from bot.db import _migrations

    with engine.connect() as conn:  # each of the module's migrations once (2: the privacy scrub)
        assert conn.execute(sa.text("SELECT COUNT(*) FROM schema_migrations WHERE module = 'touchpoints'")).scalar_one() \
            == len({m.version for m in _migrations if m.module == "touchpoints"}) == 2


def test_streaming_tracker_store_publishes_what_rasa_would_without_reading_the_conversation(tmp_path: Path) -> None:
    """Same events to the broker as Rasa's SQLTrackerStore (which re-reads the stored tracker first),
    over several turns, a restarted session and a second conversation."""
    import asyncio

    from rasa.core.brokers.broker import EventBroker
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.touchpoints.tracker_store import StreamingSQLTrackerStore

    class Collect(EventBroker):
        def __init__(self) -> None:
            self.bodies: List[Dict[str, Any]] = []

        def publish(self, event: Dict[str, Any]) -> None:
            self.bodies.append(event)

    def turn(n: int, t: float) -> list:
        return [UserUttered(f"message {n}", {"name": "greet", "confidence": 0.9}, timestamp=t),
                ActionExecuted("utter_greet", timestamp=t + 0.1), BotUttered(f"reply {n}", timestamp=t + 0.2),
                ActionExecuted("action_listen", timestamp=t + 0.3)]

    async def run(store_class: type, database: Path) -> List[Dict[str, Any]]:
        broker = Collect()
        store = store_class(Domain.empty(), db=str(database), event_broker=broker)
        retrievals = []
        original_retrieve = store.retrieve

        async def retrieve(sender_id: str):  # type: ignore[no-untyped-def]
            retrievals.append(sender_id)
            return await original_retrieve(sender_id)

        store.retrieve = retrieve
        for sender in ("c1", "c2"):
            tracker = DialogueStateTracker(sender, [])
            t = T0
            tracker.update(ActionExecuted("action_session_start", timestamp=t))
            tracker.update(SessionStarted(timestamp=t))
            tracker.update(ActionExecuted("action_listen", timestamp=t))
            for n in range(4):
                for event in turn(n, t := t + 10):
                    tracker.update(event)
                if n == 1:
                    tracker.update(SlotSet("goal", "track_order", timestamp=t + 0.4))
                await store.save(tracker)
                tracker = await original_retrieve(sender)  # as Rasa loads it for the next message
            # a new session starts within the next message
            for event in (ActionExecuted("action_session_start", timestamp=t + 100), SessionStarted(timestamp=t + 100),
                          ActionExecuted("action_listen", timestamp=t + 100), *turn(9, t + 110)):
                tracker.update(event)
            await store.save(tracker)
            tracker = await original_retrieve(sender)  # now the events since the new session start
            for event in turn(10, t + 120):
                tracker.update(event)
            await store.save(tracker)
        return broker.bodies, retrievals

    rasa_bodies, rasa_retrievals = asyncio.run(run(SQLTrackerStore, tmp_path / "rasa.db"))
    ours, our_retrievals = asyncio.run(run(StreamingSQLTrackerStore, tmp_path / "ours.db"))
    assert len(rasa_retrievals) == 12 and our_retrievals == []
    assert ours == rasa_bodies
    # each event once: 6 customer messages per conversation
    assert len([b for b in ours if b["event"] == "user"]) == 12
    assert len(ours) == len({(b["sender_id"], b["timestamp"], b["event"], b.get("name"), b.get("text")) for b in ours})


def test_a_turn_the_tracker_store_failed_to_store_is_not_published(tmp_path: Path) -> None:
    """The database goes away while a turn is being stored: the customer gets 503 and sends the
    message again. The refused turn must not reach the event broker, or it becomes a touchpoint
    of a message the tracker never kept next to the one sent again (bench/faults.py counted it
    as a duplicated touchpoint after a PostgreSQL stop). A stored turn is published once."""
    import asyncio

    import sqlalchemy as sa
    from rasa.core.brokers.broker import EventBroker
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.touchpoints.tracker_store import StreamingSQLTrackerStore

    class Collect(EventBroker):
        def __init__(self) -> None:
            self.bodies: List[Dict[str, Any]] = []

        def publish(self, event: Dict[str, Any]) -> None:
            self.bodies.append(event)

    class DatabaseGoesAway(StreamingSQLTrackerStore):
        failing = True

        def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Any:
            if self.failing:
                raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))
            return super()._additional_events(session, tracker)

    async def run() -> List[Dict[str, Any]]:
        broker = Collect()
        store = DatabaseGoesAway(Domain.empty(), db=str(tmp_path / "t.db"), event_broker=broker)
        tracker = DialogueStateTracker("c1", [])
        for event in (UserUttered("hi", {"name": "greet", "confidence": 0.9}, timestamp=T0),
                      ActionExecuted("utter_greet", timestamp=T0 + 0.1), BotUttered("hello", timestamp=T0 + 0.2),
                      ActionExecuted("action_listen", timestamp=T0 + 0.3)):
            tracker.update(event)
        with pytest.raises(sa.exc.OperationalError):
            await store.save(tracker)
        assert broker.bodies == []   # refused: nothing published
        store.failing = False
        await store.save(tracker)    # the message again, stored this time
        return broker.bodies

    bodies = asyncio.run(run())
    assert [b["event"] for b in bodies] == ["user", "action", "bot", "action"]
