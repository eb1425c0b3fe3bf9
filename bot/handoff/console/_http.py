"""What every console request and answer shares: the security headers, JSON answers (web
conversation ids shown only as references), the API's refusals, reading a JSON body, the
same-origin check, the client's address, and blocking database work off the event loop."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any, Awaitable, Callable, Dict

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.addresses import channel_of

COOKIE = "hamsafar_console"
COOKIE_PATH = "/webhooks/handoff"
MAX_BODY = 16 * 1024
MAX_REPLY = 4000
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ApiError(Exception):
    """A refusal raised anywhere below a route and answered as `{"ok": false, "error": code}` with its status."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
    """Blocking database work off the event loop."""
    return asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


def opaque(data: Any) -> Any:
    """`data` with every web conversation id shown as its reference (`web:ref-…`, bot.touchpoints.privacy).

    The console never needs the raw widget conversation key: agents act through the handoff
    id, and the server looks the conversation up itself."""
    from bot.touchpoints.privacy import conversation_ref

    if isinstance(data, dict):
        return {k: (conversation_ref(v) if k == "conversation_id" and channel_of(v) == "web"
                    else opaque(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [opaque(item) for item in data]
    return data


def json_reply(data: Any, status: int = 200) -> HTTPResponse:
    """Every API answer: JSON with the security headers, web conversation ids made opaque."""
    return response.json(opaque(data), status=status, headers=SECURITY_HEADERS, ensure_ascii=False)


def error_reply(status: int, code: str) -> HTTPResponse:
    return json_reply({"ok": False, "error": code}, status)


def client_address(request: Request) -> str:
    return str(request.remote_addr or request.ip or "")[:64]


def json_body(request: Request) -> Dict[str, Any]:
    """The request's JSON object; ApiError 413 (over 16 KB), 415 (not JSON) or 400 (malformed)."""
    raw = request.body or b""
    if len(raw) > MAX_BODY:
        raise ApiError(413, "body_too_large")
    if "application/json" not in (request.headers.get("content-type") or ""):
        raise ApiError(415, "json_required")
    try:
        data = json.loads(raw.decode("utf-8") or "{}")
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nesting too deep
        raise ApiError(400, "malformed_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json")
    return data


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host
