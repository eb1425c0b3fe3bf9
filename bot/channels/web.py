"""Website chat widget: the Rasa input channel `web` (routes under `/webhooks/web/`).

* `GET  /widget.js`, `/widget.css` — the widget; a shop page embeds it with ONE tag:
  `<script src="https://bot.example/webhooks/web/widget.js" data-lang="fa" defer></script>`
  (optional signed identity: `data-customer-id`, `data-customer-expires`,
  `data-customer-signature`, from `bot.identity.verification.web_identity_for`).
* `GET  /demo` — a Persian (RTL) demo shop page with a few products and the widget.
* `POST /messages` — `{"session_id": "...", "text": "..."}` (or `"payload"` of a
  button the bot showed in this session, or `"identity": {...}`); answers
  `{"ok": true, "message": {...}}` with the stored customer message and its `seq`.
* `GET  /history?session_id=...&after=N` — stored messages with `seq > N`.
* `GET  /events?session_id=...&after=N` — Server-Sent Events: every message
  (customer, bot, agent, bot-initiated) with `id: <seq>`, plus `typing` events.
  A reconnecting EventSource sends `Last-Event-ID`, so nothing is lost; the
  client drops any `seq` it already shows, so nothing is duplicated.

History lives in the `web_messages` table (per session, numbered by `seq`), so it
survives page reloads and server restarts; the session id is a random id the
widget keeps in localStorage (it acts as the bearer of the history).
Input is validated strictly (4xx JSON error, nothing written) and rate-limited
per session. Conversation id: `web:<session_id>`.
"""

from __future__ import annotations

import asyncio
import csv
import html
import json
import logging
import re
import time
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
from bot.db import session_scope

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "web_static"
SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_TEXT = 4000
MAX_BODY = 16 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SENDERS = ("customer", "bot", "agent", "system")


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


# ---------------------------------------------------------------- history + live push
# session -> (event loop, queue) of every open event stream of that session
_waiters: Dict[str, Set[Tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = {}


def _notify(session_id: str, event: Dict[str, Any]) -> None:
    """Wake the session's event streams; safe from any thread (a queue belongs to its loop)."""
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


def append_message(session_id: str, sender: str, text: str, buttons: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """Store a message with the next `seq` of its session and push it to live listeners."""
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
    """Writes bot (or agent) messages into a web session's history; pushed live."""

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
    """Per-session token bucket: `burst` messages, then one per `per_seconds`."""

    def __init__(self, burst: int = 8, per_seconds: float = 2.0) -> None:
        self.burst, self.rate = burst, 1.0 / per_seconds
        self.state: Dict[str, List[float]] = {}

    def allow(self, key: str) -> Optional[float]:
        now = time.monotonic()
        tokens, stamp = self.state.get(key, [float(self.burst), now])
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < 1:
            self.state[key] = [tokens, now]
            return (1 - tokens) / self.rate
        self.state[key] = [tokens - 1, now]
        if len(self.state) > 50000:
            self.state.clear()
        return None


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WebInput(InputChannel):
    """Rasa input channel `web`: the website widget's API, SSE push and demo page."""

    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WebInput":
        credentials = credentials or {}
        origins = credentials.get("allowed_origins") or settings.env_secret("HAMSAFAR_WEB_ALLOWED_ORIGINS") or "*"
        if isinstance(origins, str):
            origins = [o.strip() for o in origins.split(",") if o.strip()]
        return cls(
            allowed_origins=origins,
            rate_burst=int(credentials.get("rate_burst", 8)),
            rate_per_seconds=float(credentials.get("rate_per_seconds", 2.0)),
        )

    def __init__(self, *, allowed_origins: Optional[List[str]] = None, rate_burst: int = 8,
                 rate_per_seconds: float = 2.0, sse_lifetime: float = 55.0, poll_interval: float = 2.0) -> None:
        self.allowed_origins = allowed_origins or ["*"]
        self.limiter = _RateLimiter(rate_burst, rate_per_seconds)
        self.sse_lifetime, self.poll_interval = sse_lifetime, poll_interval
        self.output = WebOutput()
        register_output(self.output)
        self._verified: Dict[str, Dict[str, Any]] = {}
        self._tasks: Set[asyncio.Task] = set()

    def get_output_channel(self) -> WebOutput:
        return self.output

    async def drain(self, timeout: float = 10) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    # -- validation ------------------------------------------------------------------
    @staticmethod
    def _session(value: Any) -> str:
        if not isinstance(value, str) or not SESSION_RE.match(value):
            raise WebInputError(400, "invalid_session_id", "session_id must be a string of 16-64 letters, digits, - or _")
        return value

    def parse_post(self, request: Request) -> Dict[str, Any]:
        body = request.body or b""
        if len(body) > MAX_BODY:
            raise WebInputError(413, "body_too_large", f"request body over {MAX_BODY} bytes")
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
        session_id = self._session(data.get("session_id"))
        text, payload = data.get("text"), data.get("payload")
        if payload is not None:
            if not isinstance(payload, str) or not payload.strip() or len(payload) > MAX_TEXT:
                raise WebInputError(400, "invalid_payload", "payload must be a non-empty string")
            if payload not in _offered_payloads(session_id):
                raise WebInputError(400, "unknown_payload", "payload is not a button offered in this session")
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

    def _identity(self, session_id: str, identity: Any) -> Optional[Dict[str, Any]]:
        """Check a signed identity once per session with bot.identity (None if none given)."""
        if session_id in self._verified:
            return self._verified[session_id]
        if not isinstance(identity, dict) or not identity.get("customer_id"):
            return None
        result: Dict[str, Any] = {"customer_id": str(identity.get("customer_id"))[:100], "verified": False}
        try:
            from bot.identity.verification import verify_web_identity

            outcome = verify_web_identity(f"web:{session_id}", str(identity.get("customer_id")),
                                          str(identity.get("expires", "")), str(identity.get("signature", "")))
            result["verified"] = bool(getattr(outcome, "ok", False))
            result["status"] = getattr(outcome, "status", None)
        except ImportError:
            logger.warning("web: bot.identity.verification not available; identity ignored")
        except Exception:
            logger.exception("web: identity check failed")
        if result["verified"]:
            self._verified[session_id] = result
        return result

    def _cors(self, request: Request) -> Dict[str, str]:
        origin = request.headers.get("Origin")
        if not origin:
            return {}
        if "*" in self.allowed_origins:
            allow = "*"
        elif origin in self.allowed_origins:
            allow = origin
        else:
            return {}
        return {"Access-Control-Allow-Origin": allow, "Vary": "Origin",
                "Access-Control-Allow-Headers": "Content-Type, Last-Event-ID",
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS"}

    def _error(self, request: Request, error: WebInputError, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
        return response.json({"ok": False, "error": error.code, "detail": error.detail}, status=error.status,
                             headers={**self._cors(request), **(headers or {})})

    async def _process(self, on_new_message: OnNewMessage, message: UserMessage, session_id: str) -> None:
        _notify(session_id, {"type": "typing", "on": True})
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("web: handling a message failed")
        finally:
            _notify(session_id, {"type": "typing", "on": False})

    # -- Sanic ----------------------------------------------------------------------------
    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint(f"web_{id(self)}", __name__)
        channel = self

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

        @bp.route("/messages", methods=["OPTIONS"])
        async def preflight(request: Request) -> HTTPResponse:
            return response.empty(headers=channel._cors(request))

        @bp.route("/messages", methods=["POST"])
        async def post_message(request: Request) -> HTTPResponse:
            try:
                data = channel.parse_post(request)
            except WebInputError as error:
                return channel._error(request, error)
            session_id = data["session_id"]
            wait = channel.limiter.allow(session_id)
            if wait is not None:
                return channel._error(request, WebInputError(429, "rate_limited", "too many messages; slow down"),
                                      {"Retry-After": str(max(1, int(wait + 0.999)))})
            identity = channel._identity(session_id, data.get("identity"))
            stored = append_message(session_id, "customer", data["shown"])
            text = data["text"] if data["payload"] else guard_customer_text(data["text"])
            metadata: Dict[str, Any] = {"channel": "web", "web": {"session_id": session_id, "seq": stored["seq"]}}
            if identity is not None:
                metadata["web_identity"] = identity
            message = UserMessage(text, WebOutput(proactive=False), f"web:{session_id}",
                                  input_channel=channel.name(), metadata=metadata)
            task = asyncio.ensure_future(channel._process(on_new_message, message, session_id))
            channel._tasks.add(task)
            task.add_done_callback(channel._tasks.discard)
            return response.json({"ok": True, "message": stored}, headers=channel._cors(request))

        @bp.route("/history", methods=["GET"])
        async def get_history(request: Request) -> HTTPResponse:
            try:
                session_id = channel._session(request.args.get("session_id"))
                after = _seq(request.args.get("after", "0") or 0)
            except WebInputError as error:
                return channel._error(request, error)
            except ValueError:
                return channel._error(request, WebInputError(400, "invalid_after", "after must be an integer"))
            messages = history(session_id, max(after, 0))
            last = messages[-1]["seq"] if messages else after
            return response.json({"ok": True, "messages": messages, "last_seq": last}, headers=channel._cors(request))

        @bp.route("/events", methods=["GET"])
        async def events(request: Request):  # type: ignore[no-untyped-def]
            try:
                session_id = channel._session(request.args.get("session_id"))
                after = _seq(request.args.get("after", "0") or 0)
                last_event = request.headers.get("Last-Event-ID")
                if last_event:
                    after = max(after, _seq(last_event))
            except WebInputError as error:
                return channel._error(request, error)
            except ValueError:
                return channel._error(request, WebInputError(400, "invalid_after", "after must be an integer"))
            queue: asyncio.Queue = asyncio.Queue()
            waiter = (asyncio.get_running_loop(), queue)
            _waiters.setdefault(session_id, set()).add(waiter)
            stream = await request.respond(
                content_type="text/event-stream; charset=utf-8",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **channel._cors(request)},
            )
            sent = after
            deadline = time.monotonic() + channel.sse_lifetime
            try:
                await stream.send("retry: 2000\n\n")
                while time.monotonic() < deadline:
                    for message in history(session_id, sent):  # backlog, and anything other processes wrote
                        await stream.send(f"id: {message['seq']}\ndata: {json.dumps(message, ensure_ascii=False)}\n\n")
                        sent = message["seq"]
                    try:
                        event = await asyncio.wait_for(queue.get(), timeout=channel.poll_interval)
                    except asyncio.TimeoutError:
                        await stream.send(": keep-alive\n\n")
                        continue
                    if event["type"] == "typing":
                        await stream.send(f"event: typing\ndata: {json.dumps({'on': event['on']})}\n\n")
                    # a "message" event: loop round and read it (in seq order) from the history
            except Exception as error:  # the client went away
                logger.debug("web: event stream closed: %s", error)
            finally:
                _waiters.get(session_id, set()).discard(waiter)
                if not _waiters.get(session_id):
                    _waiters.pop(session_id, None)
            try:
                await stream.eof()
            except Exception:
                pass

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
