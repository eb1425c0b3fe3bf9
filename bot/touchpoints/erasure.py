"""Erasing a customer's data on request, and dropping old text (retention).

`erase_customer` finds every conversation the customer took part in (from
touchpoints, verified channel identities, one-time codes, the touchpoint
spool files, and an `sms:` conversation per known phone number; touchpoints
name an SMS conversation by its pseudonymous reference `sms:ref-…`, so every id
is used in both forms, and a reference is traced back to its `sms:<phone>`
through Rasa's `events` and the SMS log), then
deletes, in one transaction, their touchpoints, Rasa's tracker events of
those conversations and whatever each module that keeps customer data
lists in `ERASERS`. Afterwards the spool files lose the customer's
lines and touchpoint writers in this process forget the conversations. It
returns the rows deleted per table, which the CLI prints.

A writer in another process (the Rasa server's broker) still remembers the
customer id of a conversation it saw, but the erase empties Rasa's `events`
for it, so the conversation's next message starts a new Rasa session; the
assembler resets its customer id on `session_started` and nothing re-attaches it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot import settings
from bot.channels.addresses import conversation_id, id_prefix
from bot import schema
from bot.channels import erasure as channel_erasure
from bot.channels.botapi import payments as messenger_payments
from bot.crm import erasure as crm_erasure
from bot.handoff import erasure as handoff_erasure
from bot.identity import erasure as identity_erasure
from bot.orchestration import erasure as orchestration_erasure
from bot.touchpoints.models import Touchpoint
from bot.touchpoints.privacy import conversation_ref, is_conversation_ref, stored_conversation_ids
from bot.touchpoints.recorder import files_with_rows, forget_conversations

TP = Touchpoint.__table__

Eraser = Callable[[Connection, str, List[str]], Dict[str, int]]

# Functions taking (connection, customer_id, conversation_ids) and returning {table: rows
# deleted}. Every table that can hold customer data is covered by one of them (this module
# erases `touchpoints`; tests/test_registries.py checks every table on `bot.db.Base`).
# Imported by name in code: an eraser that does not exist stops the import, not an erase
# half-way. Order matters: channels looks up the customer's phone numbers (in the CRM,
# one-time codes, verified identities), so it runs before crm and identity remove them.
ERASERS: Tuple[Eraser, ...] = (
    channel_erasure.erase_customer_data,
    messenger_payments.erase_customer_data,
    handoff_erasure.erase_customer_data,
    orchestration_erasure.erase_customer_data,
    crm_erasure.erase_customer_data,
    identity_erasure.erase_customer_data,
)

# Tables on `bot.db.Base` that hold no customer data, so no eraser touches them (why, each).
NO_CUSTOMER_DATA: Dict[str, str] = {
    "schema_migrations": "which schema migrations ran",
    "products": "the shop's catalogue",
    "discount_codes": "the shop's discount codes (a customer's own referral code is in referral_codes)",
    "order_items": "an order's lines (SKU, quantity, price): kept with the order, which is anonymised",
    "handoff_agents": "the shop's staff accounts",
    "handoff_sessions": "the staff's log-in sessions",
    "handoff_login_failures": "failed staff log-ins",
    "channel_inbound_seen": "ids of platform deliveries already handled (no text, no address)",
    "journey_watch": "the CRM watcher's last seen status per order and ticket id",
}


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


def resolve_references(conn: Connection, conversations: Set[str]) -> Set[str]:
    """The raw `sms:<phone>` ids behind the pseudonymous references among `conversations`.

    Touchpoints store an SMS conversation only as `sms:ref-…` (bot.touchpoints.privacy),
    which cannot be reversed; Rasa's `events` and the SMS log still name the phone, so
    their SMS ids whose reference is one of these are the customer's too.
    """
    references = {c for c in conversations if is_conversation_ref(c)}
    if not references:
        return set()
    inspector = sa.inspect(conn)
    candidates: Set[str] = set()
    if inspector.has_table("events"):
        candidates |= set(conn.execute(sa.text("SELECT DISTINCT sender_id FROM events WHERE sender_id LIKE :sms"),
                                       {"sms": id_prefix("sms") + "%"}).scalars())
    if inspector.has_table("sms_messages"):
        candidates |= {conversation_id("sms", phone) for phone in conn.execute(sa.text(
            "SELECT DISTINCT phone FROM sms_messages")).scalars() if phone}
    return {c for c in candidates if c and not is_conversation_ref(c) and conversation_ref(c) in references}


# -- spool files -------------------------------------------------------------------------
def _line_conversation(line: str) -> Tuple[Any, Any]:
    """(conversation id, customer id) of a spool line; (None, None) if unreadable."""
    try:
        item = json.loads(line)
    except ValueError:
        return None, None
    event = item.get("__event__") if isinstance(item, dict) else None
    if isinstance(event, dict):
        customer = event.get("value") if event.get("event") == "slot" and event.get("name") == "customer_id" else None
        return event.get("sender_id"), customer
    if isinstance(item, dict):
        return item.get("conversation_id"), item.get("customer_id")
    return None, None


def spooled_conversations(directory: Path, customer_id: str) -> Set[str]:
    """Conversations the spool files attach to `customer_id` (their rows may not be in the database yet)."""
    found: Set[str] = set()
    for path in files_with_rows(directory):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            conversation, customer = _line_conversation(line)
            if conversation and customer == customer_id:
                found.add(str(conversation))
    return found


def clean_spool_files(directory: Path, customer_id: str, conversations: Set[str]) -> int:
    """Rewrite the spool files without the lines of `conversations` (or, unreadable, mentioning them)."""
    removed = 0
    marks = {f'"{c}"' for c in conversations} | {f'"{customer_id}"'}
    for path in files_with_rows(directory):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        kept = []
        for line in lines:
            conversation, customer = _line_conversation(line)
            if conversation is None and customer is None:
                theirs = any(mark in line or mark[1:-1] in line for mark in marks)
            else:
                theirs = conversation in conversations or customer == customer_id
            if not theirs:
                kept.append(line)
        if len(kept) != len(lines):
            removed += len(lines) - len(kept)
            temporary = path.with_name(path.name + ".erasing")
            temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
            os.replace(temporary, path)
    return removed


def erase_customer(customer_id: str, database_url: Optional[str] = None) -> Dict[str, int]:
    """Delete the customer's conversations everywhere; rows deleted per table."""
    engine = schema.engine(database_url)
    spool_dir = settings.STATE_DIR
    deleted: Dict[str, int] = {}
    with engine.begin() as conn:
        found = conversations_of(conn, customer_id) | spooled_conversations(spool_dir, customer_id)
        found |= resolve_references(conn, found)  # touchpoints name SMS conversations by reference only
        phones = channel_erasure.phones_of(conn, customer_id, sorted(c for c in found if not is_conversation_ref(c)))
        found |= {conversation_id("sms", phone) for phone in phones} | {f"journey:{customer_id}"}
        found |= {f"journey:phone:{phone}" for phone in phones}
        # Both forms of every id: touchpoints (and their spool rows) store `sms:ref-…`, Rasa's
        # `events` and the other modules' tables the raw `sms:<phone>`; a reference matches nothing there.
        conversations = sorted(stored_conversation_ids(found))
        forget_conversations(conversations)  # before the delete: pending rows of them are dropped
        condition = sa.or_(TP.c.customer_id == customer_id, TP.c.conversation_id.in_(conversations))
        deleted["touchpoints"] = conn.execute(TP.delete().where(condition)).rowcount or 0
        if sa.inspect(conn).has_table("events"):
            deleted["events (Rasa tracker store)"] = conn.execute(
                sa.text("DELETE FROM events WHERE sender_id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": conversations},
            ).rowcount or 0
        for eraser in ERASERS:
            deleted.update(eraser(conn, customer_id, conversations))
    deleted["spool file lines"] = clean_spool_files(spool_dir, customer_id, set(conversations))
    return deleted


def drop_old_text(days: int, database_url: Optional[str] = None, now: Optional[dt.datetime] = None) -> int:
    """Blank `text`/`reply_text` of touchpoints older than `days`; rows stay for metrics."""
    engine = schema.engine(database_url)
    cutoff = (now or dt.datetime.utcnow()) - dt.timedelta(days=days)
    with engine.begin() as conn:
        result = conn.execute(
            TP.update()
            .where(TP.c.occurred_at < cutoff)
            .where(sa.or_(TP.c.text.isnot(None), TP.c.reply_text.isnot(None)))
            .values(text=None, reply_text=None)
        )
    return result.rowcount or 0
