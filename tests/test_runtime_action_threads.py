"""Actions run in worker threads: one action blocked on a slow backend does not hold the others."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, Callable, Dict, Iterator, List

import pytest

from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor

from bot.runtime import action_threads

release = threading.Event()
finished: List[str] = []


class WaitsOnABackend(Action):
    def name(self) -> str:
        return "action_waits_on_a_backend"

    async def run(self, dispatcher: Any, tracker: Any, domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        # a synchronous call, as our CRM calls are: it blocks whatever thread runs it
        assert release.wait(timeout=30), "the fast action never ran while this one waited"
        finished.append("slow")
        return []


class AnswersAtOnce(Action):
    def name(self) -> str:
        return "action_answers_at_once"

    async def run(self, dispatcher: Any, tracker: Any, domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        finished.append("fast")
        release.set()
        dispatcher.utter_message(text="done")
        return []


@pytest.fixture
def threaded() -> Iterator[Callable[[int], ActionExecutor]]:
    """An ActionExecutor whose actions run on `action_threads`' pool (of so many threads); Rasa SDK's
    own `run` and the interpreter's switch interval are put back after the test."""
    original_run, original_interval = ActionExecutor.run, sys.getswitchinterval()

    def executor(threads: int) -> ActionExecutor:
        action_threads.install(threads=threads)
        return ActionExecutor()

    try:
        yield executor
    finally:
        ActionExecutor.run = original_run  # type: ignore[method-assign]
        sys.setswitchinterval(original_interval)


def call(name: str) -> Dict[str, Any]:
    return {"next_action": name, "tracker": {"sender_id": "t", "slots": {}, "latest_message": {}, "events": [],
                                             "paused": False, "followup_action": None, "active_loop": {},
                                             "latest_action_name": None},
            "domain": {}}


def test_an_action_waiting_on_a_backend_does_not_hold_another(threaded: Callable[[int], ActionExecutor]) -> None:
    executor = threaded(2)
    executor.register_action(WaitsOnABackend)
    executor.register_action(AnswersAtOnce)

    async def both() -> List[Any]:
        slow = asyncio.ensure_future(executor.run(call("action_waits_on_a_backend")))
        await asyncio.sleep(0.05)
        fast = await executor.run(call("action_answers_at_once"))
        return [fast, await slow]

    fast, slow = asyncio.run(both())
    # on the event loop the slow action would block it until its 30 s wait failed
    assert finished == ["fast", "slow"]
    assert fast["responses"][0]["text"] == "done" and slow["events"] == []


class HasABug(Action):
    def name(self) -> str:
        return "action_has_a_bug"

    async def run(self, dispatcher: Any, tracker: Any, domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        return [{"event": "slot", "name": "x", "value": 1 / 0}]


class RejectsTheSlot(Action):
    def name(self) -> str:
        return "action_rejects_the_slot"

    async def run(self, dispatcher: Any, tracker: Any, domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        from rasa_sdk.interfaces import ActionExecutionRejection

        raise ActionExecutionRejection(self.name(), "not this one")


def test_a_bug_in_an_action_is_an_apology_in_the_conversation_language_not_silence(
        threaded: Callable[[int], ActionExecutor]) -> None:
    from rasa_sdk.interfaces import ActionExecutionRejection

    executor = threaded(1)
    executor.register_action(HasABug)
    executor.register_action(RejectsTheSlot)
    english = call("action_has_a_bug")
    english["tracker"]["slots"] = {"language": "en"}
    answer = asyncio.run(executor.run(english))
    assert answer["events"] == [] and "something went wrong" in answer["responses"][0]["text"]
    persian = asyncio.run(executor.run(call("action_has_a_bug")))
    assert "مشکلی پیش آمد" in persian["responses"][0]["text"]
    with pytest.raises(ActionExecutionRejection):   # rasa_sdk's own answer to a rejection stays
        asyncio.run(executor.run(call("action_rejects_the_slot")))


loops_seen: List[Any] = []


class NotesItsLoop(Action):
    def name(self) -> str:
        return "action_notes_its_loop"

    async def run(self, dispatcher: Any, tracker: Any, domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        loops_seen.append(asyncio.get_running_loop())
        return []


def test_a_pool_thread_keeps_its_event_loop_from_one_action_to_the_next(
        threaded: Callable[[int], ActionExecutor]) -> None:
    """`asyncio.run` made and closed an event loop for every action (0.12 ms each)."""
    executor = threaded(1)
    executor.register_action(NotesItsLoop)
    for _ in range(3):
        asyncio.run(executor.run(call("action_notes_its_loop")))
    assert len(loops_seen) == 3 and loops_seen[0] is loops_seen[1] is loops_seen[2]
    assert not loops_seen[0].is_running() and not loops_seen[0].is_closed()


def test_the_action_server_hands_the_gil_over_often(threaded: Callable[[int], ActionExecutor]) -> None:
    """An action's thread waits for the GIL after each query; at CPython's 5 ms switch interval it
    waited behind the server's loop parsing the next request (probe: 7.8 ms per action, 2.4 of CPU)."""
    sys.setswitchinterval(0.005)
    threaded(1)
    assert sys.getswitchinterval() == action_threads.SWITCH_INTERVAL_S < 0.001
