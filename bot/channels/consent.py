"""Consent: the ONE place every outbound message is checked against opt-out.

Every output path (Telegram, Bale, web widget, SMS, proactive journeys, agent replies)
calls `check_outbound` before it sends. The policy:

* SMS: an opted-out number gets nothing at all (no replies, no reminders, no
  one-time codes) until it opts back in. The single exception is the one
  confirmation of the opt-out itself (`kind="opt_out_confirmation"`), sent once.
* Telegram, Bale and web: an opted-out chat/session gets no bot-initiated
  (`proactive=True`) messages; replies to a message the customer just sent are
  still delivered. A Telegram or Bale chat that blocked the bot
  (`source="blocked"`) gets nothing until it writes again.

Opt-out keywords («لغو», «لغو۱۱», STOP, UNSUBSCRIBE, ...) and opt-in keywords
(START, «شروع», ...) are recognised by `keyword()` after normalising Persian
letters and digits, case and surrounding punctuation.
"""

from __future__ import annotations

import logging
import re
from typing import Optional

from bot import schema
from bot.text.identifiers import normalise_phone
from bot.text.persian import normalise

from bot.channels import addresses
from bot.channels.models import ChannelConsent, utcnow

logger = logging.getLogger(__name__)

OPT_OUT_WORDS = frozenset(
    {"لغو", "لغو11", "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "opt-out"}
)
# Recognised whenever the number is opted out; START/شروع also when it is not.
OPT_IN_WORDS = frozenset({"start", "شروع", "unstop", "yes", "بله"})
ALWAYS_OPT_IN_WORDS = frozenset({"start", "unstop"})

_STRIP = re.compile(r"[\s\u200c.!?؟،,;:«»\"'()\[\]\-_*]+")


class ConsentDenied(Exception):
    """Raised by `ensure_may_send` when the recipient has opted out."""


def _canonical_word(text: str) -> str:
    return _STRIP.sub("", normalise(text or "")).casefold()


def keyword(text: str) -> Optional[str]:
    """`"opt_out"`, `"opt_in"` or None for a whole message `text`."""
    word = _canonical_word(text)
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    return None


def normalise_address(channel: str, address: str) -> str:
    """The address consent is keyed by: E.164 phone for SMS, else the id as given.

    Conversation ids carry a channel prefix (`sms:+98...`, `tg:123`, `bale:123`, `web:abc`);
    it is removed here so both forms find the same record.
    """
    address = addresses.address_of(address)
    if channel == "sms":
        return normalise_phone(address) or address
    if channel in addresses.CHAT_CHANNELS:
        return addresses.chat_part(address)  # the chat; in groups `chat:user`
    return address


def _get(session, channel: str, address: str) -> Optional[ChannelConsent]:
    return session.get(ChannelConsent, (channel, address))


def is_opted_out(channel: str, address: str) -> bool:
    address = normalise_address(channel, address)
    with schema.session() as session:
        row = _get(session, channel, address)
        return bool(row and row.opted_out)


def check_outbound(channel: str, address: str, *, proactive: bool = False, kind: str = "message") -> bool:
    """May a message of `kind` be sent to `address` on `channel` now?

    `kind="opt_out_confirmation"` is allowed exactly once per opt-out and is
    marked as used by this call.
    """
    address = normalise_address(channel, address)
    with schema.session() as session:
        row = _get(session, channel, address)
        if row is None or not row.opted_out:
            return True
        if kind == "opt_out_confirmation":
            if row.confirmation_sent:
                return False
            row.confirmation_sent = True
            return True
        if channel == "sms" or row.source == "blocked":
            allowed = False
        else:
            allowed = not proactive
    if not allowed:
        logger.info("consent: not sending %s to an opted-out %s recipient", kind, channel)
    return allowed


def ensure_may_send(channel: str, address: str, *, proactive: bool = False, kind: str = "message") -> None:
    if not check_outbound(channel, address, proactive=proactive, kind=kind):
        raise ConsentDenied(f"{channel} recipient opted out")


def opt_out(channel: str, address: str, *, source: str = "keyword") -> bool:
    """Record an opt-out; True if the state changed (then a confirmation is due)."""
    address = normalise_address(channel, address)
    with schema.session() as session:
        row = _get(session, channel, address)
        if row is None:
            row = ChannelConsent(channel=channel, address=address, opted_out=False, confirmation_sent=False)
            session.add(row)
        if row.opted_out:
            return False
        row.opted_out = True
        row.source = source
        row.confirmation_sent = False
        row.updated_at = utcnow()
        return True


def opt_in(channel: str, address: str, *, source: str = "keyword") -> bool:
    """Record an opt-in; True if the address was opted out before."""
    address = normalise_address(channel, address)
    with schema.session() as session:
        row = _get(session, channel, address)
        if row is None or not row.opted_out:
            return False
        row.opted_out = False
        row.source = source
        row.updated_at = utcnow()
        return True


def opt_out_source(channel: str, address: str) -> Optional[str]:
    address = normalise_address(channel, address)
    with schema.session() as session:
        row = _get(session, channel, address)
        return row.source if row and row.opted_out else None
