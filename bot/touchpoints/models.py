"""The `touchpoints` table — a documented, stable interface for analysts (docs/touchpoints.md).

One row per turn: a customer message and what the bot did in reply (actor
`customer`), a bot-initiated message (`bot`), an agent message (`agent`), or a
handoff / goal transition (`system`). `event_id` is derived from the Rasa
event that produced the row, so a retried write can never duplicate it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex

from bot.db import Base, register_migration

ACTORS = ("customer", "bot", "agent", "system")
GOAL_STATUSES = ("started", "completed", "abandoned", "failed")


class Touchpoint(Base):
    """Table `touchpoints`: one row per customer turn, bot-initiated, agent or transition message, which
    analytics reads."""

    __tablename__ = "touchpoints"

    id = sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id = sa.Column(sa.String(64), nullable=False, unique=True)
    occurred_at = sa.Column(sa.DateTime(timezone=False), nullable=False, doc="UTC")
    conversation_id = sa.Column(sa.String(255), nullable=False)
    customer_id = sa.Column(sa.String(64), nullable=True)
    channel = sa.Column(sa.String(32), nullable=False)
    actor = sa.Column(sa.String(16), nullable=False)
    language = sa.Column(sa.String(8), nullable=True)
    journey_stage = sa.Column(sa.String(32), nullable=True)
    intent = sa.Column(sa.String(64), nullable=True)
    intent_confidence = sa.Column(sa.Float, nullable=True)
    entities = sa.Column(sa.JSON, nullable=True)
    actions = sa.Column(sa.JSON, nullable=True)
    goal = sa.Column(sa.String(64), nullable=True)
    goal_status = sa.Column(sa.String(16), nullable=True)
    handoff = sa.Column(sa.Boolean, nullable=False, default=False)
    sentiment = sa.Column(sa.Float, nullable=True, doc="-1 (upset) .. 1 (happy)")
    sentiment_label = sa.Column(sa.String(16), nullable=True)
    latency_ms = sa.Column(sa.Integer, nullable=True)
    fallback = sa.Column(sa.Boolean, nullable=False, default=False, doc="the bot did not understand")
    text = sa.Column(sa.Text, nullable=True, doc="customer/agent text, masked unless raw text is on")
    reply_text = sa.Column(sa.Text, nullable=True, doc="what the bot answered, masked")
    journey_version = sa.Column(sa.Integer, nullable=True)
    journey = sa.Column(sa.String(40), nullable=True, doc="proactive journey (orchestration.yml) of a system row")
    journey_step = sa.Column(sa.String(40), nullable=True, doc="its send step, for a proactive message")

    __table_args__ = (
        sa.CheckConstraint("actor IN ('customer','bot','agent','system')", name="ck_touchpoints_actor"),
        sa.Index("ix_touchpoints_occurred_at", "occurred_at"),
        sa.Index("ix_touchpoints_conversation", "conversation_id", "occurred_at"),
        sa.Index("ix_touchpoints_customer", "customer_id", "occurred_at"),
        sa.Index("ix_touchpoints_stage", "journey_stage", "occurred_at"),
        sa.Index("ix_touchpoints_goal", "goal", "goal_status"),
        sa.Index("ix_touchpoints_channel_lang", "channel", "language", "occurred_at"),
        # Covering indexes for bot/analytics: each query reads one of these in order
        # instead of the wide table (docs/metrics.md#performance).
        sa.Index("ix_touchpoints_conversation_cells", "conversation_id", "channel", "language", "customer_id"),
        sa.Index("ix_touchpoints_stage_reached", "actor", "journey_stage", "conversation_id", "occurred_at",
                 "channel", "language"),
        sa.Index("ix_touchpoints_actor_cells", "actor", "channel", "language", "fallback"),
        sa.Index("ix_touchpoints_transitions", "actor", sa.cast(sa.column("actions"), sa.Text), "goal", "channel",
                 "language", "conversation_id"),
        sa.Index("ix_touchpoints_intent", "intent", "actor"),
        sa.Index("ix_touchpoints_goal_steps", "conversation_id", "goal", "goal_status", "actor", "occurred_at", "id"),
    )


ANALYTICS_INDEXES = ("ix_touchpoints_conversation_cells", "ix_touchpoints_stage_reached", "ix_touchpoints_actor_cells",
                     "ix_touchpoints_transitions", "ix_touchpoints_intent", "ix_touchpoints_goal_steps")


@register_migration("touchpoints", 1)
def add_analytics_indexes(conn: Connection) -> None:
    """Databases created before the analytics indexes get them (a new table already has them)."""
    for index in Touchpoint.__table__.indexes:
        if index.name in ANALYTICS_INDEXES:  # reflection skips expression indexes, so no checkfirst
            conn.execute(CreateIndex(index, if_not_exists=True))


@register_migration("touchpoints", 2)
def scrub_personal_data(conn: Connection) -> None:
    """Rows written before the privacy masking lose their raw SMS conversation ids (`sms:<phone>` →
    `sms:ref-…`, event ids with them), phones, codes and card numbers in text and entities
    (bot.touchpoints.privacy, docs/touchpoints.md#privacy)."""
    from bot.touchpoints.privacy import scrub_stored_touchpoints  # privacy imports this module

    scrub_stored_touchpoints(conn)
