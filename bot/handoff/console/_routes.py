"""The console's thin blueprint: the route table (path, method, handler) and the server's start
and stop listeners. The handlers live in the modules of their concern."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Tuple

from sanic import Blueprint
from sanic.request import Request

from . import _admin, _handoffs, _pages, _queue, _sessions
from ._http import error_reply

if TYPE_CHECKING:
    from ._input import AgentConsoleInput

HANDOFF = "/api/handoffs/<handoff_id:int>"
# The largest id a database integer column holds: a larger one names no handoff (SQLite raised on it).
LARGEST_ID = 2 ** 63 - 1

# (path, method, handler); a route is named after its handler (`page` is the one `/` redirects to)
ROUTES: Tuple[Tuple[str, str, Callable[..., Awaitable[Any]]], ...] = (
    ("/console", "GET", _pages.page),
    ("/static/<name>", "GET", _pages.static),
    ("/api/login", "POST", _sessions.login),
    ("/api/me", "GET", _sessions.me),
    ("/api/logout", "POST", _sessions.logout),
    ("/api/queue", "GET", _queue.queue),
    ("/api/canned", "GET", _queue.canned),
    (f"{HANDOFF}/claim", "POST", _handoffs.claim),
    (HANDOFF, "GET", _handoffs.show),
    (f"{HANDOFF}/customer", "GET", _handoffs.customer),
    (f"{HANDOFF}/reply", "POST", _handoffs.reply),
    (f"{HANDOFF}/notes", "POST", _handoffs.note),
    (f"{HANDOFF}/handback", "POST", _handoffs.handback),
    (f"{HANDOFF}/close", "POST", _handoffs.close),
    ("/api/report", "GET", _admin.report),
    ("/api/agents", "GET", _admin.agents),
    ("/api/agents", "POST", _admin.add_agent),
    ("/api/agents/<login>/active", "POST", _admin.activate),
    ("/api/audit", "GET", _admin.audit),
)


def blueprint(channel: "AgentConsoleInput") -> Blueprint:
    """The Sanic routes of one AgentConsoleInput (its own blueprint name, so several may share a server)."""
    bp = Blueprint(f"handoff_console_{id(channel)}", __package__)

    def add(handler: Callable[..., Awaitable[Any]], path: str, method: str, *context: Any) -> None:
        async def route(request: Request, **params: Any) -> Any:
            if not 0 < int(params.get("handoff_id", 1)) <= LARGEST_ID:
                return error_reply(404, "not_found")
            return await handler(request, *context, **params)

        bp.add_route(route, path, methods=[method], name=handler.__name__)

    add(_pages.root, "/", "GET", bp.name)
    for path, method, handler in ROUTES:
        add(handler, path, method)

    @bp.listener("after_server_start")
    async def start(app, loop) -> None:  # type: ignore[no-untyped-def]
        await channel.start(app)

    @bp.listener("before_server_stop")
    async def stop(app, loop) -> None:  # type: ignore[no-untyped-def]
        channel.stop()

    return bp
