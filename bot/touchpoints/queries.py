"""Reads of one customer's touchpoints, for other modules (the profile, the agent console).

The `touchpoints` table and the way the recorder writes it (a goal transition is a
`system` row whose `actions` are `["goal_<status>"]`; an SMS conversation is stored as
its pseudonymous `sms:ref-…`) are this package's business: other modules call these
functions instead of querying the table or spelling its JSON themselves.
"""

from __future__ import annotations

import json
from typing import Iterable, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from bot.touchpoints.assembler import goal_transition
from bot.touchpoints.models import Touchpoint
from bot.touchpoints.privacy import stored_conversation_ids

TP = Touchpoint.__table__
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
