"""Reads of the touchpoints table for other modules (profile, agent console, proactive journeys).

The `touchpoints` table and the way the recorder writes it (a goal transition is a
`system` row whose `actions` are `["goal_<status>"]`; an SMS conversation is stored as
its pseudonymous `sms:ref-…`) are this package's business: other modules call these
functions instead of querying the table or spelling its JSON themselves
(tests/test_layering.py fails a module outside bot/touchpoints/ and bot/analytics/
that imports the model). Analytics reads the table itself: it is the documented
interface for analysts (docs/touchpoints.md).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from bot.touchpoints.assembler import goal_transition
from bot.touchpoints.models import Touchpoint
from bot.touchpoints.privacy import conversation_ref, stored_conversation_ids

TP = Touchpoint.__table__
# The columns that carry a conversation's state from one row to the next (the recorder seeds from them).
STATE_COLUMNS = ("channel", "customer_id", "language", "journey_stage", "goal", "goal_status", "handoff")
GOAL_OUTCOMES = ("started", "completed", "failed", "abandoned")
# A goal transition row's `actions` as stored text, exactly as the recorder writes it (`["goal_completed"]`).
_TRANSITION_TEXT = {json.dumps([goal_transition(status)]): status for status in GOAL_OUTCOMES}


def _excluding(query: sa.sql.Select, conversation: Optional[str]) -> sa.sql.Select:
    """Leave out one conversation, in the form touchpoints store it (`sms:ref-…` for SMS)."""
    if not conversation:
        return query
    return query.where(TP.c.conversation_id.notin_(sorted(stored_conversation_ids([conversation]))))


def latest_stage(conn: Connection, customer_id: str, *, exclude_conversation: Optional[str] = None) -> Optional[Row]:
    """(journey_stage, goal, goal_status, language, channel, conversation_id, occurred_at) of the
    customer's latest touchpoint that has a journey stage, on any channel; None if there is none."""
    query = (sa.select(TP.c.journey_stage, TP.c.goal, TP.c.goal_status, TP.c.language, TP.c.channel,
                       TP.c.conversation_id, TP.c.occurred_at)
             .where(TP.c.customer_id == str(customer_id), TP.c.journey_stage.isnot(None))
             .order_by(TP.c.occurred_at.desc(), TP.c.id.desc()).limit(1))
    return conn.execute(_excluding(query, exclude_conversation)).first()


def latest_customer_language(conn: Connection, customer_id: str, languages: Iterable[str], *,
                             exclude_conversation: Optional[str] = None) -> Optional[str]:
    """The language (one of `languages`) of the customer's latest own message on any channel, or None."""
    query = (sa.select(TP.c.language)
             .where(TP.c.customer_id == str(customer_id), TP.c.actor == "customer", TP.c.language.in_(list(languages)))
             .order_by(TP.c.occurred_at.desc(), TP.c.id.desc()).limit(1))
    return conn.execute(_excluding(query, exclude_conversation)).scalar_one_or_none()


def goal_transitions(conn: Connection, customer_id: str, limit: int = 50) -> List[Row]:
    """(goal, status, channel, conversation_id, occurred_at) of the customer's goal transitions, newest first.

    Goal transitions are the `system` rows the recorder writes when `goal_status` changes
    (docs/touchpoints.md); handoff rows are left out."""
    query = (sa.select(TP.c.goal, TP.c.goal_status, TP.c.channel, TP.c.conversation_id, TP.c.occurred_at)
             .where(TP.c.customer_id == str(customer_id), TP.c.actor == "system", TP.c.goal.isnot(None),
                    sa.cast(TP.c.actions, sa.Text).in_(list(_TRANSITION_TEXT)))
             .order_by(TP.c.occurred_at.desc(), TP.c.id.desc()).limit(int(limit)))
    return list(conn.execute(query).all())


def conversation_state(conn: Connection, conversation_id: str) -> Dict[str, Any]:
    """The state (`STATE_COLUMNS`) the conversation's newest row carries; {} for a conversation with none.

    `conversation_id` as the channel names it: an SMS one is looked up by its stored reference."""
    query = (sa.select(*[TP.c[name] for name in STATE_COLUMNS])
             .where(TP.c.conversation_id == conversation_ref(conversation_id))
             .order_by(TP.c.occurred_at.desc(), TP.c.id.desc()).limit(1))
    row = conn.execute(query).mappings().first()
    return dict(row) if row else {}


def latest_customer_conversation(conn: Connection, customer_id: str) -> Optional[str]:
    """The conversation (as stored: `sms:ref-…` for SMS) of the customer's latest own message, or None."""
    query = (sa.select(TP.c.conversation_id).where(TP.c.customer_id == str(customer_id), TP.c.actor == "customer")
             .order_by(TP.c.occurred_at.desc(), TP.c.id.desc()).limit(1))
    return conn.execute(query).scalar()


@dataclass(frozen=True)
class ConversationSummary:
    """One conversation of a customer as the agent console lists it: channel, first and last turn, turns."""

    conversation_id: str   # as stored (`sms:ref-…` for SMS)
    channel: str
    first: Optional[dt.datetime]   # naive UTC
    last: Optional[dt.datetime]
    turns: int
    current: bool   # the conversation the caller asked about


def conversations_of(conn: Connection, conversation_id: str, customer_id: Optional[str],
                     limit: int = 30) -> List[ConversationSummary]:
    """`conversation_id` and the customer's other conversations on every channel, latest first.

    `conversation_id` as the channel names it (an SMS one is matched under its stored reference too);
    without `customer_id` only that conversation is listed."""
    current = stored_conversation_ids([conversation_id])
    condition = TP.c.conversation_id.in_(sorted(current))
    if customer_id:
        condition = sa.or_(condition, TP.c.customer_id == str(customer_id))
    last = sa.func.max(TP.c.occurred_at)
    query = (sa.select(TP.c.conversation_id, TP.c.channel, sa.func.min(TP.c.occurred_at), last, sa.func.count())
             .where(condition).group_by(TP.c.conversation_id, TP.c.channel).order_by(last.desc()).limit(int(limit)))
    return [ConversationSummary(row[0], row[1], row[2], row[3], int(row[4]), row[0] in current)
            for row in conn.execute(query).all()]


def goal_abandonments_after(conn: Connection, after_id: int, limit: int) -> List[Dict[str, Any]]:
    """Up to `limit` goal-abandoned transitions of known customers with a row id above `after_id`, oldest first.

    Each: id, event_id, occurred_at (naive UTC), customer_id, goal, conversation_id (as stored)."""
    abandoned = json.dumps([goal_transition("abandoned")])
    query = (sa.select(TP.c.id, TP.c.event_id, TP.c.occurred_at, TP.c.customer_id, TP.c.goal, TP.c.conversation_id)
             .where(TP.c.id > int(after_id), TP.c.actor == "system", sa.cast(TP.c.actions, sa.Text) == abandoned,
                    TP.c.customer_id.isnot(None), TP.c.goal.isnot(None))
             .order_by(TP.c.id).limit(int(limit)))
    return [dict(row) for row in conn.execute(query).mappings()]
