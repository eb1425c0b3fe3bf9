"""The orchestrator's tables: events in, entries (the work table), messages out.

* `journey_events` — every event seen (from our CRM, WooCommerce, the REST
  backend, segments), once: `event_key` is unique, so a replayed webhook or a
  second scan is ignored.
* `journey_entries` — one customer in one journey: the step to run next, when
  it is due (`due_at`), hold-out or not, and how it ended. Runners claim due
  rows with a lease (`lease_owner`, `lease_until`; on PostgreSQL through
  `FOR UPDATE SKIP LOCKED`), so several processes never run the same entry.
  `revision` grows with every write, so a runner never overwrites an event
  that arrived while it was working (compare-and-set).
* `journey_messages` — one row per (entry, send step), unique. Before anything
  goes out it is marked `sending` by one attempt (`attempt_id`, and `claimant`:
  the lease token of the runner that made it), in the transaction that checks
  the entry's lease; only that attempt may send it, and a send once started is
  never started again by anyone (at most once: an attempt whose outcome cannot
  be known is recorded `unknown`).
* `journey_watch` — what the CRM scanner saw last (order / ticket status,
  cursors), to turn the SQL CRM's rows into change events.
* `journey_stock_interest` — customers who asked for a product while it was
  out of stock (the back-in-stock audience).

Touchpoints get two columns, `journey` and `journey_step` (migration
`orchestration` 1 adds them to existing databases). Documented in
docs/orchestration.md.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.crm.models import UTCDateTime
from bot.db import Base, register_migration

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")

ENTRY_STATUSES = ("active", "completed", "exited")
MESSAGE_STATUSES = ("sending", "sent", "failed", "held_out", "skipped", "unknown")  # "reserved": rows of older releases


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class JourneyEvent(Base):
    """Table `journey_events`: every event once (its key de-duplicates), the journeys' input."""

    __tablename__ = "journey_events"

    id = sa.Column(BigId, primary_key=True, autoincrement=True)
    event_key = sa.Column(sa.String(200), nullable=False, unique=True)
    kind = sa.Column(sa.String(64), nullable=False, index=True)
    source = sa.Column(sa.String(20), nullable=False)          # sql | import | woocommerce | rest | action | segment
    customer_id = sa.Column(sa.String(64), nullable=True, index=True)
    order_id = sa.Column(sa.String(32), nullable=True)
    subject = sa.Column(sa.String(100), nullable=True)         # sku, ticket reference, goal, segment
    data = sa.Column(sa.JSON, nullable=True)
    occurred_at = sa.Column(UTCDateTime, nullable=False)
    received_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    entries = sa.Column(sa.Integer, nullable=False, default=0)  # entries it started


class JourneyEntry(Base):
    """Table `journey_entries`: the work table, one customer in one journey, its step and when it is due."""

    __tablename__ = "journey_entries"
    __table_args__ = (
        sa.UniqueConstraint("journey", "entry_key", name="uq_journey_entries_key"),
        sa.Index("ix_journey_entries_due", "status", "due_at"),
        sa.Index("ix_journey_entries_customer", "customer_key", "status"),
    )

    id = sa.Column(BigId, primary_key=True, autoincrement=True)
    journey = sa.Column(sa.String(40), nullable=False)
    journey_version = sa.Column(sa.Integer, nullable=False)
    entry_key = sa.Column(sa.String(200), nullable=False)
    customer_key = sa.Column(sa.String(100), nullable=False)    # customer id, else "phone:+98…"
    customer_id = sa.Column(sa.String(64), nullable=True)
    order_id = sa.Column(sa.String(32), nullable=True, index=True)
    subject = sa.Column(sa.String(100), nullable=True)
    context = sa.Column(sa.JSON, nullable=True)                 # what the trigger knew: name, phone, score, sku …
    language = sa.Column(sa.String(2), nullable=False, default="fa")
    holdout = sa.Column(sa.Boolean, nullable=False, default=False)
    priority = sa.Column(sa.Integer, nullable=False, default=50)
    group_name = sa.Column(sa.String(40), nullable=True)
    status = sa.Column(sa.String(12), nullable=False, default="active")
    exit_reason = sa.Column(sa.String(40), nullable=True)
    step = sa.Column(sa.Integer, nullable=False, default=0)     # index of the next step
    armed_step = sa.Column(sa.Integer, nullable=True)           # the wait step whose due_at is set
    wait_event = sa.Column(sa.String(64), nullable=True)
    anchor_at = sa.Column(UTCDateTime, nullable=False)          # when the trigger happened
    clock_at = sa.Column(UTCDateTime, nullable=False)           # the journey's own clock (waits add to it)
    due_at = sa.Column(UTCDateTime, nullable=True)
    lease_owner = sa.Column(sa.String(64), nullable=True)
    lease_until = sa.Column(UTCDateTime, nullable=True)
    revision = sa.Column(sa.Integer, nullable=False, default=0)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)  # failed deliveries of the current step
    entered_at = sa.Column(UTCDateTime, nullable=False)
    finished_at = sa.Column(UTCDateTime, nullable=True)
    goal_deadline = sa.Column(UTCDateTime, nullable=True)
    converted_at = sa.Column(UTCDateTime, nullable=True)
    conversion_event = sa.Column(sa.String(64), nullable=True)
    messages_sent = sa.Column(sa.Integer, nullable=False, default=0)
    first_channel = sa.Column(sa.String(16), nullable=True)


class JourneyMessage(Base):
    """Table `journey_messages`: each proactive message once per step, with its channel and status."""

    __tablename__ = "journey_messages"
    __table_args__ = (
        sa.UniqueConstraint("entry_id", "step", name="uq_journey_messages_step"),
        sa.Index("ix_journey_messages_customer", "customer_key", "created_at"),
    )

    id = sa.Column(BigId, primary_key=True, autoincrement=True)
    entry_id = sa.Column(BigId, sa.ForeignKey("journey_entries.id", ondelete="CASCADE"), nullable=False)
    journey = sa.Column(sa.String(40), nullable=False)
    step = sa.Column(sa.String(40), nullable=False)
    customer_key = sa.Column(sa.String(100), nullable=False)
    status = sa.Column(sa.String(12), nullable=False)           # sending -> sent | failed | unknown; held_out; skipped
    capped = sa.Column(sa.Boolean, nullable=False, default=True)
    channel = sa.Column(sa.String(16), nullable=True)
    conversation_id = sa.Column(sa.String(255), nullable=True)
    language = sa.Column(sa.String(2), nullable=True)
    text = sa.Column(sa.Text, nullable=True)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    attempt_id = sa.Column(sa.String(32), nullable=True)        # the one attempt allowed to send it now
    claimant = sa.Column(sa.String(64), nullable=True)          # lease token of the runner that made that attempt
    error = sa.Column(sa.Text, nullable=True)
    created_at = sa.Column(UTCDateTime, nullable=False)
    sent_at = sa.Column(UTCDateTime, nullable=True)


class JourneyWatch(Base):
    """Table `journey_watch`: the CRM watcher's last seen state, so it reports only changes."""

    __tablename__ = "journey_watch"

    kind = sa.Column(sa.String(20), primary_key=True)            # order | ticket | cursor
    key = sa.Column(sa.String(200), primary_key=True)
    value = sa.Column(sa.String(200), nullable=True)
    updated_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class StockInterest(Base):
    """Table `journey_stock_interest`: a customer asked for an out-of-stock product; tell them when it is
    back."""

    __tablename__ = "journey_stock_interest"
    __table_args__ = (sa.Index("ix_journey_stock_interest_open", "sku", "notified_at"),)

    id = sa.Column(BigId, primary_key=True, autoincrement=True)
    customer_id = sa.Column(sa.String(64), nullable=False, index=True)
    sku = sa.Column(sa.String(64), nullable=False)
    conversation_id = sa.Column(sa.String(255), nullable=True)
    asked_at = sa.Column(UTCDateTime, nullable=False)
    notified_at = sa.Column(UTCDateTime, nullable=True)


TABLES = [JourneyEvent.__table__, JourneyEntry.__table__, JourneyMessage.__table__, JourneyWatch.__table__,
          StockInterest.__table__]


@register_migration("orchestration", 1)
def add_touchpoint_journey_columns(conn: Connection) -> None:
    """Touchpoint tables created before proactive journeys get `journey` and `journey_step`."""
    existing = {c["name"] for c in sa.inspect(conn).get_columns("touchpoints")}
    for name in ("journey", "journey_step"):
        if name not in existing:
            conn.execute(sa.text(f"ALTER TABLE touchpoints ADD COLUMN {name} VARCHAR(40)"))


@register_migration("orchestration", 2)
def add_message_attempt_columns(conn: Connection) -> None:
    """Message tables created before at-most-once sends get `attempt_id` and `claimant`."""
    existing = {c["name"] for c in sa.inspect(conn).get_columns("journey_messages")}
    for name, kind in (("attempt_id", "VARCHAR(32)"), ("claimant", "VARCHAR(64)")):
        if name not in existing:
            conn.execute(sa.text(f"ALTER TABLE journey_messages ADD COLUMN {name} {kind}"))
