"""The recorder: Rasa events in, touchpoint rows out, off the reply path.

`publish` only appends the event to a bounded in-memory queue and returns. A
writer thread assembles turns (`TurnAssembler`) and inserts rows in batches.
If the database is down, rows stay pending and the insert is retried with
backoff; pending rows beyond `max_pending` — and everything still pending at
shutdown — go to an append-only spool file that is replayed once the database
answers again. Inserts skip rows whose `event_id` exists, so a retry or a
replay can never duplicate a row.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set

from sqlalchemy.engine import Engine

from bot import settings
from bot import schema
from bot.touchpoints.assembler import MAX_CONVERSATIONS, ConversationState, TurnAssembler
from bot.touchpoints.privacy import conversation_ref
from bot.touchpoints.store import insert_rows, last_state

logger = logging.getLogger(__name__)
SPOOL_PATTERN = "touchpoints-spool-*.jsonl"   # one per writing process: touchpoints-spool-<pid>.jsonl
QUARANTINE_NAME = "touchpoints-quarantine.jsonl"

# Writers running in this process, told by `hamsafar erase` to forget conversations.
_live: "weakref.WeakSet[TouchpointRecorder]" = weakref.WeakSet()


def forget_conversations(conversation_ids: Iterable[str]) -> None:
    """Every writer of this process drops what it holds of these (erased) conversations."""
    for recorder in list(_live):
        recorder.forget(conversation_ids)


class TouchpointRecorder:
    """Buffers events and writes touchpoint rows in a background thread."""

    def __init__(
        self,
        database_url: Optional[str] = None,
        batch_size: int = 200,
        flush_interval_s: float = 0.5,
        buffer_size: int = 20_000,
        max_pending: int = 50_000,
        spool_path: Optional[Path] = None,
        max_conversations: int = MAX_CONVERSATIONS,
    ) -> None:
        self.database_url = database_url or settings.database_url()
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self.spool_path = spool_path or settings.STATE_DIR / f"touchpoints-spool-{os.getpid()}.jsonl"
        self._queue: "queue.Queue[Dict[str, Any]]" = queue.Queue(maxsize=buffer_size)
        self._assembler = TurnAssembler(max_conversations=max_conversations)   # bounded; evicted ones re-seeded
        self._pending: List[Dict[str, Any]] = []
        self._stop = threading.Event()
        self._spool_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="touchpoint-writer", daemon=True)
        self._engine: Optional[Engine] = None
        self._forget_lock = threading.Lock()
        self._forgotten: Dict[str, dt.datetime] = {}  # erased conversation -> rows up to then are dropped
        self._to_reset: Set[str] = set()
        self.written = 0
        self.failures = 0

    # -- the reply path ---------------------------------------------------------------
    def publish(self, event: Dict[str, Any]) -> None:
        """Hand over one Rasa event; never blocks, never raises."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._spool([{"__event__": event}])

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> "TouchpointRecorder":
        self._thread.start()
        _live.add(self)
        return self

    def forget(self, conversation_ids: Iterable[str]) -> None:
        """An erase: drop the state (customer id) and the not yet written rows of these conversations.

        Applied by the writer thread before its next insert; rows of events that
        happened after this call (the customer writes again) are kept.
        """
        now = dt.datetime.utcnow()
        with self._forget_lock:
            for conversation in conversation_ids:
                self._forgotten[conversation] = now
                self._forgotten[conversation_ref(conversation)] = now  # how its pending rows name it
                self._to_reset.add(conversation)

    def close(self, timeout_s: float = 15.0) -> None:
        """Flush what can be flushed within `timeout_s`; spool the rest to disk."""
        self._stop.set()
        _live.discard(self)
        self._thread.join(timeout_s)
        leftovers = list(self._pending)
        self._pending.clear()
        while True:
            try:
                leftovers += self._assembler.feed(self._queue.get_nowait())
            except queue.Empty:
                break
        if leftovers:
            self._spool(leftovers)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every published event is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0 and not self._pending:
                return True
            time.sleep(0.02)
        return False

    # -- the writer thread ----------------------------------------------------------
    def _engine_ready(self) -> Engine:
        if self._engine is None:
            self._engine = schema.engine(self.database_url)
        return self._engine

    def _seed_state(self, event: Dict[str, Any]) -> None:
        """First event of a conversation in this process: continue from its newest row."""
        sender = str(event.get("sender_id") or "")
        if not sender or sender in self._assembler.states:
            return
        state = ConversationState()
        with self._forget_lock:
            erased = sender in self._forgotten
        try:  # an erased conversation starts afresh (its rows may not be deleted yet)
            previous = None if erased else last_state(self._engine_ready(), conversation_ref(sender))  # rows name it so
        except Exception:  # noqa: BLE001 - database down: start from an empty state
            previous = None
        if previous:
            for name, value in previous.items():
                setattr(state, name, bool(value) if name == "handoff" else value)
        self._assembler.states[sender] = state

    def _run(self) -> None:
        backoff = 0.2
        self._replay_spool()
        while not (self._stop.is_set() and self._queue.empty() and not self._pending):
            self._collect()
            if not self._pending:
                continue
            try:
                self.written += insert_rows(self._engine_ready(), self._pending)
                self._pending.clear()
                backoff = 0.2
                self._replay_spool()
            except Exception as error:  # noqa: BLE001 - any database failure: retry later
                self.failures += 1
                logger.warning("touchpoints: write failed (%s); %d rows pending, retrying", error.__class__.__name__, len(self._pending))
                self._engine = None
                if len(self._pending) > self.max_pending:
                    self._spool(self._pending)
                    self._pending.clear()
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 5.0)

    def _collect(self) -> None:
        """Move up to one batch of events from the queue into pending rows."""
        deadline = time.monotonic() + self.flush_interval_s
        taken = 0
        while taken < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and taken:
                break
            try:
                event = self._queue.get(timeout=max(remaining, 0.05))
            except queue.Empty:
                break
            try:
                if self._to_reset:
                    self._reset_forgotten()  # an erase while waiting: before this event is assembled
                self._seed_state(event)
                self._pending += self._assembler.feed(event)
            except Exception:  # noqa: BLE001 - one malformed event must not stop recording
                logger.exception("touchpoints: could not assemble event %s", event.get("event"))
            finally:
                self._queue.task_done()
            taken += 1
        self._drop_forgotten()

    def _reset_forgotten(self) -> None:
        with self._forget_lock:
            reset, self._to_reset = self._to_reset, set()
        for conversation in reset:
            self._assembler.states.pop(conversation, None)

    def _drop_forgotten(self) -> None:
        """Apply `forget` (in the writer thread, which alone touches states and pending rows)."""
        self._reset_forgotten()
        with self._forget_lock:
            forgotten = dict(self._forgotten)
        if forgotten:
            self._pending = [row for row in self._pending
                             if not (row.get("conversation_id") in forgotten
                                     and row["occurred_at"] <= forgotten[row["conversation_id"]])]

    # -- the spool ------------------------------------------------------------------------
    def _spool(self, items: List[Dict[str, Any]]) -> None:
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        with self._spool_lock, open(self.spool_path, "a", encoding="utf-8") as handle:
            for item in items:
                handle.write(json.dumps(item, default=str, ensure_ascii=False) + "\n")

    def _quarantine(self, lines: List[str]) -> None:
        """Keep spool lines that cannot be read aside, for a person to look at, and go on."""
        target = _quarantine_path(self.spool_path)
        with self._spool_lock, open(target, "a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
        logger.warning("touchpoints: %d unreadable spool line(s) moved to %s", len(lines), target)

    def _replay_spool(self) -> None:
        """Insert rows (and re-feed events) left in spool files by this or an earlier process."""
        for path in sorted(self.spool_path.parent.glob(SPOOL_PATTERN)):
            if path != self.spool_path and _owner_alive(path):
                continue  # another live process is still writing it
            claimed = path.with_suffix(".replaying")
            try:
                with self._spool_lock:
                    path.rename(claimed)
            except OSError:
                continue
            rows: List[Dict[str, Any]] = []
            bad: List[str] = []
            for line in claimed.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    if "__event__" in item:
                        rows += self._assembler.feed(item["__event__"])
                    else:
                        rows.append(_revive(item))
                except Exception:  # noqa: BLE001 - a torn or corrupt line must not stop the others
                    bad.append(line)
            if bad:
                self._quarantine(bad)
            try:
                insert_rows(self._engine_ready(), rows)
                claimed.unlink()
            except Exception:  # noqa: BLE001 - still down: put the file back for later
                claimed.rename(path)
                return


def _quarantine_path(spool_path: Path) -> Path:
    return spool_path.parent / QUARANTINE_NAME


def files_with_rows(directory: Path) -> List[Path]:
    """Every file in which rows wait outside the database: spool files (also one being
    replayed) and the quarantine. `hamsafar erase` cleans them (bot.touchpoints.erasure)."""
    return sorted(p for pattern in ("touchpoints-spool-*", QUARANTINE_NAME) for p in directory.glob(pattern) if p.is_file())


def _owner_alive(path: Path) -> bool:
    """True if the process whose pid names this spool file still runs."""
    try:
        os.kill(int(path.stem.rsplit("-", 1)[1]), 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _revive(row: Dict[str, Any]) -> Dict[str, Any]:
    """A row read back from the spool: timestamps were written as text."""
    import datetime as dt

    if isinstance(row.get("occurred_at"), str):
        row["occurred_at"] = dt.datetime.fromisoformat(row["occurred_at"])
    return row
