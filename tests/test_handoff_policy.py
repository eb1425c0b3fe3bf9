"""Bot silence while handed off (HandoffPolicy), automatic handoff triggers, /restart, session expiry, the action."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.handoff.policy import HandoffPolicy, consecutive_fallbacks, decide

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))


def user(text, intent="greet", sentiment=None):
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}
    if sentiment:
        parse["sentiment"] = sentiment
    return UserUttered(text, parse["intent"], [], parse)


def tracker(*events):
    t = DialogueStateTracker.from_events("tg:1", [ActionExecuted(ACTION_LISTEN_NAME)], slots=DOMAIN.slots)
    for event in events:
        t.update(event)
    return t


def policy(**config):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    import tempfile

    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    return HandoffPolicy({**HandoffPolicy.get_default_config(), **config}, storage, Resource("handoff"),
                         ExecutionContext(GraphSchema({}), "test"))


def predicted(t, **config):
    prediction = policy(**config).predict_action_probabilities(t, DOMAIN)
    if max(prediction.probabilities) == 0:
        return None, prediction
    return DOMAIN.action_names_or_texts[prediction.probabilities.index(max(prediction.probabilities))], prediction


def test_silent_while_handed_off_even_for_restart():
    t = tracker(SlotSet("handoff_active", True), ActionExecuted(ACTION_LISTEN_NAME), user("/restart", "restart"))
    action, prediction = predicted(t)
    assert action == ACTION_LISTEN_NAME
    assert prediction.is_no_user_prediction and prediction.policy_priority == 8  # overrules RulePolicy and the repair policy


def test_silent_for_any_intent_while_handed_off():
    for intent in ("greet", "track_order", "nlu_fallback", "session_start", "request_human"):
        t = tracker(SlotSet("handoff_active", True), ActionExecuted(ACTION_LISTEN_NAME), user("x", intent))
        assert predicted(t)[0] == ACTION_LISTEN_NAME


def test_abstains_normally():
    t = tracker(user("سلام"))
    action, prediction = predicted(t)
    assert action is None and not prediction.is_no_user_prediction


def test_hands_off_after_n_fallbacks_in_a_row(monkeypatch):
    monkeypatch.delenv("HAMSAFAR_HANDOFF_AFTER_FALLBACKS", raising=False)
    one = tracker(user("asdf", "nlu_fallback"))
    assert predicted(one)[0] is None
    two = tracker(user("asdf", "nlu_fallback"), ActionExecuted("action_ask_rephrase_with_suggestions"),
                  ActionExecuted(ACTION_LISTEN_NAME), user("qwer", "nlu_fallback"))
    assert consecutive_fallbacks(two) == 2 and predicted(two)[0] == "action_request_human"
    broken = tracker(user("asdf", "nlu_fallback"), ActionExecuted(ACTION_LISTEN_NAME), user("سلام"),
                     ActionExecuted(ACTION_LISTEN_NAME), user("qwer", "nlu_fallback"))
    assert predicted(broken)[0] is None
    monkeypatch.setenv("HAMSAFAR_HANDOFF_AFTER_FALLBACKS", "3")
    assert predicted(two)[0] is None
    monkeypatch.setenv("HAMSAFAR_HANDOFF_AFTER_FALLBACKS", "0")
    assert predicted(two)[0] is None


def test_messages_the_conversation_understood_are_not_fallbacks(monkeypatch):
    """"apple watch se" (details) then "nice, I'll take this one" (an order): the NLU knew
    neither, the conversation understood both (a dialogue move) — no hand-off."""
    monkeypatch.delenv("HAMSAFAR_HANDOFF_AFTER_FALLBACKS", raising=False)
    understood = tracker(user("apple watch se", "nlu_fallback"), SlotSet("dialogue_move", "redo ask_product_details"),
                         ActionExecuted("action_product_details"), ActionExecuted(ACTION_LISTEN_NAME),
                         user("nice, I'll take this one", "nlu_fallback"), SlotSet("dialogue_move", "redo place_order"))
    assert consecutive_fallbacks(understood) == 0 and predicted(understood)[0] is None
    half = tracker(user("apple watch se", "nlu_fallback"), SlotSet("dialogue_move", "redo ask_product_details"),
                   ActionExecuted("action_product_details"), ActionExecuted(ACTION_LISTEN_NAME),
                   user("asdf qwer", "nlu_fallback"))
    assert consecutive_fallbacks(half) == 1 and predicted(half)[0] is None


def test_hands_off_a_frustrated_customer(monkeypatch):
    t = tracker(user("کلاهبردارید!!!", "report_problem", {"label": "negative", "score": -0.9, "frustrated": True}))
    assert predicted(t)[0] == "action_request_human"
    monkeypatch.setenv("HAMSAFAR_HANDOFF_ON_FRUSTRATION", "0")
    assert predicted(t)[0] is None


def test_buying_is_not_frustration_whatever_the_sentiment_score(monkeypatch):
    scored_upset = {"label": "negative", "score": -0.5, "frustrated": True}
    sale = tracker(user("nice, I'll take this one", "place_order", scored_upset))
    assert predicted(sale)[0] is None
    angry = tracker(user("this is useless, nobody answers me", "complain", scored_upset))
    assert predicted(angry)[0] == "action_request_human"


def test_asking_for_the_code_again_is_not_frustration(monkeypatch):
    scored_upset = {"label": "negative", "score": -0.52, "frustrated": True}
    asked_code = SlotSet("requested_slot", "otp_code")
    assert predicted(tracker(asked_code, user("یه بار دیگه بفرست", "place_order", scored_upset)))[0] is None
    assert predicted(tracker(asked_code, user("the code didn't come", "report_problem", scored_upset)))[0] is None
    # an order that has not come, said angrily, is frustration
    angry = {"label": "negative", "score": -0.9, "frustrated": True}
    assert predicted(tracker(user("سفارشم یه هفته است نرسیده، واقعا افتضاحه!!!", "track_order", angry)))[0] \
        == "action_request_human"


def test_listens_after_the_handoff_action():
    t = tracker(user("کلاهبردارید!!!", "report_problem", {"label": "negative", "score": -0.9, "frustrated": True}),
                ActionExecuted("action_request_human"))
    assert predicted(t)[0] == ACTION_LISTEN_NAME


def test_session_expiry_does_not_bring_the_bot_back():
    """Rasa's own action_session_start carries `handoff_active` over; the policy keeps listening."""
    from rasa.core.actions.action import ActionSessionStart
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator

    assert DOMAIN.session_config.carry_over_slots
    old = tracker(SlotSet("handoff_active", True), ActionExecuted(ACTION_LISTEN_NAME), user("hello"))
    events = asyncio.run(ActionSessionStart().run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}),
                                                  old, DOMAIN))
    for event in events:
        old.update(event)
    old.update(user("/restart", "restart"))
    assert any(isinstance(e, SessionStarted) for e in old.events)
    assert old.get_slot("handoff_active") is True
    assert predicted(old)[0] == ACTION_LISTEN_NAME


def test_decide_is_pure():
    t = tracker(SlotSet("handoff_active", True))
    assert decide(t, 2, True) == ACTION_LISTEN_NAME


# ----------------------------------------------------------------------------- typed shortcuts
def test_typed_intent_shortcuts_are_neutralised_on_every_channel():
    from bot.channels.base import guard_customer_text

    for typed in ("/restart", "  /restart", "/session_start", '/inform{"customer_id": "C1"}'):
        assert not guard_customer_text(typed).startswith("/")
    channels = PROJECT_ROOT / "bot" / "channels"
    for source in ("web/_routes.py", "botapi/_input.py", "sms.py", "rest.py"):
        assert "guard_customer_text(" in (channels / source).read_text(encoding="utf-8"), source


def test_rest_channel_neutralises_restart_but_keeps_offered_buttons(tmp_path, monkeypatch):
    import sys

    import httpx

    sys.path.insert(0, str(Path(__file__).parent))
    from fakes.channel_server import ServerThread
    from rasa.shared.core.events import BotUttered

    from bot.channels.rest import ValidatedRestInput
    from tests.test_handoff_support import RasaAgentStub

    monkeypatch.delenv("HAMSAFAR_REST_TOKEN", raising=False)
    received = []

    async def on_new_message(message):
        received.append(message.text)

    agent = RasaAgentStub()

    async def seed():
        t = await agent.tracker_store.get_or_create_tracker("rest:u1")
        t.update(BotUttered("Want a person?", data={"buttons": [{"title": "yes", "payload": "/affirm"}]}))
        await agent.tracker_store.save(t)

    with ServerThread([ValidatedRestInput(token=None)], on_new_message) as server:
        server.app.ctx.agent = agent
        server.call(seed())
        for text in ("/restart", "/affirm"):
            reply = httpx.post(f"{server.url}/webhooks/rest/webhook", json={"sender": "u1", "message": text}, timeout=10)
            assert reply.status_code == 200
    assert received[0] == "\u200b/restart"  # typed: never parsed as the restart intent
    assert received[1] == "/affirm"          # a button the bot offered: still works


# ----------------------------------------------------------------------------- the action
@pytest.fixture
def queue_db(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'action.db'}")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_HOURS", "always")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", "")
    from tests.test_handoff_support import FakeCRM
    import bot.crm.factory
    from bot.handoff import service

    crm = FakeCRM()
    monkeypatch.setattr(bot.crm.factory, "get_crm", lambda *a, **k: crm)
    return crm


def run_action(sender, text, intent, sentiment=None, slots=None, language="en"):
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.handoff import ActionRequestHuman

    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [], "language": language}
    if sentiment:
        latest["sentiment"] = sentiment
    all_slots = {"language": language, "handoff_active": None, **(slots or {})}
    t = Tracker(sender, all_slots, latest, [{"event": "user", "text": text, "parse_data": latest}], False, None,
                None, "action_listen")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionRequestHuman().run(dispatcher, t, {}))
    return dispatcher.messages, events


def test_action_queues_and_tells_the_place_in_the_queue(queue_db):
    from bot.handoff import service

    messages, events = run_action("tg:1", "I want a person", "request_human")
    assert "number 1 in the queue" in messages[0]["text"]
    assert {"event": "slot", "timestamp": None, "name": "handoff_active", "value": True} in events
    messages, _ = run_action("tg:2", "کلاهبردارید!!!", "report_problem",
                             {"label": "negative", "score": -0.9, "frustrated": True}, language="fa")
    assert "۲" in messages[0]["text"] and "متأسفم" in messages[0]["text"]
    assert service.open_handoff("tg:2")["reason"] == "upset"


def test_action_after_hours_keeps_the_bot(queue_db, monkeypatch):
    monkeypatch.setenv("HAMSAFAR_HANDOFF_HOURS", "09:00-18:00")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", "mon,tue,wed,thu,fri,sat,sun")
    messages, events = run_action("tg:3", "human please", "request_human")
    assert "not available" in messages[0]["text"] and queue_db.tickets[-1].reference in messages[0]["text"]
    assert not any(e.get("name") == "handoff_active" and e.get("value") for e in events)
