"""Bale (بله) channel: the Bot-API channel pointed at Bale's Bot API.

Rasa name `hamsafar_bale` (routes under `/webhooks/hamsafar_bale/`), conversation ids
`bale:<chat_id>` (private) or `bale:<chat_id>:<user_id>` (groups), variables
`HAMSAFAR_BALE_*`, API `https://tapi.bale.ai/bot<token>/METHOD` by default.

What differs from Telegram (docs/channels.md lists the sources): Bale's setWebhook
takes no secret, so the webhook address carries `HAMSAFAR_BALE_WEBHOOK_SECRET`
(`POST /webhooks/hamsafar_bale/webhook/<secret>`, constant-time compare, like
Kavenegar); `allowed_updates` is not sent; polling pauses after an empty answer;
orders can be paid with a Bale wallet invoice when `HAMSAFAR_BALE_PAYMENTS=wallet`.
Everything else — buttons, the sender's own contact, splitting, pacing, 429
retries, consent, ordered handling per chat — is the shared code.
"""

from __future__ import annotations

from typing import Optional

from bot.channels.botapi import BALE, BotApiInput, BotApiOutput

__all__ = ["BaleOutput", "HamsafarBaleInput", "chat_of", "conversation_id"]


class BaleOutput(BotApiOutput):
    """Sends to Bale chats; usable without an incoming message."""

    platform = BALE
    channel = "bale"


class HamsafarBaleInput(BotApiInput):
    """Rasa input channel `hamsafar_bale` (webhook with the secret in its address, or polling)."""

    platform = BALE
    output_class = BaleOutput


def conversation_id(chat_id: int, chat_type: str, user_id: Optional[int]) -> str:
    """The rule: `bale:<chat>` for private chats, `bale:<chat>:<user>` in groups."""
    return BALE.conversation_id(chat_id, chat_type, user_id)


def chat_of(recipient_id: str) -> int:
    """Bale chat id of a conversation id (`bale:123`, `bale:-100123:456` or a bare id)."""
    return BALE.chat_of(recipient_id)
