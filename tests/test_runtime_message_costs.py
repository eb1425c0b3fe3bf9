"""bot.runtime.message_costs: the same answers as Rasa's own code, for less work per message.

The kept-alive action calls are checked against a real aiohttp server on loopback, which
records the client port of every request it answers: with Rasa's `EndpointConfig.request`
each call comes from a new connection, with ours the calls share one. Headers, the token,
the JSON body and answer, and the error for a 4xx are those of Rasa's request.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

pytest.importorskip("rasa")

from aiohttp import web  # noqa: E402
from rasa.shared.core.events import Event  # noqa: E402
from rasa.shared.utils.common import all_subclasses  # noqa: E402
from rasa.utils.endpoints import ClientResponseError, EndpointConfig  # noqa: E402

from bot.runtime import message_costs  # noqa: E402
from tests.conftest import free_port  # noqa: E402


def test_every_event_type_resolves_to_the_class_rasas_scan_finds() -> None:
    rasa_resolve = Event.__dict__["resolve_by_type"].__func__
    if rasa_resolve is message_costs.resolve_by_type:   # installed by an earlier test in this process
        rasa_resolve = message_costs._rasa_resolve_by_type
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for name in sorted(names):
        assert message_costs.resolve_by_type(name) is rasa_resolve(name)
        assert message_costs.resolve_by_type(name) is rasa_resolve(name)   # remembered: the same again


def test_unknown_event_types_behave_as_in_rasa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    monkeypatch.setattr(EndpointConfig, "request", EndpointConfig.request)   # Rasa's, back afterwards
    message_costs.install()
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=Event) is Event
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")
    assert "no_such_event" not in message_costs._event_types   # a default is never remembered


async def _serve(peers: List[int], seen: List[Dict[str, Any]]) -> Any:
    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])
        seen.append({"token": request.query.get("token"), "type": request.content_type,
                     "header": request.headers.get("X-Shop"), "body": await request.json()})
        if request.path == "/refuse":
            return web.Response(status=422, text="no")
        return web.json_response({"events": [], "responses": [{"text": "ok"}]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    app.router.add_post("/refuse", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def _calls(request: Any) -> List[int]:
    """Three action calls through `request` (an EndpointConfig.request); the client port of each."""
    peers: List[int] = []
    seen: List[Dict[str, Any]] = []

    async def scenario() -> None:
        runner, port = await _serve(peers, seen)
        endpoint = EndpointConfig(url=f"http://127.0.0.1:{port}/webhook", token="secret-token",
                                  headers={"X-Shop": "demo"})
        try:
            for number in range(3):
                answer = await request(endpoint, json={"next_action": "action_x", "n": number}, method="post",
                                       timeout=30)
                assert answer == {"events": [], "responses": [{"text": "ok"}]}
            refusing = EndpointConfig(url=f"http://127.0.0.1:{port}/refuse", token="secret-token")
            with pytest.raises(ClientResponseError) as refused:
                await request(refusing, json={"next_action": "action_y"}, method="post")
            assert refused.value.status == 422
        finally:
            await message_costs.close_sessions()
            await runner.cleanup()

    asyncio.run(scenario())
    assert [s["body"] for s in seen] == [{"next_action": "action_x", "n": n} for n in range(3)] + [{"next_action": "action_y"}]
    assert all(s["token"] == "secret-token" and s["type"] == "application/json" for s in seen)
    assert [s["header"] for s in seen[:3]] == ["demo"] * 3
    return peers


def test_action_calls_share_one_kept_alive_connection() -> None:
    peers = _calls(message_costs.kept_alive_request)
    assert len(set(peers)) == 1, f"one connection for all calls, got client ports {peers}"


def test_rasas_own_request_opens_a_connection_per_call() -> None:
    """What the change removes (and the test above would catch coming back)."""
    rasa_request = EndpointConfig.request
    if rasa_request is message_costs.kept_alive_request:
        pytest.skip("Rasa's request was replaced in this process by an earlier test")
    peers = _calls(rasa_request)
    assert len(set(peers)) == len(peers) == 4


def test_request_bodies_read_back_to_the_same_value() -> None:
    body = {"tracker": {"events": [{"event": "user", "text": "قیمت ایرپاد پرو ۲ چنده؟", "timestamp": 1733580000.123456,
                                    "parse_data": {"intent": {"confidence": 0.1 + 0.2}}, "n": None, "ok": True}]},
            "domain": {1: "int key", "nan": float("nan")}}
    import json

    written = message_costs._dumps(body)
    assert json.dumps(json.loads(written), sort_keys=True) == json.dumps(json.loads(json.dumps(body)), sort_keys=True)

    class Unknown:
        """Neither serialiser writes it: the standard library's error, as in Rasa."""

    with pytest.raises(TypeError):
        message_costs._dumps({"x": Unknown()})


def _tracker(*events: Any) -> Any:
    from rasa.shared.core.trackers import DialogueStateTracker

    return DialogueStateTracker.from_events("c1", list(events))


def _turn_events(form_activated: bool) -> List[Any]:
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered

    events = [ActionExecuted("action_listen"), UserUttered("how much is the a55?", {"name": "ask_price"}),
              SlotSet("goal", "know_price")]
    if form_activated:   # the form opened later in the turn: Rasa extracts slots again
        events += [ActionExecuted("product_price_form"), ActiveLoop("product_price_form")]
    return events


@pytest.mark.parametrize("form_activated", [False, True])
def test_a_message_read_already_is_not_sent_to_be_read_again(form_activated: bool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.shared.core.events import BotUttered, SlotSet

    calls: List[Any] = []

    async def rasas_own(self: Any, extraction_events: List[Any], *args: Any) -> List[Any]:
        calls.append(extraction_events)
        return [SlotSet("language", "en")]

    monkeypatch.setattr(message_costs, "_rasa_execute_validation_action", rasas_own)
    extracted = [SlotSet("product", "MOB-SAM-A55"), BotUttered("not a slot")]
    tracker = _tracker(*_turn_events(form_activated))
    answer = asyncio.run(message_costs.validate_unless_read(ActionExtractSlots(None), extracted, None, None,
                                                            tracker, None))
    if form_activated:
        # what Rasa makes of the action's empty answer: the extracted slots, without the call
        assert calls == [] and answer == [SlotSet("product", "MOB-SAM-A55")]
    else:
        assert calls == [extracted] and answer == [SlotSet("language", "en")]


@pytest.mark.parametrize("form_activated", [False, True])
def test_the_action_server_reads_a_message_again_exactly_when_the_rasa_server_skips_it(form_activated: bool) -> None:
    from rasa_sdk import Tracker

    from actions.journey import reading_again
    from bot.dialogue.moves import read_already

    tracker = _tracker(*_turn_events(form_activated))
    state = tracker.current_state()
    state["events"] = [event.as_dict() for event in tracker.events]   # what the action server gets
    sdk_tracker = Tracker.from_dict(state)
    skipped = read_already(event.type_name for event in reversed(tracker.events_after_latest_restart()))
    assert reading_again(sdk_tracker) is skipped is form_activated


def test_install_replaces_the_validation_call_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.actions.action import ActionExtractSlots

    rasas = ActionExtractSlots._execute_validation_action
    if rasas is message_costs.validate_unless_read:   # installed by an earlier test in this process
        rasas = message_costs._rasa_execute_validation_action
    monkeypatch.setattr(ActionExtractSlots, "_execute_validation_action", rasas)   # Rasa's own afterwards
    message_costs.install()
    message_costs.install()
    assert ActionExtractSlots._execute_validation_action is message_costs.validate_unless_read
    assert message_costs._rasa_execute_validation_action is rasas
