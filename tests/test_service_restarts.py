"""Restarts of PostgreSQL, Redis and RabbitMQ: each part of the topology carries on afterwards (issue 16).

The machine's own services are shared with other work and are never restarted: these tests
start private ones on free ports (tests.support.private_services, Debian's binaries) and
restart those. What is checked is what `bench/faults.py` relies on under load:

* a pooled engine (`bot.db.create_pooled_engine`: Rasa's tracker store and our data) answers
  the first query after PostgreSQL restarted, instead of failing it on a dead connection;
* Rasa's Redis lock store (`bot.stores.EnvLockStore`) locks again after Redis restarted;
* Rasa's pika broker, as the workers use it (`TouchpointBroker` with `HAMSAFAR_RABBITMQ_URL`),
  keeps the events published while RabbitMQ was down and publishes them once it is back,
  in order, none lost;
* the touchpoint consumer started while RabbitMQ is down waits for it instead of exiting
  (the supervisor would give up on a consumer that exits five times in two minutes), and
  writes every turn once.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from tests.test_touchpoints_consumer import turn


def _why_skip() -> str:
    from glob import glob

    if not glob("/usr/lib/postgresql/*/bin/pg_ctl"):
        return "PostgreSQL server binaries are not installed"
    if not shutil.which("redis-server"):
        return "redis-server is not installed"
    if not os.access("/usr/lib/rabbitmq/bin/rabbitmq-server", os.X_OK):
        return "rabbitmq-server is not installed"
    return ""


pytestmark = pytest.mark.skipif(bool(_why_skip()), reason=_why_skip() or "-")


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.support.private_services import PrivateServices

    started = PrivateServices(Path(tmp_path_factory.mktemp("services")))
    try:
        yield started.start_all()
    finally:
        started.stop_all()


@pytest.fixture
def database(services: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database on the private PostgreSQL, as HAMSAFAR_DATABASE_URL."""
    import sqlalchemy as sa

    name = f"restarts_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(services.postgres.url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = services.postgres.url.rsplit("/", 1)[0] + "/" + name
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)
    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
    yield url
    from bot.db import dispose_engines

    dispose_engines()


def test_a_pooled_engine_answers_the_first_query_after_postgres_restarted(services: Any, database: str) -> None:
    import sqlalchemy as sa

    from bot.db import create_pooled_engine

    engine = create_pooled_engine(database)
    with engine.connect() as conn:
        backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    services.postgres.restart()   # the pooled connection's server process is gone
    _idle_past_ping_threshold()
    with engine.connect() as conn:
        after = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    assert after != backend   # a new connection, made on checkout, not an error
    engine.dispose()


def _idle_past_ping_threshold() -> None:
    """A restart shorter than bot.db.IDLE_BEFORE_PING_S would be a restart during use (not pinged)."""
    from bot.db import IDLE_BEFORE_PING_S

    time.sleep(IDLE_BEFORE_PING_S + 0.1)


def test_the_redis_lock_store_locks_again_after_redis_restarted(services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.lock_store import RedisLockStore

    from bot.stores import EnvLockStore

    monkeypatch.setenv("HAMSAFAR_REDIS_URL", services.redis.url)
    store = EnvLockStore()
    assert isinstance(store, RedisLockStore)
    conversation = f"restarts-{uuid.uuid4().hex[:8]}"

    async def one_message() -> int:
        async with store.lock(conversation) as lock:
            return len(lock.tickets)

    assert asyncio.run(one_message()) == 1
    services.redis.restart()
    assert asyncio.run(one_message()) == 1


def test_a_message_handled_while_redis_went_away_is_not_failed_by_its_lock_release(
        services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The turn is stored when Redis goes; releasing the lock fails, the message does not (it was
    answered: failing it would have the customer send it again and the bot process it twice)."""
    from rasa.core.lock_store import LockError

    from bot.stores import EnvLockStore

    monkeypatch.setenv("HAMSAFAR_REDIS_URL", services.redis.url)
    store = EnvLockStore()
    conversation = f"restarts-{uuid.uuid4().hex[:8]}"

    async def handled_while_redis_goes() -> str:
        async with store.lock(conversation):
            await asyncio.to_thread(services.redis.stop)
            return "answered"

    async def one_message() -> None:
        async with store.lock(conversation):
            pass

    try:
        assert asyncio.run(handled_while_redis_goes()) == "answered"
        with pytest.raises(LockError):   # taking a lock still fails loudly: nothing is done
            asyncio.run(one_message())
    finally:
        services.redis.start()
    asyncio.run(one_message())


def _drain(url: str, queue: str) -> List[Dict[str, Any]]:
    """Every message in `queue`, acknowledged, in queue order."""
    import aio_pika

    async def read() -> List[Dict[str, Any]]:
        found: List[Dict[str, Any]] = []
        async with await aio_pika.connect(url) as connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, durable=True)
            while True:
                message = await declared.get(no_ack=True, fail=False)
                if message is None:
                    return found
                found.append(json.loads(message.body))

    return asyncio.run(read())


def test_the_pika_broker_publishes_what_it_was_given_while_rabbitmq_was_down(
        services: Any, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = f"restarts_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("HAMSAFAR_RABBITMQ_URL", services.rabbitmq.url)
    monkeypatch.setenv("HAMSAFAR_RABBITMQ_QUEUE", queue)
    sender = f"rest:restarts-{uuid.uuid4().hex[:8]}"
    events = [{"event": "user", "sender_id": sender, "timestamp": 1000.0 + i, "text": f"message {i}"} for i in range(9)]

    async def scenario() -> None:
        from bot.touchpoints.broker import TouchpointBroker

        broker = await TouchpointBroker.from_endpoint_config(None)
        for event in events[:3]:
            broker.publish(event)
        await broker.flush()
        await asyncio.to_thread(services.rabbitmq.stop)
        for event in events[3:6]:   # RabbitMQ is down: Rasa keeps them to publish after reconnecting
            broker.publish(event)
        await broker.flush()
        await asyncio.to_thread(services.rabbitmq.start)
        deadline = time.monotonic() + 90
        while broker._unpublished_events and time.monotonic() < deadline:   # reconnects every 5 s
            await asyncio.sleep(0.2)
        await broker.flush()
        for event in events[6:]:
            broker.publish(event)
        await broker.close()

    asyncio.run(scenario())
    texts = [event["text"] for event in _drain(services.rabbitmq.url, queue)]
    assert texts == [event["text"] for event in events]


def consumer_queue(services: Any, database: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """A queue of its own on the private RabbitMQ, the database ready, and a conversation to publish."""
    from bot.schema import init_db

    queue = f"restarts_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("HAMSAFAR_RABBITMQ_URL", services.rabbitmq.url)
    monkeypatch.setenv("HAMSAFAR_RABBITMQ_QUEUE", queue)
    init_db(database)
    return queue, f"rest:restarts-{uuid.uuid4().hex[:8]}", time.time()


def test_a_consumer_started_while_rabbitmq_is_down_waits_and_writes_every_turn_once(
        services: Any, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.touchpoints.consumer import TouchpointConsumer
    from tests.test_touchpoints_consumer import customer_rows, publish

    queue, sender, start = consumer_queue(services, database, monkeypatch)

    async def scenario() -> None:
        await publish(turn(sender, "m1", start))          # declares the queue; the turn waits in it
        await asyncio.to_thread(services.rabbitmq.stop)
        consumer = TouchpointConsumer(services.rabbitmq.url, queue)
        task = asyncio.ensure_future(consumer.run())
        await asyncio.sleep(3)
        assert not task.done()   # waiting for RabbitMQ, not exited
        await asyncio.to_thread(services.rabbitmq.start)
        await publish(turn(sender, "m2", start + 5))
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(customer_rows, sender) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        consumer.stop()
        await asyncio.wait_for(task, 30)
        assert not consumer.connection_lost

    asyncio.run(scenario())
    assert customer_rows(sender) == 2


def test_a_consumer_whose_rabbitmq_restarts_exits_and_a_fresh_one_writes_every_turn_once(
        services: Any, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.touchpoints.consumer import TouchpointConsumer
    from tests.test_touchpoints_consumer import customer_rows, publish

    queue, sender, start = consumer_queue(services, database, monkeypatch)

    async def wait_for_rows(count: int) -> None:
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(customer_rows, sender) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    async def scenario() -> None:
        await publish(turn(sender, "m1", start))
        first = TouchpointConsumer(services.rabbitmq.url, queue)
        running = asyncio.ensure_future(first.run())
        await wait_for_rows(1)
        await asyncio.to_thread(services.rabbitmq.stop)
        await asyncio.wait_for(running, 60)      # it notices and exits (the supervisor starts another)
        assert first.connection_lost
        await asyncio.to_thread(services.rabbitmq.start)
        await publish(turn(sender, "m2", start + 5))
        second = TouchpointConsumer(services.rabbitmq.url, queue)
        task = asyncio.ensure_future(second.run())
        await wait_for_rows(2)
        second.stop()
        await asyncio.wait_for(task, 30)

    asyncio.run(scenario())
    assert customer_rows(sender) == 2


def test_turns_answered_while_rabbitmq_stops_each_get_one_touchpoint(
        services: Any, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """RabbitMQ stops while a worker has turns to publish: every turn gets its customer row, once.

    Twenty conversations each answer three turns, published the way a worker publishes them
    (`TouchpointBroker` with `HAMSAFAR_RABBITMQ_URL`: Rasa's pika broker). RabbitMQ stops while the
    second turns wait to be sent — the stop runs on the broker's event loop, which is busy with it
    as a worker's is with a prediction — and starts again; the third turns come after. A consumer
    then writes the queue. Before publishes were bounded, the publishes waiting on the dead channel
    never finished: neither confirmed nor kept for re-sending, so their turns had no row
    (bench/faults.py: the touchpoints of messages answered in the first seconds of a RabbitMQ stop).
    """
    from bot.db import get_engine
    from bot.touchpoints.broker import TouchpointBroker
    from bot.touchpoints.consumer import TouchpointConsumer
    from bot.touchpoints.store import rows_for
    from tests.test_touchpoints_consumer import consume_until, customer_rows

    queue, _, start = consumer_queue(services, database, monkeypatch)
    senders = [f"rest:restarts-{uuid.uuid4().hex[:8]}" for _ in range(20)]
    turns = [start, start + 5, start + 10]

    def published(when: float) -> List[Dict[str, Any]]:
        return [event for sender in senders for event in turn(sender, f"m{when}", when)]

    async def scenario() -> None:
        broker = await TouchpointBroker.from_endpoint_config(None)
        for event in published(turns[0]):
            broker.publish(event)
        await broker.flush()
        for event in published(turns[1]):
            broker.publish(event)            # handed over; the loop has not sent them yet
        services.rabbitmq.stop()             # blocks the loop, as a busy worker's is blocked
        await broker.flush()
        await asyncio.to_thread(services.rabbitmq.start)
        for event in published(turns[2]):
            broker.publish(event)
        deadline = time.monotonic() + 120    # a guard, not a measure: the broker reconnects every 5 s
        while (broker._unpublished_events or broker._background_tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await broker.close()
        consumer = TouchpointConsumer(services.rabbitmq.url, queue)
        await consume_until(consumer, lambda: sum(customer_rows(s) for s in senders) >= 3 * len(senders)
                            and not consumer.held, timeout_s=60)

    asyncio.run(scenario())
    import datetime as dt

    expected = [dt.datetime.fromtimestamp(t, tz=dt.timezone.utc).replace(tzinfo=None) for t in turns]
    for sender in senders:
        rows = [row for row in rows_for(get_engine(), sender) if row["actor"] == "customer"]
        assert sorted(row["occurred_at"] for row in rows) == expected, sender


def test_a_consumer_acknowledging_after_rabbitmq_stopped_exits_and_a_fresh_one_writes_the_turn_once(
        services: Any, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """RabbitMQ stops between the commit of a turn's rows and their acknowledgement.

    aiormq sends an acknowledgement on a closed connection without failing it: it waits for
    ever (bench/faults.py once saw a consumer sit 5 minutes on a dead connection, reading
    nothing). The consumer bounds each acknowledgement (`ACK_TIMEOUT_S`) and exits, so the
    supervisor starts a fresh one, which gets the unacknowledged events again and adds no row."""
    from bot.touchpoints.consumer import TouchpointConsumer
    from tests.test_touchpoints_consumer import customer_rows, publish

    queue, sender, start = consumer_queue(services, database, monkeypatch)
    first = TouchpointConsumer(services.rabbitmq.url, queue)
    write = first._write

    def write_then_lose_rabbitmq() -> int:
        written = write()
        services.rabbitmq.stop()   # the acknowledgements come after, on a closed connection
        return written

    monkeypatch.setattr(first, "_write", write_then_lose_rabbitmq)

    async def scenario() -> None:
        await publish(turn(sender, "m1", start))
        await asyncio.wait_for(first.run(), 120)   # a guard against waiting for ever, not a measure
        assert first.connection_lost and customer_rows(sender) == 1
        await asyncio.to_thread(services.rabbitmq.start)
        second = TouchpointConsumer(services.rabbitmq.url, queue)
        task = asyncio.ensure_future(second.run())
        deadline = time.monotonic() + 60
        while second.received < len(turn(sender, "m1", start)) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        second.stop()
        await asyncio.wait_for(task, 30)
        assert second.received == 4 and second.written == 0   # delivered again, nothing new

    asyncio.run(scenario())
    assert customer_rows(sender) == 1
