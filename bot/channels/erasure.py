"""Erasing a customer (`hamsafar erase`, bot.touchpoints.erasure.ERASERS) from the channels' tables.

The channels key their rows by address, not by customer: SMS rows and SMS consent by
the E.164 phone, web history and web consent by the widget session, Telegram/Bale
consent by the chat, button callbacks by a hash of the payload. So the customer's
addresses are worked out first (`phones_of`, from their SMS conversations, one-time
codes, verified SMS numbers and CRM record) and every row at one of them is deleted —
opt-outs included: the erased person's number is forgotten with the rest (docs/channels.md).
`channel_inbound_seen` keeps only provider message ids and is left alone;
`messenger_payments` has its own eraser (bot.channels.botapi.payments).
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Set

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.channels import addresses as conversation_addresses
from bot.channels.models import ChannelConsent, SmsMessage, TelegramCallback, WebMessage
from bot.text.identifiers import normalise_phone
from bot.text.persian import to_ascii_digits

# The channels whose tables key rows by address (REST keeps nothing of its own).
CHANNELS = ("sms", "telegram", "bale", "web")


def _addresses(conversation_ids: Iterable[str]) -> Dict[str, Set[str]]:
    """{channel: addresses} of conversation ids like `sms:+98…`, `tg:123:456`, `web:abc`."""
    found: Dict[str, Set[str]] = {channel: set() for channel in CHANNELS}
    for conversation in conversation_ids:
        parsed = conversation_addresses.parse(conversation)
        if parsed is None or parsed.channel not in found:
            continue
        if parsed.channel == "sms":
            found["sms"].add(normalise_phone(parsed.address) or parsed.address)
        elif parsed.channel == "web":
            found["web"].update({parsed.address, conversation})
        else:
            found[parsed.channel].add(parsed.chat)  # the chat (groups: chat:user)
    return found


def _column_values(conn: Connection, sql: str, params: Dict[str, object], table: str) -> Set[str]:
    if not sa.inspect(conn).has_table(table):
        return set()
    return {str(value) for value in conn.execute(sa.text(sql), params).scalars() if value}


def phones_of(conn: Connection, customer_id: str, conversation_ids: List[str]) -> Set[str]:
    """Every E.164 number known to be the customer's (run before identity and CRM data go)."""
    phones = set(_addresses(conversation_ids)["sms"])
    phones |= _column_values(conn, "SELECT phone FROM customers WHERE customer_id = :c", {"c": customer_id}, "customers")
    phones |= _column_values(conn, "SELECT external_id FROM verified_identities WHERE customer_id = :c AND channel = 'sms'",
                             {"c": customer_id}, "verified_identities")
    phones |= _column_values(conn, "SELECT phone FROM otp_codes WHERE customer_id = :c", {"c": customer_id}, "otp_codes")
    if conversation_ids:
        phones |= _otp_phones(conn, conversation_ids)
    return {normalise_phone(phone) or phone for phone in phones}


def _otp_phones(conn: Connection, conversation_ids: List[str]) -> Set[str]:
    if not sa.inspect(conn).has_table("otp_codes"):
        return set()
    query = sa.text("SELECT phone FROM otp_codes WHERE conversation_id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True))
    return {str(p) for p in conn.execute(query, {"ids": conversation_ids}).scalars() if p}


def _digits(text: str) -> str:
    return re.sub(r"[\s\-.\u200c]", "", to_ascii_digits(text)).lower()


def erase_customer_data(conn: Connection, customer_id: str, conversation_ids: List[str]) -> Dict[str, int]:
    """Delete the customer's SMS log, web history, consent rows and button callbacks that name them."""
    addresses = _addresses(conversation_ids)
    phones = phones_of(conn, customer_id, conversation_ids)
    addresses["sms"] |= phones
    sms, web, consent = SmsMessage.__table__, WebMessage.__table__, ChannelConsent.__table__
    deleted = {"sms_messages": 0, "web_messages": 0, "web_sessions": 0, "channel_consent": 0, "telegram_callbacks": 0}
    if phones:
        deleted["sms_messages"] = conn.execute(sms.delete().where(sms.c.phone.in_(sorted(phones)))).rowcount or 0
    if addresses["web"]:
        deleted["web_messages"] = conn.execute(
            web.delete().where(web.c.session_id.in_(sorted(addresses["web"])))).rowcount or 0
    from bot.channels.web import erase_web_sessions

    deleted["web_sessions"] = erase_web_sessions(conn, conversation_ids)
    for channel, values in addresses.items():
        if values:
            deleted["channel_consent"] += conn.execute(consent.delete().where(
                consent.c.channel == channel, consent.c.address.in_(sorted(values)))).rowcount or 0
    # Callback payloads are shared by everyone who saw the same button; only those
    # naming the customer (a phone, an email, a conversation) are theirs.
    email = _column_values(conn, "SELECT email FROM customers WHERE customer_id = :c", {"c": customer_id}, "customers")
    marks = {_digits(p)[-10:] for p in phones} | {e.lower() for e in email} | {_digits(c) for c in conversation_ids}
    marks.discard("")
    callbacks = TelegramCallback.__table__
    theirs = [short_id for short_id, payload in conn.execute(sa.select(callbacks.c.short_id, callbacks.c.payload))
              if any(mark in _digits(payload) for mark in marks)]
    if theirs:
        deleted["telegram_callbacks"] = conn.execute(
            callbacks.delete().where(callbacks.c.short_id.in_(theirs))).rowcount or 0
    return deleted
