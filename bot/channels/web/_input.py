"""The Rasa input channel `web`: its configuration, and what every route asks of it
(the session of a request, a signed identity, origins and CORS, the cookie, error answers,
handing a message to Rasa)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, Dict, Optional, Set, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic_cors.core import SANIC_CORS_EVALUATED

from rasa.core.channels.channel import InputChannel, UserMessage

from bot.channels.addresses import conversation_id
from bot import settings
from bot.channels.base import register_output

from ._errors import RateLimited, WebInputError
from ._limits import client_address, limiter
from ._live import notify
from ._output import WebOutput
from ._requests import parse_message
from ._routes import OnNewMessage, blueprint
from ._sessions import (COOKIE, SESSION_RE, Live, SessionLimits, end_session, new_conversation_key, resolve_session,
                        rotate_session, start_session, verified_customer)

logger = logging.getLogger(__package__)  # "bot.channels.web", as before the package split


class WebInput(InputChannel):
    """Rasa input channel `web`: the website widget's API, SSE push and demo page."""

    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WebInput":
        credentials = credentials or {}
        configured = settings.current()
        origins = credentials.get("allowed_origins") or configured.web_allowed_origins or []

        def number(key: str, configured_value: float) -> float:
            return float(credentials[key]) if credentials.get(key) is not None else configured_value

        return cls(
            allowed_origins=origins,
            rate_burst=int(credentials.get("rate_burst", 8)),
            rate_per_seconds=float(credentials.get("rate_per_seconds", 2.0)),
            address_burst=int(credentials.get("address_burst", 60)),
            address_per_seconds=float(credentials.get("address_per_seconds", 0.5)),
            streams_per_address=int(credentials.get("streams_per_address", 8)),
            streams_total=int(credentials.get("streams_total", 500)),
            limits=SessionLimits(
                verified_idle=dt.timedelta(minutes=number("verified_idle_minutes", configured.web_verified_idle_minutes)),
                verified_max=dt.timedelta(hours=number("verified_max_hours", configured.web_verified_max_hours)),
                session_max=dt.timedelta(days=number("session_max_days", configured.web_session_max_days))),
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
        # In Redis when it is configured: every worker of `hamsafar run --workers N` counts in one bucket.
        redis_url, database_url = settings.redis_url(), settings.database_url()
        self.limiter = limiter("conversation", rate_burst, rate_per_seconds, redis_url, database_url)
        self.address_limiter = limiter("address", address_burst, address_per_seconds, redis_url, database_url)
        self.streams_per_address, self.streams_total = streams_per_address, streams_total
        self._streams: Dict[str, int] = {}  # open event streams per client address
        self.limits = limits or SessionLimits()
        self.sse_lifetime, self.poll_interval = sse_lifetime, poll_interval
        self.output = WebOutput()
        register_output(self.output)
        self._tasks: Set[asyncio.Task] = set()

    def get_output_channel(self) -> WebOutput:
        return self.output

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return blueprint(self, on_new_message)

    async def drain(self, timeout: float = 10) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def parse_post(self, request: Request) -> Dict[str, Any]:
        """The message of a POST; `session_id` is None when the client relies on the cookie."""
        return parse_message(request)

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
        current = verified_customer(live.conversation)
        if current is not None and current == customer_id:
            return live, {"customer_id": customer_id, "verified": True, "status": "verified"}, None
        target = live.conversation if current is None else new_conversation_key()
        try:
            from bot.identity.verification import verify_web_identity

            outcome = verify_web_identity(conversation_id("web", target), customer_id, str(identity.get("expires", "")),
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

    # -- origins, CORS, refusals -------------------------------------------------------
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
        # these headers are the answer: Rasa's server-wide sanic_cors (`--cors`, which answers the
        # preflight) is told so, or it adds its own and browsers refuse a doubled Allow-Origin
        setattr(request.ctx, SANIC_CORS_EVALUATED, "1")
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Allow-Headers": "Content-Type, Last-Event-ID",
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS"}

    def _error(self, request: Request, error: WebInputError, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
        return response.json({"ok": False, "error": error.code, "detail": error.detail}, status=error.status,
                             headers={**self._cors(request), **(headers or {})})

    async def _check_origin_and_address(self, request: Request) -> None:
        if not self._origin_allowed(request):
            raise WebInputError(403, "origin_not_allowed", "this origin may not use the chat")
        wait = await self.address_limiter.check(client_address(request))
        if wait is not None:
            raise RateLimited(wait)

    # -- handing a message to Rasa -----------------------------------------------------
    async def _process(self, on_new_message: OnNewMessage, message: UserMessage, session_id: str) -> bool:
        """Hand the message to Rasa; False if handling failed (the caller refuses the message)."""
        notify(session_id, {"type": "typing", "on": True})
        try:
            await on_new_message(message)
            return True
        except Exception:
            logger.exception("web: handling a message failed")
            return False
        finally:
            notify(session_id, {"type": "typing", "on": False})
