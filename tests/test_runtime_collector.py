"""bot.runtime.collector: what is alive when a server has started leaves the garbage
collector's full walks, and both servers do it once started."""

from __future__ import annotations

import asyncio
import gc
from typing import Any, List, Tuple

import pytest

from bot.runtime import collector


@pytest.fixture
def unfrozen() -> Any:
    """Objects this test freezes go back to the collector afterwards (other tests share the process)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_alive_at_start_are_frozen_and_garbage_is_collected_first(unfrozen: Any) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self   # a reference cycle: only the cyclic collector frees it

    alive = [Node() for _ in range(500)]
    garbage = Node()
    del garbage
    frozen = asyncio.run(_listener())
    assert frozen >= len(alive)
    # the frozen objects are out of every generation a collection walks
    assert not any(isinstance(o, Node) for o in gc.get_objects())
    gc.unfreeze()
    assert sum(1 for o in gc.get_objects() if isinstance(o, Node)) == len(alive)   # the cycle was collected first


async def _listener() -> int:
    await collector.freeze_after_start(None, None)
    return gc.get_freeze_count()


def _registered(monkeypatch: pytest.MonkeyPatch) -> List[Tuple[Any, str]]:
    from sanic import Sanic

    calls: List[Tuple[Any, str]] = []
    original = Sanic.register_listener

    def spy(self: Any, listener: Any, event: str) -> Any:
        calls.append((listener, event))
        return original(self, listener, event)

    monkeypatch.setattr(Sanic, "register_listener", spy)
    return calls


def test_the_rasa_server_freezes_once_started(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rasa")
    from sanic import Sanic

    from bot.runtime import rasa_server

    calls = _registered(monkeypatch)
    rasa_server._with_request_limits(lambda: Sanic("collector_rasa_test"))()
    assert (rasa_server.warm_up_then_freeze, "after_server_start") in calls


def test_the_action_server_freezes_once_started(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.runtime import action_server

    calls = _registered(monkeypatch)
    action_server.build_app(token="t")
    assert (collector.freeze_after_start, "after_server_start") in calls
