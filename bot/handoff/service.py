"""The handoff queue and the console's accounts: plain synchronous functions on our database.

Used by the action server (`action_request_human` puts a conversation in the queue)
and by the agent console inside the Rasa server (claim, reply, hand back, close).
Every state change is a conditional UPDATE (`... WHERE status = 'waiting'`), so two
agents clicking "claim" at once, or two server processes expiring the same
conversation, can never both win.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import sqlalchemy as sa

from bot import schema, settings
from bot.handoff import config
from bot.handoff.models import (DISPOSITIONS, OPEN_STATUSES, ROLES, Agent, AgentSession, AuditEntry, Handoff,
                                LoginFailure, Note, utcnow)

logger = logging.getLogger(__name__)

SESSION_LIFETIME = dt.timedelta(hours=12)
SESSION_IDLE = dt.timedelta(hours=2)
FAILURE_WINDOW = dt.timedelta(minutes=15)
# Failed logins allowed in the window: for one account from one address (the owner elsewhere is
# not locked out), from one address whatever the accounts (password spraying), and for one account
# from everywhere (a distributed guess; high, so that nobody locks a colleague out by mistake).
MAX_FAILURES_PER_LOGIN_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 20
MAX_FAILURES_PER_LOGIN = 50


def ensure_tables() -> None:
    """Have the schema ready before the first request (the console calls it at start)."""
    schema.engine()


# --------------------------------------------------------------------------- passwords
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "scrypt${}${}${}${}${}".format(SCRYPT_N, SCRYPT_R, SCRYPT_P, base64.b64encode(salt).decode(),
                                          base64.b64encode(digest).decode())


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
        return hmac.compare_digest(actual, expected)
    except (ValueError, TypeError):
        return False


_DUMMY_HASH = hash_password(secrets.token_hex(8))  # equal work for unknown logins


# --------------------------------------------------------------------------- agents
class AgentError(ValueError):
    """A console user could not be created or changed (bad login, role or password); the message says why."""


def _agent_dict(agent: Agent) -> Dict[str, Any]:
    return {"id": agent.id, "login": agent.login, "display_name": agent.display_name or agent.login,
            "role": agent.role, "active": agent.active}


def create_agent(login: str, password: str, role: str = "agent", display_name: str = "") -> Dict[str, Any]:
    login = (login or "").strip().lower()
    if not login or len(login) > 64 or not all(c.isalnum() or c in "._-@" for c in login):
        raise AgentError("login must be 1-64 letters, digits, '.', '_', '-' or '@'")
    if role not in ROLES:
        raise AgentError(f"role must be one of {', '.join(ROLES)}")
    if len(password or "") < 10:
        raise AgentError("password must have at least 10 characters")
    with schema.session() as session:
        if session.execute(sa.select(Agent.id).where(Agent.login == login)).first():
            raise AgentError(f"agent {login!r} exists")
        agent = Agent(login=login, password_hash=hash_password(password), role=role,
                      display_name=(display_name or login)[:120], active=True)
        session.add(agent)
        session.flush()
        return _agent_dict(agent)


def set_password(login: str, password: str) -> None:
    if len(password or "") < 10:
        raise AgentError("password must have at least 10 characters")
    with schema.session() as session:
        agent = session.execute(sa.select(Agent).where(Agent.login == login.lower())).scalar_one_or_none()
        if agent is None:
            raise AgentError(f"no agent {login!r}")
        agent.password_hash = hash_password(password)
        session.execute(sa.delete(AgentSession).where(AgentSession.agent_id == agent.id))


def set_active(login: str, active: bool) -> None:
    with schema.session() as session:
        agent = session.execute(sa.select(Agent).where(Agent.login == login.lower())).scalar_one_or_none()
        if agent is None:
            raise AgentError(f"no agent {login!r}")
        agent.active = active
        if not active:
            session.execute(sa.delete(AgentSession).where(AgentSession.agent_id == agent.id))


def list_agents() -> List[Dict[str, Any]]:
    with schema.session() as session:
        return [_agent_dict(a) for a in session.execute(sa.select(Agent).order_by(Agent.login)).scalars()]


class RateLimited(Exception):
    """Too many failed log-ins for this login or address: try again later."""


def authenticate(login: str, password: str, address: str = "", now: Optional[dt.datetime] = None) -> Optional[Dict[str, Any]]:
    """The agent for a correct login and password; None if wrong; RateLimited after too many failures.

    The attempt is recorded (committed) before anything is counted, so that parallel guesses
    count each other: the count never lags behind the attempts. A success clears the failures of
    that login from that address. Behind a reverse proxy the address is the client's only when the
    proxy is trusted (`SANIC_PROXIES_COUNT`, docs/handoff.md)."""
    now = now or utcnow()
    login = (login or "").strip().lower()[:64]
    address = (address or "")[:64]
    since = now - FAILURE_WINDOW
    with schema.session() as session:
        session.add(LoginFailure(login=login, address=address, at=now))

    def failures(session: Any, *conditions: Any) -> int:
        return session.execute(sa.select(sa.func.count()).select_from(LoginFailure).where(
            LoginFailure.at >= since, *conditions)).scalar() or 0

    with schema.session() as session:
        if failures(session, LoginFailure.login == login, LoginFailure.address == address) \
                > MAX_FAILURES_PER_LOGIN_AND_ADDRESS \
                or failures(session, LoginFailure.address == address) > MAX_FAILURES_PER_ADDRESS \
                or failures(session, LoginFailure.login == login) > MAX_FAILURES_PER_LOGIN:
            raise RateLimited()
        agent = session.execute(sa.select(Agent).where(Agent.login == login)).scalar_one_or_none()
        ok = verify_password(password or "", agent.password_hash if agent else _DUMMY_HASH)
        if agent is None or not ok or not agent.active:
            return None   # the attempt stays recorded as a failure
        session.execute(sa.delete(LoginFailure).where(LoginFailure.login == login, LoginFailure.address == address))
        return _agent_dict(agent)


def create_session(agent_id: int, now: Optional[dt.datetime] = None) -> Dict[str, str]:
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with schema.session() as session:
        session.add(AgentSession(token_hash=_token_hash(token), agent_id=agent_id, csrf_token=csrf,
                                 created_at=now, expires_at=now + SESSION_LIFETIME, last_seen_at=now))
        session.execute(sa.delete(AgentSession).where(AgentSession.expires_at < now))
    return {"token": token, "csrf": csrf}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_agent(token: Optional[str], now: Optional[dt.datetime] = None) -> Optional[Dict[str, Any]]:
    """The agent (with the session's `csrf`) of a live session cookie, else None."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    with schema.session() as session:
        row = session.execute(sa.select(AgentSession, Agent).join(Agent, Agent.id == AgentSession.agent_id)
                              .where(AgentSession.token_hash == _token_hash(token))).first()
        if row is None:
            return None
        sess, agent = row
        if sess.expires_at < now or sess.last_seen_at < now - SESSION_IDLE or not agent.active:
            session.delete(sess)
            return None
        if (now - sess.last_seen_at).total_seconds() > 60:
            sess.last_seen_at = now
        return {**_agent_dict(agent), "csrf": sess.csrf_token}


def end_session(token: Optional[str]) -> None:
    if token:
        with schema.session() as session:
            session.execute(sa.delete(AgentSession).where(AgentSession.token_hash == _token_hash(token)))


# --------------------------------------------------------------------------- audit
def audit(actor: str, action: str, *, handoff_id: Optional[int] = None, conversation_id: Optional[str] = None,
          detail: Optional[Dict[str, Any]] = None, address: Optional[str] = None) -> None:
    with schema.session() as session:
        session.add(AuditEntry(actor=actor[:64], action=action[:32], handoff_id=handoff_id,
                               conversation_id=conversation_id, detail=detail, address=(address or "")[:64] or None))


def audit_log(limit: int = 200) -> List[Dict[str, Any]]:
    with schema.session() as session:
        rows = session.execute(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).scalars().all()
        return [{"at": _iso(r.at), "actor": r.actor, "action": r.action, "handoff_id": r.handoff_id,
                 "detail": r.detail} for r in rows]


# --------------------------------------------------------------------------- the queue
def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return value.isoformat() + "Z" if value else None


def handoff_dict(row: Handoff, now: Optional[dt.datetime] = None) -> Dict[str, Any]:
    now = now or utcnow()
    waited_until = row.claimed_at or row.ended_at or now
    return {
        "id": row.id, "conversation_id": row.conversation_id, "channel": row.channel, "language": row.language,
        "journey_stage": row.journey_stage, "goal": row.goal, "reason": row.reason, "customer_id": row.customer_id,
        "status": row.status, "agent": row.agent_login, "requested_at": _iso(row.requested_at),
        "claimed_at": _iso(row.claimed_at), "ended_at": _iso(row.ended_at), "disposition": row.disposition,
        "ticket": row.ticket_ref, "summary": row.summary,
        "waiting_seconds": int(max(0.0, (waited_until - row.requested_at).total_seconds())),
    }


# Limits on handoff requests (issue 17, finding 9): without them anyone could fill the agents' queue
# with conversations, and open a CRM ticket per request outside working hours.
REQUEST_WINDOW = dt.timedelta(hours=24)
SAME_CLOSURE_AT_MOST = dt.timedelta(days=7)   # an after-hours ticket is reused within one closure, this long at most


def max_requests_per_conversation() -> int:
    """Handoffs one conversation, or one known customer on any channel, may start in 24 hours.

    5 by default: a customer handed back, timed out or closed can ask again a few times a day;
    more is a loop or a flood. Each one costs an agent's attention (or a ticket)."""
    return max(1, settings.current().handoff_max_requests_per_day)


def max_waiting() -> int:
    """Conversations waiting for an agent at most (100 by default); beyond it a customer is told
    the queue is full instead of being promised an agent who would time out anyway."""
    return max(1, settings.current().handoff_max_waiting)


def max_after_hours_tickets() -> int:
    """CRM tickets opened for after-hours requests in 24 hours, all conversations together (200 by
    default): beyond it the customer is asked to write again when agents are back, no ticket."""
    return max(0, settings.current().handoff_max_after_hours_tickets)


class _QueueFull(Exception):
    """Rolls back the insert that would have put a conversation beyond `max_waiting()`."""


@dataclass
class HandoffOutcome:
    """What a request for a person led to (queued, after hours, limited, queue full), so the action can
    tell the customer."""

    status: str                       # queued | waiting | with_agent | after_hours | limited | queue_full
    handoff_id: Optional[int] = None
    position: Optional[int] = None
    ticket: Optional[str] = None
    back_at: Optional[dt.datetime] = None   # after_hours: when agents are back (aware, local)


def open_handoff(conversation_id: str) -> Optional[Dict[str, Any]]:
    with schema.session() as session:
        row = session.execute(sa.select(Handoff).where(Handoff.conversation_id == conversation_id,
                                                       Handoff.status.in_(OPEN_STATUSES))
                              .order_by(Handoff.id.desc()).limit(1)).scalar_one_or_none()
        return handoff_dict(row) if row else None


def latest_handoff(conversation_id: str) -> Optional[Dict[str, Any]]:
    """The conversation's newest handoff, whatever its status (None if it never reached the queue)."""
    with schema.session() as session:
        row = session.execute(sa.select(Handoff).where(Handoff.conversation_id == conversation_id)
                              .order_by(Handoff.id.desc()).limit(1)).scalar_one_or_none()
        return handoff_dict(row) if row else None


def queue_position(handoff_id: int) -> Optional[int]:
    with schema.session() as session:
        row = session.get(Handoff, handoff_id)
        if row is None or row.status != "waiting":
            return None
        return _position_in_queue(session, row.id)


def _position_in_queue(session: Any, handoff_id: int) -> int:
    """1 + the waiting handoffs older than this one."""
    ahead = session.execute(sa.select(sa.func.count()).select_from(Handoff).where(
        Handoff.status == "waiting", Handoff.id < handoff_id)).scalar() or 0
    return int(ahead) + 1


def _same_requester(conversation_id: str, customer_id: Optional[str]) -> Any:
    """Handoff rows of this conversation, or of this known customer on any channel."""
    condition = Handoff.conversation_id == conversation_id
    return sa.or_(condition, Handoff.customer_id == customer_id) if customer_id else condition


def request_handoff(conversation_id: str, *, channel: Optional[str] = None, language: str = "fa",
                    journey_stage: Optional[str] = None, goal: Optional[str] = None, reason: str = "requested",
                    customer_id: Optional[str] = None, summary: Optional[str] = None,
                    now: Optional[dt.datetime] = None, hours: Optional[config.WorkingHours] = None) -> HandoffOutcome:
    """Put a conversation in the queue (or say where it already is, or open a ticket after hours).

    Bounded (issue 17, finding 9): one open handoff per conversation; at most
    `max_requests_per_conversation()` in 24 hours per conversation or known customer (`limited`);
    at most `max_waiting()` waiting in all (`queue_full`); after hours one ticket per conversation or
    customer until agents are back (a repeated request gets the same ticket), and at most
    `max_after_hours_tickets()` tickets a day in all."""
    now = now or utcnow()
    hours = hours or config.WorkingHours.from_env()
    existing = open_handoff(conversation_id)
    if existing:
        if existing["status"] == "active":
            return HandoffOutcome("with_agent", existing["id"])
        return HandoffOutcome("waiting", existing["id"], queue_position(existing["id"]))
    language = "en" if language == "en" else "fa"
    summary = (summary or "")[:500] or None
    requester = _same_requester(conversation_id, customer_id)
    if not hours.is_open(now):
        return _after_hours(conversation_id, requester, now, hours, channel=channel, language=language,
                            journey_stage=journey_stage, goal=goal, reason=reason, customer_id=customer_id,
                            summary=summary)
    with schema.session() as session:
        recent = session.execute(sa.select(sa.func.count()).select_from(Handoff).where(
            requester, Handoff.requested_at > now - REQUEST_WINDOW)).scalar() or 0
    if recent >= max_requests_per_conversation():
        logger.warning("handoff refused: %d requests in 24 h for one conversation or customer", recent)
        return HandoffOutcome("limited")
    # One transaction: the queue row, its audit entry and its position. If any of it fails nothing is
    # committed, so the caller's "failed" always means "not in the queue" (it then leaves
    # `handoff_active` unset: a conversation is never marked handed off without a queue row).
    try:
        with schema.session() as session:
            row = Handoff(conversation_id=conversation_id, channel=channel, language=language,
                          journey_stage=journey_stage, goal=goal, reason=reason, customer_id=customer_id,
                          status="waiting", requested_at=now, summary=summary)
            session.add(row)
            session.flush()
            handoff_id = row.id
            position = _position_in_queue(session, handoff_id)
            if position > max_waiting():
                raise _QueueFull()   # rolled back: the queue never holds more than max_waiting()
            session.add(AuditEntry(actor="system", action="queued", handoff_id=handoff_id,
                                   conversation_id=conversation_id, detail={"reason": reason}))
    except _QueueFull:
        logger.warning("handoff refused: %d conversations already waiting", max_waiting())
        return HandoffOutcome("queue_full")
    return HandoffOutcome("queued", handoff_id, position)


def _after_hours(conversation_id: str, requester: Any, now: dt.datetime, hours: config.WorkingHours,
                 **fields: Any) -> HandoffOutcome:
    """Outside working hours: one after-hours handoff with one ticket per conversation or customer
    until agents are back; a repeated request is told the same ticket and opens nothing."""
    back = hours.next_opening(now)
    with schema.session() as session:
        earlier = session.execute(sa.select(Handoff.id, Handoff.requested_at, Handoff.ticket_ref).where(
            requester, Handoff.status == "after_hours", Handoff.requested_at > now - SAME_CLOSURE_AT_MOST,
            Handoff.requested_at <= now).order_by(Handoff.id.desc()).limit(1)).first()
    if earlier is not None and hours.next_opening(earlier.requested_at) == back:
        return HandoffOutcome("after_hours", earlier.id, ticket=earlier.ticket_ref, back_at=back)
    with schema.session() as session:
        tickets_today = session.execute(sa.select(sa.func.count()).select_from(Handoff).where(
            Handoff.status == "after_hours", Handoff.ticket_ref.isnot(None),
            Handoff.requested_at > now - REQUEST_WINDOW)).scalar() or 0
        row = Handoff(conversation_id=conversation_id, status="after_hours", requested_at=now, ended_at=now, **fields)
        session.add(row)
        session.flush()
        handoff_id = row.id
    if tickets_today >= max_after_hours_tickets():
        logger.warning("after-hours handoff without a ticket: %d tickets opened in 24 h", tickets_today)
        return HandoffOutcome("after_hours", handoff_id, back_at=back)
    ticket = _open_ticket(handoff_id, "after_hours")
    return HandoffOutcome("after_hours", handoff_id, ticket=ticket, back_at=back)


def _open_ticket(handoff_id: int, why: str) -> Optional[str]:
    """A CRM ticket for a handoff nobody could take; its reference (None if the CRM failed)."""
    with schema.session() as session:
        row = session.get(Handoff, handoff_id)
        if row is None:
            return None
        if row.ticket_ref:
            return row.ticket_ref
        customer_id, channel, conversation = row.customer_id, row.channel, row.conversation_id
        reason, summary, language = row.reason, row.summary, row.language
    subject = {"after_hours": "Handoff requested outside working hours",
               "timeout": "Handoff not claimed in time"}.get(why, "Handoff")
    description = (f"conversation: {conversation}\nchannel: {channel or '-'}\nlanguage: {language}\n"
                   f"reason: {reason}\nlast message: {summary or '-'}")
    try:
        from bot.crm.factory import get_crm

        ticket = get_crm().open_ticket(customer_id, subject, description=description, category="general",
                                       channel=channel)
        reference = ticket.reference
    except Exception:  # noqa: BLE001 - CRM down: the customer is still told, without a reference
        logger.exception("could not open a ticket for handoff %s", handoff_id)
        return None
    with schema.session() as session:
        session.execute(sa.update(Handoff).where(Handoff.id == handoff_id).values(ticket_ref=reference))
    audit("system", "ticket_opened", handoff_id=handoff_id, conversation_id=conversation,
          detail={"ticket": reference, "why": why})
    return reference


def claim(handoff_id: int, agent_login: str, now: Optional[dt.datetime] = None) -> bool:
    """Exactly one agent wins: UPDATE ... WHERE status = 'waiting'."""
    now = now or utcnow()
    with schema.session() as session:
        result = session.execute(sa.update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "waiting")
                                 .values(status="active", agent_login=agent_login, claimed_at=now)
                                 .execution_options(synchronize_session=False))
        return result.rowcount == 1


def end(handoff_id: int, agent_login: str, status: str, disposition: Optional[str] = None, *,
        any_agent: bool = False, now: Optional[dt.datetime] = None) -> bool:
    """Hand back (`returned`) or close (`closed`) an active handoff held by `agent_login`."""
    assert status in ("returned", "closed")
    if status == "closed" and disposition not in DISPOSITIONS:
        raise ValueError(f"disposition must be one of {', '.join(DISPOSITIONS)}")
    now = now or utcnow()
    condition = [Handoff.id == handoff_id, Handoff.status == "active"]
    if not any_agent:
        condition.append(Handoff.agent_login == agent_login)
    with schema.session() as session:
        result = session.execute(sa.update(Handoff).where(*condition)
                                 .values(status=status, ended_at=now, disposition=disposition)
                                 .execution_options(synchronize_session=False))
        return result.rowcount == 1


def get_handoff(handoff_id: int) -> Optional[Dict[str, Any]]:
    with schema.session() as session:
        row = session.get(Handoff, handoff_id)
        return handoff_dict(row) if row else None


def list_queue(now: Optional[dt.datetime] = None) -> List[Dict[str, Any]]:
    """Waiting (oldest first, with their position) and active conversations."""
    now = now or utcnow()
    with schema.session() as session:
        rows = session.execute(sa.select(Handoff).where(Handoff.status.in_(OPEN_STATUSES))
                               .order_by(Handoff.requested_at, Handoff.id)).scalars().all()
        out, position = [], 0
        for row in rows:
            item = handoff_dict(row, now)
            if row.status == "waiting":
                position += 1
                item["position"] = position
            out.append(item)
        return out


def earlier_handoffs(conversation_ids: List[str], customer_id: Optional[str], exclude: int) -> List[Dict[str, Any]]:
    with schema.session() as session:
        condition = Handoff.conversation_id.in_(conversation_ids or ["-"])
        if customer_id:
            condition = sa.or_(condition, Handoff.customer_id == customer_id)
        rows = session.execute(sa.select(Handoff).where(condition, Handoff.id != exclude)
                               .order_by(Handoff.id.desc()).limit(50)).scalars().all()
        return [handoff_dict(r) for r in rows]


def expire_unclaimed(timeout_seconds: Optional[float] = None, now: Optional[dt.datetime] = None) -> List[Dict[str, Any]]:
    """Waiting handoffs older than the claim timeout -> `timed_out` with a ticket (each exactly once)."""
    now = now or utcnow()
    timeout = config.claim_timeout_seconds() if timeout_seconds is None else timeout_seconds
    cutoff = now - dt.timedelta(seconds=timeout)
    expired = []
    with schema.session() as session:
        ids = session.execute(sa.select(Handoff.id).where(Handoff.status == "waiting", Handoff.requested_at <= cutoff)
                              ).scalars().all()
    for handoff_id in ids:
        with schema.session() as session:
            won = session.execute(sa.update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "waiting")
                                  .values(status="timed_out", ended_at=now)
                                  .execution_options(synchronize_session=False)).rowcount == 1
        if won:
            _open_ticket(handoff_id, "timeout")
            audit("system", "timed_out", handoff_id=handoff_id)
            expired.append(get_handoff(handoff_id))
    return expired


def add_note(handoff_id: int, agent_login: str, text: str) -> Dict[str, Any]:
    with schema.session() as session:
        row = session.get(Handoff, handoff_id)
        note = Note(handoff_id=handoff_id, conversation_id=row.conversation_id, agent_login=agent_login, text=text)
        session.add(note)
        session.flush()
        return {"id": note.id, "agent": note.agent_login, "text": note.text, "at": _iso(note.created_at)}


def notes_for(conversation_id: str) -> List[Dict[str, Any]]:
    with schema.session() as session:
        rows = session.execute(sa.select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)
                               ).scalars().all()
        return [{"id": n.id, "handoff_id": n.handoff_id, "agent": n.agent_login, "text": n.text,
                 "at": _iso(n.created_at)} for n in rows]


# --------------------------------------------------------------------------- reports (no personal data)
def report(now: Optional[dt.datetime] = None) -> Dict[str, Any]:
    now = now or utcnow()
    with schema.session() as session:
        rows = session.execute(sa.select(Handoff.status, Handoff.reason, Handoff.channel, Handoff.language,
                                         Handoff.requested_at, Handoff.claimed_at, Handoff.disposition)).all()
    by = lambda key: _count(getattr(r, key) or "-" for r in rows)  # noqa: E731
    waits = sorted((r.claimed_at - r.requested_at).total_seconds() for r in rows if r.claimed_at)
    return {
        "total": len(rows), "by_status": by("status"), "by_reason": by("reason"), "by_channel": by("channel"),
        "by_language": by("language"), "by_disposition": by("disposition"),
        "claimed": len(waits),
        "median_wait_seconds": round(waits[len(waits) // 2], 1) if waits else None,
        "waiting_now": sum(1 for r in rows if r.status == "waiting"),
    }


def _count(values: Any) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return dict(sorted(out.items()))
