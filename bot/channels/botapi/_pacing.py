"""Send pacing for the Bot API: a token bucket per chat and one for the bot.

Telegram documents about one message per second in a private chat, 20 a minute
in a group and 30 a second overall; a 429 carries `retry_after`. Bale documents
no figures, so it gets the same defaults (docs/channels.md).
"""

from __future__ import annotations

import asyncio
import time


class Bucket:
    """Token bucket: `rate` sends per second, bursts of `capacity`; keeps sends within the
    platform's documented rates instead of running into 429s."""

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


def retry_seconds(error: Exception) -> float:
    """Seconds a `RetryAfter` asks us to wait (python-telegram-bot keeps it as int or timedelta)."""
    value = getattr(error, "_retry_after", None)
    if value is None:
        value = getattr(error, "retry_after", 1)
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    return float(value)
