"""A conversation's turns reach RabbitMQ in order across workers, without the reply waiting for
RabbitMQ's confirms (bot.touchpoints.turn_order, bot.touchpoints.tracker_store).

Two tracker stores on one database stand for two workers; their brokers confirm a publish only
when the test says so (the interface of bot.touchpoints.broker.ConfirmedPikaEventBroker)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from rasa.core.brokers.broker import EventBroker

REDIS_URL = os.environ.get("HAMSAFAR_TEST_REDIS_URL")
T0 = 1_750_000_000.0


def _redis_up() -> bool:
    if not REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not _redis_up(), reason="no Redis (HAMSAFAR_TEST_REDIS_URL)")


class HeldConfirms(EventBroker):
    """Publishes are confirmed when the test calls `confirm()`."""

    def __init__(self) -> None:
        self.bodies: List[Dict[str, Any]] = []
        self.unconfirmed: List["asyncio.Future[None]"] = []
        self._collected: Optional[List["asyncio.Future[None]"]] = None

    def publish(self, event: Dict[str, Any]) -> None:
        self.bodies.append(event)
        confirm = asyncio.get_running_loop().create_future()
        self.unconfirmed.append(confirm)
        if self._collected is not None:
            self._collected.append(confirm)

    @contextlib.contextmanager
    def collecting(self) -> Iterator[List["asyncio.Future[None]"]]:
        self._collected = collected = []
        try:
            yield collected
        finally:
            self._collected = None

    async def confirmed(self, tasks: List["asyncio.Future[None]"], timeout_s: float = 10.0) -> None:
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)

    def confirm(self) -> None:
        for confirm in self.unconfirmed:
            if not confirm.done():
                confirm.set_result(None)
        self.unconfirmed = []


def _store(database: Path, broker: EventBroker) -> Any:
    from rasa.shared.core.domain import Domain

    from bot.touchpoints.tracker_store import StreamingSQLTrackerStore

    return StreamingSQLTrackerStore(Domain.empty(), db=str(database), event_broker=broker)


def _turn(tracker: Any, n: int) -> None:
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

    t = T0 + 10 * n
    for event in (UserUttered(f"message {n}", {"name": "greet", "confidence": 0.9}, timestamp=t),
                  ActionExecuted("utter_greet", timestamp=t + 0.1), BotUttered(f"reply {n}", timestamp=t + 0.2),
                  ActionExecuted("action_listen", timestamp=t + 0.3)):
        tracker.update(event)


@needs_redis
@pytest.mark.parametrize("next_worker", ["another worker", "the same worker"])
def test_the_reply_does_not_wait_for_confirms_but_the_next_turns_publish_does(
        next_worker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    monkeypatch.setenv("HAMSAFAR_REDIS_URL", REDIS_URL)
    sender = f"order-{uuid.uuid4().hex[:10]}"

    async def scenario() -> None:
        first, second = HeldConfirms(), HeldConfirms()
        worker_1 = _store(tmp_path / "t.db", first)
        worker_2 = _store(tmp_path / "t.db", second) if next_worker == "another worker" else worker_1
        if worker_2 is worker_1:
            worker_1.event_broker = second = first
        tracker = DialogueStateTracker(sender, [])
        _turn(tracker, 1)
        # the turn is stored and published; its save returns with the confirms still due
        await asyncio.wait_for(worker_1.save(tracker), 2.0)
        assert len(first.bodies) == 4 and first.unconfirmed
        published_before = len(second.bodies)
        # the customer's next message
        tracker = await worker_2.retrieve(sender)
        _turn(tracker, 2)
        saving = asyncio.ensure_future(worker_2.save(tracker))
        await asyncio.sleep(0.3)
        # stored, but not published before turn 1's confirms
        assert not saving.done() and len(second.bodies) == published_before
        first.confirm()
        await asyncio.wait_for(saving, 2.0)
        assert [b["text"] for b in second.bodies[published_before:] if b["event"] == "user"] == ["message 2"]
        second.confirm()

    asyncio.run(scenario())


def test_without_redis_the_reply_waits_for_the_turns_confirms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One process (no shared Redis): the turn's events are confirmed before its save returns, as before."""
    from rasa.shared.core.trackers import DialogueStateTracker

    monkeypatch.delenv("HAMSAFAR_REDIS_URL", raising=False)

    async def scenario() -> None:
        broker = HeldConfirms()
        store = _store(tmp_path / "t.db", broker)
        tracker = DialogueStateTracker("one-process", [])
        _turn(tracker, 1)
        saving = asyncio.ensure_future(store.save(tracker))
        await asyncio.sleep(0.3)
        assert not saving.done() and len(broker.bodies) == 4
        broker.confirm()
        await asyncio.wait_for(saving, 2.0)

    asyncio.run(scenario())


@needs_redis
def test_a_key_whose_holder_died_lets_the_next_turn_through_after_its_lifetime() -> None:
    """A worker killed between its publish and the confirms never lets the key go: it expires."""
    from bot.touchpoints.turn_order import TurnOrder

    conversation = f"died-{uuid.uuid4().hex[:10]}"

    async def scenario() -> float:
        dead, alive = TurnOrder(REDIS_URL, hold_s=0.5), TurnOrder(REDIS_URL, hold_s=0.5)
        assert await dead.take(conversation) is not None   # never released
        started = time.monotonic()
        key = await alive.take(conversation)
        waited = time.monotonic() - started
        if key is not None:
            alive.release_after(conversation, key, [])
        return waited

    assert 0.3 < asyncio.run(scenario()) < 2.0
