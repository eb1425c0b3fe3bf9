"""How much one client may ask: token-bucket rate limits, caps on open event streams, the client's address."""

from __future__ import annotations

import collections
import time
from typing import Dict, Optional, Tuple

from sanic.request import Request


class RateLimiter:
    """Token buckets per key (`burst` messages, then one per `per_seconds`), for at most
    `max_keys` keys: the least recently used bucket is dropped first, so memory stays bounded."""

    def __init__(self, burst: int = 8, per_seconds: float = 2.0, max_keys: int = 20000) -> None:
        self.burst, self.rate, self.max_keys = burst, 1.0 / per_seconds, max_keys
        self.state: "collections.OrderedDict[str, Tuple[float, float]]" = collections.OrderedDict()

    def allow(self, key: str) -> Optional[float]:
        """None if `key` may go on now, else the seconds to wait."""
        now = time.monotonic()
        tokens, stamp = self.state.pop(key, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < 1:
            self.state[key] = (tokens, now)
            wait: Optional[float] = (1 - tokens) / self.rate
        else:
            self.state[key] = (tokens - 1, now)
            wait = None
        while len(self.state) > self.max_keys:
            self.state.popitem(last=False)
        return wait


def client_address(request: Request) -> str:
    """The client's address: from the trusted proxy's headers when `SANIC_PROXIES_COUNT` is set, else the peer."""
    return str(request.remote_addr or request.ip or "")[:64]


def stream_slot_free(streams: Dict[str, int], address: str, per_address: int, total: int) -> bool:
    """May `address` open one more event stream? (`streams`: open streams per address)"""
    return streams.get(address, 0) < per_address and sum(streams.values()) < total


def take_stream_slot(streams: Dict[str, int], address: str) -> None:
    streams[address] = streams.get(address, 0) + 1


def release_stream_slot(streams: Dict[str, int], address: str) -> None:
    streams[address] -= 1
    if streams[address] <= 0:
        streams.pop(address, None)
