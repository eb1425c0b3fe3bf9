"""The work table's state machine: claim due entries, run their steps, reserve each send once.

Every entry is owned by at most one runner at a time: `claim` marks due rows
with a lease in one UPDATE whose row selection uses `FOR UPDATE SKIP LOCKED`
on PostgreSQL (several processes take different rows without waiting) and is
a single atomic statement on SQLite (one writer). Every later write is a
compare-and-set on the entry's `revision`, so an event that ends or advances
an entry while a runner works on it is never overwritten.

A send is claimed before anything goes out: a `journey_messages` row unique
per (entry, step), marked `sending` with an attempt id and the runner's lease
token in the transaction that compare-and-sets the entry under that lease and
checks the frequency cap (serialised per customer with an advisory lock on
PostgreSQL). Only that attempt may send: each channel is noted on the row
(`attempting`, a compare-and-set on the attempt id) before it is tried, and the
outcome is written only for that attempt. A runner that takes an entry over
(the lease expired: its runner died, or is merely slow) never starts a send
that was started: a row still `sending` with a channel noted is recorded `sent`
if the channel's own log shows it sent (the SMS log), else `unknown`, and the
journey moves on — at most once. A row `sending` with no channel noted was
never tried: the new runner takes it with a new attempt id, which refuses the
old attempt if it is still alive.

The runner (`bot.orchestration.runner`) calls `claim`, `advance` (no network:
waits, conditions, hold-out, quiet hours, cap, rendering) and, after the
delivery, `record`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.crm.base import CRM, PAID, CRMError
from bot import schema
from bot.orchestration.definition import (
    Condition, JourneyBook, ProactiveJourney, Send, Wait, load_book,
)
from bot.orchestration.delivery import Outcome, Target, consent_allows, customer_targets
from bot.orchestration.models import JourneyEntry, JourneyEvent, JourneyMessage, JourneyWatch
from bot.orchestration.schedule import SendingWindow, aware, valid_zone
from bot.orchestration.templates import MissingValue, Subject, Values, render
from bot.touchpoints.assembler import JOURNEY_CHANNEL  # touchpoint channel of entered / exited / converted rows

logger = logging.getLogger(__name__)

E = JourneyEntry.__table__
M = JourneyMessage.__table__
EV = JourneyEvent.__table__
W = JourneyWatch.__table__
ZONE_WATCH = "timezone"                    # journey_watch rows: a customer's time zone, as their events last told it
LEASE = dt.timedelta(minutes=5)            # real time a claimed entry stays with its runner (then another may resume it)
RETRY_AFTER = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 3
PAID_OR_LATER = frozenset({PAID, "processing", "shipped", "delivered"})
COUNTED = ("reserved", "sending", "sent", "unknown")   # messages that count toward the frequency cap
IN_FLIGHT = ("sending", "reserved")        # "reserved": the same, written by older releases


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def holdout_of(journey: str, customer_key: str, share: float) -> bool:
    """Deterministic: the same customer is always in (or out of) a journey's hold-out."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{journey}|{customer_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < share


def remember_zone(conn: Connection, customer_key: str, zone: str, now: dt.datetime) -> None:
    """Keep the customer's time zone (an event's `timezone`: WooCommerce meta, REST customer record)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(W).values(kind=ZONE_WATCH, key=customer_key[:200], value=zone, updated_at=now)
                 .on_conflict_do_update(index_elements=["kind", "key"], set_={"value": zone, "updated_at": now}))


def insert_ignoring_duplicates(conn: Connection, table: sa.Table, rows: List[Dict[str, Any]],
                               key: Sequence[str]) -> int:
    """INSERT … ON CONFLICT (key) DO NOTHING; rows really inserted."""
    if not rows:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(rows).on_conflict_do_nothing(index_elements=list(key))
    return max(conn.execute(statement).rowcount or 0, 0)


# --------------------------------------------------------------------------- touchpoints
def touchpoint(conn: Connection, *, what: List[str], event_key: str, at: dt.datetime, entry: Dict[str, Any],
               channel: str = JOURNEY_CHANNEL, conversation_id: Optional[str] = None, step: Optional[str] = None,
               text: Optional[str] = None, goal: Optional[str] = None) -> None:
    """One `system` touchpoint of a journey: entered / exited / converted / message (docs/orchestration.md)."""
    from bot.journey import load_journey
    from bot.touchpoints.assembler import event_id
    from bot.touchpoints.privacy import conversation_ref, prepare_text
    from bot.touchpoints.queries import conversation_state
    from bot.touchpoints.store import insert_rows_in

    # As touchpoints store it: an SMS conversation (and `journey:phone:<phone>`) by its reference.
    conversation = conversation_ref(conversation_id or f"journey:{entry['customer_key']}")
    # Carry the conversation's state, so a recorder seeded from this row keeps it.
    state: Dict[str, Any] = conversation_state(conn, conversation_id) if conversation_id else {}
    row = {
        "event_id": event_id("journey", event_key), "occurred_at": aware(at).replace(tzinfo=None),
        "conversation_id": conversation, "customer_id": entry.get("customer_id"), "channel": channel,
        "actor": "system", "language": entry.get("language"),
        "journey_stage": state.get("journey_stage"), "intent": None, "intent_confidence": None, "entities": None,
        "actions": what, "goal": state.get("goal") if goal is None else goal, "goal_status": state.get("goal_status"),
        "handoff": bool(state.get("handoff") or False), "sentiment": None, "sentiment_label": None,
        "latency_ms": None, "fallback": False, "text": prepare_text(text), "reply_text": None,
        "journey_version": load_journey().version, "journey": entry["journey"], "journey_step": step,
    }
    insert_rows_in(conn, [row])


def cas(conn: Connection, entry: Dict[str, Any], token: Optional[str], **values: Any) -> bool:
    """Update the entry if nobody changed it since it was read (and `token`'s worker still holds it)."""
    condition = [E.c.id == entry["id"], E.c.revision == entry["revision"], E.c.status == "active"]
    if token is not None:
        condition.append(E.c.lease_owner == token)
    result = conn.execute(E.update().where(*condition).values(revision=E.c.revision + 1, **values))
    return result.rowcount == 1


def end_entry(conn: Connection, entry: Dict[str, Any], reason: str, now: dt.datetime,
              token: Optional[str] = None, status: str = "exited") -> bool:
    """End an active entry (CAS) and write its touchpoint; False if it changed meanwhile or had ended."""
    if not cas(conn, entry, token, status=status, exit_reason=reason[:40], finished_at=now, due_at=None,
               lease_owner=None, lease_until=None, wait_event=None):
        return False
    touchpoint(conn, what=["journey_exited", reason[:40]], event_key=f"exit:{entry['id']}", at=now, entry=entry)
    return True


# --------------------------------------------------------------------------- plans
@dataclass
class SendPlan:
    """A reserved message, ready for delivery."""

    entry_id: int
    token: str
    message_id: int
    journey: str
    step: str
    language: str
    text: str
    buttons: List[Dict[str, str]]
    targets: List[Target]
    metadata: Dict[str, Any]
    attempt: str = ""  # the attempt id on the message row: only this attempt may send and record it

    @property
    def idempotency_key(self) -> str:
        return self.key_of(self.message_id)

    @staticmethod
    def key_of(message_id: int) -> str:
        """The channel's idempotency key of a journey message (the SMS log's `idempotency_key`)."""
        return f"journey:{message_id}"


@dataclass
class Decision:
    """What `plan` (a dry run) says an entry would do now."""

    entry_id: int
    journey: str
    customer_key: str
    action: str          # send | wait | exit | complete | hold_out | postpone
    detail: str = ""


class Orchestrator:
    """The journeys of one book over one database, as one worker (process) sees them."""

    def __init__(self, book: Optional[JourneyBook] = None, database_url: Optional[str] = None,
                 crm: Optional[CRM] = None, worker: Optional[str] = None,
                 lease: dt.timedelta = LEASE) -> None:
        self.book = book or load_book()
        self.database_url = database_url
        self.engine: Engine = schema.engine(database_url)
        self.window = SendingWindow(self.book.settings)   # the shop's own time zone
        self._windows: Dict[str, SendingWindow] = {}
        self._crm = crm
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = lease
        self._local = threading.local()  # per-thread cache of one `advance` call

    @property
    def crm(self) -> CRM:
        if self._crm is None:
            from bot.crm.factory import get_crm

            self._crm = get_crm(database_url=self.database_url)
        return self._crm

    def refresh(self) -> bool:
        """Take up an edited orchestration.yml (the server calls this before each pass); True if it changed.

        A file that no longer loads is logged and the journeys run on as they were."""
        from bot.orchestration.definition import OrchestrationConfigError

        try:
            book = load_book()
        except OrchestrationConfigError as error:
            logger.error("journeys: orchestration.yml not reloaded: %s", error)
            return False
        if book is self.book:
            return False
        self.book, self.window, self._windows = book, SendingWindow(book.settings), {}
        logger.info("journeys: orchestration.yml version %s loaded (%d journeys)", book.version, len(book.journeys))
        return True

    def _read_once(self, kind: str, key: Any, read: Any) -> Any:
        """`read(key)` from the CRM, remembered for the rest of one `advance` (outside one: read again)."""
        cache = getattr(self._local, kind, None)
        if cache is None:
            return read(key)
        if key not in cache:
            cache[key] = read(key)
        return cache[key]

    def order_of(self, entry: Dict[str, Any]) -> Any:
        """The entry's order from the CRM, read once per `advance` (a condition, the goal check and the
        message all need it)."""
        if not entry.get("order_id"):
            return None
        return self._read_once("orders", entry["order_id"], self.crm.get_order)

    def zone_of(self, entry: Dict[str, Any]) -> str:
        """The customer's time zone: the latest one their events carried (`journey_watch`), else the
        CRM's customer record (the SQL CRM's `customers.timezone`), else the trigger's, else the shop's
        (`defaults.timezone`, Asia/Tehran). Read once per `advance`."""
        cache = getattr(self._local, "zones", None)
        if cache is not None and entry["customer_key"] in cache:
            return cache[entry["customer_key"]]
        with self.engine.connect() as conn:
            stored = conn.execute(sa.select(W.c.value).where(W.c.kind == ZONE_WATCH,
                                                             W.c.key == entry["customer_key"])).scalar()
        zone = valid_zone(stored) or self._crm_zone(entry) \
            or valid_zone((entry.get("context") or {}).get("timezone")) or self.book.settings.timezone
        if cache is not None:
            cache[entry["customer_key"]] = zone
        return zone

    def _crm_zone(self, entry: Dict[str, Any]) -> Optional[str]:
        """The time zone on the CRM's customer record, if the backend keeps one (CRMError propagates)."""
        if not entry.get("customer_id"):
            return None
        customer = self.customer_of(entry)
        return valid_zone(getattr(customer, "timezone", None)) if customer is not None else None

    def customer_of(self, entry: Dict[str, Any]) -> Any:
        """The entry's customer from the CRM, read once per `advance` (time zone, language, message)."""
        if not entry.get("customer_id"):
            return None
        return self._read_once("customers", entry["customer_id"], self.crm.get_customer)

    def window_for(self, entry: Dict[str, Any]) -> SendingWindow:
        """The sending window in the entry's customer's time zone."""
        zone = self.zone_of(entry)
        if zone == self.window.timezone:
            return self.window
        if zone not in self._windows:
            self._windows[zone] = SendingWindow(self.book.settings, zone)
        return self._windows[zone]

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    # ------------------------------------------------------------------ claiming
    def claim(self, now: dt.datetime, limit: int = 50) -> Tuple[str, List[int]]:
        """Lease up to `limit` entries due at `now` to this worker: (lease token, entry ids).

        `now` is the journeys' time (`run-due --now` may move it); the lease runs on the
        real clock, because it guards against another process working on the entry meanwhile."""
        token = f"{self.worker}:{uuid.uuid4().hex[:8]}"[:64]
        wall = utcnow()
        due = (sa.select(E.c.id).where(E.c.status == "active", E.c.due_at <= now,
                                       sa.or_(E.c.lease_until.is_(None), E.c.lease_until < wall))
               .order_by(E.c.due_at, E.c.id).limit(limit))
        if self.postgres:
            due = due.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
            conn.execute(E.update().where(E.c.id.in_(due.scalar_subquery()))
                         .values(lease_owner=token, lease_until=wall + self.lease, revision=E.c.revision + 1))
            ids = list(conn.execute(sa.select(E.c.id).where(E.c.lease_owner == token).order_by(E.c.due_at, E.c.id)).scalars())
        return token, ids

    def release(self, entry_id: int, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(E.update().where(E.c.id == entry_id, E.c.lease_owner == token)
                         .values(lease_owner=None, lease_until=None))

    # ------------------------------------------------------------------ reading
    def _entry(self, entry_id: int) -> Optional[Dict[str, Any]]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(E).where(E.c.id == entry_id)).mappings().first()
        return dict(row) if row else None

    def _cas(self, conn: Connection, entry: Dict[str, Any], token: Optional[str], **values: Any) -> bool:
        return cas(conn, entry, token, **values)

    def _park(self, entry: Dict[str, Any], token: str, due_at: Optional[dt.datetime], **values: Any) -> bool:
        with self.engine.begin() as conn:
            return self._cas(conn, entry, token, due_at=due_at, lease_owner=None, lease_until=None, **values)

    def exit_entry(self, conn: Connection, entry: Dict[str, Any], reason: str, now: dt.datetime,
                   token: Optional[str] = None, status: str = "exited") -> bool:
        return end_entry(conn, entry, reason, now, token, status)

    def convert(self, conn: Connection, entry: Dict[str, Any], kind: str, at: dt.datetime) -> bool:
        """Mark the entry converted (goal reached within its window); once."""
        result = conn.execute(E.update().where(E.c.id == entry["id"], E.c.converted_at.is_(None))
                              .values(converted_at=at, conversion_event=kind[:64], revision=E.c.revision + 1))
        if result.rowcount != 1:
            return False
        entry["revision"] += 1
        touchpoint(conn, what=["journey_converted", kind], event_key=f"converted:{entry['id']}", at=at, entry=entry)
        return True

    # ------------------------------------------------------------------ the steps
    def advance(self, entry_id: int, token: str, now: dt.datetime) -> Optional[SendPlan]:
        """Run the entry's steps until it waits, ends, or has a message to deliver (returned)."""
        self._local.orders, self._local.zones, self._local.customers = {}, {}, {}
        try:
            return self._advance(entry_id, token, now)
        finally:
            self._local.orders = self._local.zones = self._local.customers = None

    def _advance(self, entry_id: int, token: str, now: dt.datetime) -> Optional[SendPlan]:
        for _ in range(100):
            entry = self._entry(entry_id)
            if entry is None or entry["status"] != "active" or entry["lease_owner"] != token:
                return None
            journey = self.book.journeys.get(entry["journey"])
            if journey is None or not journey.enabled:
                with self.engine.begin() as conn:
                    self.exit_entry(conn, entry, "journey_removed", now, token)
                return None
            if entry["step"] >= len(journey.steps):
                with self.engine.begin() as conn:
                    self.exit_entry(conn, entry, "completed", now, token, status="completed")
                return None
            step = journey.steps[entry["step"]]
            try:
                if journey.while_ and self._no_longer_applies(entry, journey, now, token):
                    return None
                if isinstance(step, Wait):
                    outcome = self._wait(entry, step, token, now)
                elif isinstance(step, Condition):
                    outcome = self._condition(entry, step, token, now)
                else:
                    outcome = self._send(entry, journey, step, token, now)
            except CRMError as error:
                logger.warning("journeys: CRM unavailable for entry %s (%s); retrying later", entry_id, error)
                self._park(entry, token, now + RETRY_AFTER)
                return None
            if isinstance(outcome, SendPlan):
                return outcome
            if outcome == "parked":
                return None
            # "next": loop with the entry as it is now
        logger.error("journeys: entry %s ran 100 steps without waiting; parked", entry_id)
        return None

    def _wait(self, entry: Dict[str, Any], step: Wait, token: str, now: dt.datetime) -> str:
        armed = entry["armed_step"] == entry["step"]
        clock = entry["clock_at"]
        if step.event:
            if not armed:
                deadline = clock + step.timeout
                return "parked" if self._park(entry, token, deadline, wait_event=step.event,
                                              armed_step=entry["step"]) else "next"
            if entry["due_at"] is not None and entry["due_at"] <= now:  # timed out
                if step.on_timeout == "exit":
                    with self.engine.begin() as conn:
                        self.exit_entry(conn, entry, "timeout", now, token)
                    return "parked"
                with self.engine.begin() as conn:
                    self._cas(conn, entry, token, step=entry["step"] + 1, clock_at=entry["due_at"],
                              wait_event=None, armed_step=None)
                return "next"
            return "parked" if self._park(entry, token, entry["due_at"]) else "next"
        if armed:
            target = entry["due_at"]
        elif step.delay is not None:
            target = clock + step.delay
        elif step.since_entry is not None:
            target = max(clock, entry["anchor_at"] + step.since_entry)
        else:
            target = self.window_for(entry).next_local_time(clock, step.until)
        if target <= now:
            with self.engine.begin() as conn:
                self._cas(conn, entry, token, step=entry["step"] + 1, clock_at=target, armed_step=None)
            return "next"
        return "parked" if self._park(entry, token, target, armed_step=entry["step"]) else "next"

    def _no_longer_applies(self, entry: Dict[str, Any], journey: ProactiveJourney, now: dt.datetime,
                           token: str) -> bool:
        """The journey's `while:` checked again before this step: ended (True) when it fails.

        A goal the CRM already shows comes first (converted, `goal`), so a paid order is a
        conversion, not a changed condition."""
        goal = self.goal_reached(entry, journey)
        if goal is None and self.check(entry, journey.while_, now):
            return False
        if goal is None and journey.goal and "order.created" in journey.goal.events and not journey.goal.same_order \
                and self.ordered_since_entry(entry):
            goal = "order.created"   # ordered meanwhile (its event may never have come): a conversion
        with self.engine.begin() as conn:
            if goal is not None and entry["converted_at"] is None and \
                    (entry["goal_deadline"] is None or now <= entry["goal_deadline"]):
                self.convert(conn, entry, goal, now)
            self.exit_entry(conn, entry, "goal" if goal else "condition_changed", now, token)
        return True

    def _condition(self, entry: Dict[str, Any], step: Condition, token: str, now: dt.datetime) -> str:
        if self.check(entry, step.checks, now):
            jump = 1
        elif step.otherwise == "skip":
            jump = 2
        else:
            with self.engine.begin() as conn:
                self.exit_entry(conn, entry, "condition", now, token)
            return "parked"
        with self.engine.begin() as conn:
            self._cas(conn, entry, token, step=entry["step"] + jump)
        return "next"

    def check(self, entry: Dict[str, Any], checks: Dict[str, Any], now: dt.datetime) -> bool:
        """Every condition of an `if:` step (CRM read as needed; CRMError propagates: retry later)."""
        context = entry.get("context") or {}
        order = None
        if any(k in checks for k in ("order_status", "min_total", "max_total")):
            order = self.order_of(entry)
            if order is None:
                return False
        for key, value in checks.items():
            if key == "order_status" and order.status not in value:
                return False
            if key == "min_total" and order.total < value:
                return False
            if key == "max_total" and order.total > value:
                return False
            if key == "language" and entry["language"] != value:
                return False
            if key in ("min_score", "max_score"):
                score = context.get("score")
                if score is None or (score < value if key == "min_score" else score > value):
                    return False
            if key == "in_stock":
                product = self.crm.get_product(entry["subject"]) if entry.get("subject") else None
                if product is None or product.in_stock != value:
                    return False
            if key == "stage":
                from bot.identity.profile import latest_journey

                state = latest_journey(entry["customer_id"], self.database_url) if entry.get("customer_id") else None
                if state is None or state.journey_stage not in value:
                    return False
            if key == "goal" and (context.get("goal") or entry.get("subject")) not in value:
                return False
            if key == "no_order_since_entry" and self.ordered_since_entry(entry) == value:
                return False
            if key == "no_feedback_days":
                since = now - dt.timedelta(days=value)
                with self.engine.connect() as conn:
                    answered = conn.execute(sa.select(EV.c.id).where(
                        EV.c.customer_id == entry["customer_id"], EV.c.kind.in_(["feedback.csat", "feedback.nps"]),
                        EV.c.occurred_at >= since).limit(1)).first()
                if answered is not None:
                    return False
        return True

    def ordered_since_entry(self, entry: Dict[str, Any]) -> bool:
        """Has the customer placed an order (not cancelled) since the journey's trigger? Asked of the CRM,
        so an order whose event never arrived (a lost webhook) still counts."""
        if not entry.get("customer_id"):
            return False
        cache = getattr(self._local, "orders", None)
        key = ("ordered_since", entry["id"])
        if cache is not None and key in cache:
            return cache[key]
        since = aware(entry["anchor_at"])
        ordered = any(aware(order.created_at) >= since and order.status != "cancelled"
                      for order in self.crm.list_orders(entry["customer_id"], limit=5))
        if cache is not None:
            cache[key] = ordered
        return ordered

    def goal_reached(self, entry: Dict[str, Any], journey: ProactiveJourney) -> Optional[str]:
        """The goal event if the order already shows it (a missed event must not cost a wrong reminder)."""
        if journey.goal is None or not entry.get("order_id"):
            return None
        order_goals = [g for g in journey.goal.events if g.startswith("order.") and g != "order.created"]
        if not order_goals:
            return None
        order = self.order_of(entry)
        if order is None:
            return None
        for goal in order_goals:
            status = goal.split(".", 1)[1]
            if order.status == status or (status == PAID and order.status in PAID_OR_LATER):
                return goal
        return None

    def human_has_conversation(self, entry: Dict[str, Any]) -> bool:
        from bot.handoff.models import OPEN_STATUSES, Handoff
        from bot.identity.models import VerifiedIdentity

        if not entry.get("customer_id"):
            return False
        h, vi = Handoff.__table__, VerifiedIdentity.__table__
        conversations = sa.select(vi.c.external_id).where(vi.c.customer_id == entry["customer_id"],
                                                          vi.c.channel == "conversation")
        with self.engine.connect() as conn:
            return conn.execute(sa.select(h.c.id).where(
                h.c.status.in_(OPEN_STATUSES),
                sa.or_(h.c.customer_id == entry["customer_id"], h.c.conversation_id.in_(conversations))).limit(1)).first() is not None

    def _send(self, entry: Dict[str, Any], journey: ProactiveJourney, step: Send, token: str,
              now: dt.datetime) -> Any:
        goal = self.goal_reached(entry, journey)
        if goal is not None:
            with self.engine.begin() as conn:
                if entry["converted_at"] is None and (entry["goal_deadline"] is None or now <= entry["goal_deadline"]):
                    self.convert(conn, entry, goal, now)
                self.exit_entry(conn, entry, "goal", now, token)
            return "parked"
        if self.human_has_conversation(entry):
            with self.engine.begin() as conn:
                self.exit_entry(conn, entry, "handoff", now, token)
            return "parked"
        if entry["holdout"]:
            with self.engine.begin() as conn:
                if self._cas(conn, entry, token, step=entry["step"] + 1):
                    insert_ignoring_duplicates(conn, M, [self._message_row(entry, journey, step, "held_out", now)],
                                               ["entry_id", "step"])
            return "next"
        window = self.window_for(entry)
        if not window.allows(now):
            return "parked" if self._park(entry, token, window.next_allowed(now)) else "next"

        customer = self.customer_of(entry)
        language = self._language(entry, customer)
        subject = Subject(entry.get("customer_id"), entry.get("order_id"),
                          entry.get("subject") if journey.trigger.event == "product.back_in_stock" else None,
                          entry.get("subject") if journey.trigger.event == "ticket.closed" else None,
                          dict(entry.get("context") or {}))
        values = Values(subject, language, self.crm, self.book.settings, customer=customer, order=self.order_of(entry))
        try:
            rendered = render(step, values)
        except MissingValue as missing:
            logger.info("journeys: %s/%s for %s skipped: %s", journey.name, step.name, entry["customer_key"], missing)
            with self.engine.begin() as conn:
                if self._cas(conn, entry, token, step=entry["step"] + 1):
                    row = self._message_row(entry, journey, step, "skipped", now, language=language)
                    row["error"] = str(missing)
                    insert_ignoring_duplicates(conn, M, [row], ["entry_id", "step"])
            return "next"
        phone = (customer.phone if customer else None) or (entry.get("context") or {}).get("phone")
        with self.engine.connect() as conn:
            targets = customer_targets(conn, entry.get("customer_id"), phone,
                                       step.channels or self.book.settings.channels, now,
                                       self.book.settings.web_online_minutes)
        allowed = [t for t in targets if consent_allows(t)]  # the one consent check (bot.channels.consent)
        if not allowed:
            with self.engine.begin() as conn:
                self.exit_entry(conn, entry, "opted_out" if targets else "no_channel", now, token)
            return "parked"
        targets = allowed
        return self._reserve(entry, journey, step, token, now, language, rendered, targets)

    def _language(self, entry: Dict[str, Any], customer: Any) -> str:
        """The customer's chosen language, else the CRM's (WooCommerce keeps it in a meta), else the entry's."""
        if entry.get("customer_id"):
            from bot.identity.profile import saved_language

            chosen = saved_language(entry["customer_id"], self.database_url)
            if chosen:
                return chosen
        if customer is not None and customer.language in ("fa", "en"):
            return customer.language
        return entry.get("language") or "fa"

    def _message_row(self, entry: Dict[str, Any], journey: ProactiveJourney, step: Send, status: str,
                     now: dt.datetime, language: Optional[str] = None, text: Optional[str] = None) -> Dict[str, Any]:
        return {"entry_id": entry["id"], "journey": journey.name, "step": step.name,
                "customer_key": entry["customer_key"], "status": status, "capped": journey.capped,
                "language": language or entry.get("language"), "text": text, "attempts": 0, "created_at": now}

    def _cap_until(self, conn: Connection, customer_key: str, now: dt.datetime,
                   exclude: Optional[int] = None, window: Optional[SendingWindow] = None) -> Optional[dt.datetime]:
        """When the frequency cap lets the next message out, or None if it may go now.

        `per_day` counts the customer's local calendar day (`window`; so a reminder at 11:00
        and a code the next morning both go out); `per_week` the last 7 × 24 hours. The cap
        counts the customer's messages of every capped journey together."""
        settings = self.book.settings
        window = window or self.window
        blocked_until: Optional[dt.datetime] = None
        local = window.local(now)
        midnight = aware(dt.datetime.combine(local.date(), dt.time(0), tzinfo=window.zone))
        tomorrow = aware(dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=window.zone))
        week = dt.timedelta(days=7)
        for cap, since in ((settings.cap_per_day, midnight), (settings.cap_per_week, now - week)):
            if cap is None:
                continue
            times = list(conn.execute(
                sa.select(M.c.created_at).where(M.c.customer_key == customer_key, M.c.capped.is_(True),
                                                 M.c.status.in_(COUNTED), M.c.created_at > since,
                                                 *([M.c.id != exclude] if exclude is not None else []))
                .order_by(M.c.created_at)).scalars())
            if len(times) >= cap:
                free_at = tomorrow if since == midnight else times[len(times) - cap] + week
                blocked_until = max(blocked_until or free_at, free_at)
        return blocked_until

    def _reserve(self, entry: Dict[str, Any], journey: ProactiveJourney, step: Send, token: str, now: dt.datetime,
                 language: str, rendered: Any, targets: List[Target]) -> Any:
        metadata = self.message_metadata(entry, journey, step, rendered.slots)
        with self.engine.begin() as conn:
            # first statement writes: takes SQLite's write lock before reading (no stale-snapshot upgrade)
            if not self._cas(conn, entry, token, language=language):
                return "next"
            entry["revision"] += 1
            if self.postgres:  # one customer's cap check and reservation at a time, across processes
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": entry["customer_key"]})
            existing = conn.execute(sa.select(M).where(M.c.entry_id == entry["id"], M.c.step == step.name)).mappings().first()
            if existing is not None and existing["status"] in ("sent", "held_out", "skipped", "unknown"):
                self._cas(conn, entry, token, step=entry["step"] + 1, attempts=0)
                return "next"
            if existing is not None and existing["status"] in IN_FLIGHT and existing["channel"] is not None:
                # an earlier attempt started sending (a channel is noted before it is tried) and its runner
                # lost the lease: never send it again — settle it from the channel's own log, else `unknown`
                self._settle_interrupted(conn, entry, dict(existing), token, now)
                return "next"
            if journey.capped:
                window = self.window_for(entry)
                free_at = self._cap_until(conn, entry["customer_key"], now, existing["id"] if existing else None, window)
                if free_at is not None:
                    due = window.next_allowed(free_at)
                    self._cas(conn, entry, token, due_at=due, lease_owner=None, lease_until=None)
                    return "parked"
            attempt = uuid.uuid4().hex
            claim = {"status": "sending", "attempt_id": attempt, "claimant": token[:64], "created_at": now,
                     "text": rendered.text, "language": language, "channel": None, "conversation_id": None,
                     "error": None}
            if existing is not None:
                # failed earlier, or claimed but never tried (its runner died or lost its lease before any
                # channel): a new attempt; the old one, if still alive, is refused by `attempting`
                taken = conn.execute(M.update().where(
                    M.c.id == existing["id"], M.c.status == existing["status"],
                    M.c.attempt_id.is_(None) if existing["attempt_id"] is None else M.c.attempt_id == existing["attempt_id"],
                    M.c.channel.is_(None) if existing["status"] in IN_FLIGHT else sa.true()).values(**claim))
                if taken.rowcount != 1:
                    return "next"
                message_id = existing["id"]
            else:
                row = self._message_row(entry, journey, step, "sending", now, language, rendered.text)
                row.update(attempt_id=attempt, claimant=token[:64])
                message_id = conn.execute(M.insert().values(**row)).inserted_primary_key[0]
        return SendPlan(entry["id"], token, int(message_id), journey.name, step.name, language, rendered.text,
                        rendered.buttons, targets, metadata, attempt=attempt)

    def _settle_interrupted(self, conn: Connection, entry: Dict[str, Any], message: Dict[str, Any], token: str,
                            now: dt.datetime) -> None:
        """An interrupted send (its runner lost the lease after trying a channel): `sent` if the SMS log says
        the gateway took it, else `unknown`; never resent. The entry moves on to its next step."""
        sent_at = None
        if message["channel"] == "sms" and sa.inspect(conn).has_table("sms_messages"):
            from bot.channels.models import SmsMessage

            sms = SmsMessage.__table__
            if conn.execute(sa.select(sms.c.status).where(
                    sms.c.idempotency_key == SendPlan.key_of(message["id"]))).scalar() == "sent":
                sent_at = now
        same_attempt = [M.c.id == message["id"], M.c.status.in_(IN_FLIGHT),
                        M.c.attempt_id.is_(None) if message["attempt_id"] is None else M.c.attempt_id == message["attempt_id"]]
        if sent_at is None:
            conn.execute(M.update().where(*same_attempt).values(
                status="unknown", error="outcome unknown: the sending runner stopped mid-send; not resent"))
            self._cas(conn, entry, token, step=entry["step"] + 1, attempts=0)
            return
        if conn.execute(M.update().where(*same_attempt).values(status="sent", sent_at=sent_at, error=None)).rowcount == 1:
            touchpoint(conn, what=["journey_message"], event_key=f"message:{message['id']}", at=sent_at, entry=entry,
                       channel=message["channel"], conversation_id=message["conversation_id"], step=message["step"],
                       text=message["text"])
            self._cas(conn, entry, token, step=entry["step"] + 1, attempts=0, messages_sent=E.c.messages_sent + 1,
                      first_channel=sa.func.coalesce(E.c.first_channel, message["channel"]))

    def message_metadata(self, entry: Dict[str, Any], journey: ProactiveJourney, step: Send,
                         slots: Dict[str, str]) -> Dict[str, Any]:
        """What the dialogue needs to continue from this message (docs/orchestration.md, "The answer")."""
        return {
            "hamsafar_actor": "system",
            "hamsafar_journey": {
                "journey": journey.name, "step": step.name, "entry_id": entry["id"], "stage": journey.stage,
                "customer_id": entry.get("customer_id"), "order_id": entry.get("order_id"),
                "expects": {"goal": step.expects.goal, "intents": list(step.expects.intents),
                            "feedback": step.expects.feedback, "slots": slots},
            },
        }

    # ------------------------------------------------------------------ after delivery
    def attempting(self, plan: SendPlan, target: Target) -> bool:
        """Note the channel about to be tried; False if this attempt no longer owns the message (another
        runner took it over): then nothing may be sent. Once a channel is noted, nobody else sends it."""
        with self.engine.begin() as conn:
            return conn.execute(M.update().where(
                M.c.id == plan.message_id, M.c.status == "sending", M.c.attempt_id == plan.attempt).values(
                channel=target.channel, conversation_id=target.conversation_id,
                attempts=M.c.attempts + 1)).rowcount == 1

    def record(self, plan: SendPlan, outcome: Outcome, now: dt.datetime) -> None:
        """The delivery's outcome: message row, entry step, touchpoint — one transaction.

        Written only for the plan's own attempt. `sent` also replaces an `unknown` that a runner
        taking the entry over wrote meanwhile (this runner was slow, not dead)."""
        if outcome.status == "superseded":   # another runner owns the message: it records it
            return
        with self.engine.begin() as conn:
            # the entry row first, as `_reserve` locks it before the message row: the same lock order,
            # or a runner recording while another takes the entry over deadlock on PostgreSQL
            read = sa.select(E).where(E.c.id == plan.entry_id)
            entry = conn.execute(read.with_for_update() if self.postgres else read).mappings().first()
            entry = dict(entry) if entry else None
            mine = [M.c.id == plan.message_id, M.c.attempt_id == plan.attempt]
            if outcome.status == "sent":
                target = outcome.target
                done = conn.execute(M.update().where(*mine, M.c.status.in_(("sending", "unknown"))).values(
                    status="sent", channel=target.channel, conversation_id=target.conversation_id, sent_at=now,
                    error=None))
                if done.rowcount != 1 or entry is None:
                    return
                touchpoint(conn, what=["journey_message"], event_key=f"message:{plan.message_id}", at=now,
                           entry=entry, channel=target.channel, conversation_id=target.conversation_id,
                           step=plan.step, text=plan.text)
                counted = {"messages_sent": E.c.messages_sent + 1,
                           "first_channel": sa.func.coalesce(E.c.first_channel, target.channel)}
                if not self._cas(conn, entry, plan.token, step=entry["step"] + 1, attempts=0, due_at=now, **counted):
                    # taken over meanwhile (the new runner moved the step on): count the message all the same
                    conn.execute(E.update().where(E.c.id == plan.entry_id).values(revision=E.c.revision + 1, **counted))
                return
            if outcome.status == "unknown":   # may have been delivered: at most once, so not tried again
                conn.execute(M.update().where(*mine, M.c.status == "sending").values(
                    status="unknown", error=f"outcome unknown; not resent: {outcome.error or ''}"[:2000]))
                if entry is not None:
                    self._cas(conn, entry, plan.token, step=entry["step"] + 1, attempts=0, due_at=now)
                return
            failed = conn.execute(M.update().where(*mine, M.c.status == "sending").values(
                status="failed", error=(outcome.error or "")[:2000]))
            if failed.rowcount != 1 or entry is None or entry["status"] != "active":
                return
            if outcome.status in ("opted_out", "no_channel"):
                self.exit_entry(conn, entry, outcome.status, now, plan.token)
            elif entry["attempts"] + 1 >= MAX_ATTEMPTS:
                logger.warning("journeys: %s/%s to %s failed %d times (%s); step skipped", plan.journey, plan.step,
                               entry["customer_key"], MAX_ATTEMPTS, outcome.error)
                self._cas(conn, entry, plan.token, step=entry["step"] + 1, attempts=0, due_at=now)
            else:
                self._cas(conn, entry, plan.token, attempts=entry["attempts"] + 1,
                          due_at=now + RETRY_AFTER * (entry["attempts"] + 1), lease_owner=None, lease_until=None)

    # ------------------------------------------------------------------ dry run
    def plan(self, entry: Dict[str, Any], now: dt.datetime) -> Decision:
        """What processing this due entry now would do, without doing it (`run-due --dry-run`)."""
        journey = self.book.journeys.get(entry["journey"])
        decision = Decision(entry["id"], entry["journey"], entry["customer_key"], "exit", "journey removed")
        if journey is None:
            return decision
        index, clock = entry["step"], entry["clock_at"]
        armed = entry["armed_step"]
        window = self.window_for(entry)
        if journey.while_ and not self.check(entry, journey.while_, now):
            decision.detail = f"while {journey.while_} no longer holds"
            return decision
        for _ in range(len(journey.steps) + 1):
            if index >= len(journey.steps):
                decision.action, decision.detail = "complete", "all steps done"
                return decision
            step = journey.steps[index]
            if isinstance(step, Wait):
                if step.event:
                    decision.action = "wait"
                    decision.detail = f"for {step.event} until {(entry['due_at'] if armed == index else clock + step.timeout).isoformat()}"
                    if armed == index and entry["due_at"] <= now:
                        decision.action, decision.detail = ("exit", "timeout") if step.on_timeout == "exit" else ("wait", "timed out, continues")
                    return decision
                target = entry["due_at"] if armed == index else (
                    clock + step.delay if step.delay else max(clock, entry["anchor_at"] + step.since_entry)
                    if step.since_entry else window.next_local_time(clock, step.until))
                if target > now:
                    decision.action, decision.detail = "wait", f"until {target.isoformat()}"
                    return decision
                index, clock, armed = index + 1, target, None
                continue
            if isinstance(step, Condition):
                if self.check(entry, step.checks, now):
                    index += 1
                    continue
                if step.otherwise == "skip":
                    index += 2
                    continue
                decision.action, decision.detail = "exit", f"condition {step.checks} not met"
                return decision
            if self.goal_reached(entry, journey):
                decision.action, decision.detail = "exit", "goal already reached"
            elif entry["holdout"]:
                decision.action, decision.detail = "hold_out", f"{step.name} not sent (hold-out)"
            elif not window.allows(now):
                decision.action, decision.detail = "postpone", f"quiet hours until {window.next_allowed(now).isoformat()}" \
                    f" ({window.timezone})"
            else:
                with self.engine.connect() as conn:
                    free_at = self._cap_until(conn, entry["customer_key"], now, window=window) if journey.capped else None
                if free_at is not None:
                    decision.action, decision.detail = "postpone", f"frequency cap until {window.next_allowed(free_at).isoformat()}"
                else:
                    decision.action, decision.detail = "send", step.name
            return decision
        return decision
