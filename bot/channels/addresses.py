"""Conversation ids: `<prefix>:<address>`, the one place that reads and writes them.

Every Rasa conversation id names its channel and the address to answer at, so a
reminder, an agent's reply or an erasure can find the channel from the id alone:

* Telegram `tg:<chat>` in a private chat, `tg:<chat>:<user>` in a group;
* Bale `bale:<chat>` / `bale:<chat>:<user>` likewise;
* website widget `web:<conversation key>`;
* SMS `sms:<E.164 phone>`;
* REST `rest:<sender>`.

Pseudonymous references (`sms:ref-…`, `web:ref-…`) parse like any other id (their
address starts with `ref-`); what they mean is `bot.touchpoints.privacy`'s business.
Ids of other kinds (`journey:…` in bot.orchestration) are not conversations of a
channel: `parse` returns None for them.

    >>> parse("tg:-100123:456")
    ConversationAddress(channel='telegram', address='-100123:456')
    >>> parse("tg:-100123:456").chat, str(parse("sms:+989121234567"))
    ('-100123', 'sms:+989121234567')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Union

SEPARATOR = ":"

# channel (the label consent, touchpoints and the output registry use) -> conversation id prefix
PREFIXES: Dict[str, str] = {"telegram": "tg", "bale": "bale", "web": "web", "sms": "sms", "rest": "rest"}
CHANNELS: Dict[str, str] = {prefix: channel for channel, prefix in PREFIXES.items()}
# Channels whose address is a chat, with `:<user>` appended in groups.
CHAT_CHANNELS = ("telegram", "bale")


@dataclass(frozen=True)
class ConversationAddress:
    """A parsed conversation id: which channel, and the address on it (`str()` gives the id back)."""

    channel: str  # telegram | bale | web | sms | rest
    address: str  # what follows the prefix: chat[:user], conversation key, E.164 phone, sender

    def __post_init__(self) -> None:
        if self.channel not in PREFIXES:
            raise ValueError(f"unknown channel {self.channel!r}")

    @classmethod
    def of_chat(cls, channel: str, chat: Union[int, str], user: Union[int, str, None] = None) -> "ConversationAddress":
        """A Telegram/Bale conversation: the chat alone (private), or chat and user (groups, one per member)."""
        if channel not in CHAT_CHANNELS:
            raise ValueError(f"{channel!r} has no chats")
        return cls(channel, str(chat) if user is None else f"{chat}{SEPARATOR}{user}")

    @property
    def prefix(self) -> str:
        return PREFIXES[self.channel]

    @property
    def chat(self) -> Optional[str]:
        """The chat of a Telegram/Bale conversation (the part before `:<user>` in groups), else None."""
        return chat_part(self.address) if self.channel in CHAT_CHANNELS else None

    @property
    def user(self) -> Optional[str]:
        """The member of a Telegram/Bale group conversation, else None."""
        if self.channel not in CHAT_CHANNELS:
            return None
        _, separator, user = self.address.partition(SEPARATOR)
        return user if separator else None

    def __str__(self) -> str:
        return f"{self.prefix}{SEPARATOR}{self.address}"


def parse(conversation_id: object) -> Optional[ConversationAddress]:
    """The channel and address of `conversation_id`; None for no id, an unknown prefix or an empty address."""
    if conversation_id is None:
        return None
    prefix, separator, address = str(conversation_id).partition(SEPARATOR)
    channel = CHANNELS.get(prefix)
    if channel is None or not separator or not address:
        return None
    return ConversationAddress(channel, address)


def channel_of(conversation_id: object) -> Optional[str]:
    """`telegram`, `bale`, `web`, `sms` or `rest` for a conversation id, else None."""
    parsed = parse(conversation_id)
    return parsed.channel if parsed is not None else None


def conversation_id(channel: str, address: Union[int, str]) -> str:
    """The conversation id of `address` on `channel`: `conversation_id("sms", "+98…")` is `sms:+98…`."""
    return str(ConversationAddress(channel, str(address)))


def id_prefix(channel: str) -> str:
    """How every conversation id of `channel` starts (`sms:`), for prefix matches such as SQL `LIKE`."""
    return PREFIXES[channel] + SEPARATOR


def address_of(value: object, channel: Optional[str] = None) -> str:
    """The address in `value` if it is a conversation id (of `channel`, when given), else `value` unchanged.

    For callers that accept both forms (`sms:+98…` or `+98…`, `tg:123` or `123`).
    """
    parsed = parse(value)
    if parsed is not None and (channel is None or parsed.channel == channel):
        return parsed.address
    return str(value)


def chat_part(address: str) -> str:
    """`123` of a Telegram/Bale address `123` or `123:456` (a group member's conversation in chat 123)."""
    return str(address).split(SEPARATOR, 1)[0]
