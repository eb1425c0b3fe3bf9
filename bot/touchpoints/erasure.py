"""Erasing a customer's data on request, and dropping old text (retention).

`erase_customer` finds every conversation the customer took part in (from
touchpoints and verified channel identities), then deletes, in one
transaction, their touchpoints, Rasa's tracker events of those conversations
and whatever each module that keeps conversation data registers in
`ERASERS`. It returns the rows deleted per table, which the CLI prints.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Callable, Dict, List, Optional, Set

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db import init_db
from bot.touchpoints.models import Touchpoint

TP = Touchpoint.__table__

# "module:function" taking (connection, customer_id, conversation_ids) and
# returning {table: rows deleted}; modules that are not installed are skipped.
ERASERS: List[str] = [
    "bot.identity.erasure:erase_customer_data",
    "bot.channels.erasure:erase_customer_data",
    "bot.handoff.erasure:erase_customer_data",
    "bot.channels.botapi.payments:erase_customer_data",
    "bot.orchestration.erasure:erase_customer_data",
]


def _load(spec: str) -> Optional[Callable[..., Dict[str, int]]]:
    module_name, function = spec.split(":")
    try:
        return getattr(importlib.import_module(module_name), function)
    except ModuleNotFoundError:
        return None


def conversations_of(conn: Connection, customer_id: str) -> Set[str]:
    """Every conversation id in which `customer_id` was identified."""
    found = set(conn.execute(sa.select(TP.c.conversation_id).where(TP.c.customer_id == customer_id).distinct()).scalars())
    inspector = sa.inspect(conn)
    # bot.identity stores a verified conversation as channel "conversation",
    # external_id = the conversation id; one-time codes name their conversation.
    if inspector.has_table("verified_identities"):
        found |= set(conn.execute(sa.text(
            "SELECT DISTINCT external_id FROM verified_identities WHERE customer_id = :c AND channel = 'conversation'"
        ), {"c": customer_id}).scalars())
    if inspector.has_table("otp_codes"):
        found |= set(conn.execute(sa.text(
            "SELECT DISTINCT conversation_id FROM otp_codes WHERE customer_id = :c"
        ), {"c": customer_id}).scalars())
    return found


def erase_customer(customer_id: str, database_url: Optional[str] = None) -> Dict[str, int]:
    """Delete the customer's conversations everywhere; rows deleted per table."""
    engine = init_db(database_url)
    deleted: Dict[str, int] = {}
    with engine.begin() as conn:
        conversations = sorted(conversations_of(conn, customer_id))
        condition = TP.c.customer_id == customer_id
        if conversations:
            condition = sa.or_(condition, TP.c.conversation_id.in_(conversations))
        deleted["touchpoints"] = conn.execute(TP.delete().where(condition)).rowcount or 0
        if conversations and sa.inspect(conn).has_table("events"):
            deleted["events (Rasa tracker store)"] = conn.execute(
                sa.text("DELETE FROM events WHERE sender_id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": conversations},
            ).rowcount or 0
        for spec in ERASERS:
            eraser = _load(spec)
            if eraser is not None:
                deleted.update(eraser(conn, customer_id, conversations))
    return deleted


def drop_old_text(days: int, database_url: Optional[str] = None, now: Optional[dt.datetime] = None) -> int:
    """Blank `text`/`reply_text` of touchpoints older than `days`; rows stay for metrics."""
    engine = init_db(database_url)
    cutoff = (now or dt.datetime.utcnow()) - dt.timedelta(days=days)
    with engine.begin() as conn:
        result = conn.execute(
            TP.update()
            .where(TP.c.occurred_at < cutoff)
            .where(sa.or_(TP.c.text.isnot(None), TP.c.reply_text.isnot(None)))
            .values(text=None, reply_text=None)
        )
    return result.rowcount or 0
