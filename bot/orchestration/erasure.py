"""Erasing a customer (`hamsafar erase`, bot.touchpoints.erasure.ERASERS): their journey
entries, the messages sent to them, the events about them and their stock alerts."""

from __future__ import annotations

from typing import Dict, List

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.channels import addresses
from bot.orchestration.models import JourneyEntry, JourneyEvent, JourneyMessage, StockInterest


def erase_customer_data(conn: Connection, customer_id: str, conversation_ids: List[str]) -> Dict[str, int]:
    """Delete the customer's orchestration rows; rows deleted per table.

    Entries of someone the CRM did not know are keyed `phone:+98…`; the customer's
    numbers come in as their `sms:` conversation ids (bot.touchpoints.erasure adds one per number).
    """
    keys = {customer_id} | {"phone:" + addresses.address_of(c) for c in conversation_ids
                            if addresses.channel_of(c) == "sms"}
    entries, messages = JourneyEntry.__table__, JourneyMessage.__table__
    theirs = sa.or_(entries.c.customer_id == customer_id, entries.c.customer_key.in_(sorted(keys)))
    their_messages = sa.or_(messages.c.entry_id.in_(sa.select(entries.c.id).where(theirs)),
                            messages.c.customer_key.in_(sorted(keys)))
    if conversation_ids:
        their_messages = sa.or_(their_messages, messages.c.conversation_id.in_(conversation_ids))
    deleted = {"journey_messages": conn.execute(messages.delete().where(their_messages)).rowcount or 0}
    deleted["journey_entries"] = conn.execute(entries.delete().where(theirs)).rowcount or 0
    events = JourneyEvent.__table__
    deleted["journey_events"] = conn.execute(events.delete().where(events.c.customer_id == customer_id)).rowcount or 0
    interest = StockInterest.__table__
    deleted["journey_stock_interest"] = conn.execute(
        interest.delete().where(interest.c.customer_id == customer_id)).rowcount or 0
    return deleted
