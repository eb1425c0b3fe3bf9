"""`emit(event)`: what happened reaches every journey, once.

An event (an order paid, a ticket closed, an NPS answer, a product back in
stock …) is stored once — its `key` is unique, so a replayed webhook or a
second scan changes nothing — and in the same transaction it:

1. converts the customer's entries whose goal it is (within the goal window,
   hold-out entries too: that is how uplift is measured) and ends the active ones;
2. ends active entries that list it under `exit_on`;
3. wakes entries waiting for it (`wait: {event: …}`);
4. starts the journeys it triggers — unless it is older than `max_event_age`,
   the customer is already in that journey for the same subject, or a journey
   of higher priority of the same group has the customer (a lower one is
   ended: `superseded`).

The hold-out assignment is a hash of journey and customer, so it is the same
in every process and every time.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot import schema
from bot.orchestration.definition import ProactiveJourney
from bot.orchestration.engine import (
    E, EV, Orchestrator, holdout_of, insert_ignoring_duplicates, remember_zone, touchpoint, utcnow,
)
from bot.orchestration.models import StockInterest
from bot.orchestration.schedule import aware, valid_zone

logger = logging.getLogger(__name__)
SI = StockInterest.__table__


@dataclass
class Event:
    """Something that happened to a customer (order paid, cart left, stock back …) that journeys may react
    to."""

    kind: str                                   # e.g. order.paid (definition.EVENTS), segment.inactive_customers
    key: str                                    # unique per real-world occurrence (dedupe)
    occurred_at: dt.datetime
    source: str = "sql"
    customer_id: Optional[str] = None
    phone: Optional[str] = None                 # E.164, for customers without an id (guest orders)
    order_id: Optional[str] = None
    subject: Optional[str] = None               # sku, ticket reference, goal, segment
    data: Dict[str, Any] = field(default_factory=dict)  # name, language, score, status, total, payment_url, days …

    @property
    def customer_key(self) -> Optional[str]:
        if self.customer_id:
            return str(self.customer_id)
        return f"phone:{self.phone}" if self.phone else None


@dataclass
class EmitResult:
    """What one event did to the journeys: entries entered, exited, converted, woken or skipped (and why)."""

    duplicate: bool = False
    entered: List[int] = field(default_factory=list)
    exited: List[int] = field(default_factory=list)
    converted: List[int] = field(default_factory=list)
    woken: List[int] = field(default_factory=list)
    skipped: Dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def _same_order(entry: Dict[str, Any], event: Event) -> bool:
    return not entry.get("order_id") or not event.order_id or str(entry["order_id"]) == str(event.order_id)


def _where_holds(journey: ProactiveJourney, event: Event) -> bool:
    """A trigger's `where:` on the event's own data (no CRM call inside the transaction)."""
    data = event.data
    for key, value in journey.trigger.where.items():
        if key in ("min_score", "max_score"):
            score = data.get("score")
            if score is None or (score < value if key == "min_score" else score > value):
                return False
        elif key == "language" and data.get("language") != value:
            return False
        elif key == "goal" and (data.get("goal") or event.subject) not in value:
            return False
        elif key == "order_status" and data.get("status") not in value:
            return False
        elif key in ("min_total", "max_total"):
            total = data.get("total")
            if total is None or (total < value if key == "min_total" else total > value):
                return False
    return True


def _language(conn: Connection, event: Event) -> str:
    """The entry's language from what is at hand: the event, a saved choice, the SQL CRM row."""
    if event.data.get("language") in ("fa", "en"):
        return event.data["language"]
    if event.customer_id:
        from bot.crm.models import CustomerRow
        from bot.identity.models import CustomerPreference

        chosen = conn.execute(sa.select(CustomerPreference.__table__.c.language).where(
            CustomerPreference.__table__.c.customer_id == event.customer_id)).scalar()
        if chosen in ("fa", "en"):
            return chosen
        stored = conn.execute(sa.select(CustomerRow.__table__.c.language).where(
            CustomerRow.__table__.c.customer_id == event.customer_id)).scalar()
        if stored in ("fa", "en"):
            return stored
    return "fa"


class Emitter:
    """Applies events to the journeys of one orchestrator."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.o = orchestrator

    def emit(self, event: Event, now: Optional[dt.datetime] = None) -> EmitResult:
        """Store and apply one event in its own transaction (retried if the database is busy)."""
        for attempt in range(5):
            try:
                with self.o.engine.begin() as conn:
                    return self.apply(conn, event, now)
            except sa.exc.OperationalError as error:  # SQLite busy / PostgreSQL serialization: try again
                if attempt == 4:
                    raise
                logger.warning("journeys: storing event %s failed (%s); retrying", event.key, error)
        raise AssertionError("unreachable")

    def apply(self, conn: Connection, event: Event, now: Optional[dt.datetime] = None) -> EmitResult:
        """Store and apply one event inside the caller's transaction (a scan applies a batch at once)."""
        now = aware(now or utcnow())
        event.occurred_at = aware(event.occurred_at)
        stored = insert_ignoring_duplicates(conn, EV, [{
            "event_key": event.key[:200], "kind": event.kind, "source": event.source,
            "customer_id": event.customer_id, "order_id": event.order_id, "subject": event.subject,
            "data": event.data or None, "occurred_at": event.occurred_at, "received_at": now,
        }], ["event_key"])
        if not stored:
            return EmitResult(duplicate=True)
        zone = valid_zone((event.data or {}).get("timezone"))
        if zone and event.customer_key:  # the customer's quiet hours follow their own clock from now on
            remember_zone(conn, event.customer_key, zone, now)
        result = EmitResult()
        self._existing(conn, event, now, result)
        self._start(conn, event, now, result)
        if result.entered:
            conn.execute(EV.update().where(EV.c.event_key == event.key[:200]).values(entries=len(result.entered)))
        return result

    # ------------------------------------------------------------------ existing entries
    def _existing(self, conn: Connection, event: Event, now: dt.datetime, result: EmitResult) -> None:
        key = event.customer_key
        if key is None:
            return
        rows = conn.execute(sa.select(E).where(
            E.c.customer_key == key,
            sa.or_(E.c.status == "active",
                   sa.and_(E.c.converted_at.is_(None), E.c.goal_deadline >= event.occurred_at)))).mappings().all()
        for row in rows:
            entry = dict(row)
            journey = self.o.book.journeys.get(entry["journey"])
            if journey is None:
                continue
            same_order = _same_order(entry, event)
            goal = journey.goal
            if goal and event.kind in goal.events and (not goal.same_order or same_order) \
                    and entry["entered_at"] <= event.occurred_at + dt.timedelta(seconds=1) \
                    and entry["converted_at"] is None and event.occurred_at <= entry["goal_deadline"]:
                if self.o.convert(conn, entry, event.kind, event.occurred_at):
                    result.converted.append(entry["id"])
                if entry["status"] == "active" and self.o.exit_entry(conn, entry, "goal", now):
                    result.exited.append(entry["id"])
                continue
            if entry["status"] != "active" or not same_order:
                continue
            if event.kind in journey.exit_on:
                if self.o.exit_entry(conn, entry, event.kind, now):
                    result.exited.append(entry["id"])
            elif entry["wait_event"] == event.kind and entry["armed_step"] == entry["step"]:
                if self.o._cas(conn, entry, None, step=entry["step"] + 1, wait_event=None, armed_step=None,
                               clock_at=max(event.occurred_at, entry["clock_at"]), due_at=now):
                    result.woken.append(entry["id"])

    # ------------------------------------------------------------------ new entries
    def _start(self, conn: Connection, event: Event, now: dt.datetime, result: EmitResult) -> None:
        settings = self.o.book.settings
        for journey in self.o.book.journeys.values():
            if not journey.enabled or not self._triggers(journey, event):
                continue
            if event.occurred_at < now - (journey.trigger.max_age or settings.max_event_age):
                result.skip("stale")
                continue
            if not _where_holds(journey, event):
                result.skip("where")
                continue
            if event.kind == "product.back_in_stock":
                self._back_in_stock(conn, journey, event, now, result)
                continue
            if event.customer_key is None:
                result.skip("no_customer")
                continue
            entry_key = self._entry_key(event)
            entry_id = self.enter(conn, journey, event, event.customer_id, event.phone, entry_key, now, result)
            if entry_id:
                result.entered.append(entry_id)

    @staticmethod
    def _triggers(journey: ProactiveJourney, event: Event) -> bool:
        trigger = journey.trigger
        if trigger.segment:
            return event.kind == f"segment.{trigger.segment}" and event.data.get("days") == trigger.days \
                and event.data.get("journey") in (None, journey.name)
        return trigger.event == event.kind

    @staticmethod
    def _entry_key(event: Event) -> str:
        """One entry per journey and subject: the order, ticket, feedback answer, lapse …"""
        if event.kind.startswith("order.") and event.order_id:
            return f"order:{event.order_id}"
        if event.kind == "ticket.closed" and event.subject:
            return f"ticket:{event.subject}"
        if event.kind.startswith("segment."):
            return f"{event.customer_key}:{event.subject or event.key}"
        return f"event:{event.key}"

    def _back_in_stock(self, conn: Connection, journey: ProactiveJourney, event: Event, now: dt.datetime,
                       result: EmitResult) -> None:
        interests = conn.execute(sa.select(SI).where(SI.c.sku == event.subject, SI.c.notified_at.is_(None),
                                                     SI.c.asked_at <= event.occurred_at)).mappings().all()
        for interest in interests:
            customer = Event(event.kind, event.key, event.occurred_at, event.source, customer_id=interest["customer_id"],
                             subject=event.subject, data=dict(event.data))
            entry_id = self.enter(conn, journey, customer, interest["customer_id"], None,
                                  f"stock:{event.subject}:{interest['id']}", now, result)
            if entry_id:
                result.entered.append(entry_id)
        if interests:
            conn.execute(SI.update().where(SI.c.id.in_([i["id"] for i in interests])).values(notified_at=now))

    def enter(self, conn: Connection, journey: ProactiveJourney, event: Event, customer_id: Optional[str],
              phone: Optional[str], entry_key: str, now: dt.datetime, result: EmitResult) -> Optional[int]:
        customer_key = str(customer_id) if customer_id else f"phone:{phone}"
        if journey.reenter_after is not None:
            recent = conn.execute(sa.select(E.c.id).where(
                E.c.journey == journey.name, E.c.customer_key == customer_key,
                E.c.entered_at > now - journey.reenter_after).limit(1)).first()
            if recent is not None:
                result.skip("reenter_after")
                return None
        if conn.execute(sa.select(E.c.id).where(E.c.journey == journey.name, E.c.entry_key == entry_key)).first():
            result.skip("already_entered")
            return None
        if journey.group:
            rivals = [dict(r) for r in conn.execute(sa.select(E).where(
                E.c.customer_key == customer_key, E.c.status == "active", E.c.group_name == journey.group)).mappings()]
            if any(r["priority"] > journey.priority for r in rivals):
                result.skip("lower_priority")
                return None
            for rival in rivals:
                if self.o.exit_entry(conn, rival, "superseded", now):
                    result.exited.append(rival["id"])
        anchor = max(event.occurred_at, now - (journey.trigger.max_age or self.o.book.settings.max_event_age))
        data = dict(event.data)
        if phone and "phone" not in data:
            data["phone"] = phone
        row = {
            "journey": journey.name, "journey_version": self.o.book.version, "entry_key": entry_key[:200],
            "customer_key": customer_key[:100], "customer_id": customer_id, "order_id": event.order_id,
            "subject": event.subject, "context": data or None, "language": _language(conn, event),
            "holdout": holdout_of(journey.name, customer_key, journey.holdout), "priority": journey.priority,
            "group_name": journey.group, "status": "active", "step": 0, "anchor_at": anchor, "clock_at": anchor,
            "due_at": now, "revision": 0, "attempts": 0, "entered_at": now, "messages_sent": 0,
            "goal_deadline": anchor + journey.goal.within if journey.goal else None,
        }
        if not insert_ignoring_duplicates(conn, E, [row], ["journey", "entry_key"]):
            result.skip("already_entered")
            return None
        entry = dict(conn.execute(sa.select(E).where(E.c.journey == journey.name, E.c.entry_key == row["entry_key"]))
                     .mappings().first())
        touchpoint(conn, what=["journey_entered", "holdout" if entry["holdout"] else "treated"],
                   event_key=f"entered:{entry['id']}", at=now, entry=entry)
        return int(entry["id"])


def emit(event: Event, orchestrator: Optional[Orchestrator] = None, now: Optional[dt.datetime] = None) -> EmitResult:
    """Store `event` once and apply it to every journey (see the module docstring)."""
    return Emitter(orchestrator or Orchestrator()).emit(event, now)


def record_stock_interest(customer_id: str, sku: str, conversation_id: Optional[str] = None,
                          database_url: Optional[str] = None, now: Optional[dt.datetime] = None) -> bool:
    """A customer asked for `sku` while it was out of stock: tell them when it is back (once).

    Called by the product actions; True if a new interest was recorded."""
    engine = schema.engine(database_url)
    with engine.begin() as conn:
        open_interest = conn.execute(sa.select(SI.c.id).where(SI.c.customer_id == str(customer_id), SI.c.sku == sku,
                                                              SI.c.notified_at.is_(None)).limit(1)).first()
        if open_interest is not None:
            return False
        conn.execute(SI.insert().values(customer_id=str(customer_id), sku=sku, conversation_id=conversation_id,
                                        asked_at=now or utcnow()))
    return True
