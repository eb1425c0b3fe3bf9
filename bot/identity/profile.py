"""One customer's profile across channels: language, journey stage, goal history.

Why this module: slots belong to one conversation, but a verified customer is
the same person on Telegram, the website and SMS. When a conversation becomes
a known customer (actions/journey.py), the bot restores what it knows about
them from two places (reads only; the one write is `save_language`):

* the language they chose (`customer_preferences`, written by
  `save_language` when they switch language on any channel), else the
  language of their latest conversation turn, else the CRM's `customers.language`;
* their latest journey stage and goal, from the `touchpoints` table, which
  every channel writes with the same `customer_id`.

`goal_history` is the one query for a customer's goals on every channel; the
console's 360° panel and the bot both use it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import List, Optional

import sqlalchemy as sa

from bot import db
from bot.crm.base import utcnow
from bot.identity.models import CustomerPreference
from bot.touchpoints.models import Touchpoint
from bot.touchpoints.privacy import stored_conversation_ids

LANGUAGES = ("fa", "en")
GOAL_OUTCOMES = ("started", "completed", "failed", "abandoned")
# A goal transition row's `actions` text, exactly as the recorder writes it (`["goal_completed"]`).
_TRANSITION_TEXT = {json.dumps([f"goal_{status}"]): status for status in GOAL_OUTCOMES}


@dataclass
class JourneyState:
    """Where the customer was last, on any channel (from their latest touchpoint with a stage)."""

    journey_stage: Optional[str]
    goal: Optional[str]
    goal_status: Optional[str]
    language: Optional[str]
    channel: str
    conversation_id: str
    at: dt.datetime


@dataclass
class GoalEvent:
    """One goal transition (started/completed/failed/abandoned) in one conversation."""

    goal: str
    status: str
    channel: str
    conversation_id: str
    at: dt.datetime


def saved_language(customer_id: str, url: Optional[str] = None) -> Optional[str]:
    """The language the customer explicitly chose on any channel, or None."""
    with db.session_scope(url) as s:
        row = s.get(CustomerPreference, str(customer_id))
        return row.language if row is not None and row.language in LANGUAGES else None


def save_language(customer_id: str, language: str, url: Optional[str] = None) -> None:
    """Remember the customer's choice for their next conversation on any channel."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be fa or en, not {language!r}")
    with db.session_scope(url) as s:
        row = s.get(CustomerPreference, str(customer_id))
        if row is None:
            s.add(CustomerPreference(customer_id=str(customer_id), language=language, updated_at=utcnow()))
        else:
            row.language, row.updated_at = language, utcnow()


def latest_journey(customer_id: str, url: Optional[str] = None, *,
                   exclude_conversation: Optional[str] = None) -> Optional[JourneyState]:
    """The customer's latest touchpoint that has a journey stage, on any channel."""
    tp = Touchpoint.__table__
    query = (sa.select(tp.c.journey_stage, tp.c.goal, tp.c.goal_status, tp.c.language, tp.c.channel,
                       tp.c.conversation_id, tp.c.occurred_at)
             .where(tp.c.customer_id == str(customer_id), tp.c.journey_stage.isnot(None))
             .order_by(tp.c.occurred_at.desc(), tp.c.id.desc()).limit(1))
    if exclude_conversation:
        # touchpoints store an SMS conversation as `sms:ref-…` (bot.touchpoints.privacy)
        query = query.where(tp.c.conversation_id.notin_(sorted(stored_conversation_ids([exclude_conversation]))))
    with db.session_scope(url) as s:
        row = s.execute(query).first()
    return JourneyState(*row) if row is not None else None


def last_language(customer_id: str, url: Optional[str] = None, *,
                  exclude_conversation: Optional[str] = None) -> Optional[str]:
    """The language of the customer's latest own message on any channel, or None."""
    tp = Touchpoint.__table__
    query = (sa.select(tp.c.language)
             .where(tp.c.customer_id == str(customer_id), tp.c.actor == "customer", tp.c.language.in_(LANGUAGES))
             .order_by(tp.c.occurred_at.desc(), tp.c.id.desc()).limit(1))
    if exclude_conversation:
        # touchpoints store an SMS conversation as `sms:ref-…` (bot.touchpoints.privacy)
        query = query.where(tp.c.conversation_id.notin_(sorted(stored_conversation_ids([exclude_conversation]))))
    with db.session_scope(url) as s:
        return s.execute(query).scalar_one_or_none()


def goal_history(customer_id: str, url: Optional[str] = None, limit: int = 50) -> List[GoalEvent]:
    """The customer's goal transitions on every channel, newest first.

    Goal transitions are the `system` rows the touchpoint recorder writes when
    `goal_status` changes (docs/touchpoints.md); handoff rows are left out.
    """
    tp = Touchpoint.__table__
    query = (sa.select(tp.c.goal, tp.c.goal_status, tp.c.channel, tp.c.conversation_id, tp.c.occurred_at)
             .where(tp.c.customer_id == str(customer_id), tp.c.actor == "system", tp.c.goal.isnot(None),
                    sa.cast(tp.c.actions, sa.Text).in_(list(_TRANSITION_TEXT)))
             .order_by(tp.c.occurred_at.desc(), tp.c.id.desc()).limit(int(limit)))
    with db.session_scope(url) as s:
        return [GoalEvent(*row) for row in s.execute(query).all()]
