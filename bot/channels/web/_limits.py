"""How much one client may ask: token-bucket rate limits, caps on open event streams, the client's address.

One process counts in its own memory (`RateLimiter`). With several Rasa workers
(`HAMSAFAR_REDIS_URL` set, `hamsafar run --workers N`) a client's requests reach any
worker, so each would count only its share and the effective limit would be N times the
configured one: `SharedRateLimiter` keeps the same token buckets in Redis, updated by one
Lua script per request (atomic, on Redis's clock), so every worker sees one bucket. If
Redis does not answer, the worker limits on its own (`RateLimiter`) until it does again:
a restarting Redis loosens the limits for a few seconds instead of refusing every customer.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import time
from typing import Any, Dict, Optional, Tuple

from sanic.request import Request

logger = logging.getLogger(__name__)


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

    async def check(self, key: str) -> Optional[float]:
        """`allow` for callers that may also be given a `SharedRateLimiter`."""
        return self.allow(key)


# KEYS[1] the bucket; ARGV: burst, tokens per second. Returns the seconds to wait ("0": go on), as text
# (Lua numbers become integers on the way back). The same arithmetic as RateLimiter.allow.
_TOKEN_BUCKET = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens < 1 then
  wait = (1 - tokens) / rate
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class SharedRateLimiter:
    """`RateLimiter`'s token buckets in Redis, one per key for every worker of a deployment.

    Keys are `hamsafar:rate:<namespace>:<name>:<sha256 of the key>`: the namespace keeps
    deployments (and test runs) that share one Redis apart, and no client address or
    conversation id is stored in the clear. A bucket expires once it would be full again.
    """

    RETRY_AFTER_FAILURE_S = 5.0   # how long the local limiter stands in after Redis failed

    def __init__(self, url: str, namespace: str, name: str, burst: int = 8, per_seconds: float = 2.0,
                 max_keys: int = 20000) -> None:
        self.url, self.prefix = url, f"hamsafar:rate:{namespace}:{name}:"
        self.burst, self.rate = burst, 1.0 / per_seconds
        self.local = RateLimiter(burst, per_seconds, max_keys)   # while Redis does not answer
        self._client: Any = None
        self._script: Any = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._failed_at: Optional[float] = None

    def _bucket_script(self) -> Any:
        """The registered script on a client of the running loop (a redis.asyncio client is bound to one)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(self.url, socket_timeout=1.0, socket_connect_timeout=1.0)
            self._script = self._client.register_script(_TOKEN_BUCKET)
            self._loop = loop
        return self._script

    async def check(self, key: str) -> Optional[float]:
        """None if `key` may go on now, else the seconds to wait."""
        now = time.monotonic()
        if self._failed_at is not None and now - self._failed_at < self.RETRY_AFTER_FAILURE_S:
            return self.local.allow(key)
        bucket = self.prefix + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        try:
            wait = float(await self._bucket_script()(keys=[bucket], args=[self.burst, self.rate]))
        except Exception as error:  # noqa: BLE001 - any Redis failure: limit in this process meanwhile
            if self._failed_at is None:
                logger.warning("web: Redis unavailable for shared rate limits (%s); limiting per worker meanwhile",
                               error.__class__.__name__)
            self._failed_at = now
            return self.local.allow(key)
        if self._failed_at is not None:
            logger.info("web: Redis answers again; rate limits are shared again")
            self._failed_at = None
        return wait if wait > 0 else None


def limiter(name: str, burst: int, per_seconds: float, redis_url: Optional[str], database_url: str) -> Any:
    """A `SharedRateLimiter` when Redis is configured (several workers), else a `RateLimiter`.

    The namespace is derived from the database URL: the workers of one deployment share it."""
    if not redis_url:
        return RateLimiter(burst, per_seconds)
    namespace = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return SharedRateLimiter(redis_url, namespace, name, burst, per_seconds)


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
