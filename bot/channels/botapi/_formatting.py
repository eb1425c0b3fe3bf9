"""Message text and buttons in the Bot-API format: length limits and callback ids.

Long replies are split at paragraph, line, sentence or word boundaries; the limit
is counted in UTF-16 code units (Telegram's unit, and never fewer than the
characters Bale counts). Button payloads become short callback ids (`b:<16 chars>`)
stored in `telegram_callbacks`, so long payloads fit the 64-byte `callback_data`
and a client cannot send an intent we did not offer.
"""

from __future__ import annotations

import base64
import hashlib
from typing import List, Optional

from bot.channels.models import TelegramCallback
from bot import schema

MAX_MESSAGE_LENGTH = 4096  # UTF-16 code units, Telegram's limit for message text
MAX_CALLBACK_BYTES = 64

_SENTENCE_ENDS = (". ", "! ", "? ", "؟ ", "! ", "…", ".\u200f", "؛ ")


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
    with schema.session() as session:
        if session.get(TelegramCallback, short_id) is None:
            session.add(TelegramCallback(short_id=short_id, payload=payload))
    data = "b:" + short_id
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    return data


def payload_for(callback_data: Optional[str]) -> Optional[str]:
    """The payload behind a callback id we issued; None for anything else."""
    if not callback_data or not callback_data.startswith("b:"):
        return None
    with schema.session() as session:
        row = session.get(TelegramCallback, callback_data[2:])
        return row.payload if row else None
