"""Telegram channel on python-telegram-bot 22 (not Rasa's aiogram connector).

Rasa name `hamsafar_telegram` (routes under `/webhooks/hamsafar_telegram/`).

* Webhook: `POST /webhooks/hamsafar_telegram/webhook`; the
  `X-Telegram-Bot-Api-Secret-Token` header must equal the configured secret
  (constant-time compare, 403 otherwise). A repeated `update_id` is ignored
  (database + memory). The request is answered at once; the update is handled
  in a background task, after the earlier updates of the same chat.
* Polling (no public address): `mode: polling` (or env
  `HAMSAFAR_TELEGRAM_MODE=polling`) starts `run_polling()` when the Sanic
  server starts; `run_polling(channel, on_new_message)` can also be started
  by hand.
* Conversation ids: `tg:<chat_id>` in a private chat, `tg:<chat_id>:<user_id>`
  in groups and supergroups (one conversation per person per group).
* Buttons become inline keyboards; callback data is always a short id
  (`b:<16 chars>`, well under 64 bytes) mapped to the payload in the
  `telegram_callbacks` table, so long payloads work and clients cannot inject
  arbitrary intents. Presses are acknowledged with answerCallbackQuery.
* A custom JSON `{"request_contact": true, "text": "...", "button": "..."}` shows a
  one-time "share my phone number" reply keyboard. A shared contact counts only
  if `contact.user_id == from.id`; then `bot.identity.verify_telegram_contact`
  is called and Rasa receives `/inform{"phone_number": "<E.164>"}`.
* Replies over 4096 characters are split at paragraph, line, sentence or word
  boundaries; no parse_mode is ever used (customer-influenced text).
* Sends are paced per chat (token bucket) and globally; a 429 `retry_after` is
  honoured and the message retried, so a burst is delivered, not dropped.
* The bot token is registered with `bot.channels.redaction` so it never
  reaches a log line.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import inspect
import json
import logging
import time
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Set

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, UserMessage

from bot import settings
from bot.channels import consent
from bot.channels.base import (ArrivalOrder, ProactiveOutput, guard_customer_text, register_output,
                               run_identity_check)
from bot.channels.models import TelegramCallback, ensure_tables, mark_inbound_seen
from bot.channels.redaction import register_secret
from bot.db import session_scope
from bot.text.identifiers import normalise_phone

logger = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 4096  # UTF-16 code units, Telegram's limit for message text
MAX_CALLBACK_BYTES = 64
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]

POLITE = {
    "unsupported": {
        "fa": "فعلاً فقط پیام متنی را می‌توانم بخوانم؛ لطفاً سؤالتان را بنویسید.",
        "en": "For now I can only read text messages; please type your question.",
    },
    "foreign_contact": {
        "fa": "برای تأیید هویت لطفاً شماره‌ی خودتان را با دکمه‌ی «ارسال شماره‌ی من» بفرستید.",
        "en": "To verify you, please share your own number with the \"Share my phone number\" button.",
    },
    "share_button": {"fa": "ارسال شماره‌ی من", "en": "Share my phone number"},
    "stopped": {
        "fa": "دیگر پیامی به ابتکار ما برایتان فرستاده نمی‌شود. هر وقت خواستید /start را بزنید.",
        "en": "You will not get messages we start any more. Send /start whenever you like.",
    },
}


def _lang(language_code: Optional[str]) -> str:
    return "en" if (language_code or "").lower().startswith("en") else "fa"


def conversation_id(chat_id: int, chat_type: str, user_id: Optional[int]) -> str:
    """The rule: `tg:<chat>` for private chats, `tg:<chat>:<user>` in groups."""
    if chat_type == "private" or user_id is None:
        return f"tg:{chat_id}"
    return f"tg:{chat_id}:{user_id}"


def chat_of(recipient_id: str) -> int:
    """Telegram chat id of a conversation id (`tg:123`, `tg:-100123:456` or a bare id)."""
    value = str(recipient_id)
    if value.startswith("tg:"):
        value = value[3:]
    return int(value.split(":", 1)[0])


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut_index(text: str, limit: int) -> int:
    """Largest character index <= `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


_SENTENCE_ENDS = (". ", "! ", "? ", "؟ ", "! ", "…", ".\u200f", "؛ ")


def split_message(text: str, limit: int = MAX_MESSAGE_LENGTH) -> List[str]:
    """Split `text` into parts of at most `limit` UTF-16 units, at natural boundaries."""
    parts: List[str] = []
    rest = text
    while _utf16_len(rest) > limit:
        window = rest[: _cut_index(rest, limit)]
        cut = -1
        for separators in (("\n\n",), ("\n",), _SENTENCE_ENDS, (" ",)):
            best = max(window.rfind(sep) for sep in separators)
            if best > len(window) // 3:  # do not leave tiny fragments
                sep_len = max((len(s) for s in separators if window.rfind(s) == best), default=1)
                cut = best + sep_len
                break
        if cut <= 0:
            cut = len(window)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest.strip() or not parts:
        parts.append(rest)
    return [p for p in parts if p.strip()] or [text[:limit]]


def callback_data_for(payload: str) -> str:
    """A short callback id for `payload` (stored once; deterministic)."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()[:12]
    short_id = base64.urlsafe_b64encode(digest).decode("ascii")
    ensure_tables()
    with session_scope() as session:
        if session.get(TelegramCallback, short_id) is None:
            session.add(TelegramCallback(short_id=short_id, payload=payload))
    data = "b:" + short_id
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    return data


def payload_for(callback_data: Optional[str]) -> Optional[str]:
    if not callback_data or not callback_data.startswith("b:"):
        return None
    ensure_tables()
    with session_scope() as session:
        row = session.get(TelegramCallback, callback_data[2:])
        return row.payload if row else None


class _Bucket:
    """Token bucket: `rate` sends per second, bursts of `capacity`."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate, self.capacity = rate, capacity
        self.tokens, self.stamp = capacity, time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)


def _retry_seconds(error: Exception) -> float:
    value = getattr(error, "_retry_after", None)
    if value is None:
        value = getattr(error, "retry_after", 1)
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    return float(value)


class TelegramOutput(ProactiveOutput):
    """Sends to Telegram chats; usable without an incoming message."""

    channel = "telegram"

    @classmethod
    def name(cls) -> str:
        return "hamsafar_telegram"

    def __init__(
        self,
        token: str,
        *,
        base_url: Optional[str] = None,
        proactive: bool = True,
        shared: Optional["TelegramOutput"] = None,
        private_rate: float = 1.0,
        group_rate: float = 1 / 3,
        burst: float = 3,
        global_rate: float = 30.0,
        max_attempts: int = 6,
    ) -> None:
        super().__init__(proactive=proactive)
        self.token = token
        self.base_url = base_url
        register_secret(token)
        if shared is not None:  # reply outputs share the bot, pacing and locks
            self._state = shared._state
        else:
            self._state = {
                "bot": None,
                "init": None,
                "locks": collections.defaultdict(asyncio.Lock),
                "buckets": {},
                "global": _Bucket(global_rate, global_rate),
                "rates": (private_rate, group_rate, burst),
                "max_attempts": max_attempts,
                "keyboard_open": set(),
            }

    def for_reply(self) -> "TelegramOutput":
        return TelegramOutput(self.token, base_url=self.base_url, proactive=False, shared=self)

    async def bot(self):  # type: ignore[no-untyped-def]
        from telegram import Bot
        from telegram.request import HTTPXRequest

        state = self._state
        if state["bot"] is None:
            kwargs: Dict[str, Any] = {
                "request": HTTPXRequest(connection_pool_size=32, read_timeout=15, write_timeout=15),
                "get_updates_request": HTTPXRequest(connection_pool_size=2, read_timeout=60),
            }
            if self.base_url:
                kwargs["base_url"] = self.base_url
            state["bot"] = Bot(self.token, **kwargs)
        if state["init"] is None:
            state["init"] = asyncio.ensure_future(state["bot"].initialize())
        await asyncio.shield(state["init"])
        return state["bot"]

    async def close(self) -> None:
        if self._state["bot"] is not None and self._state["init"] is not None:
            await self._state["bot"].shutdown()
            self._state["bot"] = self._state["init"] = None

    # -- pacing and retries -------------------------------------------------
    def _bucket(self, chat_id: int) -> _Bucket:
        buckets = self._state["buckets"]
        if chat_id not in buckets:
            private_rate, group_rate, burst = self._state["rates"]
            rate = private_rate if chat_id > 0 else group_rate
            buckets[chat_id] = _Bucket(rate, burst)
        return buckets[chat_id]

    async def call(self, chat_id: int, method: str, **kwargs: Any) -> Any:
        """Call Bot API `method` for `chat_id`, in order per chat, paced, retrying 429s."""
        from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

        bot = await self.bot()
        async with self._state["locks"][chat_id]:
            attempts = self._state["max_attempts"]
            for attempt in range(1, attempts + 1):
                await self._bucket(chat_id).take()
                await self._state["global"].take()
                try:
                    return await getattr(bot, method)(chat_id=chat_id, **kwargs)
                except RetryAfter as error:
                    wait = _retry_seconds(error)
                    logger.warning("telegram: flood control, retrying %s in %.1fs", method, wait)
                    if attempt == attempts:
                        raise
                    await asyncio.sleep(wait + 0.05)
                except Forbidden:
                    logger.info("telegram: chat %s blocked the bot; recorded as opted out", chat_id)
                    consent.opt_out("telegram", str(chat_id), source="blocked")
                    return None
                except ChatMigrated as error:
                    chat_id = error.new_chat_id
                except (BadRequest, TimedOut):
                    # BadRequest will not get better; a timeout may have been delivered,
                    # so it is not retried (no duplicate messages) but reported.
                    raise
                except NetworkError as error:
                    if attempt == attempts:
                        raise
                    logger.warning("telegram: network error (%s), retrying", error)
                    await asyncio.sleep(min(2 ** attempt * 0.25, 5))
        return None

    # -- sending -------------------------------------------------------------
    async def _deliver(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], *, kind: str) -> None:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove

        chat_id = chat_of(recipient_id)
        markup: Any = None
        if buttons:
            rows = []
            for button in buttons:
                title = str(button.get("title") or button.get("payload") or "?")[:64]
                if button.get("url"):
                    rows.append([InlineKeyboardButton(title, url=button["url"])])
                else:
                    payload = str(button.get("payload") or title)
                    rows.append([InlineKeyboardButton(title, callback_data=callback_data_for(payload))])
            markup = InlineKeyboardMarkup(rows)
        elif chat_id in self._state["keyboard_open"]:
            markup = ReplyKeyboardRemove()
            self._state["keyboard_open"].discard(chat_id)
        parts = split_message(text or "")
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self.call(chat_id, "send_message", text=part, reply_markup=markup if last else None)

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        from telegram import KeyboardButton, ReplyKeyboardMarkup

        if not consent.check_outbound("telegram", recipient_id, proactive=self.proactive):
            return
        if json_message.get("request_contact"):
            lang = json_message.get("language") or "fa"
            label = json_message.get("button") or POLITE["share_button"].get(lang, POLITE["share_button"]["fa"])
            text = json_message.get("text") or label
            chat_id = chat_of(recipient_id)
            keyboard = ReplyKeyboardMarkup(
                [[KeyboardButton(label, request_contact=True)]], one_time_keyboard=True, resize_keyboard=True
            )
            self._state["keyboard_open"].add(chat_id)
            await self.call(chat_id, "send_message", text=text, reply_markup=keyboard)
        elif json_message.get("text"):
            await self._deliver(recipient_id, str(json_message["text"]), json_message.get("buttons") or [], kind="message")


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class HamsafarTelegramInput(InputChannel):
    """Rasa input channel `hamsafar_telegram` (webhook or polling)."""

    @classmethod
    def name(cls) -> str:
        return "hamsafar_telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "HamsafarTelegramInput":
        credentials = credentials or {}

        def pick(key: str, env: str) -> Optional[str]:
            value = credentials.get(key)
            value = str(value).strip() if value not in (None, "") else None
            return value or settings.env_secret(env)

        return cls(
            token=pick("token", "HAMSAFAR_TELEGRAM_TOKEN"),
            webhook_secret=pick("webhook_secret", "HAMSAFAR_TELEGRAM_WEBHOOK_SECRET"),
            webhook_url=pick("webhook_url", "HAMSAFAR_TELEGRAM_WEBHOOK_URL"),
            mode=pick("mode", "HAMSAFAR_TELEGRAM_MODE") or "webhook",
            base_url=pick("base_url", "HAMSAFAR_TELEGRAM_API_BASE_URL"),
        )

    def __init__(
        self,
        token: Optional[str],
        webhook_secret: Optional[str] = None,
        *,
        webhook_url: Optional[str] = None,
        mode: str = "webhook",
        base_url: Optional[str] = None,
        output_options: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.token = token
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.mode = (mode or "webhook").lower()
        self.base_url = base_url
        if webhook_secret:
            register_secret(webhook_secret)
        self.output: Optional[TelegramOutput] = None
        if token:
            self.output = TelegramOutput(token, base_url=base_url, **(output_options or {}))
            register_output(self.output)
        else:
            logger.warning("hamsafar_telegram: no token (HAMSAFAR_TELEGRAM_TOKEN); channel disabled")
        self._recent: Deque[int] = collections.deque(maxlen=5000)
        self._recent_set: Set[int] = set()
        self._tasks: Set[asyncio.Task] = set()
        self._order = ArrivalOrder()
        self._polling_stop: Optional[asyncio.Event] = None

    def get_output_channel(self) -> Optional[TelegramOutput]:
        return self.output

    # -- de-duplication -------------------------------------------------------
    def is_new_update(self, update_id: int) -> bool:
        if update_id in self._recent_set:
            return False
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(update_id)
        self._recent_set.add(update_id)
        return mark_inbound_seen("telegram", str(update_id))

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 10) -> None:
        """Wait for in-flight update tasks (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    # -- update handling --------------------------------------------------------
    async def handle_update(self, data: Dict[str, Any], on_new_message: OnNewMessage) -> None:
        """Handle one update dict, after the earlier updates of its chat; never raises (errors are logged)."""
        try:
            async with self._order.hold(_chat_key(data)):
                await self._handle_update(data, on_new_message)
        except Exception:
            logger.exception("telegram: failed to handle update %s", data.get("update_id"))

    async def _handle_update(self, data: Dict[str, Any], on_new_message: OnNewMessage) -> None:
        from telegram import Update

        assert self.output is not None
        bot = await self.output.bot()
        update = Update.de_json(data, bot)
        output = self.output.for_reply()

        if update.callback_query is not None:
            query = update.callback_query
            try:
                await bot.answer_callback_query(query.id)
            except Exception as error:  # an old query cannot be answered; still handle it
                logger.info("telegram: answerCallbackQuery failed: %s", error)
            payload = payload_for(query.data)
            if payload is None or query.message is None:
                return
            chat = query.message.chat
            conv = conversation_id(chat.id, chat.type, query.from_user.id)
            await self._forward(on_new_message, payload, output, conv, chat, query.from_user, None)
            return

        if update.my_chat_member is not None:
            member = update.my_chat_member
            if member.chat.type == "private" and member.new_chat_member.status == "kicked":
                consent.opt_out("telegram", str(member.chat.id), source="blocked")
            return

        message = update.message
        if message is None:
            # edited messages, channel posts, chat member changes, polls...: ignored politely
            logger.debug("telegram: ignoring update %s of an unhandled type", update.update_id)
            return
        chat, user = message.chat, message.from_user
        if chat.type == "channel" or user is None or user.is_bot:
            return
        if consent.opt_out_source("telegram", str(chat.id)) == "blocked":
            consent.opt_in("telegram", str(chat.id), source="wrote_again")
        conv = conversation_id(chat.id, chat.type, user.id)
        lang = _lang(user.language_code)

        if message.contact is not None:
            await self._handle_contact(message, conv, lang, output, on_new_message)
            return
        text = message.text
        if text is None:
            if chat.type == "private" and not _is_service(message):
                await output.send_text(conv, POLITE["unsupported"][lang], proactive=False)
            return
        command = text.strip().split()[0].split("@")[0].lower() if text.strip().startswith("/") else None
        if command == "/start":
            if consent.opt_in("telegram", str(chat.id), source="start"):
                logger.info("telegram: chat opted in again with /start")
            text = "/greet"
        elif command == "/stop":
            consent.opt_out("telegram", str(chat.id), source="command")
            await output.send_text(conv, POLITE["stopped"][lang], proactive=False)
            return
        else:
            text = guard_customer_text(text)
        await self._forward(on_new_message, text, output, conv, chat, user, message.message_id)

    async def _handle_contact(self, message, conv: str, lang: str, output: TelegramOutput, on_new_message: OnNewMessage) -> None:  # type: ignore[no-untyped-def]
        contact, user = message.contact, message.from_user
        if contact.user_id is None or contact.user_id != user.id:
            logger.info("telegram: refused a contact that is not the sender's own")
            await output.send_text(conv, POLITE["foreign_contact"][lang], proactive=False)
            return
        phone = normalise_phone(contact.phone_number or "")
        if phone is None:
            await output.send_text(conv, POLITE["foreign_contact"][lang], proactive=False)
            return
        verified: Any = None
        try:
            from bot.identity.verification import verify_telegram_contact

            # a CRM lookup (maybe over HTTP): off the event loop
            verified = await run_identity_check(verify_telegram_contact, conv, phone, contact.user_id, user.id)
            if inspect.isawaitable(verified):
                verified = await verified
            verified = getattr(verified, "ok", verified)
        except ImportError:
            logger.warning("telegram: bot.identity.verification not available")
        except Exception:
            logger.exception("telegram: contact verification failed")
        output._state["keyboard_open"].add(message.chat.id)
        text = "/inform" + json.dumps({"phone_number": phone}, ensure_ascii=False)
        extra = {"telegram_contact": {"phone": phone, "verified": bool(verified)}}
        await self._forward(on_new_message, text, output, conv, message.chat, user, message.message_id, extra)

    async def _forward(self, on_new_message, text, output, conv, chat, user, message_id, extra=None) -> None:  # type: ignore[no-untyped-def]
        metadata = {
            "channel": "telegram",
            "telegram": {
                "chat_id": chat.id,
                "chat_type": chat.type,
                "user_id": user.id if user else None,
                "message_id": message_id,
                "language_code": getattr(user, "language_code", None),
            },
        }
        metadata.update(extra or {})
        await on_new_message(
            UserMessage(text, output, conv, input_channel=self.name(), metadata=metadata)
        )

    # -- Sanic ---------------------------------------------------------------
    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint(f"hamsafar_telegram_{id(self)}", __name__)
        channel = self

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "mode": channel.mode, "enabled": channel.output is not None})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if channel.output is None or channel.mode != "webhook":
                return response.json({"error": "telegram webhook not enabled"}, status=404)
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            expected = channel.webhook_secret or ""
            if not expected or not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
                return response.json({"error": "forbidden"}, status=403)
            try:
                data = json.loads(request.body.decode("utf-8"))
                update_id = int(data["update_id"])
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                return response.json({"error": "malformed update"}, status=400)
            if not channel.is_new_update(update_id):
                return response.json({"status": "duplicate"})
            channel.spawn(channel.handle_update(data, on_new_message))
            return response.json({"status": "ok"})

        @bp.listener("after_server_start")
        async def start(app, loop) -> None:  # type: ignore[no-untyped-def]
            if channel.output is None:
                return
            if channel.mode == "polling":
                channel._polling_stop = asyncio.Event()
                channel.spawn(run_polling(channel, on_new_message, stop_event=channel._polling_stop))
            elif channel.webhook_url and channel.webhook_secret:
                try:
                    bot = await channel.output.bot()
                    await bot.set_webhook(
                        channel.webhook_url, secret_token=channel.webhook_secret, allowed_updates=ALLOWED_UPDATES
                    )
                    logger.info("telegram: webhook set")
                except Exception as error:
                    logger.error("telegram: setWebhook failed: %s", error)

        @bp.listener("before_server_stop")
        async def stop(app, loop) -> None:  # type: ignore[no-untyped-def]
            if channel._polling_stop is not None:
                channel._polling_stop.set()
            await channel.drain(timeout=5)

        return bp


def _chat_key(data: Dict[str, Any]) -> Any:
    """The chat an update belongs to (from the raw dict, before any await), else its update id."""
    for kind in ("message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member", "chat_member"):
        part = data.get(kind)
        if isinstance(part, dict) and isinstance(part.get("chat"), dict):
            return part["chat"].get("id")
    query = data.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("message"), dict):
        return (query["message"].get("chat") or {}).get("id")
    return ("update", data.get("update_id"))


def _is_service(message) -> bool:  # type: ignore[no-untyped-def]
    return any(
        getattr(message, attr, None)
        for attr in (
            "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo",
            "delete_chat_photo", "group_chat_created", "supergroup_chat_created",
            "pinned_message", "migrate_to_chat_id", "migrate_from_chat_id",
        )
    )


async def run_polling(
    channel: HamsafarTelegramInput,
    on_new_message: OnNewMessage,
    *,
    stop_event: Optional[asyncio.Event] = None,
    poll_timeout: int = 25,
) -> None:
    """Long-poll getUpdates and handle every update like the webhook does.

    Removes a configured webhook first (Telegram refuses getUpdates while one
    is set). Runs until `stop_event` is set.
    """
    from telegram.error import Conflict, NetworkError, RetryAfter

    assert channel.output is not None, "telegram token missing"
    stop_event = stop_event or asyncio.Event()
    bot = await channel.output.bot()
    try:
        await bot.delete_webhook(drop_pending_updates=False)
    except Exception as error:
        logger.warning("telegram: deleteWebhook failed: %s", error)
    offset: Optional[int] = None
    backoff = 1.0
    logger.info("telegram: polling for updates")
    while not stop_event.is_set():
        try:
            updates = await bot.get_updates(
                offset=offset, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES,
                read_timeout=poll_timeout + 10,
            )
            backoff = 1.0
        except RetryAfter as error:
            await asyncio.sleep(_retry_seconds(error))
            continue
        except Conflict as error:
            logger.error("telegram: another poller or a webhook is active: %s", error)
            await asyncio.sleep(5)
            continue
        except NetworkError as error:
            logger.warning("telegram: polling network error: %s", error)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30)
            continue
        for update in updates:
            offset = update.update_id + 1
            if channel.is_new_update(update.update_id):
                channel.spawn(channel.handle_update(update.to_dict(), on_new_message))
