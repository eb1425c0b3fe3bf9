"""The HTTP routes of the `web` channel (under `/webhooks/web/`): one small function each,
registered by `blueprint`. Each route takes the request and the `WebInput` it serves."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Optional, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import UserMessage

from bot.channels.addresses import conversation_id
from bot.channels.base import guard_customer_text
from bot.text.catalogue import text as catalogue_text

from ._errors import RateLimited, SessionEnded, WebInputError
from ._history import append_message, history, offered_payloads, retract_message
from ._limits import client_address, release_stream_slot, stream_slot_free, take_stream_slot
from ._live import listen, stop_listening
from ._output import WebOutput
from ._pages import DEMO_CSP, STATIC_DIR, demo_page
from ._requests import checked_session_id, json_body, parse_seq
from ._sessions import (COOKIE, SESSION_RE, Live, end_session, rotate_session, start_session,
                        touch_session, verified_customer)

if TYPE_CHECKING:
    from ._input import WebInput

logger = logging.getLogger(__package__)  # "bot.channels.web", as before the package split

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# the routes a cross-origin browser asks about first (CORS preflight)
PREFLIGHT = ("messages", "session", "logout", "history", "events")


def blueprint(channel: "WebInput", on_new_message: OnNewMessage) -> Blueprint:
    """The Sanic routes of one WebInput."""
    bp = Blueprint(f"web_{id(channel)}", __package__)

    def add(handler: Callable[..., Awaitable[Any]], path: str, method: str, *context: Any,
            name: Optional[str] = None) -> None:
        async def route(request: Request) -> Any:
            return await handler(request, *context)

        bp.add_route(route, path, methods=[method], name=name or handler.__name__)

    add(health, "/", "GET")
    add(widget_js, "/widget.js", "GET", channel)
    add(widget_css, "/widget.css", "GET", channel)
    add(demo, "/demo", "GET")
    for path in PREFLIGHT:
        add(preflight, f"/{path}", "OPTIONS", channel, name=f"preflight_{path}")
    add(open_session, "/session", "POST", channel)
    add(logout, "/logout", "POST", channel)
    add(post_message, "/messages", "POST", channel, on_new_message)
    add(get_history, "/history", "GET", channel)
    add(events, "/events", "GET", channel)

    @bp.listener("before_server_stop")
    async def stop(app, loop) -> None:  # type: ignore[no-untyped-def]
        await channel.drain(timeout=5)

    return bp


def refused(request: Request, channel: "WebInput", error: WebInputError) -> HTTPResponse:
    """The error answer; an ended session's cookie stays, so /session can tell the customer why it ended."""
    headers = {"Retry-After": error.retry_after} if isinstance(error, RateLimited) else None
    return channel._error(request, error, headers)


# ---------------------------------------------------------------- pages and files
async def health(_: Request) -> HTTPResponse:
    return response.json({"status": "ok"})


async def widget_js(request: Request, channel: "WebInput") -> HTTPResponse:
    return await response.file(STATIC_DIR / "widget.js", mime_type="application/javascript; charset=utf-8",
                               headers={"Cache-Control": "public, max-age=300", **channel._cors(request)})


async def widget_css(request: Request, channel: "WebInput") -> HTTPResponse:
    return await response.file(STATIC_DIR / "widget.css", mime_type="text/css; charset=utf-8",
                               headers={"Cache-Control": "public, max-age=300", **channel._cors(request)})


async def demo(request: Request) -> HTTPResponse:
    return response.html(demo_page(request.args.get("lang", "fa")), headers={"Content-Security-Policy": DEMO_CSP})


async def preflight(request: Request, channel: "WebInput") -> HTTPResponse:
    return response.empty(headers=channel._cors(request))


# ---------------------------------------------------------------- sessions
async def open_session(request: Request, channel: "WebInput") -> HTTPResponse:
    """POST /session, the widget's first call on every page: resume the cookie's session or start one."""
    try:
        await channel._check_origin_and_address(request)
        data = json_body(request)
    except WebInputError as error:
        return refused(request, channel, error)
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
        await asyncio.to_thread(append_message, live.conversation, "system",
                                catalogue_text(f"web.session_{notice}", lang))
    verified = live.verified_since is not None
    reply = response.json({"ok": True, "verified": verified, "notice": notice}, headers=channel._cors(request))
    channel._set_cookie(request, reply, live)
    return reply


async def logout(request: Request, channel: "WebInput") -> HTTPResponse:
    """POST /logout, "forget me": the session ends here (history and verification gone with its token);
    a fresh one starts."""
    try:
        await channel._check_origin_and_address(request)
        data = json_body(request)
        given = checked_session_id(data["session_id"]) if "session_id" in data else None
        token, from_body = channel._token(request, given)
    except WebInputError as error:
        return refused(request, channel, error)
    await asyncio.to_thread(end_session, token, "logout")
    if from_body:
        return response.json({"ok": True}, headers=channel._cors(request))
    live = await asyncio.to_thread(start_session)
    reply = response.json({"ok": True}, headers=channel._cors(request))
    channel._set_cookie(request, reply, live)
    return reply


# ---------------------------------------------------------------- messages
async def post_message(request: Request, channel: "WebInput", on_new_message: OnNewMessage) -> HTTPResponse:
    """POST /messages: answered only once the bot has handled the message (503 and nothing kept if not)."""
    try:
        await channel._check_origin_and_address(request)
        data = channel.parse_post(request)
        token, from_body = channel._token(request, data["session_id"])
        live = await asyncio.to_thread(channel._resolve, token, from_body)
        wait = await channel.limiter.check(live.conversation)
        if wait is not None:
            raise RateLimited(wait)
        live, identity, _ = await asyncio.to_thread(channel._apply_identity, live, data.get("identity"))
        if data["payload"] and data["text"] not in await asyncio.to_thread(offered_payloads, live.conversation):
            raise WebInputError(400, "unknown_payload", "payload is not a button offered in this session")
    except WebInputError as error:
        return refused(request, channel, error)
    conversation = live.conversation
    stored = await asyncio.to_thread(append_message, conversation, "customer", data["shown"])
    await asyncio.to_thread(touch_session, live)
    text = data["text"] if data["payload"] else guard_customer_text(data["text"])
    metadata: Dict[str, Any] = {"channel": "web", "web": {"session_id": conversation, "seq": stored["seq"]}}
    if identity is not None:
        metadata["web_identity"] = identity
    message = UserMessage(text, WebOutput(proactive=False), conversation_id("web", conversation),
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
    if live.verified_since is None and await asyncio.to_thread(verified_customer, conversation):
        live = await asyncio.to_thread(rotate_session, live)  # verified while handling (a one-time code)
    body: Dict[str, Any] = {"ok": True, "message": stored}
    if live.created and from_body:
        body["session_id"] = live.token
    reply = response.json(body, headers=channel._cors(request))
    if live.created and not from_body:
        channel._set_cookie(request, reply, live)
    return reply


# ---------------------------------------------------------------- reading: history and live events
def read_args(request: Request, channel: "WebInput") -> Tuple[str, bool, int]:
    """(token, from the query, after) of a read.

    Reads are not counted against the address (many customers share one carrier address); streams are capped."""
    if not channel._origin_allowed(request):
        raise WebInputError(403, "origin_not_allowed", "this origin may not use the chat")
    given = request.args.get("session_id")
    token, from_body = channel._token(request, checked_session_id(given) if given is not None else None)
    try:
        after = parse_seq(request.args.get("after", "0") or 0)
        last_event = request.headers.get("Last-Event-ID")
        if last_event:
            after = max(after, parse_seq(last_event))
    except ValueError:
        raise WebInputError(400, "invalid_after", "after must be an integer") from None
    return token, from_body, max(after, 0)


async def get_history(request: Request, channel: "WebInput") -> HTTPResponse:
    """GET /history?after=N: stored messages with `seq > N`."""
    try:
        token, from_body, after = read_args(request, channel)
        live = await asyncio.to_thread(channel._resolve, token, from_body)
    except WebInputError as error:
        return refused(request, channel, error)
    messages = await asyncio.to_thread(history, live.conversation, after)
    last = messages[-1]["seq"] if messages else after
    return response.json({"ok": True, "messages": messages, "last_seq": last}, headers=channel._cors(request))


async def events(request: Request, channel: "WebInput"):  # type: ignore[no-untyped-def]
    """GET /events?after=N: Server-Sent Events until `sse_lifetime` (the browser reconnects)."""
    try:
        token, from_body, after = read_args(request, channel)
        live = await asyncio.to_thread(channel._resolve, token, from_body)
        address = client_address(request)
        if not stream_slot_free(channel._streams, address, channel.streams_per_address, channel.streams_total):
            raise RateLimited(channel.poll_interval)
    except WebInputError as error:
        return refused(request, channel, error)
    conversation = live.conversation
    take_stream_slot(channel._streams, address)
    waiter = listen(conversation)
    try:
        stream = await request.respond(
            content_type="text/event-stream; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **channel._cors(request)},
        )
        await send_events(stream, channel, token, conversation, after, waiter[1])
        await stream.eof()
    except Exception as error:  # the client went away
        logger.debug("web: event stream closed: %s", error)
    finally:
        stop_listening(conversation, waiter)
        release_stream_slot(channel._streams, address)


async def send_events(stream: Any, channel: "WebInput", token: str, conversation: str, after: int,
                      queue: asyncio.Queue) -> None:
    """Every message after `after` (`id: <seq>`), then live ones, `typing`, `retract` and `ended`."""
    sent = after
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
