"""Erasing a customer (`hamsafar erase`, bot.touchpoints.erasure.ERASERS): their journey
entries, the messages sent to them, the events about them and their stock alerts."""

from __future__ import annotations

from typing import Dict, List

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.orchestration.models import JourneyEntry, JourneyEvent, JourneyMessage, StockInterest


def erase_customer_data(conn: Connection, customer_id: str, conversation_ids: List[str]) -> Dict[str, int]:
    """Delete the customer's orchestration rows; rows deleted per table."""
    entries, messages = JourneyEntry.__table__, JourneyMessage.__table__
    theirs = sa.select(entries.c.id).where(entries.c.customer_id == customer_id)
    deleted = {"journey_messages": conn.execute(messages.delete().where(messages.c.entry_id.in_(theirs))).rowcount or 0}
    deleted["journey_entries"] = conn.execute(entries.delete().where(entries.c.customer_id == customer_id)).rowcount or 0
    events = JourneyEvent.__table__
    deleted["journey_events"] = conn.execute(events.delete().where(events.c.customer_id == customer_id)).rowcount or 0
    interest = StockInterest.__table__
    deleted["journey_stock_interest"] = conn.execute(
        interest.delete().where(interest.c.customer_id == customer_id)).rowcount or 0
    return deleted
