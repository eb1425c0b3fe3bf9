"""Sending to a Bot-API messenger (Telegram, Bale), with or without an incoming message.

Every send goes through `ProactiveOutput.send_text` (consent first), then
`call()`: in order per chat (a lock), paced (a token bucket per chat and one for
the bot), a 429 retried after its `retry_after`, a request never written
(connection refused, connect or pool timeout) or an error the Bot API answered
retried with backoff, a timeout or a connection lost after the request was
written not retried (the message may have arrived: `may_have_arrived`). Replies longer
than the platform's limit are split; no `parse_mode` is ever sent, because the
text may contain what a customer typed.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any, Dict, List, Optional

from bot.channels import consent
from bot.channels.base import ProactiveOutput
from . import payments
from ._formatting import callback_data_for, split_message
from ._pacing import Bucket, retry_seconds
from ._platform import TELEGRAM, Platform
from bot.channels.redaction import register_secret
from bot.text.catalogue import text as catalogue_text

logger = logging.getLogger(__package__)  # "bot.channels.botapi": one logger for the channel


class BotApiOutput(ProactiveOutput):
    """Sends to the chats of one Bot-API platform; usable without an incoming message.

    Rasa's replies, proactive journeys and agents' replies all send through it, so they share
    one bot, its pacing and its splitting of long texts."""

    platform: Platform = TELEGRAM
    channel = "telegram"

    @classmethod
    def name(cls) -> str:
        return cls.platform.rasa_name

    def __init__(
        self,
        token: str,
        *,
        base_url: Optional[str] = None,
        proactive: bool = True,
        shared: Optional["BotApiOutput"] = None,
        private_rate: float = 1.0,
        group_rate: float = 1 / 3,
        burst: float = 3,
        global_rate: float = 30.0,
        max_attempts: int = 6,
        invoices: Optional[payments.InvoiceSettings] = None,
        timeout: float = 15.0,
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
                "global": Bucket(global_rate, global_rate),
                "rates": (private_rate, group_rate, burst),
                "max_attempts": max_attempts,
                "keyboard_open": set(),
                "invoices": invoices if self.platform.wallet_invoices else None,
                "timeout": timeout,   # seconds to write a request and to wait for its answer
            }

    def for_reply(self) -> "BotApiOutput":
        return type(self)(self.token, base_url=self.base_url, proactive=False, shared=self)

    @property
    def invoices(self) -> Optional[payments.InvoiceSettings]:
        """Wallet invoices, when the platform has them and the shop turned them on."""
        return self._state["invoices"]

    def new_bot(self):  # type: ignore[no-untyped-def]
        """A python-telegram-bot `Bot` for this platform's API address (not yet initialised)."""
        from telegram import Bot
        from telegram.request import HTTPXRequest

        base_url = self.base_url or self.platform.base_url
        return Bot(
            self.token,
            request=HTTPXRequest(connection_pool_size=32, read_timeout=self._state["timeout"],
                                 write_timeout=self._state["timeout"]),
            get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=60),
            base_url=base_url,
            base_file_url=_file_url(base_url) if self.base_url else self.platform.base_file_url,
        )

    async def bot(self):  # type: ignore[no-untyped-def]
        """The shared, initialised `Bot` (getMe on first use)."""
        state = self._state
        if state["bot"] is None:
            state["bot"] = self.new_bot()
        if state["init"] is None:
            state["init"] = asyncio.ensure_future(state["bot"].initialize())
        await asyncio.shield(state["init"])
        return state["bot"]

    async def close(self) -> None:
        if self._state["bot"] is not None and self._state["init"] is not None:
            await self._state["bot"].shutdown()
            self._state["bot"] = self._state["init"] = None

    # -- pacing and retries -------------------------------------------------
    def _bucket(self, chat_id: int) -> Bucket:
        buckets = self._state["buckets"]
        if chat_id not in buckets:
            private_rate, group_rate, burst = self._state["rates"]
            rate = private_rate if chat_id > 0 else group_rate
            buckets[chat_id] = Bucket(rate, burst)
        return buckets[chat_id]

    async def call(self, chat_id: int, method: str, **kwargs: Any) -> Any:
        """Call Bot API `method` for `chat_id`, in order per chat, paced, retrying 429s."""
        from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

        title = self.platform.title
        bot = await self.bot()
        async with self._state["locks"][chat_id]:
            attempts = self._state["max_attempts"]
            for attempt in range(1, attempts + 1):
                await self._bucket(chat_id).take()
                await self._state["global"].take()
                try:
                    return await getattr(bot, method)(chat_id=chat_id, **kwargs)
                except RetryAfter as error:
                    wait = retry_seconds(error)
                    logger.warning("%s: flood control, retrying %s in %.1fs", title, method, wait)
                    if attempt == attempts:
                        raise
                    await asyncio.sleep(wait + 0.05)
                except Forbidden:
                    logger.info("%s: chat %s blocked the bot; recorded as opted out", title, chat_id)
                    consent.opt_out(self.channel, str(chat_id), source="blocked")
                    return None
                except ChatMigrated as error:
                    chat_id = error.new_chat_id
                except BadRequest:  # will not get better
                    raise
                except NetworkError as error:
                    # A request that may have been delivered (a read timeout, a connection lost after
                    # writing it) is not retried — no duplicate messages — but reported. Retried: one
                    # never written (connection refused, connect or pool timeout) and an error the
                    # Bot API answered (also a 429 without `retry_after`: a NetworkError then).
                    if attempt == attempts or may_have_arrived(error):
                        raise
                    logger.warning("%s: network error (%s), retrying", title, error)
                    await asyncio.sleep(min(2 ** attempt * 0.25, 5))
        return None

    # -- sending -------------------------------------------------------------
    async def _deliver(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], *, kind: str) -> None:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove

        chat_id = self.platform.chat_of(recipient_id)
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
        parts = split_message(text or "", self.platform.max_message_length)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self.call(chat_id, "send_message", text=part, reply_markup=markup if last else None)

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        from telegram import KeyboardButton, ReplyKeyboardMarkup

        if not consent.check_outbound(self.channel, recipient_id, proactive=self.proactive):
            return
        if json_message.get("request_contact"):
            lang = json_message.get("language") or "fa"
            label = json_message.get("button") or catalogue_text("botapi.share_button", lang)
            text = json_message.get("text") or label
            chat_id = self.platform.chat_of(recipient_id)
            keyboard = ReplyKeyboardMarkup(
                [[KeyboardButton(label, request_contact=True)]], one_time_keyboard=True, resize_keyboard=True
            )
            self._state["keyboard_open"].add(chat_id)
            await self.call(chat_id, "send_message", text=text, reply_markup=keyboard)
        elif json_message.get("invoice") and self.invoices is not None:
            await self._send_invoice(recipient_id, json_message["invoice"], self.invoices)
        elif json_message.get("text"):
            await self._deliver(recipient_id, str(json_message["text"]), json_message.get("buttons") or [], kind="message")

    async def _send_invoice(self, recipient_id: str, invoice: Dict[str, Any], shop: payments.InvoiceSettings) -> None:
        """A wallet invoice for an order (the payment link stays the other way to pay)."""
        params = payments.invoice_parameters(invoice, shop)
        if params is None:
            logger.warning("%s: malformed invoice request ignored", self.platform.title)
            return
        await self.call(self.platform.chat_of(recipient_id), "send_invoice", **params)


def never_written(error: BaseException) -> bool:
    """The Bot API request failed before any byte of it was written, so the platform never saw it:
    no connection was made (refused, connect timeout) or none was free in the pool.
    python-telegram-bot raises these as NetworkError / TimedOut *from* httpx's error."""
    import httpx

    return isinstance(error.__cause__, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def may_have_arrived(error: BaseException) -> bool:
    """A failed Bot API call whose message may have been delivered all the same: a timeout after
    the request was written, or the connection lost before the answer (an httpx transport error
    other than `never_written`). An error the Bot API answered, or one never written, did not."""
    import httpx
    from telegram.error import NetworkError, TimedOut

    if not isinstance(error, NetworkError) or never_written(error):
        return False
    return isinstance(error, TimedOut) or isinstance(error.__cause__, httpx.TransportError)


def _file_url(base_url: str) -> str:
    """The file address beside a custom API base (`.../bot` -> `.../file/bot`)."""
    head, _, tail = base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}" if head else base_url
