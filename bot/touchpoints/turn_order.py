"""A conversation's turns reach RabbitMQ in order, and the reply does not wait for RabbitMQ.

With several workers (`hamsafar run --workers N`) a customer's next message may go to
another worker, and the touchpoint consumer assembles turns from the queue in order: a
turn's events must be in the queue before the next turn of the conversation publishes
its own. The tracker store used to ensure that by waiting for RabbitMQ's confirms before
the reply went out (the conversation's lock is released after the reply). RabbitMQ
confirms a persistent message once it is written to disk, and at 50 customers that wait
was a third of a message's time in a worker (mean 24 ms, p95 89 ms, up to 310 ms;
docs/performance.md, "A fourth pass").

What needs the confirm is the conversation's next *publish*, not the customer. So a
turn takes a per-conversation Redis key before it publishes (`SET NX` with a lifetime,
redis-py's `Lock`; the key is free unless the previous turn's confirms are still due) and
lets it go when its own publishes are confirmed or given up on (kept to send again, as
before), after the reply. The next turn, on whichever worker, waits for the key only
right before its own publish: its NLU, policies and actions do not wait at all.

Rasa's own Redis lock store is not used for this: its ticket lock is a read-modify-write
of one key, and releasing it after the reply, while the next message of the conversation
takes a ticket on another worker, lost a ticket and left the conversation locked for the
lock's 60 s lifetime (tried first: at saturation one message waited 59.7 s for its lock).

Without Redis (one process), or when Redis does not answer, the tracker store waits for
the confirms before the reply, as before. A worker killed between the commit and the
confirm loses that turn's touchpoint either way (the turn is stored first).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Dict, List, Optional, Tuple

logger = logging.getLogger(__name__)

KEY = "hamsafar:publishing:{}"
# The longest a turn's publish waits for the previous turn's confirms, and the key's lifetime
# (a worker killed while holding it): what a reply waited at most before (the broker gives up on
# a publish after 5 s and keeps its event to send again).
HOLD_S = 10.0
# How often a turn looks whether another worker's previous turn let the key go (usually it already
# has): first after 2 ms, then twice as long each time, at most every 50 ms (each look is a Redis call).
POLL_S = 0.002
MAX_POLL_S = 0.05


class TurnOrder:
    """Per-conversation publish order across workers, on Redis."""

    def __init__(self, redis_url: str, hold_s: float = HOLD_S) -> None:
        # redis-py's blocking client, as Rasa's lock store uses: a round trip on loopback is a
        # fraction of a millisecond, and awaiting one made the turn wait for a whole round of the
        # busy event loop instead (the asyncio client: the wait for a free key at 50 customers went
        # from mean 2.7 ms, p95 3.4 ms to mean 84 ms, p95 357 ms). Only the pauses between looks
        # for a key another worker holds are awaited (`_until_free`).
        import redis

        self.redis = redis.Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self.redis_url = redis_url
        self._looks: Optional[Tuple[asyncio.AbstractEventLoop, Any]] = None   # asyncio client, per loop
        self.hold_s = hold_s
        # this worker's turns whose key is let go when their confirms arrive, by conversation
        self._held: Dict[str, "asyncio.Task[None]"] = {}

    async def take(self, conversation_id: str) -> Optional[Any]:
        """The conversation's key, once the previous turn let it go; None if Redis failed (then the
        caller waits for its confirms itself)."""
        from redis.exceptions import RedisError

        deadline = time.monotonic() + self.hold_s
        earlier = self._held.get(conversation_id)
        if earlier is not None and earlier.get_loop() is asyncio.get_running_loop():
            # the previous turn was this worker's: wait for it here, not by polling
            await asyncio.wait([earlier], timeout=self.hold_s)
        key = self.redis.lock(KEY.format(conversation_id), timeout=self.hold_s)
        try:
            while not key.acquire(blocking=False):   # held by the previous turn, another worker's
                if time.monotonic() > deadline:   # its holder died: the key expires by now
                    return None
                await self._until_free(KEY.format(conversation_id), deadline)
        except RedisError as error:
            logger.warning("turn order: Redis unavailable (%s); the reply waits for RabbitMQ's confirms",
                           error.__class__.__name__)
            return None
        return key

    async def _until_free(self, name: str, deadline: float) -> None:
        """Look again and again, awaiting each look, until the key is gone (or the deadline).

        Blocking looks stopped the event loop for a round trip each. While RabbitMQ's confirms were
        slow (a busy machine) turns waited long enough for those stops to add up: event-loop lag
        at 50 customers 41-45 s per 30 s run, against 22-29 s with the reply waiting for its
        confirms, and the turn's wait for the key p95 0.3-1.3 s (probe, load average 4.5-6)."""
        import redis.asyncio

        loop = asyncio.get_running_loop()
        if self._looks is None or self._looks[0] is not loop:   # its connections belong to one loop
            self._looks = (loop, redis.asyncio.Redis.from_url(self.redis_url, socket_timeout=2.0,
                                                              socket_connect_timeout=2.0))
        looks = self._looks[1]
        poll = POLL_S
        while time.monotonic() < deadline and await looks.exists(name):
            await asyncio.sleep(poll)
            poll = min(2 * poll, MAX_POLL_S)

    def release_after(self, conversation_id: str, key: Any, publishes: List["asyncio.Future[Any]"]) -> None:
        """Let the key go once these publishes are confirmed or given up on (in the background)."""
        pending = [publish for publish in publishes if not publish.done()]
        task = asyncio.get_running_loop().create_task(self._release_when_done(key, pending))
        self._held[conversation_id] = task
        task.add_done_callback(functools.partial(self._forget, conversation_id))

    def _forget(self, conversation_id: str, task: "asyncio.Task[None]") -> None:
        if self._held.get(conversation_id) is task:
            del self._held[conversation_id]

    async def _release_when_done(self, key: Any, pending: List["asyncio.Future[Any]"]) -> None:
        from redis.exceptions import LockError, RedisError

        try:
            if pending:
                await asyncio.wait(pending, timeout=self.hold_s)
        finally:
            try:
                key.release()
            except LockError:   # expired meanwhile (confirms later than `hold_s`): nothing to let go
                pass
            except RedisError as error:   # the key expires by itself
                logger.warning("turn order: could not release a conversation's key (%s)", error.__class__.__name__)
