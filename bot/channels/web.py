"""Website chat widget: the Rasa input channel `web` (routes under `/webhooks/web/`).

* `GET  /widget.js`, `/widget.css` — the widget; a shop page embeds it with ONE tag:
  `<script src="https://bot.example/webhooks/web/widget.js" data-lang="fa" defer></script>`
  (optional signed identity: `data-customer-id`, `data-customer-expires`,
  `data-customer-signature`, from `bot.identity.verification.web_identity_for`).
* `GET  /demo` — a Persian (RTL) demo shop page with a few products and the widget.
* `POST /session` — the widget starts or resumes its session (`{"lang", "identity"}`);
  the session token travels only in an HttpOnly cookie, never in the page.
* `POST /logout` — "forget me": ends the session server-side and starts a fresh one.
* `POST /messages` — `{"text": "..."}` (or `"payload"` of a button the bot showed in this
  conversation, optionally `"identity": {...}`); answers `{"ok": true, "message": {...}}`
  only once the bot has handled the message, 503 `processing_failed` if it could not.
* `GET  /history?after=N` — stored messages with `seq > N`.
* `GET  /events?after=N` — Server-Sent Events: every message with `id: <seq>`, plus
  `typing`, `retract` (a refused message) and `ended` (the session ended) events.

Sessions (docs/web_sessions.md): the bearer token (cookie `hamsafar_web`, or
`session_id` in the body/query for API clients) is only a key to a row of
`web_sessions`, which names the conversation (`web:<conversation>`). The token is
rotated when the conversation becomes verified; verified state ends after an idle
and an absolute limit, after which a fresh conversation starts (no history, no
`customer_id`); a signed identity for another customer starts a fresh conversation
too. Conversation keys minted here contain a dot, so a client can never present one
as its token.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import datetime as dt
import hashlib
import html
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple

import sqlalchemy as sa
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, UserMessage

from bot import settings
from bot.channels.base import ProactiveOutput, guard_customer_text, register_output
from bot.channels.models import WebMessage, ensure_tables, utcnow
from bot.db import Base, get_engine, init_db, session_scope

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "web_static"
SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_TEXT = 4000
MAX_BODY = 16 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SENDERS = ("customer", "bot", "agent", "system")
COOKIE = "hamsafar_web"

# Defaults of the session limits (docs/web_sessions.md); credentials.yml or the environment override them.
DEFAULT_VERIFIED_IDLE_MINUTES = 30.0
DEFAULT_VERIFIED_MAX_HOURS = 12.0
DEFAULT_SESSION_MAX_DAYS = 30.0

NOTICES = {
    "expired": {"fa": "نشست قبلی شما به پایان رسید. برای دیدن سفارش‌هایتان دوباره هویت خود را تأیید کنید.",
                "en": "Your previous session has ended. Please verify yourself again to see your orders."},
    "replaced": {"fa": "گفتگوی تازه‌ای برای حساب واردشده شروع شد.",
                 "en": "A new conversation has started for the account now signed in."},
}


class WebInputError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _seq(value: str) -> int:
    """A message number from a query or Last-Event-ID; ValueError unless an integer a database can hold."""
    number = int(value)
    if not -(2 ** 63) <= number < 2 ** 63:
        raise ValueError("out of range")
    return number


def session_of(recipient_id: str) -> str:
    """The conversation key of `web:<key>` (what web_messages.session_id holds)."""
    value = str(recipient_id)
    return value[4:] if value.startswith("web:") else value


def _as_dict(row: WebMessage) -> Dict[str, Any]:
    return {
        "seq": row.seq,
        "sender": row.sender,
        "text": row.text,
        "buttons": row.buttons or [],
        "at": row.created_at.isoformat() + "Z",
    }


# ---------------------------------------------------------------- sessions
class WebSession(Base):
    """One bearer token of the widget: which conversation it opens, and until when.

    Only a SHA-256 of the token is stored. A rotated, logged-out, expired or replaced
    token keeps its row (with `ended_at`) so it can never be claimed again.
    """

    __tablename__ = "web_sessions"

    token_hash = sa.Column(sa.String(64), primary_key=True)
    conversation = sa.Column(sa.String(64), nullable=False, index=True)
    created_at = sa.Column(sa.DateTime, nullable=False)       # the conversation's start (kept on rotation)
    last_seen_at = sa.Column(sa.DateTime, nullable=False)     # the customer's last message (idle clock)
    verified_since = sa.Column(sa.DateTime, nullable=True)    # when this conversation became verified
    ended_at = sa.Column(sa.DateTime, nullable=True, index=True)
    end_reason = sa.Column(sa.String(12), nullable=True)      # rotated | logout | expired | replaced


_session_tables: Set[str] = set()


def ensure_session_table() -> None:
    """Create `web_sessions` and the tables it consults (verified identities) once per database."""
    key = str(get_engine().url)
    if key not in _session_tables:
        init_db()  # every model on Base, this one included
        _session_tables.add(key)


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


class SessionEnded(WebInputError):
    def __init__(self, reason: str) -> None:
        code = "session_expired" if reason == "expired" else "session_ended"
        super().__init__(401, code, "this chat session has ended; start a new one")
        self.reason = reason


def _verified_customer(conversation: str) -> Optional[str]:
    from bot.identity.verification import get_verifier

    return get_verifier().customer_for(f"web:{conversation}")


def _forget_verification(conversation: str) -> None:
    from bot.identity.verification import get_verifier

    get_verifier().forget(f"web:{conversation}")


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
    ensure_session_table()
    now = now or utcnow()
    reason: Optional[str] = None
    with session_scope() as session:
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
        _notify_conversation_ended(row.conversation)
    raise SessionEnded(reason)


def start_session(now: Optional[dt.datetime] = None, conversation: Optional[str] = None,
                  verified: bool = False) -> Live:
    """A new token for a new (or the given) conversation."""
    ensure_session_table()
    now = now or utcnow()
    token = new_token()
    conversation = conversation or new_conversation_key()
    with session_scope() as session:
        session.add(WebSession(token_hash=_hash(token), conversation=conversation, created_at=now,
                               last_seen_at=now, verified_since=now if verified else None))
    return Live(token, conversation, now if verified else None, created=True)


def rotate_session(live: Live, now: Optional[dt.datetime] = None) -> Live:
    """The conversation became verified: a new token, and the old one opens nothing any more."""
    ensure_session_table()
    now = now or utcnow()
    token = new_token()
    with session_scope() as session:
        old = session.get(WebSession, _hash(live.token))
        created = old.created_at if old is not None else now
        if old is not None:
            _end(old, "rotated", now)
        session.add(WebSession(token_hash=_hash(token), conversation=live.conversation, created_at=created,
                               last_seen_at=now, verified_since=now))
    return Live(token, live.conversation, now, created=True)


def end_session(token: str, reason: str, now: Optional[dt.datetime] = None) -> Optional[str]:
    """End the session of `token` (log out, replaced) and forget its verification; its conversation key."""
    ensure_session_table()
    now = now or utcnow()
    with session_scope() as session:
        row = session.get(WebSession, _hash(token))
        if row is None or row.ended_at is not None:
            return None
        _end(row, reason, now)
        conversation = row.conversation
    _forget_verification(conversation)
    _notify_conversation_ended(conversation)
    return conversation


def touch_session(live: Live, now: Optional[dt.datetime] = None) -> None:
    """The customer wrote: the idle clock starts again."""
    with session_scope() as session:
        row = session.get(WebSession, _hash(live.token))
        if row is not None:
            row.last_seen_at = now or utcnow()


def erase_web_sessions(conn: Any, conversation_ids: List[str]) -> int:
    """Delete the session rows of erased `web:` conversations (for bot.channels.erasure)."""
    keys = [session_of(c) for c in conversation_ids if str(c).startswith("web:")]
    if not keys or not sa.inspect(conn).has_table("web_sessions"):
        return 0
    table = WebSession.__table__
    return conn.execute(table.delete().where(table.c.conversation.in_(keys))).rowcount or 0


# ---------------------------------------------------------------- history + live push
# conversation -> (event loop, queue) of every open event stream of that conversation
_waiters: Dict[str, Set[Tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = {}


def _notify(session_id: str, event: Dict[str, Any]) -> None:
    """Wake the conversation's event streams; safe from any thread (a queue belongs to its loop)."""
    try:
        running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for waiter in list(_waiters.get(session_id, ())):
        loop, queue = waiter
        if loop.is_closed():  # a server that stopped without closing its streams
            _waiters.get(session_id, set()).discard(waiter)
            continue
        if loop is running:
            queue.put_nowait(event)
            continue
        try:
            loop.call_soon_threadsafe(queue.put_nowait, event)
        except RuntimeError:  # closed meanwhile: the stream is gone
            _waiters.get(session_id, set()).discard(waiter)


def _notify_conversation_ended(conversation: str) -> None:
    _notify(conversation, {"type": "ended"})


def append_message(session_id: str, sender: str, text: str, buttons: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """Store a message with the next `seq` of its conversation and push it to live listeners."""
    assert sender in SENDERS
    ensure_tables()
    clean_buttons = [
        {"title": str(b.get("title") or b.get("payload") or ""), "payload": str(b.get("payload") or b.get("title") or "")}
        for b in (buttons or [])
    ] or None
    for _ in range(20):
        try:
            with session_scope() as session:
                last = session.execute(
                    sa.select(sa.func.max(WebMessage.seq)).where(WebMessage.session_id == session_id)
                ).scalar()
                row = WebMessage(session_id=session_id, seq=(last or 0) + 1, sender=sender, text=text,
                                 buttons=clean_buttons, created_at=utcnow())
                session.add(row)
                session.flush()
                message = _as_dict(row)
            _notify(session_id, {"type": "message", "message": message})
            return message
        except sa.exc.IntegrityError:  # a concurrent append took this seq: take the next
            continue
    raise RuntimeError("could not number a web message")


def retract_message(session_id: str, seq: int) -> None:
    """Remove a customer message the bot could not handle (the client keeps the text and retries)."""
    with session_scope() as session:
        session.execute(sa.delete(WebMessage).where(WebMessage.session_id == session_id, WebMessage.seq == seq,
                                                    WebMessage.sender == "customer"))
    _notify(session_id, {"type": "retract", "seq": seq})


def history(session_id: str, after: int = 0, limit: int = 500) -> List[Dict[str, Any]]:
    ensure_tables()
    with session_scope() as session:
        rows = session.execute(
            sa.select(WebMessage).where(WebMessage.session_id == session_id, WebMessage.seq > after)
            .order_by(WebMessage.seq).limit(limit)
        ).scalars().all()
        return [_as_dict(r) for r in rows]


def _offered_payloads(session_id: str, lookback: int = 20) -> Set[str]:
    ensure_tables()
    with session_scope() as session:
        rows = session.execute(
            sa.select(WebMessage.buttons).where(WebMessage.session_id == session_id, WebMessage.sender != "customer")
            .order_by(WebMessage.seq.desc()).limit(lookback)
        ).scalars().all()
    return {b.get("payload") for buttons in rows if buttons for b in buttons}


class WebOutput(ProactiveOutput):
    """Writes bot (or agent) messages into a web conversation's history; pushed live."""

    channel = "web"

    @classmethod
    def name(cls) -> str:
        return "web"

    def __init__(self, *, proactive: bool = True, sender: str = "bot") -> None:
        super().__init__(proactive=proactive)
        self.sender = sender

    async def _deliver(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], *, kind: str) -> None:
        append_message(session_of(recipient_id), self.sender, text or "", buttons)

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        if json_message.get("text"):
            await self.send_text(recipient_id, str(json_message["text"]), json_message.get("buttons"),
                                 proactive=self.proactive)


async def send_agent_message(conversation_id: str, text: str) -> bool:
    """For the agent console: an agent's reply into a web conversation, pushed live."""
    return await WebOutput(proactive=False, sender="agent").send_text(conversation_id, text, proactive=False)


class _RateLimiter:
    """Token buckets per key (`burst` messages, then one per `per_seconds`), for at most
    `max_keys` keys: the least recently used bucket is dropped first, so memory stays bounded."""

    def __init__(self, burst: int = 8, per_seconds: float = 2.0, max_keys: int = 20000) -> None:
        self.burst, self.rate, self.max_keys = burst, 1.0 / per_seconds, max_keys
        self.state: "collections.OrderedDict[str, Tuple[float, float]]" = collections.OrderedDict()

    def allow(self, key: str) -> Optional[float]:
        """None if `key` may go on now, else the seconds to wait."""
        now = time.monotonic()
        tokens, stamp = self.state.pop(key, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < 1:
            self.state[key] = (tokens, now)
            wait: Optional[float] = (1 - tokens) / self.rate
        else:
            self.state[key] = (tokens - 1, now)
            wait = None
        while len(self.state) > self.max_keys:
            self.state.popitem(last=False)
        return wait


def client_address(request: Request) -> str:
    """The client's address: from the trusted proxy's headers when `SANIC_PROXIES_COUNT` is set, else the peer."""
    return str(request.remote_addr or request.ip or "")[:64]


def _env_float(name: str, default: float) -> float:
    value = settings.env_secret(name)
    return float(value) if value else default


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WebInput(InputChannel):
    """Rasa input channel `web`: the website widget's API, SSE push and demo page."""

    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WebInput":
        credentials = credentials or {}
        origins = credentials.get("allowed_origins") or settings.env_secret("HAMSAFAR_WEB_ALLOWED_ORIGINS") or []

        def number(key: str, env: str, default: float) -> float:
            return float(credentials[key]) if credentials.get(key) is not None else _env_float(env, default)

        return cls(
            allowed_origins=origins,
            rate_burst=int(credentials.get("rate_burst", 8)),
            rate_per_seconds=float(credentials.get("rate_per_seconds", 2.0)),
            address_burst=int(credentials.get("address_burst", 60)),
            address_per_seconds=float(credentials.get("address_per_seconds", 0.5)),
            streams_per_address=int(credentials.get("streams_per_address", 8)),
            streams_total=int(credentials.get("streams_total", 500)),
            limits=SessionLimits(
                verified_idle=dt.timedelta(minutes=number("verified_idle_minutes", "HAMSAFAR_WEB_VERIFIED_IDLE_MINUTES",
                                                          DEFAULT_VERIFIED_IDLE_MINUTES)),
                verified_max=dt.timedelta(hours=number("verified_max_hours", "HAMSAFAR_WEB_VERIFIED_MAX_HOURS",
                                                       DEFAULT_VERIFIED_MAX_HOURS)),
                session_max=dt.timedelta(days=number("session_max_days", "HAMSAFAR_WEB_SESSION_MAX_DAYS",
                                                     DEFAULT_SESSION_MAX_DAYS))),
        )

    def __init__(self, *, allowed_origins: Any = None, rate_burst: int = 8, rate_per_seconds: float = 2.0,
                 address_burst: int = 60, address_per_seconds: float = 0.5, streams_per_address: int = 8,
                 streams_total: int = 500, sse_lifetime: float = 55.0, poll_interval: float = 5.0,
                 limits: Optional[SessionLimits] = None) -> None:
        if isinstance(allowed_origins, str):
            allowed_origins = [o.strip() for o in allowed_origins.split(",")]
        origins = [str(o).strip().rstrip("/") for o in (allowed_origins or []) if str(o).strip()]
        if "*" in origins:  # credentials (the session cookie) can never be shared with any origin
            logger.warning("web: allowed_origins '*' is ignored; list the shop's origins (docs/web_sessions.md)")
            origins = [o for o in origins if o != "*"]
        self.allowed_origins = origins
        self.limiter = _RateLimiter(rate_burst, rate_per_seconds)            # per conversation
        self.address_limiter = _RateLimiter(address_burst, address_per_seconds)  # per client address
        self.streams_per_address, self.streams_total = streams_per_address, streams_total
        self._streams: Dict[str, int] = {}
        self.limits = limits or SessionLimits()
        self.sse_lifetime, self.poll_interval = sse_lifetime, poll_interval
        self.output = WebOutput()
        register_output(self.output)
        self._tasks: Set[asyncio.Task] = set()

    def get_output_channel(self) -> WebOutput:
        return self.output

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return _blueprint(self, on_new_message)

    async def drain(self, timeout: float = 10) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    # -- validation ------------------------------------------------------------------
    @staticmethod
    def _session(value: Any) -> str:
        if not isinstance(value, str) or not SESSION_RE.match(value) or value.startswith("ref-"):
            raise WebInputError(400, "invalid_session_id", "session_id must be a string of 16-64 letters, digits, - or _")
        return value

    @staticmethod
    def _json_body(request: Request) -> Dict[str, Any]:
        body = request.body or b""
        if len(body) > MAX_BODY:
            raise WebInputError(413, "body_too_large", f"request body over {MAX_BODY} bytes")
        if not body.strip():
            return {}
        try:
            decoded = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebInputError(400, "invalid_utf8", "request body is not valid UTF-8") from None
        try:
            data = json.loads(decoded)
        except (ValueError, RecursionError):  # RecursionError: nesting too deep
            raise WebInputError(400, "malformed_json", "request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise WebInputError(400, "malformed_json", "request body must be a JSON object")
        return data

    def parse_post(self, request: Request) -> Dict[str, Any]:
        """The message of a POST; `session_id` is None when the client relies on the cookie."""
        data = self._json_body(request)
        if not data and not (request.body or b"").strip():
            raise WebInputError(400, "malformed_json", "request body is not valid JSON")
        session_id = self._session(data["session_id"]) if "session_id" in data else None
        text, payload = data.get("text"), data.get("payload")
        if payload is not None:
            if not isinstance(payload, str) or not payload.strip() or len(payload) > MAX_TEXT:
                raise WebInputError(400, "invalid_payload", "payload must be a non-empty string")
            title = data.get("title") if isinstance(data.get("title"), str) else payload
            if any(0xD800 <= ord(c) <= 0xDFFF for c in title):
                raise WebInputError(400, "invalid_utf8", "title contains unpaired surrogates")
            return {"session_id": session_id, "text": payload, "shown": title[:MAX_TEXT], "payload": True,
                    "identity": data.get("identity")}
        if not isinstance(text, str):
            raise WebInputError(400, "invalid_text", "text must be a string")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            raise WebInputError(400, "invalid_utf8", "text contains unpaired surrogates")
        text = _CONTROL.sub("", text).strip()
        if not text:
            raise WebInputError(400, "empty_text", "text is empty")
        if len(text) > MAX_TEXT:
            raise WebInputError(413, "text_too_long", f"text longer than {MAX_TEXT} characters")
        return {"session_id": session_id, "text": text, "shown": text, "payload": False,
                "identity": data.get("identity")}

    # -- sessions ----------------------------------------------------------------------
    def _token(self, request: Request, given: Optional[str]) -> Tuple[str, bool]:
        """(token, from the body/query) — the client's `session_id`, else the cookie."""
        if given is not None:
            return given, True
        cookie = request.cookies.get(COOKIE)
        if cookie and SESSION_RE.match(cookie):
            return cookie, False
        raise WebInputError(400, "invalid_session_id", "no session: call /session first or send session_id")

    def _resolve(self, token: str, claim: bool) -> Live:
        return resolve_session(token, self.limits, claim=claim)

    def _apply_identity(self, live: Live, identity: Any) -> Tuple[Live, Optional[Dict[str, Any]], Optional[str]]:
        """Check a signed identity against the session: (session, identity for Rasa, notice).

        Unverified conversation + valid identity: verified, token rotated. Verified as another
        customer + valid identity: a fresh conversation for the new customer (the old session
        ends). The same customer: nothing to do.
        """
        if not isinstance(identity, dict) or not identity.get("customer_id"):
            return live, None, None
        customer_id = str(identity.get("customer_id"))[:100]
        result: Dict[str, Any] = {"customer_id": customer_id, "verified": False}
        current = _verified_customer(live.conversation)
        if current is not None and current == customer_id:
            return live, {"customer_id": customer_id, "verified": True, "status": "verified"}, None
        target = live.conversation if current is None else new_conversation_key()
        try:
            from bot.identity.verification import verify_web_identity

            outcome = verify_web_identity(f"web:{target}", customer_id, str(identity.get("expires", "")),
                                          str(identity.get("signature", "")))
            result["verified"] = bool(getattr(outcome, "ok", False))
            result["status"] = getattr(outcome, "status", None)
        except Exception:
            logger.exception("web: identity check failed")
        if not result["verified"]:
            return live, result, None
        if current is None:
            return rotate_session(live), result, None
        end_session(live.token, "replaced")
        return start_session(conversation=target, verified=True), result, "replaced"

    def _set_cookie(self, request: Request, reply: HTTPResponse, live: Live) -> None:
        """The session token as an HttpOnly cookie (SameSite=None; Secure over HTTPS, for shop pages on other sites)."""
        path = request.path.rsplit("/", 1)[0] or "/"
        reply.cookies[COOKIE] = live.token
        cookie = reply.cookies[COOKIE]
        cookie["path"] = path
        cookie["httponly"] = True
        cookie["max-age"] = int(self.limits.session_max.total_seconds())
        if request.scheme == "https":
            cookie["secure"] = True
            cookie["samesite"] = "None"
        else:
            cookie["samesite"] = "Lax"

    def _own_origin(self, request: Request) -> str:
        return f"{request.scheme}://{request.host}"

    def _origin_allowed(self, request: Request) -> bool:
        """No Origin (not a cross-origin browser call), the bot's own origin, or one the shop configured."""
        origin = request.headers.get("Origin")
        if not origin:
            return True
        origin = origin.rstrip("/")
        return origin == self._own_origin(request) or origin in self.allowed_origins

    def _cors(self, request: Request) -> Dict[str, str]:
        origin = (request.headers.get("Origin") or "").rstrip("/")
        if not origin or origin not in self.allowed_origins:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Allow-Headers": "Content-Type, Last-Event-ID",
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS"}

    def _error(self, request: Request, error: WebInputError, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
        return response.json({"ok": False, "error": error.code, "detail": error.detail}, status=error.status,
                             headers={**self._cors(request), **(headers or {})})

    def _check_origin_and_address(self, request: Request) -> None:
        if not self._origin_allowed(request):
            raise WebInputError(403, "origin_not_allowed", "this origin may not use the chat")
        wait = self.address_limiter.allow(client_address(request))
        if wait is not None:
            raise _RateLimited(wait)

    async def _process(self, on_new_message: OnNewMessage, message: UserMessage, session_id: str) -> bool:
        """Hand the message to Rasa; False if handling failed (the caller refuses the message)."""
        _notify(session_id, {"type": "typing", "on": True})
        try:
            await on_new_message(message)
            return True
        except Exception:
            logger.exception("web: handling a message failed")
            return False
        finally:
            _notify(session_id, {"type": "typing", "on": False})


class _RateLimited(WebInputError):
    def __init__(self, wait: float) -> None:
        super().__init__(429, "rate_limited", "too many requests; slow down")
        self.retry_after = str(max(1, int(wait + 0.999)))


def _blueprint(channel: WebInput, on_new_message: OnNewMessage) -> Blueprint:
    """The Sanic routes of one WebInput (kept apart from the class for readability)."""
    bp = Blueprint(f"web_{id(channel)}", __name__)

    def refused(request: Request, error: WebInputError) -> HTTPResponse:
        """The error answer; an ended session's cookie stays, so /session can tell the customer why it ended."""
        headers = {"Retry-After": error.retry_after} if isinstance(error, _RateLimited) else None
        return channel._error(request, error, headers)

    @bp.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @bp.route("/widget.js", methods=["GET"])
    async def widget_js(request: Request) -> HTTPResponse:
        return await response.file(STATIC_DIR / "widget.js", mime_type="application/javascript; charset=utf-8",
                                   headers={"Cache-Control": "public, max-age=300", **channel._cors(request)})

    @bp.route("/widget.css", methods=["GET"])
    async def widget_css(request: Request) -> HTTPResponse:
        return await response.file(STATIC_DIR / "widget.css", mime_type="text/css; charset=utf-8",
                                   headers={"Cache-Control": "public, max-age=300", **channel._cors(request)})

    @bp.route("/demo", methods=["GET"])
    async def demo(request: Request) -> HTTPResponse:
        return response.html(demo_page(request.args.get("lang", "fa")), headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                       "script-src 'self'; connect-src 'self'"})

    async def preflight(request: Request) -> HTTPResponse:
        return response.empty(headers=channel._cors(request))

    for name in ("messages", "session", "logout", "history", "events"):
        bp.add_route(preflight, f"/{name}", methods=["OPTIONS"], name=f"preflight_{name}")

    @bp.route("/session", methods=["POST"])
    async def start(request: Request) -> HTTPResponse:
        """The widget's first call on every page: resume the cookie's session or start one."""
        try:
            channel._check_origin_and_address(request)
            data = channel._json_body(request)
        except WebInputError as error:
            return refused(request, error)
        lang = "en" if data.get("lang") == "en" else "fa"
        notice: Optional[str] = None
        live: Optional[Live] = None
        cookie = request.cookies.get(COOKIE)
        if cookie and SESSION_RE.match(cookie):
            try:
                live = await asyncio.to_thread(channel._resolve, cookie, False)
            except SessionEnded as ended:
                notice = "expired" if ended.reason == "expired" else None
        if live is None:
            live = await asyncio.to_thread(start_session)
        live, _, replaced = await asyncio.to_thread(channel._apply_identity, live, data.get("identity"))
        notice = replaced or notice
        if notice:
            await asyncio.to_thread(append_message, live.conversation, "system", NOTICES[notice][lang])
        verified = live.verified_since is not None
        reply = response.json({"ok": True, "verified": verified, "notice": notice}, headers=channel._cors(request))
        channel._set_cookie(request, reply, live)
        return reply

    @bp.route("/logout", methods=["POST"])
    async def logout(request: Request) -> HTTPResponse:
        """"Forget me": the session ends here (history and verification gone with its token); a fresh one starts."""
        try:
            channel._check_origin_and_address(request)
            data = channel._json_body(request)
            given = channel._session(data["session_id"]) if "session_id" in data else None
            token, from_body = channel._token(request, given)
        except WebInputError as error:
            return refused(request, error)
        await asyncio.to_thread(end_session, token, "logout")
        if from_body:
            return response.json({"ok": True}, headers=channel._cors(request))
        live = await asyncio.to_thread(start_session)
        reply = response.json({"ok": True}, headers=channel._cors(request))
        channel._set_cookie(request, reply, live)
        return reply

    @bp.route("/messages", methods=["POST"])
    async def post_message(request: Request) -> HTTPResponse:
        try:
            channel._check_origin_and_address(request)
            data = channel.parse_post(request)
            token, from_body = channel._token(request, data["session_id"])
            live = await asyncio.to_thread(channel._resolve, token, from_body)
            wait = channel.limiter.allow(live.conversation)
            if wait is not None:
                raise _RateLimited(wait)
            live, identity, _ = await asyncio.to_thread(channel._apply_identity, live, data.get("identity"))
            if data["payload"] and data["text"] not in await asyncio.to_thread(_offered_payloads, live.conversation):
                raise WebInputError(400, "unknown_payload", "payload is not a button offered in this session")
        except WebInputError as error:
            return refused(request, error)
        conversation = live.conversation
        stored = await asyncio.to_thread(append_message, conversation, "customer", data["shown"])
        await asyncio.to_thread(touch_session, live)
        text = data["text"] if data["payload"] else guard_customer_text(data["text"])
        metadata: Dict[str, Any] = {"channel": "web", "web": {"session_id": conversation, "seq": stored["seq"]}}
        if identity is not None:
            metadata["web_identity"] = identity
        message = UserMessage(text, WebOutput(proactive=False), f"web:{conversation}",
                              input_channel=channel.name(), metadata=metadata)
        task = asyncio.ensure_future(channel._process(on_new_message, message, conversation))
        channel._tasks.add(task)
        task.add_done_callback(channel._tasks.discard)
        handled = await asyncio.shield(task)  # a client that goes away does not cancel the handling
        if not handled:
            await asyncio.to_thread(retract_message, conversation, stored["seq"])
            return channel._error(request, WebInputError(
                503, "processing_failed", "the message could not be handled; nothing was kept, please send it again"),
                {"Retry-After": "2"})
        if live.verified_since is None and await asyncio.to_thread(_verified_customer, conversation):
            live = await asyncio.to_thread(rotate_session, live)  # verified while handling (a one-time code)
        body: Dict[str, Any] = {"ok": True, "message": stored}
        if live.created and from_body:
            body["session_id"] = live.token
        reply = response.json(body, headers=channel._cors(request))
        if live.created and not from_body:
            channel._set_cookie(request, reply, live)
        return reply

    def read_args(request: Request) -> Tuple[str, bool, int]:
        """Reads are not counted against the address (many customers share one carrier address); streams are capped."""
        if not channel._origin_allowed(request):
            raise WebInputError(403, "origin_not_allowed", "this origin may not use the chat")
        given = request.args.get("session_id")
        token, from_body = channel._token(request, channel._session(given) if given is not None else None)
        try:
            after = _seq(request.args.get("after", "0") or 0)
            last_event = request.headers.get("Last-Event-ID")
            if last_event:
                after = max(after, _seq(last_event))
        except ValueError:
            raise WebInputError(400, "invalid_after", "after must be an integer") from None
        return token, from_body, max(after, 0)

    @bp.route("/history", methods=["GET"])
    async def get_history(request: Request) -> HTTPResponse:
        try:
            token, from_body, after = read_args(request)
            live = await asyncio.to_thread(channel._resolve, token, from_body)
        except WebInputError as error:
            return refused(request, error)
        messages = await asyncio.to_thread(history, live.conversation, after)
        last = messages[-1]["seq"] if messages else after
        return response.json({"ok": True, "messages": messages, "last_seq": last}, headers=channel._cors(request))

    @bp.route("/events", methods=["GET"])
    async def events(request: Request):  # type: ignore[no-untyped-def]
        try:
            token, from_body, after = read_args(request)
            live = await asyncio.to_thread(channel._resolve, token, from_body)
            address = client_address(request)
            if channel._streams.get(address, 0) >= channel.streams_per_address or \
                    sum(channel._streams.values()) >= channel.streams_total:
                raise _RateLimited(channel.poll_interval)
        except WebInputError as error:
            return refused(request, error)
        conversation = live.conversation
        channel._streams[address] = channel._streams.get(address, 0) + 1
        queue: asyncio.Queue = asyncio.Queue()
        waiter = (asyncio.get_running_loop(), queue)
        _waiters.setdefault(conversation, set()).add(waiter)
        sent = after
        try:
            stream = await request.respond(
                content_type="text/event-stream; charset=utf-8",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **channel._cors(request)},
            )
            deadline = time.monotonic() + channel.sse_lifetime
            await stream.send("retry: 2000\n\n")
            while time.monotonic() < deadline:
                # backlog, and anything other processes wrote: read in a worker thread, never on the loop
                for message in await asyncio.to_thread(history, conversation, sent):
                    await stream.send(f"id: {message['seq']}\ndata: {json.dumps(message, ensure_ascii=False)}\n\n")
                    sent = message["seq"]
                try:
                    remaining = max(0.05, deadline - time.monotonic())
                    event = await asyncio.wait_for(queue.get(), timeout=min(channel.poll_interval, remaining))
                except asyncio.TimeoutError:
                    try:  # the session may have expired meanwhile
                        await asyncio.to_thread(channel._resolve, token, False)
                    except SessionEnded:
                        event = {"type": "ended"}
                    else:
                        await stream.send(": keep-alive\n\n")
                        continue
                if event["type"] == "typing":
                    await stream.send(f"event: typing\ndata: {json.dumps({'on': event['on']})}\n\n")
                elif event["type"] == "retract":
                    sent = min(sent, int(event["seq"]) - 1)
                    await stream.send(f"event: retract\ndata: {json.dumps({'seq': event['seq']})}\n\n")
                elif event["type"] == "ended":
                    await stream.send("event: ended\ndata: {}\n\n")
                    break
                # a "message" event: loop round and read it (in seq order) from the history
            await stream.eof()
        except Exception as error:  # the client went away
            logger.debug("web: event stream closed: %s", error)
        finally:
            _waiters.get(conversation, set()).discard(waiter)
            if not _waiters.get(conversation):
                _waiters.pop(conversation, None)
            channel._streams[address] -= 1
            if channel._streams[address] <= 0:
                channel._streams.pop(address, None)

    @bp.listener("before_server_stop")
    async def stop(app, loop) -> None:  # type: ignore[no-untyped-def]
        await channel.drain(timeout=5)

    return bp


def _products(limit: int = 6) -> List[Dict[str, str]]:
    path = settings.DEMO_SHOP_DIR / "products.csv"
    try:
        with path.open(encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("stock", "0") != "0"]
    except OSError:
        rows = []
    return rows[:limit] or [
        {"sku": "MOB-SAM-A55", "name_fa": "گوشی سامسونگ گلکسی A55", "name_en": "Samsung Galaxy A55", "price": "28900000"},
    ]


def _fa_digits(value: str) -> str:
    return value.translate(str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬"))


def demo_page(lang: str = "fa") -> str:
    """The demo shop: a few products and the one-tag widget (Persian RTL; `?lang=en` for English)."""
    english = lang == "en"
    cards = []
    for product in _products():
        name = product.get("name_en" if english else "name_fa") or product.get("sku", "")
        try:
            price = f"{int(product.get('price', '0')):,}"
        except ValueError:
            price = product.get("price", "")
        price = f"{price} Toman" if english else f"{_fa_digits(price)} تومان"
        cards.append(
            f'<article class="product"><h2>{html.escape(name)}</h2>'
            f'<p class="sku" dir="ltr">{html.escape(product.get("sku", ""))}</p>'
            f'<p class="price">{html.escape(price)}</p></article>'
        )
    title = "Hamsafar demo shop" if english else "فروشگاه نمونه‌ی همسفر"
    intro = ("Ask the assistant about products, orders and delivery (bottom corner)." if english else
             "درباره‌ی کالاها، سفارش و ارسال از دستیار همسفر بپرسید (گوشه‌ی پایین صفحه).")
    return f"""<!doctype html>
<html lang="{'en' if english else 'fa'}" dir="{'ltr' if english else 'rtl'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
 body {{ margin: 0; font-family: Vazirmatn, Vazir, "Noto Naskh Arabic", "Noto Sans Arabic", Tahoma, "Segoe UI", sans-serif;
        background: #f6f7fb; color: #1d2330; }}
 header {{ background: #0f766e; color: #fff; padding: 1rem 1.5rem; }}
 main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 1rem; padding: 1.5rem; }}
 .product {{ background: #fff; border-radius: 12px; padding: 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.08); }}
 .product h2 {{ font-size: 1rem; margin: 0 0 .5rem; }}
 .sku {{ color: #667085; font-size: .8rem; margin: 0; text-align: start; }}
 .price {{ color: #0f766e; font-weight: bold; }}
</style>
</head>
<body>
<header><h1>{title}</h1><p>{intro}</p></header>
<main>{''.join(cards)}</main>
<script src="widget.js" data-lang="{'en' if english else 'fa'}" defer></script>
</body>
</html>"""
