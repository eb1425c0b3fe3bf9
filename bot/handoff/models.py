"""Tables of the human handoff: agents, their sessions, the queue, notes and the audit log.

* `handoff_agents` — console users (role `agent`, `admin` or `analyst`), scrypt password hashes.
* `handoff_sessions` — server-side console sessions (only the SHA-256 of the cookie is stored).
* `handoff_login_failures` — failed logins, for rate limiting by login and by address.
* `handoff_conversations` — one row per handoff of a conversation: the queue. `status` is
  `waiting` -> `active` (claimed by exactly one agent) -> `returned` (handed back to the bot)
  or `closed` (with a disposition); `timed_out` (no agent claimed in time: apology + ticket) and
  `after_hours` (asked outside working hours: ticket) never reach an agent.
* `handoff_notes` — internal notes of agents on a handoff (never shown to the customer).
* `handoff_audit` — every agent action: who, what, when, on which handoff.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from bot.db import Base


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


ROLES = ("agent", "admin", "analyst")
OPEN_STATUSES = ("waiting", "active")
STATUSES = ("waiting", "active", "returned", "closed", "timed_out", "after_hours")
DISPOSITIONS = ("resolved", "ticket_opened", "no_response", "duplicate", "other")


class Agent(Base):
    """Table `handoff_agents`: a person who may log in to the console, with a role."""

    __tablename__ = "handoff_agents"

    id = sa.Column(sa.Integer, primary_key=True)
    login = sa.Column(sa.String(64), nullable=False, unique=True)
    display_name = sa.Column(sa.String(120), nullable=False, default="")
    role = sa.Column(sa.String(16), nullable=False, default="agent")
    password_hash = sa.Column(sa.String(300), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class AgentSession(Base):
    """Table `handoff_sessions`: a logged-in console session (hashed token, CSRF token, expiry)."""

    __tablename__ = "handoff_sessions"

    token_hash = sa.Column(sa.String(64), primary_key=True)
    agent_id = sa.Column(sa.Integer, sa.ForeignKey("handoff_agents.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = sa.Column(sa.String(64), nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    expires_at = sa.Column(sa.DateTime, nullable=False)
    last_seen_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class LoginFailure(Base):
    """Table `handoff_login_failures`: failed log-ins, counted to slow down password guessing."""

    __tablename__ = "handoff_login_failures"

    id = sa.Column(sa.Integer, primary_key=True)
    login = sa.Column(sa.String(64), nullable=False, index=True)
    address = sa.Column(sa.String(64), nullable=False, index=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)


class Handoff(Base):
    """Table `handoff_conversations`: one handoff of a conversation to a person, from waiting to closed."""

    __tablename__ = "handoff_conversations"
    __table_args__ = (sa.Index("ix_handoff_conv_status", "conversation_id", "status"),
                      sa.Index("ix_handoff_status_requested", "status", "requested_at"))

    id = sa.Column(sa.Integer, primary_key=True)
    conversation_id = sa.Column(sa.String(255), nullable=False)
    channel = sa.Column(sa.String(32), nullable=True)
    language = sa.Column(sa.String(8), nullable=False, default="fa")
    journey_stage = sa.Column(sa.String(32), nullable=True)
    goal = sa.Column(sa.String(64), nullable=True)
    reason = sa.Column(sa.String(32), nullable=False, default="requested")  # requested | fallback | upset | error
    customer_id = sa.Column(sa.String(100), nullable=True, index=True)
    status = sa.Column(sa.String(16), nullable=False, default="waiting")
    requested_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    claimed_at = sa.Column(sa.DateTime, nullable=True)
    agent_login = sa.Column(sa.String(64), nullable=True, index=True)
    ended_at = sa.Column(sa.DateTime, nullable=True)
    disposition = sa.Column(sa.String(32), nullable=True)
    ticket_ref = sa.Column(sa.String(64), nullable=True)
    summary = sa.Column(sa.Text, nullable=True)   # the customer's last message before the handoff (for the queue)


class Note(Base):
    """Table `handoff_notes`: an agent's internal note on a handoff (never shown to the customer)."""

    __tablename__ = "handoff_notes"

    id = sa.Column(sa.Integer, primary_key=True)
    handoff_id = sa.Column(sa.Integer, sa.ForeignKey("handoff_conversations.id", ondelete="CASCADE"), nullable=False, index=True)
    conversation_id = sa.Column(sa.String(255), nullable=False, index=True)
    agent_login = sa.Column(sa.String(64), nullable=False)
    text = sa.Column(sa.Text, nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class AuditEntry(Base):
    """Table `handoff_audit`: who did what in the console, when, on which handoff."""

    __tablename__ = "handoff_audit"

    id = sa.Column(sa.Integer, primary_key=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)
    actor = sa.Column(sa.String(64), nullable=False, index=True)   # agent login, or "system"
    action = sa.Column(sa.String(32), nullable=False)
    handoff_id = sa.Column(sa.Integer, nullable=True, index=True)
    conversation_id = sa.Column(sa.String(255), nullable=True)
    detail = sa.Column(sa.JSON, nullable=True)
    address = sa.Column(sa.String(64), nullable=True)
