"""Telegram channel on python-telegram-bot 22 (not Rasa's aiogram connector).

Rasa name `hamsafar_telegram` (routes under `/webhooks/hamsafar_telegram/`), conversation
ids `tg:<chat_id>` (private) or `tg:<chat_id>:<user_id>` (groups), variables
`HAMSAFAR_TELEGRAM_*`. The channel itself is the Bot-API channel shared with Bale
(`bot.channels.botapi`: webhook with the `X-Telegram-Bot-Api-Secret-Token` header,
polling, buttons, contacts, splitting, pacing); this module names the Telegram
platform and keeps the import paths used by credentials.yml and the rest of the code.
"""

from __future__ import annotations

from typing import List, Optional

from bot.channels.botapi import (MAX_CALLBACK_BYTES, MAX_MESSAGE_LENGTH, TELEGRAM, BotApiInput, BotApiOutput,
                                 OnNewMessage, callback_data_for, payload_for, run_polling, split_message)

ALLOWED_UPDATES: List[str] = list(TELEGRAM.allowed_updates or ())

__all__ = [
    "ALLOWED_UPDATES", "MAX_CALLBACK_BYTES", "MAX_MESSAGE_LENGTH", "HamsafarTelegramInput", "OnNewMessage",
    "TelegramOutput", "callback_data_for", "chat_of", "conversation_id", "payload_for", "run_polling",
    "split_message",
]


class TelegramOutput(BotApiOutput):
    """Sends to Telegram chats; usable without an incoming message (journeys, agents' replies,
    which find it by the conversation's `tg:` prefix)."""

    platform = TELEGRAM
    channel = "telegram"


class HamsafarTelegramInput(BotApiInput):
    """Rasa input channel `hamsafar_telegram` (webhook or polling): the class credentials.yml names;
    the shared Bot-API channel with the Telegram platform."""

    platform = TELEGRAM
    output_class = TelegramOutput


def conversation_id(chat_id: int, chat_type: str, user_id: Optional[int]) -> str:
    """The rule: `tg:<chat>` for private chats, `tg:<chat>:<user>` in groups."""
    return TELEGRAM.conversation_id(chat_id, chat_type, user_id)


def chat_of(recipient_id: str) -> int:
    """Telegram chat id of a conversation id (`tg:123`, `tg:-100123:456` or a bare id)."""
    return TELEGRAM.chat_of(recipient_id)
