"""The workers' RabbitMQ broker (bot.touchpoints.broker.ConfirmedPikaEventBroker) on real RabbitMQ:
a turn waits for its own events' confirms only, and publishes given up on under overload do not
stop later ones from being confirmed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Dict, Iterator, List

import pytest

from tests.support.topology import delete_queue
from tests.test_touchpoints_consumer import RABBITMQ_URL, _rabbitmq_up

pytestmark = pytest.mark.skipif(not _rabbitmq_up(), reason="no RabbitMQ (HAMSAFAR_TEST_RABBITMQ_URL)")


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"hamsafar_test_broker_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("HAMSAFAR_RABBITMQ_URL", RABBITMQ_URL)
    monkeypatch.setenv("HAMSAFAR_RABBITMQ_QUEUE", name)
    yield name
    delete_queue(name, RABBITMQ_URL)


def _event(sender: str, index: int) -> Dict[str, Any]:
    return {"event": "action", "sender_id": sender, "timestamp": 1_700_000_000 + index, "name": f"action_{index}"}


async def _broker() -> Any:
    from bot.touchpoints.broker import ConfirmedPikaEventBroker, TouchpointBroker

    broker = await TouchpointBroker.from_endpoint_config(None)
    assert isinstance(broker, ConfirmedPikaEventBroker)
    return broker


def _messages_in(queue: str) -> int:
    import aio_pika

    async def count() -> int:
        connection = await aio_pika.connect(RABBITMQ_URL)
        try:
            declared = await (await connection.channel()).declare_queue(queue, passive=True)
            return int(declared.declaration_result.message_count)
        finally:
            await connection.close()

    return asyncio.run(count())


def test_a_turn_waits_for_its_own_events_not_for_the_kept_ones_sent_again(queue: str) -> None:
    async def scenario() -> List[Any]:
        broker = await _broker()
        try:
            broker._unpublished_events.extend(_event("earlier", i) for i in range(3))   # kept after a failure
            with broker.collecting() as published:
                for index in range(4):
                    broker.publish(_event("this-turn", index))
            broker.publish(_event("after", 0))   # outside the block
            assert len(published) == 4           # the resent three and the later one are not this turn's
            await broker.confirmed(published)
            assert all(task.done() and not task.exception() for task in published)
            await broker.flush()
            return list(broker._unpublished_events)
        finally:
            await broker.close()

    assert asyncio.run(scenario()) == []
    assert _messages_in(queue) == 3 + 4 + 1   # the resent events were published too, each once


def test_publishes_given_up_on_do_not_stop_later_ones_being_confirmed(queue: str) -> None:
    """Overload, compressed: a timeout far below a confirm's time gives up on most publishes (kept
    to send again). aiormq 6.4 desynchronised its delivery tags when such a publish was cancelled,
    and every later publish of the worker timed out; here the later ones are confirmed."""

    async def scenario() -> int:
        broker = await _broker()
        try:
            exchange = broker._exchange
            exchange.timeout_s = 0.0005
            for index in range(300):
                broker.publish(_event("overloaded", index))
            await broker.flush()
            given_up = len(broker._unpublished_events)
            broker._unpublished_events.clear()
            exchange.timeout_s = 5.0
            with broker.collecting() as published:
                for index in range(20):
                    broker.publish(_event("later", index))
            await broker.confirmed(published)
            assert all(task.done() for task in published)
            assert not broker._unpublished_events, "a later publish was not confirmed"
            return given_up
        finally:
            await broker.close()

    given_up = asyncio.run(scenario())
    assert given_up > 0   # the scenario did give up on publishes
