"""One customer's profile across channels: language, journey stage, goal history.

Why this module: slots belong to one conversation, but a verified customer is
the same person on Telegram, the website and SMS. When a conversation becomes
a known customer (actions/journey.py), the bot restores what it knows about
them from two places (reads only; the one write is `save_language`):

* the language they chose (`customer_preferences`, written by
  `save_language` when they switch language on any channel), else the
  language of their latest conversation turn, else the CRM's `customers.language`;
* their latest journey stage and goal, from the `touchpoints` table, which
  every channel writes with the same `customer_id` (read through
  `bot.touchpoints.queries`, which owns that table's layout).

`goal_history` is the one query for a customer's goals on every channel; the
console's 360° panel and the bot both use it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import List, Optional

from bot import db, schema
from bot.crm.base import utcnow
from bot.identity.models import CustomerPreference
from bot.touchpoints import queries
from bot.touchpoints.queries import GOAL_OUTCOMES  # noqa: F401 - part of this module's interface

LANGUAGES = ("fa", "en")


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
    with schema.engine(url).connect() as conn:
        row = queries.latest_stage(conn, customer_id, exclude_conversation=exclude_conversation)
    return JourneyState(*row) if row is not None else None


def last_language(customer_id: str, url: Optional[str] = None, *,
                  exclude_conversation: Optional[str] = None) -> Optional[str]:
    """The language of the customer's latest own message on any channel, or None."""
    with schema.engine(url).connect() as conn:
        return queries.latest_customer_language(conn, customer_id, LANGUAGES, exclude_conversation=exclude_conversation)


def goal_history(customer_id: str, url: Optional[str] = None, limit: int = 50) -> List[GoalEvent]:
    """The customer's goal transitions on every channel, newest first (handoff rows left out)."""
    with schema.engine(url).connect() as conn:
        return [GoalEvent(*row) for row in queries.goal_transitions(conn, customer_id, limit)]
