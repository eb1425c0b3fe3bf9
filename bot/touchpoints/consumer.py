"""The touchpoint consumer: Rasa events from RabbitMQ in, touchpoint rows out, each exactly once.

With several Rasa processes (`hamsafar run --workers N`) every process
publishes its events through Rasa's `PikaEventBroker` (bot.touchpoints.broker)
to one durable queue, and this one process turns them into rows with the same
`TurnAssembler` the in-process recorder uses.

Exactly once, across crashes of this process or of a Rasa worker:
- an event is acknowledged only after every row it contributes to is
  committed. A customer turn spans several events (the message, the actions,
  the replies, `action_listen`), so a conversation's deliveries are held until
  its turn is closed and written; a crash before that puts them back in the
  queue, in order, and a fresh consumer assembles the turn again;
- rows have a stable `event_id` and inserts skip known ids
  (`bot.touchpoints.store.insert_rows`), so events delivered again after their
  rows were committed (a crash between commit and ack) add nothing;
- an event a worker published twice (its first confirm was lost when RabbitMQ
  went away, so the worker sent it again) carries the same AMQP message id both
  times (`bot.touchpoints.broker.message_id`); the second is acknowledged and not
  assembled again, so a reply or action sent twice is not written twice.

Only one consumer may read the queue: a turn's events must meet in one
assembler. It is cheap (a batched insert per flush); what scales are the Rasa
workers. Run: ``python -m bot.touchpoints.consumer`` with `HAMSAFAR_RABBITMQ_URL`,
`HAMSAFAR_RABBITMQ_QUEUE` and `HAMSAFAR_DATABASE_URL` set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aiormq.exceptions import ChannelInvalidStateError
from sqlalchemy.engine import Engine

from bot import settings
from bot import schema
from bot.touchpoints.assembler import ConversationState, TurnAssembler
from bot.touchpoints.broker import exchange_name, pika_options
from bot.touchpoints.privacy import conversation_ref
from bot.touchpoints.store import insert_rows, last_state

logger = logging.getLogger(__name__)
# How long an acknowledgement may take before the connection is taken as lost.
ACK_TIMEOUT_S = 10.0
# Message ids remembered to drop an event published again (minutes of events at peak; ~10 MB).
SEEN_MESSAGES = 100_000


def _tag(message: Any) -> int:
    return int(message.delivery_tag)


@dataclass
class Held:
    """Deliveries of one conversation not acknowledged yet, and since when."""

    messages: List[Any] = field(default_factory=list)
    since: float = 0.0


class TouchpointConsumer:
    """Reads the queue in batches; writes rows, then acknowledges what they cover."""

    def __init__(self, url: str, queue: str, database_url: Optional[str] = None, prefetch: int = 1000,
                 batch_size: int = 300, flush_interval_s: float = 0.2, hold_limit_s: float = 60.0) -> None:
        self.url = url
        self.queue_name = queue
        self.database_url = database_url or settings.database_url()
        self.prefetch = prefetch
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        # A turn left open this long (its worker died before `action_listen`) is let go:
        # its deliveries must not fill the prefetch window for ever.
        self.hold_limit_s = hold_limit_s
        self.assembler = TurnAssembler()
        self.held: Dict[str, Held] = {}
        self.pending: List[Dict[str, Any]] = []
        self.received = 0   # events taken from the queue (redeliveries included)
        self.written = 0    # rows inserted (a redelivered event's rows are skipped, not counted)
        self._engine: Optional[Engine] = None
        self._inbox: "asyncio.Queue[Any]" = asyncio.Queue()
        self._full = asyncio.Event()   # the inbox holds a whole batch
        self._stop = asyncio.Event()
        self.connection_lost = False
        self._seen: "OrderedDict[str, None]" = OrderedDict()
        self.republished = 0   # events dropped as published again by a worker

    def _first_time(self, message: Any) -> bool:
        """Whether this process has not had this event yet (by message id; none: take it)."""
        key = getattr(message, "message_id", None)
        if not key:
            return True
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > SEEN_MESSAGES:
            self._seen.popitem(last=False)
        return True

    # -- the database side (runs in a worker thread, one batch at a time) ----------------
    def _engine_ready(self) -> Engine:
        if self._engine is None:
            self._engine = schema.engine(self.database_url)
        return self._engine

    def _seed(self, sender: str) -> None:
        """First event of a conversation in this process: continue from its newest row."""
        if sender in self.assembler.states:
            return
        state = ConversationState()
        previous = last_state(self._engine_ready(), conversation_ref(sender))
        for name, value in (previous or {}).items():
            setattr(state, name, bool(value) if name == "handoff" else value)
        self.assembler.states[sender] = state

    def _seed_all(self, senders: List[str]) -> None:
        for sender in senders:   # safe to run again after a failure: seeded ones are skipped
            self._seed(sender)

    def _feed(self, events: List[Dict[str, Any]]) -> None:
        """Assemble rows (no I/O: run once per batch, after seeding)."""
        for event in events:
            try:
                self.pending += self.assembler.feed(event)
            except Exception:  # noqa: BLE001 - one malformed event must not stop recording
                logger.exception("touchpoints: could not assemble event %s", event.get("event"))

    def _write(self) -> int:
        inserted = insert_rows(self._engine_ready(), self.pending)
        self.pending = []
        return inserted

    # -- the queue side -----------------------------------------------------------------------
    async def _on_message(self, message: Any) -> None:
        self._inbox.put_nowait(message)
        if self._inbox.qsize() >= self.batch_size:
            self._full.set()

    async def _next_batch(self) -> List[Any]:
        """Up to `batch_size` deliveries within `flush_interval_s` of the first; empty after a quiet second.

        One wait per batch, not one per delivery (`asyncio.wait_for` on every `get` was 9 % of
        this process's samples at saturation: py-spy)."""
        try:
            batch = [await asyncio.wait_for(self._inbox.get(), 1.0)]
        except asyncio.TimeoutError:
            return []
        if self._inbox.qsize() < self.batch_size - 1:
            self._full.clear()
            try:
                await asyncio.wait_for(self._full.wait(), self.flush_interval_s)
            except asyncio.TimeoutError:
                pass
        while len(batch) < self.batch_size and not self._inbox.empty():
            batch.append(self._inbox.get_nowait())
        return batch

    async def _handle(self, batch: List[Any]) -> None:
        if not batch:   # quiet: only let go of turns held too long
            await self._acknowledge()
            return
        events: List[Dict[str, Any]] = []
        now = time.monotonic()
        for message in batch:
            try:
                event = json.loads(message.body)
                sender = str(event["sender_id"])
            except (ValueError, KeyError, TypeError):
                logger.warning("touchpoints: dropped a queue message that is not a Rasa event")
                await message.reject(requeue=False)
                continue
            self.received += 1
            held = self.held.setdefault(sender, Held(since=now))
            held.messages.append(message)   # acknowledged with its conversation's turn, even if dropped
            if self._first_time(message):
                events.append(event)
            else:
                self.republished += 1
        await self._retrying(self._seed_all, list(dict.fromkeys(str(e["sender_id"]) for e in events)))
        await asyncio.to_thread(self._feed, events)
        self.written += await self._retrying(self._write)
        await self._acknowledge()

    async def _retrying(self, work: Any, *args: Any) -> Any:
        """Run database work in a thread until it succeeds (the database may be restarting)."""
        backoff = 0.2
        while True:
            try:
                return await asyncio.to_thread(work, *args)
            except Exception as error:  # noqa: BLE001 - any database failure: nothing is acknowledged, retry
                logger.warning("touchpoints: database unavailable (%s); retrying in %.1fs", error.__class__.__name__, backoff)
                self._engine = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _acknowledge(self) -> None:
        """Ack every delivery of a conversation whose turn is closed (its rows are committed).

        One acknowledgement with `multiple` covers every delivery up to the newest one that
        can go, as long as no turn still held has an older delivery (RabbitMQ's delivery tags
        grow on the channel, and every older delivery is one of ours: held, or going now); the
        few newer than a held turn are acknowledged one by one. One at a time, the ~11
        deliveries of each customer message were 11 frames and 11 awaits in this process."""
        now = time.monotonic()
        going: List[Any] = []
        for sender in list(self.held):
            state = self.assembler.states.get(sender)
            held = self.held[sender]
            if state is not None and state.turn is not None and now - held.since < self.hold_limit_s:
                continue
            going += held.messages
            del self.held[sender]
        if not going:
            return
        oldest_held = min((m.delivery_tag for held in self.held.values() for m in held.messages), default=None)
        covered = [m for m in going if oldest_held is None or m.delivery_tag < oldest_held]
        # an acknowledgement on a connection RabbitMQ dropped may never complete: bounded,
        # it ends the consumer (the broker gives the unacknowledged deliveries to the next)
        if covered:
            await asyncio.wait_for(max(covered, key=_tag).ack(multiple=True), ACK_TIMEOUT_S)
        for message in going:
            if oldest_held is not None and message.delivery_tag > oldest_held:
                await asyncio.wait_for(message.ack(), ACK_TIMEOUT_S)

    async def run(self) -> None:
        import aio_pika

        options = pika_options(self.url, self.queue_name)
        # Not a robust (reconnecting) connection: after a reconnect RabbitMQ delivers the held events
        # again while this assembler still holds their turns. Exiting instead lets the supervisor start
        # a fresh consumer, which assembles them from the queue alone.
        connection = await self._connect(options["host"])
        if connection is None:   # stopped while RabbitMQ was unreachable
            return
        connection.close_callbacks.add(self._on_connection_closed)
        try:
            async with connection:
                await self._consume(connection, options)
        except CONNECTION_EXCEPTIONS + (ChannelInvalidStateError, asyncio.TimeoutError):
            # RabbitMQ went away while a batch was being acknowledged: what was not acknowledged
            # is delivered again to the next consumer.
            if self._stop.is_set() and not self.connection_lost:
                raise
            self.connection_lost = True

    async def _connect(self, where: str) -> Optional[Any]:
        """A connection to RabbitMQ, waiting for it while it is unreachable (restarting, not up yet).

        A consumer started by the supervisor while RabbitMQ restarts would otherwise exit at
        once, again and again, until the supervisor gives up on it and stops the topology."""
        import aio_pika

        backoff = 0.5
        while not self._stop.is_set():
            try:
                return await aio_pika.connect(self.url)
            except CONNECTION_EXCEPTIONS as error:
                logger.warning("touchpoints: RabbitMQ at %s unavailable (%s); retrying in %.1fs", where,
                               error.__class__.__name__, backoff)
                try:
                    await asyncio.wait_for(self._stop.wait(), backoff)
                except asyncio.TimeoutError:
                    pass
                backoff = min(backoff * 2, 5.0)
        return None

    async def _consume(self, connection: Any, options: Dict[str, Any]) -> None:
        """Declare the queue, then read and write batches until stopped or the connection is lost."""
        import aio_pika

        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        exchange = await channel.declare_exchange(options["exchange_name"], type=aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(self.queue_name, durable=True)
        await queue.bind(exchange, "")
        await asyncio.to_thread(self._engine_ready)
        tag = await queue.consume(self._on_message)
        print(f"[hamsafar] touchpoint consumer: queue {self.queue_name} on {options['host']}", flush=True)
        stop = asyncio.ensure_future(self._stop.wait())
        while not self._stop.is_set():
            batch_task = asyncio.ensure_future(self._next_batch())
            done, _ = await asyncio.wait({batch_task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if batch_task not in done:
                batch_task.cancel()
                break
            if connection.is_closed or channel.is_closed:
                # a restart the close callback did not report (seen after `rabbitmqctl stop`): the
                # deliveries are no longer ours; exit so that a fresh consumer reads the queue again
                logger.warning("touchpoints: the RabbitMQ connection is closed; exiting to start afresh")
                self.connection_lost = True
                break
            await self._handle(batch_task.result())
        if not self.connection_lost:
            await queue.cancel(tag)
        # Deliveries still held (open turns) are not acknowledged: the broker gives them to the next consumer.

    def stop(self) -> None:
        self._stop.set()

    def _on_connection_closed(self, *_: Any) -> None:
        if not self._stop.is_set():
            self.connection_lost = True
            self._stop.set()


def main() -> None:
    from bot.runtime.quiet_warnings import quiet_third_party_deprecations

    quiet_third_party_deprecations()
    refusal = settings.refusal_at_start()
    if refusal:
        raise SystemExit(refusal)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = settings.rabbitmq_url()
    if not url:
        raise SystemExit("[hamsafar] the touchpoint consumer needs HAMSAFAR_RABBITMQ_URL")
    schema.init_db()  # start-up: the schema is created or upgraded before the first event
    consumer = TouchpointConsumer(url, settings.rabbitmq_queue())

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, consumer.stop)
        await consumer.run()

    asyncio.run(serve())
    if consumer.connection_lost:
        raise SystemExit("[hamsafar] touchpoint consumer: lost the RabbitMQ connection; exiting to start afresh")


if __name__ == "__main__":
    main()
