"""Rasa event broker that records touchpoints (configured in endpoints.yml).

Rasa publishes every event of every channel to the event broker, so this is
the one place turns are recorded — no action or channel records its own.

One process (the default): `TouchpointBroker` writes rows from the Rasa
process itself, off the reply path (`TouchpointRecorder`). Several Rasa
processes (`HAMSAFAR_RABBITMQ_URL` set, `hamsafar run --workers N`): the same
endpoints.yml entry gives Rasa's own `PikaEventBroker` instead, publishing to a
durable queue that one consumer process turns into rows
(`bot.touchpoints.consumer`), acknowledging each event only after its rows are
committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from asyncio import AbstractEventLoop
from typing import Any, Dict, Iterator, List, Optional
from urllib.parse import unquote, urlsplit, urlunsplit

from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.pika import PikaEventBroker
from rasa.utils.endpoints import EndpointConfig

from bot import settings
from bot.touchpoints.recorder import TouchpointRecorder

logger = logging.getLogger(__name__)


def exchange_name(queue: str) -> str:
    """The fanout exchange of our queue: ours alone, not Rasa's shared default `rasa-exchange`."""
    return f"{queue}.events"


def pika_options(url: str, queue: str) -> Dict[str, Any]:
    """`PikaEventBroker` arguments for an amqp URL; the host keeps no credentials (Rasa logs it)."""
    parts = urlsplit(url)
    host = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 5672}", parts.path, parts.query, ""))
    return {
        "host": host,
        "port": parts.port or 5672,
        "username": unquote(parts.username or "guest"),
        "password": unquote(parts.password or "guest"),
        "queues": [queue],
        "exchange_name": exchange_name(queue),
    }


# How long one publish may wait for the channel, the connection's frame queue and RabbitMQ's
# confirm. Unbounded (aio_pika's default), a publish queued on a channel whose connection
# RabbitMQ closed could wait for ever: aiormq's waiters on the dead channel's lock each put
# their frame into the dead connection's write queue (10 frames) until one blocks on it for
# good, holding the lock for all the others. Such events were neither confirmed nor kept for
# re-sending: bench/faults.py lost the touchpoints of the messages answered in the first
# seconds of `rabbitmqctl stop`. Bounded, a publish that times out fails like any other, and
# Rasa keeps its event to send again. A confirm takes milliseconds; this is only ever reached
# when the connection is gone, or the worker is so overloaded that its loop runs seconds late.
# The publish itself is never cancelled, only no longer waited for (`asyncio.shield`): aiormq
# 6.4 counts a publish's delivery tag before it queues its frames, and a publish cancelled
# while waiting for room in the connection's write queue left its tag counted but never sent —
# every later confirm then answered the publish before it, and each publish timed out for good
# (bench/load.py at 200 customers: after ~10 s no event of that worker was confirmed again).
# One given up on that still gets through is a second copy, which the consumer drops (message id).
PUBLISH_TIMEOUT_S = 5.0
# A publish given up on is cancelled after this long all the same: one stuck on a connection
# RabbitMQ closed would otherwise stay in memory for ever. Its event was kept and sent again
# long before; a live connection a minute behind is far beyond the overloads measured (10 s).
ABANDON_AFTER_S = 60.0
# How soon events kept after a failed publish are sent again while nothing else is published
# (Rasa sends them only on a reconnection, which may have happened before the publish failed).
RESEND_AFTER_S = 1.0


def message_id(body: bytes) -> str:
    """The AMQP message id of an event: the same for every publish of it, so the consumer can drop
    an event sent again after its confirm was lost with the connection (bot.touchpoints.consumer)."""
    return hashlib.sha256(body).hexdigest()[:32]


# Publishes waiting for RabbitMQ's confirm at once, per worker; the others wait their turn (in
# order) before their `PUBLISH_TIMEOUT_S` starts. Without the bound, an overload (bench/load.py,
# 200 customers on 2 cores) made publishes wait behind thousands of others on the one channel,
# time out, be kept and all be sent again at once — 53,000 timeouts in a minute, and every
# later reply waited for them (5 s) long after the load was gone.
MAX_IN_FLIGHT = 64


def _retrieve_outcome(publishing: "asyncio.Future[Any]") -> None:
    """A publish given up on (timed out) may still fail later: its error is expected, not news."""
    if not publishing.cancelled():
        publishing.exception()


class _StraightToQueues:
    """Stands in for Rasa's exchange: publishes each message to the durable queue(s) by name,
    through the channel's default exchange (which every RabbitMQ node always has)."""

    def __init__(self, channel: Any, queues: Any, in_flight: asyncio.Semaphore,
                 timeout_s: float = PUBLISH_TIMEOUT_S) -> None:
        self.channel, self.queues, self.in_flight, self.timeout_s = channel, list(queues), in_flight, timeout_s

    async def publish(self, message: Any, routing_key: str) -> None:
        for queue in self.queues:
            # `default_exchange` is made anew each time the robust channel reopens: read it now.
            try:
                async with self.in_flight:
                    publishing = asyncio.ensure_future(self.channel.default_exchange.publish(
                        message, routing_key=queue, timeout=ABANDON_AFTER_S))
                    publishing.add_done_callback(_retrieve_outcome)
                    await asyncio.wait_for(asyncio.shield(publishing), self.timeout_s)
            except Exception as error:
                # Rasa logs the event but not why; operators need the cause (a timeout, a closed channel)
                logger.warning("RabbitMQ publish failed (%s: %s); the event is kept to send again",
                               error.__class__.__name__, error)
                raise


class ConfirmedPikaEventBroker(PikaEventBroker):
    """Rasa's pika broker whose publishes in flight can be awaited, and that loses nothing
    when RabbitMQ restarts.

    Rasa's `publish` sends each event in a background task. Its `close` (a worker
    stopping) would drop the tasks not yet confirmed by RabbitMQ, and with them the
    touchpoints of the last messages the worker answered; here `close` waits for them.
    `flush()` lets a caller wait until every event published so far is confirmed;
    `collecting()` and `confirmed()` let a turn wait for its own events only.

    RabbitMQ restarting (bench/faults.py lost 9 touchpoints in one restart of 5 s):
    * Rasa publishes to a fanout exchange it declares non-durable; a restarted node has
      no such exchange and no binding until a client declares them again, and a publish
      that reaches the exchange before the binding is confirmed and dropped. Events go
      to the durable queue by name instead (the default exchange), which a restart keeps;
      the fanout exchange and its binding are still declared, as before.
    * A publish is bounded (`PUBLISH_TIMEOUT_S`): one waiting on a channel RabbitMQ closed
      could otherwise wait for ever, its event neither confirmed nor kept.
    * Rasa keeps the events it could not publish and sends them again only when the
      *connection* is re-established. Here they are also sent, before the new one, with the
      next event published while the channel is open, or `RESEND_AFTER_S` after a failure;
      order is kept. An event sent twice (its first confirm lost with the connection) has
      the same message id both times, and the consumer writes it once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._channel: Any = None
        self._draining = False
        self._resend: Optional[asyncio.TimerHandle] = None
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._collected: Optional[List["asyncio.Task[None]"]] = None

    async def _set_up_exchange(self, channel: Any) -> Any:
        await super()._set_up_exchange(channel)   # the fanout exchange, the queue(s), the binding
        self._channel = channel
        return _StraightToQueues(channel, self.queues, self._in_flight)

    def _message(self, event: Dict[str, Any], headers: Optional[Dict[str, str]]) -> Any:
        message = super()._message(event, headers)   # persistent, as Rasa makes it
        message.message_id = message_id(message.body)
        return message

    def _channel_open(self) -> bool:
        return self._channel is not None and not self._channel.is_closed

    def _publish_unpublished_messages(self, *args: Any, **kwargs: Any) -> None:
        if self._draining:   # publish() below, called by Rasa's drain for each kept event
            return
        self._draining = True
        try:
            super()._publish_unpublished_messages(*args, **kwargs)
        finally:
            self._draining = False

    def publish(self, event: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> None:
        if self._unpublished_events and self._channel_open():
            self._publish_unpublished_messages()   # the kept ones first: a turn's events stay in order
        # Rasa's `publish`, keeping the task: a turn waits for its own events (`confirmed`)
        task = self._loop.create_task(self._publish(event, headers))
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        if self._collected is not None and not self._draining:
            self._collected.append(task)

    @contextlib.contextmanager
    def collecting(self) -> Iterator[List["asyncio.Task[None]"]]:
        """The publish tasks of the events published inside the block (not the kept events of
        other turns sent again meanwhile). Publishing does not await, so no other turn's events
        get in."""
        self._collected = collected = []
        try:
            yield collected
        finally:
            self._collected = None

    async def confirmed(self, tasks: List["asyncio.Task[None]"], timeout_s: float = 2 * PUBLISH_TIMEOUT_S) -> None:
        """Wait until these publishes are confirmed or failed (failed ones are kept and sent again)."""
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)

    async def _publish(self, event: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> None:
        await super()._publish(event, headers)   # a failed or timed-out publish: Rasa keeps the event
        if self._unpublished_events:
            self._resend_soon()

    def _resend_soon(self) -> None:
        if self._resend is None:
            self._resend = self._loop.call_later(RESEND_AFTER_S, self._resend_kept)

    def _resend_kept(self) -> None:
        self._resend = None
        if not self._unpublished_events:
            return
        if self._channel_open():
            self._publish_unpublished_messages()
        else:   # still reconnecting: look again later (Rasa also sends them on the reconnection)
            self._resend_soon()

    async def flush(self, timeout_s: float = 10.0) -> None:
        pending = list(self._background_tasks)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)

    async def close(self) -> None:
        await self.flush()
        if self._resend is not None:
            self._resend.cancel()
            self._resend = None
        await super().close()


class TouchpointBroker(EventBroker):
    """`event_broker: {type: bot.touchpoints.broker.TouchpointBroker}` in endpoints.yml."""

    def __init__(self, recorder: TouchpointRecorder) -> None:
        self.recorder = recorder

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[AbstractEventLoop] = None
    ) -> EventBroker:
        url = settings.rabbitmq_url()
        if url:
            options = pika_options(url, settings.rabbitmq_queue())
            broker = ConfirmedPikaEventBroker(options.pop("host"), event_loop=event_loop, **options)
            await broker.connect()
            return broker
        options = dict(broker_config.kwargs or {}) if broker_config else {}
        recorder = TouchpointRecorder(
            batch_size=int(options.get("batch_size", 200)),
            flush_interval_s=float(options.get("flush_interval_s", 0.5)),
            buffer_size=int(options.get("buffer_size", 20_000)),
        )
        return cls(recorder.start())

    def publish(self, event: Dict[str, Any]) -> None:
        self.recorder.publish(event)

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        self.recorder.close()
