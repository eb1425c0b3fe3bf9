"""Rasa stores configured from Hamsafar's environment variables.

`endpoints.yml` names these classes so that one setting
(`HAMSAFAR_REDIS_URL`) decides the lock store, and the tracker store follows
`HAMSAFAR_DATABASE_URL` (see endpoints.yml).

`WindowedSQLTrackerStore` bounds what a message costs in a long conversation:
Rasa's SQL store reads and replays every event of the current session on every
message, and the policies and the action server then walk all of them, so a
reply slowed down with each turn. Past `WINDOW_MAX` events, the session is read
as a checkpoint (the slots and active loop at an earlier `action_listen`, as
`SlotSet`/`ActiveLoop` events, in the spirit of Rasa's own session start that
carries slots over) followed by the stored events after it. Every event stays
in the database; `retrieve_full_tracker` (history, agent console) reads them all.

`ReliableSQLTrackerStore` stores the id of the delivery a customer message came
in (Telegram `update_id`, SMS message id: `bot.channels.base.inbound_metadata`)
in the same transaction as the turn, so a message is remembered as processed
exactly when its turn is stored, and a redelivery is recognised even when the
database failed right after the turn was stored.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import create_engine_kwargs
from rasa.shared.core.constants import ACTION_LISTEN_NAME, SESSION_START_METADATA_SLOT
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    ConversationPaused,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import settings
from bot.channels.base import AlreadyProcessed, inbound_of
from bot.channels.models import InboundSeen
from bot.db import create_pooled_engine
from bot.touchpoints.tracker_store import StreamingSQLTrackerStore


class ReleasingRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store, except that a failed release does not fail a handled message.

    Rasa releases a conversation's lock in a `finally` after the turn is stored. With Redis
    restarting at that moment the release raised, and the customer got an error (503) for a
    message that was answered and stored: sending it again would have processed it twice
    (bench/faults.py counted 11 such messages in one Redis restart). The release is now
    logged instead: a restarted Redis has lost the lock anyway, and a lock that outlived a
    failed release expires after its lifetime. A failure to *take* the lock still refuses
    the message before anything is done."""

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

        try:
            super().cleanup(conversation_id, ticket_number)
        except (RedisConnectionError, RedisTimeoutError) as error:
            logger.warning("lock store: could not release the lock of a conversation (%s); it expires by itself",
                           error.__class__.__name__)


class EnvLockStore(LockStore):
    """Factory for Rasa's lock store: Redis when `HAMSAFAR_REDIS_URL` is set.

    Rasa instantiates custom lock stores as `cls(endpoint_config=...)`; this
    class returns a `RedisLockStore` (several server processes share locks)
    or an `InMemoryLockStore` (a single process) instead of itself.
    """

    def __new__(cls, endpoint_config: Optional[Any] = None) -> LockStore:  # type: ignore[misc]
        url = settings.redis_url()
        if not url:
            return InMemoryLockStore()
        parts = urlsplit(url)
        database = int(parts.path.strip("/") or 0)
        return ReleasingRedisLockStore(
            host=parts.hostname or "localhost",
            port=parts.port or 6379,
            db=database,
            password=parts.password,
            use_ssl=parts.scheme == "rediss",
            key_prefix="hamsafar",
        )


logger = logging.getLogger(__name__)

WINDOW_KEY = "hamsafar_window"  # metadata of a checkpoint's first event: what the checkpoint stands for


@dataclass(frozen=True)
class Checkpoint:
    """The state of a session at one stored event, as events that rebuild it."""

    after_id: int                   # the last stored event the state includes
    session_start: Optional[float]  # Rasa's lower bound on the session's event timestamps
    active_loop: Optional[str]      # the form active at that event
    events: Tuple[Dict[str, Any], ...]


def window_of(tracker: DialogueStateTracker) -> Optional[Dict[str, Any]]:
    """The checkpoint a tracker was read from (its first event says so), or None for a whole session."""
    first = tracker.events[0] if tracker.events else None
    if isinstance(first, SlotSet) and first.key == SESSION_START_METADATA_SLOT:
        return (first.metadata or {}).get(WINDOW_KEY)
    return None


def _without_window(event: Event) -> Event:
    """`event` without the checkpoint marker (Rasa copies a SlotSet's metadata into a new session)."""
    if WINDOW_KEY not in (event.metadata or {}):
        return event
    clean = copy.copy(event)
    clean.metadata = {k: v for k, v in event.metadata.items() if k != WINDOW_KEY}
    return clean


def checkpoint_events(tracker: DialogueStateTracker, after_id: int, session_start: Optional[float],
                      at: Optional[float]) -> Tuple[Dict[str, Any], ...]:
    """Events that rebuild `tracker`'s slots, active loop and pause, the first one marked.

    Every slot that was set is set again (also to its initial value: the rule policy
    tells a slot set to its initial value from an unset one), with the time of its
    latest `SlotSet`, so "since when" questions (bot/handoff/policy.py) keep their answer.
    `at` stamps the events that have no time of their own.
    """
    set_at: Dict[str, float] = {}
    for event in tracker.events:
        if isinstance(event, SlotSet) and event.timestamp is not None:
            set_at[event.key] = event.timestamp
    stamp = at if at is not None else 0.0
    events: List[Event] = [SlotSet(SESSION_START_METADATA_SLOT, tracker.get_slot(SESSION_START_METADATA_SLOT),
                                   timestamp=set_at.get(SESSION_START_METADATA_SLOT, stamp))]
    events += [SlotSet(slot.name, slot.value, timestamp=set_at.get(slot.name, stamp))
               for slot in tracker.slots.values()
               if slot.has_been_set and slot.name != SESSION_START_METADATA_SLOT]
    if tracker.active_loop_name:
        events.append(ActiveLoop(tracker.active_loop_name, timestamp=stamp))
        if tracker.active_loop and tracker.active_loop.rejected:
            events.append(ActionExecutionRejected(tracker.active_loop_name, timestamp=stamp))
    if tracker.is_paused():
        events.append(ConversationPaused(timestamp=stamp))
    events[0].metadata = {WINDOW_KEY: {"after_id": after_id, "session_start": session_start, "events": len(events)}}
    return tuple(event.as_dict() for event in events)


class WindowedSQLTrackerStore(StreamingSQLTrackerStore):
    """Rasa's SQL tracker store with pooled connections, whose reads of a long session are bounded.

    A session of at most `window_max` stored events is read as Rasa reads it. A longer
    one is replayed once to the last `action_listen` that leaves at least `window_keep`
    events after it; that state becomes a checkpoint, kept in this process (at most
    `max_checkpoints` conversations) and marked on the first event of the trackers
    read from it. Later reads fetch only the stored events after the checkpoint,
    whoever stored them (several Rasa processes may share the database: the lock
    store lets one of them handle a conversation at a time), so a message costs the
    same at turn 500 as at turn 50. The checkpoint is dropped, and the session read
    as Rasa does, when its event is gone (an erasure) or a new session started.
    `save` counts a windowed tracker's stored events after its checkpoint.
    """

    window_max = 100   # ≈ 9 turns of Hamsafar's (about 11 events a customer message)
    window_keep = 60
    max_checkpoints = 10_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rasa's engine has no pool on a SQLite file (SQLAlchemy 1.4's NullPool: a connection
        # opened and closed per read and per save) and no pre-ping on PostgreSQL.
        url = self.engine.url
        self.engine.dispose()
        self.engine = create_pooled_engine(url, future=False, **create_engine_kwargs(url))
        self.sessionmaker = sessionmaker(bind=self.engine)
        self._index_events_by_sender_and_id()
        self._checkpoints: "OrderedDict[str, Checkpoint]" = OrderedDict()
        self._checkpoints_lock = threading.Lock()
        self.events_read = 0  # event rows deserialised by `retrieve`, for monitoring and tests

    def _index_events_by_sender_and_id(self) -> None:
        """On PostgreSQL, an index on (sender_id, id) for "the events after the checkpoint".

        Rasa indexes `sender_id` only, so PostgreSQL visited every row of the conversation
        to find the latest ones (9 ms instead of 2 ms at 3,000 events). SQLite's index on
        `sender_id` already ends with the row id. Several processes may start at once: one
        that loses the race to create it carries on (the index is an optimisation).
        """
        if self.engine.dialect.name != "postgresql":
            return
        try:
            table = self.SQLEvent.__tablename__
            with self.engine.begin() as conn:
                conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_events_sender_id_id ON {table} (sender_id, id)"))
        except sa.exc.DBAPIError as error:
            logger.warning("could not create the index ix_events_sender_id_id: %s", error)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The current session: whole while short, else a checkpoint and the events after it."""
        with self.session_scope() as session:
            checkpoint, rows = self._read(session, sender_id)
        if self.domain is None or (checkpoint is None and not rows):
            return None
        self.events_read += len(rows)
        events = [json.loads(row.data) for row in rows]
        if len(rows) > self.window_max:
            checkpoint, events = self._advance(sender_id, checkpoint, rows, events)
        prefix = list(checkpoint.events) if checkpoint is not None else []
        return DialogueStateTracker.from_dict(sender_id, prefix + events, self.domain.slots)

    def _read(self, session: Any, sender_id: str) -> Tuple[Optional[Checkpoint], Sequence[Any]]:
        """The checkpoint still valid for the conversation and the session's rows after it."""
        table = self.SQLEvent
        columns = (table.id, table.type_name, table.action_name, table.timestamp, table.data)
        checkpoint = self._checkpoint(sender_id)
        if checkpoint is not None:
            rows = (session.query(*columns).filter(table.sender_id == sender_id, table.id >= checkpoint.after_id)
                    .order_by(table.id).all())
            if rows and rows[0].id == checkpoint.after_id \
                    and all(row.type_name != SessionStarted.type_name for row in rows[1:]):
                start = checkpoint.session_start
                return checkpoint, [row for row in rows[1:]
                                    if start is None or (row.timestamp is not None and row.timestamp >= start)]
            self._forget(sender_id)
        query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
        return None, query.with_entities(*columns).all()

    def _advance(self, sender_id: str, checkpoint: Optional[Checkpoint], rows: Sequence[Any],
                 events: List[Dict[str, Any]]) -> Tuple[Optional[Checkpoint], List[Dict[str, Any]]]:
        """A new checkpoint at the latest `action_listen` outside a form that leaves `window_keep`
        events after it; the events after it.

        Outside a form, so the message that opened the form the customer is in stays in
        the tracker (actions read it: `goal_message`); while a long form runs, the window grows.
        """
        cuts = self._cuts(checkpoint, rows, events)
        cut = next((i for i in reversed(cuts) if len(rows) - i >= self.window_keep), None)
        if cut is None:
            return checkpoint, events
        prefix = list(checkpoint.events) if checkpoint is not None else []
        before = DialogueStateTracker.from_dict(sender_id, prefix + events[:cut], self.domain.slots)
        if checkpoint is not None:
            session_start = checkpoint.session_start
        else:
            starts = [row.timestamp for row in rows if row.type_name == SessionStarted.type_name]
            session_start = max(starts) if starts else None
        last = rows[cut - 1]
        checkpoint = Checkpoint(last.id, session_start, before.active_loop_name,
                                checkpoint_events(before, last.id, session_start, last.timestamp))
        with self._checkpoints_lock:
            self._checkpoints[sender_id] = checkpoint
            self._checkpoints.move_to_end(sender_id)
            while len(self._checkpoints) > self.max_checkpoints:
                self._checkpoints.popitem(last=False)
        return checkpoint, events[cut:]

    @staticmethod
    def _cuts(checkpoint: Optional[Checkpoint], rows: Sequence[Any], events: List[Dict[str, Any]]) -> List[int]:
        """Indexes of the rows a window may start at: an `action_listen` with no loop active."""
        active = checkpoint.active_loop if checkpoint is not None else None
        cuts: List[int] = []
        for index, (row, event) in enumerate(zip(rows, events)):
            if row.type_name == ActiveLoop.type_name:
                active = event.get("name")
            elif row.type_name == Restarted.type_name:
                active = None
            elif index and active is None and row.type_name == ActionExecuted.type_name \
                    and row.action_name == ACTION_LISTEN_NAME:
                cuts.append(index)
        return cuts

    def _checkpoint(self, sender_id: str) -> Optional[Checkpoint]:
        with self._checkpoints_lock:
            checkpoint = self._checkpoints.get(sender_id)
            if checkpoint is not None:
                self._checkpoints.move_to_end(sender_id)
            return checkpoint

    def _forget(self, sender_id: str) -> None:
        with self._checkpoints_lock:
            self._checkpoints.pop(sender_id, None)

    def _new_events(self, session: Any, tracker: DialogueStateTracker) -> List[Event]:
        """The events to store, without a checkpoint's marker (a new session copies its slots)."""
        return [_without_window(event) for event in super()._new_events(session, tracker)]

    def _stored_event_count(self, session: Any, tracker: DialogueStateTracker) -> int:
        """A windowed tracker holds its checkpoint's events and the stored events after it."""
        window = window_of(tracker)
        if window is None:
            return super()._stored_event_count(session, tracker)
        table = self.SQLEvent
        query = session.query(sa.func.count(table.id)).filter(table.sender_id == tracker.sender_id,
                                                              table.id > window["after_id"])
        if window["session_start"] is not None:
            query = query.filter(table.timestamp >= window["session_start"])
        return int(window["events"]) + int(query.scalar() or 0)


class ReliableSQLTrackerStore(WindowedSQLTrackerStore):
    """Rasa's SQL tracker store that records each customer message's delivery id with its turn.

    endpoints.yml names it. Failures are not handled here: they propagate to
    Rasa's `FailSafeTrackerStore`, which `bot.channels.base.refuse_store_failures`
    makes raise, so the channel refuses the message and the platform retries.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        InboundSeen.__table__.create(self.engine, checkfirst=True)  # the tracker store may be a database of its own

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events Rasa is about to store, plus one `channel_inbound_seen` row per delivery among them."""
        events: List[Event] = list(super()._additional_events(session, tracker))
        for event in events:
            delivery = inbound_of(event.metadata) if isinstance(event, UserUttered) else None
            if delivery is not None:
                session.add(InboundSeen(channel=delivery[0], external_id=delivery[1]))
        return iter(events)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the turn; `AlreadyProcessed` (nothing stored) if another delivery of its message was stored."""
        try:
            await super().save(tracker)
        except sa.exc.IntegrityError as error:
            raise AlreadyProcessed("conversation turn of an inbound message already stored") from error
