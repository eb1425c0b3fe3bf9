"""Request body limits for the Rasa server, enforced before a body is read (issue 17, finding 9).

Sanic reads a request's whole body before any handler or middleware runs, up to
`REQUEST_MAX_SIZE` (100 MB by default). Our channels checked sizes only after that,
so anyone could make the server buffer 100 MB per request. `install(app)`:

* lowers the server-wide ceiling (`REQUEST_MAX_SIZE`) to the largest limit below;
* on Sanic's `http.routing.before` signal — the request line and headers are parsed,
  no body byte has been read yet — refuses a `Content-Length` over the path's limit
  at once, and lowers the connection's read limit to the path's limit, so a chunked
  body (no `Content-Length`) is cut off as soon as the bytes streamed in pass it;
* answers both with 413 and a JSON error, and closes the connection instead of
  draining the rest of the body (Sanic's own behaviour once the limit is passed).

`bot.runtime.rasa_server.apply()` installs it into the app Rasa builds
(`rasa.core.run.configure_app`). docs/limits.md lists every limit.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

KB = 1024
MB = 1024 * KB

# (path prefix, largest body in bytes), longest prefix wins. Each limit is a few times the
# largest body a legitimate sender produces, and at least the check the handler makes afterwards.
LIMITS: Sequence[Tuple[str, int]] = (
    # The widget posts {"session_id", "text" <= 2,000 chars, "payload"}: bot/channels/web/_requests.py checks 16 KB.
    ("/webhooks/web/", 16 * KB),
    # {"sender", "message" <= 4,000 chars}: bot/channels/rest.py checks 64 KB (4,000 Persian characters
    # escaped as \uXXXX are 24 KB).
    ("/webhooks/rest/", 64 * KB),
    # Telegram and Bale updates: a 4,096-character text with entities, or a reply quoting another message,
    # stays well under 64 KB; media arrive as file ids, never as bytes. 256 KB leaves room for both nested.
    ("/webhooks/hamsafar_telegram/", 256 * KB),
    ("/webhooks/hamsafar_bale/", 256 * KB),
    # Twilio posts a form (Body <= 1,600 characters plus ~20 short fields); Kavenegar a few fields.
    ("/webhooks/sms/", 64 * KB),
    # The agent console: login, replies and notes; bot/handoff/console/_http.py checks 16 KB.
    ("/webhooks/handoff/", 16 * KB),
    # WooCommerce order/product webhooks carry the whole record (an order with many line items and
    # metadata); bot/orchestration/webhooks.py checks 1 MB.
    ("/webhooks/journeys/", 1 * MB),
)
# Anything else (Rasa's `/`, `/version`, unknown paths): nothing there takes a body.
DEFAULT_LIMIT = 16 * KB
# The server-wide ceiling Sanic enforces for every request: the largest per-path limit.
SERVER_MAX = max([DEFAULT_LIMIT, *(size for _, size in LIMITS)])


def limit_for(path: str, limits: Sequence[Tuple[str, int]] = LIMITS) -> int:
    """The largest body accepted on `path` (longest matching prefix, else the default)."""
    best: Optional[Tuple[str, int]] = None
    for prefix, size in limits:
        if (path.startswith(prefix) or path == prefix.rstrip("/")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, size)
    return best[1] if best else DEFAULT_LIMIT


def _declared_length(request: Any) -> Optional[int]:
    """The Content-Length header as a number; None when absent (a chunked body) or unreadable."""
    value = request.headers.getone("content-length", None)
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


async def _before_routing(request: Any) -> None:
    """Refuse a declared body over the limit; cap how much of an undeclared one may be read."""
    from sanic.exceptions import PayloadTooLarge

    limit = limit_for(request.path)
    stream = request.stream
    if stream is not None:
        # Sanic's Http.read() raises PayloadTooLarge once the bytes read pass this, and after the
        # response it closes the connection instead of draining a body over it.
        stream.request_max_size = min(stream.request_max_size, limit)
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes")


def _too_large(request: Any, exception: Exception) -> Any:
    """413 as JSON, like our handlers' own errors (`{"error": code, "message": ...}`)."""
    from sanic.response import json as json_response

    limit = limit_for(getattr(request, "path", "") or "")
    stream = getattr(request, "stream", None)
    if stream is not None:
        stream.keep_alive = False   # the unread rest of the body is never drained: the connection closes
    return json_response({"error": "body_too_large", "message": f"request body over {limit} bytes"}, status=413)


def install(app: Any) -> Any:
    """Apply the limits to a Sanic app before it starts (idempotent)."""
    from sanic.exceptions import PayloadTooLarge

    if getattr(app.ctx, "hamsafar_request_limits", False):
        return app
    app.ctx.hamsafar_request_limits = True
    app.config.REQUEST_MAX_SIZE = min(int(app.config.REQUEST_MAX_SIZE), SERVER_MAX)
    app.signal("http.routing.before")(_before_routing)
    app.error_handler.add(PayloadTooLarge, _too_large)
    return app
