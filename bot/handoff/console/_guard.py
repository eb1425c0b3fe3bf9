"""Who may call a console route: the agent of the session cookie, their role, the CSRF token
of a write; and which handoffs an agent may see or act on."""

from __future__ import annotations

import functools
import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, Tuple

from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff import service

from ._http import COOKIE, ApiError, error_reply, run, same_origin

logger = logging.getLogger(__package__)  # "bot.handoff.console", as before the package split

Handler = Callable[..., Awaitable[HTTPResponse]]

ANYONE = ("agent", "admin", "analyst")
AGENTS = ("agent", "admin")
ANALYSTS = ("analyst", "admin")
ADMINS = ("admin",)


def guarded(roles: Tuple[str, ...], *, write: bool = False) -> Callable[[Handler], Handler]:
    """Wrap a handler `(request, agent, ...)`: session, role, CSRF (for writes) and error mapping."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            try:
                agent = await run(service.session_agent, request.cookies.get(COOKIE))
                if agent is None:
                    return error_reply(401, "not_logged_in")
                if agent["role"] not in roles:
                    return error_reply(403, "forbidden")
                if write:
                    supplied = request.headers.get("x-csrf-token", "")
                    if not same_origin(request) or not hmac.compare_digest(supplied.encode(), agent["csrf"].encode()):
                        return error_reply(403, "csrf")
                return await handler(request, agent, *args, **kwargs)
            except ApiError as error:
                return error_reply(error.status, error.code)
            except Exception:  # noqa: BLE001
                logger.exception("console: %s failed", request.path)
                return error_reply(500, "internal_error")

        return checked

    return wrap


def tracker_agent(request: Request) -> Any:
    """Rasa's agent of this server (its tracker and lock stores); 503 until it is loaded."""
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or getattr(agent, "tracker_store", None) is None:
        raise ApiError(503, "bot_not_ready")
    return agent


async def visible_handoff(handoff_id: int, me: Dict[str, Any]) -> Dict[str, Any]:
    """A handoff the agent may see: waiting ones (to triage), their own, or any for an admin."""
    handoff = await run(service.get_handoff, handoff_id)
    if handoff is None:
        raise ApiError(404, "not_found")
    if me["role"] == "admin" or handoff["status"] == "waiting" or handoff["agent"] == me["login"]:
        return handoff
    raise ApiError(403, "not_your_conversation")


async def held_handoff(handoff_id: int, me: Dict[str, Any], *, admin_too: bool = True) -> Dict[str, Any]:
    """An active handoff the agent claimed (or, with `admin_too`, any active one for an admin)."""
    handoff = await run(service.get_handoff, handoff_id)
    if handoff is None:
        raise ApiError(404, "not_found")
    if handoff["status"] != "active":
        raise ApiError(409, "not_active")
    if handoff["agent"] != me["login"] and not (admin_too and me["role"] == "admin"):
        raise ApiError(403, "not_your_conversation")
    return handoff
