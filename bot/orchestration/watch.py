"""Events from our SQL CRM: whatever changed the rows, the journeys hear of it.

Orders and tickets may change anywhere — our actions, `hamsafar crm import`,
the shop's back office writing SQL — so instead of hooks in each writer the
scanner compares the tables with what it saw last (`journey_watch`): an order
whose status differs is an `order.<status>` event (plus `order.paid` when it
leaves `pending_payment` for a paid state), a ticket now `closed` is
`ticket.closed`. Append-only tables are read past a cursor: feedback
(`feedback.csat` / `feedback.nps` with the score), reviews
(`review.written`), the touchpoints' `goal_abandoned` rows (`goal.abandoned`).
Products someone asked for while out of stock and now in stock give
`product.back_in_stock`. Segments (customers whose last order just became N
days old) are evaluated at most every `SEGMENT_EVERY`.

The event time is the order's own timestamp for the status (`paid_at`,
`shipped_at`, `delivered_at`) when there is one, else the moment the change
was seen; events older than `max_event_age` start no journey, so the first
scan of a shop's history messages nobody. Each change is emitted before it is
marked seen, and events are stored once by key: a crash in between repeats
nothing. On PostgreSQL one process scans at a time (an advisory lock).
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.crm.models import CustomerRow, FeedbackRow, OrderRow, ProductRow, ReviewRow, TicketRow
from bot.orchestration.engine import Orchestrator, utcnow
from bot.orchestration.events import Emitter, Event
from bot.orchestration.models import JourneyWatch, StockInterest
from bot.orchestration.schedule import aware

logger = logging.getLogger(__name__)

W = JourneyWatch.__table__
O, T, F, R, P, C = (OrderRow.__table__, TicketRow.__table__, FeedbackRow.__table__, ReviewRow.__table__,
                    ProductRow.__table__, CustomerRow.__table__)
SI = StockInterest.__table__
BATCH = 500
SEGMENT_EVERY = dt.timedelta(minutes=15)
SEGMENT_WINDOW = dt.timedelta(days=30)   # "just became N days old": last order N … N+30 days ago
_SCAN_LOCK = 0x4A524E59                  # "JRNY"
PAID_LATER = ("processing", "shipped", "delivered")
STATUS_TIME = {"paid": "paid_at", "shipped": "shipped_at", "delivered": "delivered_at", "pending_payment": "created_at"}


def set_watch(conn: Connection, kind: str, key: str, value: Optional[str], now: dt.datetime) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(W).values(kind=kind, key=key, value=value, updated_at=now)
    conn.execute(statement.on_conflict_do_update(index_elements=["kind", "key"],
                                                 set_={"value": value, "updated_at": now}))


def get_watch(conn: Connection, kind: str, key: str) -> Optional[str]:
    return conn.execute(sa.select(W.c.value).where(W.c.kind == kind, W.c.key == key)).scalar()


class CrmWatcher:
    """Turns changes in the SQL CRM tables into events."""

    def __init__(self, orchestrator: Orchestrator, emitter: Optional[Emitter] = None) -> None:
        self.o = orchestrator
        self.emitter = emitter or Emitter(orchestrator)

    @contextmanager
    def _leader(self) -> Iterator[bool]:
        if not self.o.postgres:
            yield True
            return
        with self.o.engine.connect() as conn:
            got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _SCAN_LOCK}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _SCAN_LOCK})
                    conn.commit()

    def scan(self, now: Optional[dt.datetime] = None, source: str = "sql") -> Dict[str, int]:
        """Emit every change since the last scan; events per kind."""
        now = aware(now or utcnow())
        counts: Dict[str, int] = {}
        with self._leader() as leader:
            if not leader:
                return counts
            for part in (self._orders, self._tickets, self._feedback, self._reviews, self._stock,
                         self._goals_abandoned, self._segments):
                for conn, events in part(now, source):
                    for event in events:
                        if not self.emitter.apply(conn, event, now).duplicate:
                            counts[event.kind] = counts.get(event.kind, 0) + 1
        return counts

    # Each part yields (connection in a transaction, events): the events of a batch of rows are
    # applied, and the rows marked seen, in that one transaction — all or nothing, and a few
    # commits for a whole shop's history rather than one per event.

    # ------------------------------------------------------------------ orders
    def _orders(self, now: dt.datetime, source: str) -> Iterator[Tuple[Connection, List[Event]]]:
        seen = sa.and_(W.c.kind == "order", W.c.key == O.c.order_id)
        query = (sa.select(O, W.c.value.label("seen")).select_from(O.outerjoin(W, seen))
                 .where(sa.or_(W.c.value.is_(None), W.c.value != O.c.status)).order_by(O.c.order_id).limit(BATCH))
        while True:
            with self.o.engine.begin() as conn:
                rows = [dict(r) for r in conn.execute(query).mappings()]
                if not rows:
                    return
                yield conn, [e for row in rows for e in self._order_events(row, now, source)]
                for row in rows:
                    set_watch(conn, "order", row["order_id"], row["status"], now)

    def _order_events(self, row: dict, now: dt.datetime, source: str) -> Iterator[Event]:
        previous, status, oid = row["seen"], row["status"], row["order_id"]
        base = dict(source=source, customer_id=row["customer_id"], order_id=oid,
                    data={"status": status, "total": int(row["total"])})
        if previous is None:
            yield Event("order.created", f"sql:order:{oid}:created", row["created_at"], **base)

        def when(name: str) -> dt.datetime:
            column = STATUS_TIME.get(name)
            stamp = row.get(column) if column else None
            if stamp is not None:
                return stamp
            return (row.get("updated_at") or row["created_at"]) if previous is None else now

        tag = previous or "new"
        yield Event(f"order.{status}", f"sql:order:{oid}:{tag}>{status}", when(status), **base)
        if status in PAID_LATER and previous == "pending_payment":
            yield Event("order.paid", f"sql:order:{oid}:{tag}>paid", row.get("paid_at") or now, **base)

    # ------------------------------------------------------------------ tickets
    def _tickets(self, now: dt.datetime, source: str) -> Iterator[Tuple[Connection, List[Event]]]:
        seen = sa.and_(W.c.kind == "ticket", W.c.key == T.c.reference)
        query = (sa.select(T, W.c.value.label("seen")).select_from(T.outerjoin(W, seen))
                 .where(sa.or_(W.c.value.is_(None), W.c.value != T.c.status)).order_by(T.c.reference).limit(BATCH))
        while True:
            with self.o.engine.begin() as conn:
                rows = [dict(r) for r in conn.execute(query).mappings()]
                if not rows:
                    return
                events = []
                for row in rows:
                    if row["status"] == "closed" and row["seen"] != "closed" and row["customer_id"]:
                        when = row["created_at"] if row["seen"] is None else now
                        events.append(Event("ticket.closed", f"sql:ticket:{row['reference']}:closed", when,
                                            source=source, customer_id=row["customer_id"], order_id=row["order_id"],
                                            subject=row["reference"], data={"category": row["category"]}))
                yield conn, events
                for row in rows:
                    set_watch(conn, "ticket", row["reference"], row["status"], now)

    # ------------------------------------------------------------------ append-only tables
    def _after_cursor(self, name: str, read: Callable[[Connection, int], List[Dict[str, Any]]],
                      make: Callable[[Dict[str, Any]], Event]) -> Iterator[Tuple[Connection, List[Event]]]:
        """Batches of events from the rows `read(conn, cursor)` gives past the cursor `name` (each has an `id`)."""
        while True:
            with self.o.engine.begin() as conn:
                cursor = int(get_watch(conn, "cursor", name) or 0)
                rows = read(conn, cursor)
                if not rows:
                    return
                yield conn, [make(row) for row in rows]
                set_watch(conn, "cursor", name, str(rows[-1]["id"]), utcnow())

    @staticmethod
    def _rows_after(table: sa.Table, *where: Any) -> Callable[[Connection, int], List[Dict[str, Any]]]:
        """A reader of one of our append-only CRM tables past a cursor, a batch at a time."""
        return lambda conn, cursor: [dict(r) for r in conn.execute(
            sa.select(table).where(table.c.id > cursor, *where).order_by(table.c.id).limit(BATCH)).mappings()]

    def _feedback(self, now: dt.datetime, source: str) -> Iterator[Tuple[Connection, List[Event]]]:
        return self._after_cursor("feedback", self._rows_after(F, F.c.customer_id.isnot(None)), lambda row: Event(
            f"feedback.{row['kind']}", f"sql:feedback:{row['id']}", row["created_at"], source=source,
            customer_id=row["customer_id"], order_id=row["order_id"], subject=row["kind"],
            data={"score": int(row["score"])}))

    def _reviews(self, now: dt.datetime, source: str) -> Iterator[Tuple[Connection, List[Event]]]:
        return self._after_cursor("reviews", self._rows_after(R), lambda row: Event(
            "review.written", f"sql:review:{row['id']}", row["created_at"], source=source,
            customer_id=row["customer_id"], order_id=row["order_id"], subject=row["sku"],
            data={"rating": int(row["rating"])}))

    def _goals_abandoned(self, now: dt.datetime, source: str) -> Iterator[Tuple[Connection, List[Event]]]:
        from bot.touchpoints.queries import goal_abandonments_after

        def read(conn: Connection, cursor: int) -> List[Dict[str, Any]]:
            return goal_abandonments_after(conn, cursor, BATCH)

        return self._after_cursor("goal_abandoned", read, lambda row: Event(
            "goal.abandoned", f"tp:{row['event_id']}", aware(row["occurred_at"]), source="touchpoints",
            customer_id=row["customer_id"], subject=row["goal"],
            data={"goal": row["goal"], "conversation_id": row["conversation_id"]}))

    # ------------------------------------------------------------------ stock
    def _stock(self, now: dt.datetime, source: str) -> Iterator[Tuple[Connection, List[Event]]]:
        query = (sa.select(SI.c.sku, sa.func.max(SI.c.id)).select_from(SI.join(P, P.c.sku == SI.c.sku))
                 .where(SI.c.notified_at.is_(None), P.c.stock > 0).group_by(SI.c.sku))
        with self.o.engine.begin() as conn:
            rows = conn.execute(query).all()
            if rows:
                yield conn, [Event("product.back_in_stock", f"sql:stock:{sku}:{last}", now, source=source,
                                   subject=sku, data={"sku": sku}) for sku, last in rows]

    # ------------------------------------------------------------------ segments
    def _segments(self, now: dt.datetime, source: str) -> Iterator[Tuple[Connection, List[Event]]]:
        journeys = [j for j in self.o.book.journeys.values() if j.enabled and j.trigger.segment == "inactive_customers"]
        if not journeys:
            return
        with self.o.engine.begin() as conn:
            last_run = get_watch(conn, "cursor", "segments")
            if last_run and aware(dt.datetime.fromisoformat(last_run)) > now - SEGMENT_EVERY:
                return
            last = sa.func.max(O.c.created_at)
            events: List[Event] = []
            for journey in journeys:
                days = journey.trigger.days
                query = (sa.select(O.c.customer_id, last.label("last")).where(O.c.status != "cancelled")
                         .group_by(O.c.customer_id)
                         .having(sa.and_(last <= now - dt.timedelta(days=days),
                                         last > now - dt.timedelta(days=days) - SEGMENT_WINDOW)))
                for customer_id, last_at in conn.execute(query).all():
                    if not isinstance(last_at, dt.datetime):
                        last_at = dt.datetime.fromisoformat(str(last_at))
                    last_at = aware(last_at)
                    events.append(Event(
                        "segment.inactive_customers", f"segment:{journey.name}:{customer_id}:{last_at.date()}", now,
                        source="segment", customer_id=customer_id, subject=f"lapse:{last_at.date()}",
                        data={"days": days, "journey": journey.name, "days_since": (now - last_at).days}))
            yield conn, events
            set_watch(conn, "cursor", "segments", now.isoformat(), now)
