"""Web sessions: the widget's bearer tokens, which conversation each opens, rotation and expiry.

The token (cookie `hamsafar_web`, or `session_id` in the body/query for API clients) is
only a key to a row of `web_sessions`, which names the conversation (`web:<conversation>`).
It is rotated when the conversation becomes verified; verified state ends after an idle
and an absolute limit (docs/web_sessions.md). Conversation keys minted here contain a
dot, so a client can never present one as its token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, List, Optional

import sqlalchemy as sa

from bot import settings
from bot.channels.addresses import address_of, channel_of, conversation_id
from bot.channels.models import WebSession, utcnow
from bot import schema

from ._errors import SessionEnded
from ._live import notify_conversation_ended

SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
COOKIE = "hamsafar_web"

# Defaults of the session limits (docs/web_sessions.md), owned by bot.settings; credentials.yml or
# the environment override them.
DEFAULT_VERIFIED_IDLE_MINUTES: float = settings.default_of("HAMSAFAR_WEB_VERIFIED_IDLE_MINUTES")
DEFAULT_VERIFIED_MAX_HOURS: float = settings.default_of("HAMSAFAR_WEB_VERIFIED_MAX_HOURS")
DEFAULT_SESSION_MAX_DAYS: float = settings.default_of("HAMSAFAR_WEB_SESSION_MAX_DAYS")


def session_of(recipient_id: str) -> str:
    """The conversation key of `web:<key>` (what web_messages.session_id holds)."""
    return address_of(recipient_id, "web")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh bearer token (256 bits; matches SESSION_RE)."""
    return secrets.token_urlsafe(32)


def new_conversation_key() -> str:
    """A conversation key no client can present as a token (the dot is outside SESSION_RE)."""
    return "w." + secrets.token_urlsafe(18)


@dataclass
class SessionLimits:
    """How long a session lives; every value is configurable (docs/web_sessions.md)."""

    verified_idle: dt.timedelta = dt.timedelta(minutes=DEFAULT_VERIFIED_IDLE_MINUTES)
    verified_max: dt.timedelta = dt.timedelta(hours=DEFAULT_VERIFIED_MAX_HOURS)
    session_max: dt.timedelta = dt.timedelta(days=DEFAULT_SESSION_MAX_DAYS)


@dataclass
class Live:
    """A resolved, usable session: its token and conversation key (`web:<conversation>`)."""

    token: str
    conversation: str
    verified_since: Optional[dt.datetime]
    created: bool = False          # a new token was issued in this request (set the cookie / tell the client)


def verified_customer(conversation: str) -> Optional[str]:
    """The customer this conversation is verified as, if any."""
    from bot.identity.verification import get_verifier

    return get_verifier().customer_for(conversation_id("web", conversation))


def _forget_verification(conversation: str) -> None:
    from bot.identity.verification import get_verifier

    get_verifier().forget(conversation_id("web", conversation))


def _end(row: WebSession, reason: str, now: dt.datetime) -> None:
    """Mark the row ended; callers forget the verification after their transaction (one writer at a time on SQLite)."""
    row.ended_at, row.end_reason = now, reason


def _claimable(session: Any, token: str) -> bool:
    """A client-chosen id may start a session only if no session ever opened that conversation."""
    taken = session.execute(sa.select(sa.func.count()).select_from(WebSession)
                            .where(WebSession.conversation == token)).scalar()
    return not taken


def resolve_session(token: str, limits: SessionLimits, *, claim: bool = False,
                    now: Optional[dt.datetime] = None) -> Live:
    """The live session of `token`, ending it first if its time is up; SessionEnded otherwise.

    `claim`: an unknown, well-formed client-chosen id starts a session whose conversation is
    that id (the API clients' form); server-minted tokens are never claimed.
    """
    try:
        return _resolve_session(token, limits, claim, now)
    except sa.exc.IntegrityError:  # two first requests of one new id at once: the other one claimed it
        return _resolve_session(token, limits, claim, now)


def _resolve_session(token: str, limits: SessionLimits, claim: bool, now: Optional[dt.datetime]) -> Live:
    now = now or utcnow()
    reason: Optional[str] = None
    with schema.session() as session:
        row = session.get(WebSession, _hash(token))
        if row is None:
            if claim and _claimable(session, token):
                row = WebSession(token_hash=_hash(token), conversation=token, created_at=now, last_seen_at=now)
                session.add(row)
                return Live(token, token, None)
            reason = "unknown"
        elif row.ended_at is not None:
            reason = row.end_reason or "ended"
        elif now - row.created_at > limits.session_max:
            _end(row, "expired", now)
            reason = "expired"
        elif row.verified_since is not None and (
                now - row.verified_since > limits.verified_max
                or now - max(row.last_seen_at, row.verified_since) > limits.verified_idle):
            _end(row, "expired", now)
            reason = "expired"
        else:
            return Live(token, row.conversation, row.verified_since)
    if reason == "expired":
        _forget_verification(row.conversation)
        notify_conversation_ended(row.conversation)
    raise SessionEnded(reason)


def start_session(now: Optional[dt.datetime] = None, conversation: Optional[str] = None,
                  verified: bool = False) -> Live:
    """A new token for a new (or the given) conversation."""
    now = now or utcnow()
    token = new_token()
    conversation = conversation or new_conversation_key()
    with schema.session() as session:
        session.add(WebSession(token_hash=_hash(token), conversation=conversation, created_at=now,
                               last_seen_at=now, verified_since=now if verified else None))
    return Live(token, conversation, now if verified else None, created=True)


def rotate_session(live: Live, now: Optional[dt.datetime] = None) -> Live:
    """The conversation became verified: a new token, and the old one opens nothing any more."""
    now = now or utcnow()
    token = new_token()
    with schema.session() as session:
        old = session.get(WebSession, _hash(live.token))
        created = old.created_at if old is not None else now
        if old is not None:
            _end(old, "rotated", now)
        session.add(WebSession(token_hash=_hash(token), conversation=live.conversation, created_at=created,
                               last_seen_at=now, verified_since=now))
    return Live(token, live.conversation, now, created=True)


def end_session(token: str, reason: str, now: Optional[dt.datetime] = None) -> Optional[str]:
    """End the session of `token` (log out, replaced) and forget its verification; its conversation key."""
    now = now or utcnow()
    with schema.session() as session:
        row = session.get(WebSession, _hash(token))
        if row is None or row.ended_at is not None:
            return None
        _end(row, reason, now)
        conversation = row.conversation
    _forget_verification(conversation)
    notify_conversation_ended(conversation)
    return conversation


def touch_session(live: Live, now: Optional[dt.datetime] = None) -> None:
    """The customer wrote: the idle clock starts again."""
    with schema.session() as session:
        row = session.get(WebSession, _hash(live.token))
        if row is not None:
            row.last_seen_at = now or utcnow()


def erase_web_sessions(conn: Any, conversation_ids: List[str]) -> int:
    """Delete the session rows of erased `web:` conversations (for bot.channels.erasure)."""
    keys = [session_of(c) for c in conversation_ids if channel_of(c) == "web"]
    if not keys or not sa.inspect(conn).has_table("web_sessions"):
        return 0
    table = WebSession.__table__
    return conn.execute(table.delete().where(table.c.conversation.in_(keys))).rowcount or 0
