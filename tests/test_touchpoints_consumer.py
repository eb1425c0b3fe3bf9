"""The touchpoint consumer on real RabbitMQ and PostgreSQL: each event's rows exactly once, across restarts.

Events are published the way the Rasa workers publish them: through the broker endpoints.yml
names (`TouchpointBroker`), which with `HAMSAFAR_RABBITMQ_URL` set is Rasa's own `PikaEventBroker`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from typing import Any, Dict, Iterator, List
from urllib.parse import urlsplit

import pytest

from tests.conftest import postgres_url
from tests.support.topology import delete_queue

RABBITMQ_URL = os.environ.get("HAMSAFAR_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _rabbitmq_up() -> bool:
    parts = urlsplit(RABBITMQ_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=2):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(not postgres_url(), reason="HAMSAFAR_TEST_POSTGRES_URL is not set (.ci/run sets it)"),
    pytest.mark.skipif(not _rabbitmq_up(), reason="no RabbitMQ (HAMSAFAR_TEST_RABBITMQ_URL)"),
]


@pytest.fixture
def queue(fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"hamsafar_test_consumer_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", fresh_postgres_url)
    monkeypatch.setenv("HAMSAFAR_RABBITMQ_URL", RABBITMQ_URL)
    monkeypatch.setenv("HAMSAFAR_RABBITMQ_QUEUE", name)
    from bot.schema import init_db

    init_db(fresh_postgres_url)
    yield name
    delete_queue(name, RABBITMQ_URL)


def turn(sender: str, message_id: str, start: float) -> List[Dict[str, Any]]:
    """A customer turn as Rasa publishes it: the message, the bot's action and reply, listening again."""
    return [
        {"event": "user", "sender_id": sender, "timestamp": start, "text": "hi", "message_id": message_id,
         "input_channel": "rest", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": []}},
        {"event": "action", "sender_id": sender, "timestamp": start + 0.01, "name": "utter_greet"},
        {"event": "bot", "sender_id": sender, "timestamp": start + 0.02, "text": "Hello!"},
        {"event": "action", "sender_id": sender, "timestamp": start + 0.03, "name": "action_listen"},
    ]


async def publish(events: List[Dict[str, Any]]) -> None:
    from rasa.core.brokers.pika import PikaEventBroker

    from bot.touchpoints.broker import TouchpointBroker

    broker = await TouchpointBroker.from_endpoint_config(None)
    assert isinstance(broker, PikaEventBroker)   # the environment chose RabbitMQ
    for event in events:
        broker.publish(event)
    await broker.flush()   # Rasa publishes in background tasks: wait until RabbitMQ confirmed each
    assert not broker._background_tasks
    await broker.close()


async def consume_until(consumer: Any, done: Any, timeout_s: float = 30) -> None:
    """Run `consumer` until `done()` holds (or the time is up), then stop it as SIGTERM would."""
    task = asyncio.ensure_future(consumer.run())
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(done) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    consumer.stop()
    await asyncio.wait_for(task, 30)


def customer_rows(sender: str) -> int:
    from bot.db import get_engine
    from bot.touchpoints.store import count_rows

    return count_rows(get_engine(), conversation_id=sender, actor="customer")


def test_a_turn_cut_by_a_stop_is_assembled_again_by_the_next_consumer(queue: str) -> None:
    """The first consumer stops with a turn half-received: nothing of it is acknowledged, so the next
    consumer gets the whole turn again and writes it once."""
    from bot.touchpoints.consumer import TouchpointConsumer

    sender = f"rest:consumer-{uuid.uuid4().hex[:8]}"
    events = turn(sender, "m1", time.time())

    async def scenario() -> None:
        await publish(events[:2])   # the message and the first action; the worker has not published the rest yet
        first = TouchpointConsumer(RABBITMQ_URL, queue)
        await consume_until(first, lambda: bool(first.held), timeout_s=15)
        assert sender in first.held and customer_rows(sender) == 0   # held, not acknowledged, nothing written
        await publish(events[2:])
        second = TouchpointConsumer(RABBITMQ_URL, queue)
        await consume_until(second, lambda: customer_rows(sender) == 1 and not second.held)
        assert second.written == 1

    asyncio.run(scenario())
    assert customer_rows(sender) == 1


def test_events_delivered_again_after_their_rows_were_written_add_nothing(queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A consumer dies after the commit but before the acknowledgement: the redelivered events are
    assembled again into the same rows, which the insert skips."""
    from bot.touchpoints.consumer import TouchpointConsumer

    sender = f"rest:consumer-{uuid.uuid4().hex[:8]}"
    events = turn(sender, "m1", time.time()) + turn(sender, "m2", time.time() + 1)

    async def scenario() -> None:
        await publish(events)
        dying = TouchpointConsumer(RABBITMQ_URL, queue)

        async def crash_before_ack() -> None:   # what SIGKILL right after the commit leaves behind
            return None

        monkeypatch.setattr(dying, "_acknowledge", crash_before_ack)
        await consume_until(dying, lambda: customer_rows(sender) == 2)
        assert dying.written == 2
        successor = TouchpointConsumer(RABBITMQ_URL, queue)
        await consume_until(successor, lambda: successor.received >= len(events) and not successor.held)
        assert successor.received == len(events) and successor.written == 0   # all redelivered, none new

    asyncio.run(scenario())
    assert customer_rows(sender) == 2


def test_an_event_a_worker_published_twice_is_written_once(queue: str) -> None:
    """A worker whose publish timed out when RabbitMQ went away sends the event again, though the
    first copy may have reached the queue (its confirm was lost with the connection). Both copies
    carry the same message id; the second is acknowledged and not assembled again — a reply sent
    twice after its turn was closed would otherwise become a `bot` row of its own."""
    from bot.db import get_engine
    from bot.touchpoints.consumer import TouchpointConsumer
    from bot.touchpoints.store import rows_for

    sender = f"rest:consumer-{uuid.uuid4().hex[:8]}"
    events = turn(sender, "m1", time.time())

    consumer = TouchpointConsumer(RABBITMQ_URL, queue)

    async def scenario() -> None:
        await publish(events + [events[2], events[3]])   # the reply and `action_listen` sent again
        await consume_until(consumer, lambda: consumer.received == len(events) + 2 and not consumer.held)

    asyncio.run(scenario())
    assert [row["actor"] for row in rows_for(get_engine(), sender)] == ["customer"]
    assert consumer.republished == 2


class AckSpy:
    """Counts the consumer's acknowledgements (aio-pika's `IncomingMessage.ack`) and its batches."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, consumer: Any) -> None:
        import aio_pika

        self.acks: List[bool] = []   # `multiple` of each acknowledgement sent
        self.batches = 0
        ack = aio_pika.IncomingMessage.ack

        async def counted_ack(message: Any, multiple: bool = False) -> None:
            self.acks.append(multiple)
            await ack(message, multiple=multiple)

        handle = consumer._handle

        async def counted_handle(batch: List[Any]) -> None:
            self.batches += bool(batch)
            await handle(batch)

        monkeypatch.setattr(aio_pika.IncomingMessage, "ack", counted_ack)
        monkeypatch.setattr(consumer, "_handle", counted_handle)


def test_closed_turns_are_acknowledged_with_one_ack_per_batch(queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three conversations' turns (12 deliveries): one `multiple` acknowledgement per batch, not one
    per delivery, and none of them is delivered again to the next consumer."""
    from bot.touchpoints.consumer import TouchpointConsumer

    senders = [f"rest:acks-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = [event for n, sender in enumerate(senders) for event in turn(sender, f"m{n}", time.time() + n)]

    async def scenario() -> None:
        await publish(events)
        consumer = TouchpointConsumer(RABBITMQ_URL, queue)
        spy = AckSpy(monkeypatch, consumer)
        await consume_until(consumer, lambda: sum(customer_rows(s) for s in senders) == 3 and not consumer.held)
        assert consumer.received == len(events)
        assert spy.acks == [True] * spy.batches and spy.batches < len(events)
        successor = TouchpointConsumer(RABBITMQ_URL, queue)
        await consume_until(successor, lambda: False, timeout_s=2)
        assert successor.received == 0   # every delivery was acknowledged

    asyncio.run(scenario())


def test_an_acknowledgement_covering_many_never_covers_a_turn_still_held(queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliveries: a closed turn, half of an open turn, another closed turn. The first closed turn
    goes with one `multiple` acknowledgement, the one after the open turn one by one; the open
    turn's deliveries stay unacknowledged and reach the next consumer again."""
    from bot.touchpoints.consumer import TouchpointConsumer

    before, open_, after = (f"rest:held-{uuid.uuid4().hex[:8]}" for _ in range(3))
    now = time.time()
    open_turn = turn(open_, "m-open", now + 1)

    async def scenario() -> None:
        await publish(turn(before, "m-before", now) + open_turn[:2] + turn(after, "m-after", now + 2))
        first = TouchpointConsumer(RABBITMQ_URL, queue)
        spy = AckSpy(monkeypatch, first)
        await consume_until(first, lambda: customer_rows(before) == 1 and customer_rows(after) == 1)
        assert open_ in first.held and True in spy.acks
        await publish(open_turn[2:])
        second = TouchpointConsumer(RABBITMQ_URL, queue)
        await consume_until(second, lambda: customer_rows(open_) == 1 and not second.held)
        assert second.received == len(open_turn)   # the held half again, and the rest

    asyncio.run(scenario())
    assert (customer_rows(before), customer_rows(open_), customer_rows(after)) == (1, 1, 1)
