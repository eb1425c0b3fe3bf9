"""Receiving from a Bot-API messenger: webhook or polling, one Rasa input channel per platform.

* Webhook: `POST /webhooks/<rasa name>/webhook`. Telegram sends the secret given to
  setWebhook in a header (`X-Telegram-Bot-Api-Secret-Token`); Bale's setWebhook
  takes no secret, so its address carries one: `POST .../webhook/<secret>`. Either
  way the secret is compared in constant time and anything else gets 403. The
  update is processed before the request is answered, after the earlier updates
  of the same chat: 200 once it is processed (its turn stored), 503/500 when it
  could not be — then nothing of it is stored and the platform's webhook retry
  delivers it again. An `update_id` is remembered only once its update was
  processed (by the tracker store, with the turn); a repeat is answered 200
  "duplicate" and not processed again.
* Polling (no public address): `mode: polling` (or `<ENV>_MODE=polling`, which
  `hamsafar run --telegram-polling` / `--bale-polling` set) starts
  `run_polling` (`_polling.py`) when the Sanic server starts; an update
  that could not be processed is not confirmed and is fetched again.
* Handled: text, button presses (answerCallbackQuery), the sender's own shared
  contact (verified through `bot.identity`), `/start`, `/stop`, wallet payments
  (`bot.channels.botapi.payments`). Other message kinds get a polite "text only"
  in private chats; other update types are ignored.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Set, Type

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, UserMessage

from bot import settings
from bot.channels import consent
from bot.channels.base import (DUPLICATE, ArrivalOrder, forward_then_reply, guard_customer_text, inbound_metadata,
                               process_once, refusal_status, refuse_store_failures, register_output,
                               retryable, run_identity_check)
from . import payments
from ._formatting import payload_for
from ._output import BotApiOutput
from ._platform import TELEGRAM, Platform
from bot.channels.redaction import register_secret
from bot.text.catalogue import text as catalogue_text
from bot.text.formatting import format_toman
from bot.text.identifiers import normalise_phone
from bot.text.persian import to_persian_digits

logger = logging.getLogger(__package__)  # "bot.channels.botapi": one logger for the channel

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class BotApiInput(InputChannel):
    """Rasa input channel of one Bot-API platform (webhook or polling).

    One class for Telegram and Bale: a platform module subclasses it with its `Platform`,
    so webhook checks, ordering per chat, contacts and consent are written once."""

    platform: Platform = TELEGRAM
    output_class: Type[BotApiOutput] = BotApiOutput

    @classmethod
    def name(cls) -> str:
        return cls.platform.rasa_name

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "BotApiInput":
        credentials = credentials or {}
        platform = cls.platform

        def pick(key: str, env: str) -> Optional[str]:
            value = credentials.get(key)
            value = str(value).strip() if value not in (None, "") else None
            return value or settings.env_secret(platform.variable(env))

        return cls(
            token=pick("token", "TOKEN"),
            webhook_secret=pick("webhook_secret", "WEBHOOK_SECRET"),
            webhook_url=pick("webhook_url", "WEBHOOK_URL"),
            mode=pick("mode", "MODE") or "webhook",
            base_url=pick("base_url", "API_BASE_URL"),
            invoices=payments.InvoiceSettings.from_env(platform),
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
        invoices: Optional[payments.InvoiceSettings] = None,
    ) -> None:
        self.token = token
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.mode = (mode or "webhook").lower()
        self.base_url = base_url
        if webhook_secret:
            register_secret(webhook_secret)
        self.output: Optional[BotApiOutput] = None
        if token:
            self.output = self.output_class(token, base_url=base_url, invoices=invoices, **(output_options or {}))
            register_output(self.output)
        else:
            logger.warning("%s: no token (%s); channel disabled", self.name(), self.platform.variable("TOKEN"))
        self._tasks: Set[asyncio.Task] = set()
        self._order = ArrivalOrder()
        self._polling_stop: Optional[asyncio.Event] = None

    def get_output_channel(self) -> Optional[BotApiOutput]:
        return self.output

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 10) -> None:
        """Wait for in-flight update tasks (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    # -- authentication ---------------------------------------------------------
    def authentic(self, request: Request, path_secret: Optional[str]) -> bool:
        """The webhook secret, from the header (Telegram) or the address (Bale), in constant time."""
        if self.platform.secret_in_path:
            given = path_secret or ""
        else:
            given = request.headers.get(self.platform.secret_header or "", "")
        expected = self.webhook_secret or ""
        return bool(expected) and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))

    def webhook_address(self) -> Optional[str]:
        """What setWebhook is given: the public URL, plus `/<secret>` where the secret travels in it."""
        if not self.webhook_url:
            return None
        if self.platform.secret_in_path:
            return self.webhook_url.rstrip("/") + "/" + (self.webhook_secret or "")
        return self.webhook_url

    # -- update handling --------------------------------------------------------
    async def process_update(self, data: Dict[str, Any], on_new_message: OnNewMessage) -> str:
        """Process one update once, after the earlier updates of its chat: "ok" or "duplicate".

        Raises if it could not be processed; then nothing remembers it and a
        redelivery is processed.
        """
        update_id = str(int(data["update_id"]))
        result = await process_once(self._order, _chat_key(data), self.platform.name, update_id,
                                    lambda: self._handle_update(data, on_new_message))
        return DUPLICATE if result == DUPLICATE else "ok"

    async def handle_update(self, data: Dict[str, Any], on_new_message: OnNewMessage) -> bool:
        """`process_update` for polling: False (logged) if the update must be fetched again."""
        try:
            await self.process_update(data, on_new_message)
            return True
        except Exception as error:
            log_refusal(self.platform.title, data.get("update_id"), error)
            return False

    async def _handle_update(self, data: Dict[str, Any], on_new_message: OnNewMessage) -> None:
        from telegram import Update

        assert self.output is not None
        title, label = self.platform.title, self.platform.name
        bot = await self.output.bot()
        try:
            update = Update.de_json(_complete(data), bot)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # not an update the platform could ever send right: a redelivery would fail the same way
            logger.warning("%s: update %s is malformed (%s); dropped", title, data.get("update_id"),
                           type(error).__name__)
            return
        output = self.output.for_reply()

        if update.callback_query is not None:
            query = update.callback_query
            try:
                await bot.answer_callback_query(query.id)
            except Exception as error:  # an old query cannot be answered; still handle it
                logger.info("%s: answerCallbackQuery failed: %s", title, error)
            payload = payload_for(query.data)
            if payload is None or query.message is None:
                return
            chat = query.message.chat
            conv = self.platform.conversation_id(chat.id, chat.type, query.from_user.id)
            await self._forward(on_new_message, payload, output, conv, chat, query.from_user, None, update.update_id)
            return

        if update.pre_checkout_query is not None:
            await self._answer_pre_checkout(bot, update.pre_checkout_query)
            return

        if update.my_chat_member is not None:
            member = update.my_chat_member
            if member.chat.type == "private" and member.new_chat_member.status == "kicked":
                consent.opt_out(label, str(member.chat.id), source="blocked")
            return

        message = update.message
        if message is None:
            # edited messages, channel posts, chat member changes, polls...: ignored politely
            logger.debug("%s: ignoring update %s of an unhandled type", title, update.update_id)
            return
        chat, user = message.chat, message.from_user
        if chat.type == "channel" or user is None or user.is_bot:
            return
        if consent.opt_out_source(label, str(chat.id)) == "blocked":
            consent.opt_in(label, str(chat.id), source="wrote_again")
        conv = self.platform.conversation_id(chat.id, chat.type, user.id)
        lang = lang_of(user.language_code)

        if message.contact is not None:
            await self._handle_contact(message, conv, lang, output, on_new_message, update.update_id)
            return
        if message.successful_payment is not None:
            await self._confirm_payment(message, conv, lang, output)
            return
        text = message.text
        if text is None:
            if chat.type == "private" and not _is_service(message):
                await output.send_text(conv, catalogue_text("botapi.unsupported", lang), proactive=False)
            return
        command = text.strip().split()[0].split("@")[0].lower() if text.strip().startswith("/") else None
        if command == "/start":
            if consent.opt_in(label, str(chat.id), source="start"):
                logger.info("%s: chat opted in again with /start", title)
            text = "/greet"
        elif command == "/stop":
            consent.opt_out(label, str(chat.id), source="command")
            await output.send_text(conv, catalogue_text("botapi.stopped", lang), proactive=False)
            return
        else:
            text = guard_customer_text(text)
        await self._forward(on_new_message, text, output, conv, chat, user, message.message_id, update.update_id)

    async def _handle_contact(self, message, conv: str, lang: str, output: BotApiOutput,  # type: ignore[no-untyped-def]
                              on_new_message: OnNewMessage, update_id: int) -> None:
        contact, user = message.contact, message.from_user
        if contact.user_id is None or contact.user_id != user.id:
            logger.info("%s: refused a contact that is not the sender's own", self.platform.title)
            await output.send_text(conv, catalogue_text("botapi.foreign_contact", lang), proactive=False)
            return
        phone = normalise_phone(contact.phone_number or "")
        if phone is None:
            await output.send_text(conv, catalogue_text("botapi.foreign_contact", lang), proactive=False)
            return
        verified: Any = None
        try:
            from bot.identity import verification

            # a CRM lookup (maybe over HTTP): off the event loop
            verified = await run_identity_check(self._verify_contact(verification), conv, phone,
                                                contact.user_id, user.id)
            if inspect.isawaitable(verified):
                verified = await verified
            verified = getattr(verified, "ok", verified)
        except ImportError:
            logger.warning("%s: bot.identity.verification not available", self.platform.title)
        except Exception:
            logger.exception("%s: contact verification failed", self.platform.title)
        output._state["keyboard_open"].add(message.chat.id)
        text = "/inform" + json.dumps({"phone_number": phone}, ensure_ascii=False)
        extra = {f"{self.platform.name}_contact": {"phone": phone, "verified": bool(verified)}}
        await self._forward(on_new_message, text, output, conv, message.chat, user, message.message_id, update_id,
                            extra)

    def _verify_contact(self, verification: Any) -> Callable[..., Any]:
        """`bot.identity`'s check of a shared contact on this platform (looked up per call: tests replace it)."""
        return getattr(verification, f"verify_{self.platform.name}_contact")

    async def _answer_pre_checkout(self, bot, query) -> None:  # type: ignore[no-untyped-def]
        """Let a wallet payment go ahead only for a payable order of the paying customer."""
        conv = self.platform.conversation_id(query.from_user.id, "private", None)
        try:
            ok = await run_identity_check(payments.check_pre_checkout, conv, query.invoice_payload,
                                          query.currency, query.total_amount)
        except Exception:
            logger.exception("%s: pre-checkout check failed", self.platform.title)
            ok = False
        lang = lang_of(query.from_user.language_code)
        refusal = None if ok else catalogue_text("botapi.payment_refused", lang)
        await bot.answer_pre_checkout_query(query.id, ok=bool(ok), error_message=refusal)

    async def _confirm_payment(self, message, conv: str, lang: str,  # type: ignore[no-untyped-def]
                               output: BotApiOutput) -> None:
        recorded = payments.record_payment(self.platform.name, conv, message.successful_payment)
        if recorded is None:
            return
        order_id, toman = recorded
        try:
            matches = await run_identity_check(payments.matches_its_order, conv, message.successful_payment)
        except Exception:
            logger.exception("%s: a recorded payment could not be checked against its order", self.platform.title)
            matches = False
        if not matches:
            # kept for the staff (money moved), but not confirmed to this chat: it is not this
            # customer's order, or not its total — nothing pre-checkout would have let through
            logger.warning("%s: a payment recorded for order %s does not match the order; not confirmed",
                           self.platform.title, order_id)
            return
        shown = order_id if lang == "en" else to_persian_digits(order_id)
        await output.send_text(conv, catalogue_text(
            "botapi.payment_received", lang, order_id=shown, total=format_toman(toman, lang)), proactive=False)

    async def _forward(self, on_new_message, text, output, conv, chat, user, message_id,  # type: ignore[no-untyped-def]
                       update_id, extra=None) -> None:
        label = self.platform.name
        metadata = {
            "channel": label,
            label: {
                "chat_id": chat.id,
                "chat_type": chat.type,
                "user_id": user.id if user else None,
                "message_id": message_id,
                "language_code": getattr(user, "language_code", None),
            },
        }
        metadata.update(extra or {})
        metadata.update(inbound_metadata(label, str(update_id)))
        await forward_then_reply(
            on_new_message, UserMessage(text, output, conv, input_channel=self.name(), metadata=metadata)
        )

    # -- Sanic ---------------------------------------------------------------
    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        from ._polling import run_polling

        bp = Blueprint(f"{self.name()}_{id(self)}", __name__)
        channel = self
        title = self.platform.title

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "mode": channel.mode, "enabled": channel.output is not None})

        async def webhook(request: Request, secret: Optional[str] = None) -> HTTPResponse:
            if channel.output is None or channel.mode != "webhook":
                return response.json({"error": f"{title} webhook not enabled"}, status=404)
            if not channel.authentic(request, secret):
                return response.json({"error": "forbidden"}, status=403)
            try:
                data = json.loads(request.body.decode("utf-8"))
                update_id = int(data["update_id"])
            except (ValueError, KeyError, TypeError, OverflowError, RecursionError):  # 1e999, deep nesting
                return response.json({"error": "malformed update"}, status=400)
            refuse_store_failures(request.app)
            try:
                status = await channel.process_update(data, on_new_message)
            except Exception as error:  # not processed, nothing stored: the platform's retry delivers it again
                log_refusal(title, update_id, error)
                return response.json({"error": "not processed; deliver it again"}, status=refusal_status(error))
            return response.json({"status": status})

        bp.add_route(webhook, "/webhook", methods=["POST"], name="webhook")
        if self.platform.secret_in_path:
            bp.add_route(webhook, "/webhook/<secret>", methods=["POST"], name="webhook_with_secret")

        @bp.listener("after_server_start")
        async def start(app, loop) -> None:  # type: ignore[no-untyped-def]
            if channel.output is None:
                return
            refuse_store_failures(app)
            if channel.mode == "polling":
                channel._polling_stop = asyncio.Event()
                channel.spawn(run_polling(channel, on_new_message, stop_event=channel._polling_stop))
            elif channel.webhook_url and channel.webhook_secret:
                try:
                    bot = await channel.output.bot()
                    options: Dict[str, Any] = {}
                    if not channel.platform.secret_in_path:
                        options["secret_token"] = channel.webhook_secret
                    if channel.platform.allowed_updates is not None:
                        options["allowed_updates"] = list(channel.platform.allowed_updates)
                    await bot.set_webhook(channel.webhook_address(), **options)
                    logger.info("%s: webhook set", title)
                except Exception as error:
                    logger.error("%s: setWebhook failed: %s", title, error)
            elif channel.mode == "webhook" and not channel.webhook_secret:
                logger.warning("%s: no %s; every webhook call is refused", title,
                               channel.platform.variable("WEBHOOK_SECRET"))

        @bp.listener("before_server_stop")
        async def stop(app, loop) -> None:  # type: ignore[no-untyped-def]
            if channel._polling_stop is not None:
                channel._polling_stop.set()
            await channel.drain(timeout=5)

        return bp


def lang_of(language_code: Optional[str]) -> str:
    """`en` for an English client, otherwise Persian (the shop's first language)."""
    return "en" if (language_code or "").lower().startswith("en") else "fa"


def log_refusal(title: str, update_id: Any, error: BaseException) -> None:
    """One line per refused update: its id and the kind of failure (no message text, no personal data)."""
    cause = type(error.__cause__).__name__ if error.__cause__ else "-"
    if retryable(error):
        logger.warning("%s: update %s not processed (%s: %s); it will be delivered again", title, update_id,
                       type(error).__name__, cause)
    else:  # a bug rather than an outage: the trace helps
        logger.error("%s: update %s not processed; it will be delivered again", title, update_id, exc_info=error)


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


def _complete(data: Dict[str, Any]) -> Dict[str, Any]:
    """The update with fields python-telegram-bot requires but Bale's clients treat as optional.

    Bale's client libraries read `callback_query.chat_instance` as optional; without
    it python-telegram-bot cannot build the CallbackQuery. Telegram always sends it.
    """
    query = data.get("callback_query")
    if isinstance(query, dict) and "chat_instance" not in query:
        data = dict(data, callback_query=dict(query, chat_instance=""))
    return data


def _is_service(message) -> bool:  # type: ignore[no-untyped-def]
    return any(
        getattr(message, attr, None)
        for attr in (
            "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo",
            "delete_chat_photo", "group_chat_created", "supergroup_chat_created",
            "pinned_message", "migrate_to_chat_id", "migrate_from_chat_id",
        )
    )
