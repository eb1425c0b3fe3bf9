"""A handoff never silences the bot for good (security finding 8 of issue 17).

The queue (`handoff_conversations`) is the source of truth; `handoff_active` is only its copy in
the tracker. (a) When the queue insert fails, the conversation is not marked handed off and the
customer is told; (b) when the slot is set but the queue has no open handoff (the insert of older
code failed, a bulk time-out or a hand-back updated the queue and died before the tracker), the
next customer message gives the conversation back to the bot; (c) a handoff that is really open
keeps the bot silent.

Real databases (SQLite, and PostgreSQL when HAMSAFAR_TEST_POSTGRES_URL is set), failures injected
into the database driver's path (a SQLAlchemy listener refusing the INSERT), and the real
`HandoffPolicy` and `action_request_human` code, as Rasa and the action server run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import sqlalchemy as sa
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot.handoff import service, texts
from bot.handoff.models import AuditEntry

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))
LONG_AGO = 3600.0   # the handoff began an hour ago: well past the claim timeout (300 s)


# ----------------------------------------------------------------------------- set-up
@pytest.fixture(params=["sqlite", "postgresql"])
def queue(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The handoff tables on a fresh database, agents always at work, a CRM that opens tickets."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'handoff.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)
    monkeypatch.setenv("HAMSAFAR_HANDOFF_HOURS", "always")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", "")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_CLAIM_TIMEOUT", "300")
    import bot.crm.factory
    from tests.test_handoff_support import FakeCRM

    crm = FakeCRM()
    monkeypatch.setattr(bot.crm.factory, "get_crm", lambda *a, **k: crm)
    service.ensure_tables()
    yield crm


@contextlib.contextmanager
def queue_inserts_fail() -> Iterator[None]:
    """The database refuses every INSERT into the queue (as a full disk or a lost connection would)."""
    from bot.db import get_engine

    engine = get_engine()

    def refuse(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO HANDOFF_CONVERSATIONS"):
            raise sa.exc.OperationalError(statement, parameters, Exception("disk I/O error (injected)"))

    sa.event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        sa.event.remove(engine, "before_cursor_execute", refuse)


def handoff_policy() -> Any:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.handoff.policy import HandoffPolicy

    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    return HandoffPolicy({**HandoffPolicy.get_default_config(), "fallbacks_in_a_row": 3}, storage,
                         Resource("handoff"), ExecutionContext(GraphSchema({}), "test"))


def insisted_on(tracker: DialogueStateTracker) -> Optional[str]:
    """The action HandoffPolicy insists on (a no-user prediction), or None when it leaves it to the bot's other policies."""
    prediction = handoff_policy().predict_action_probabilities(tracker, DOMAIN)
    if max(prediction.probabilities) == 0:
        return None
    assert prediction.is_no_user_prediction
    return DOMAIN.action_names_or_texts[prediction.probabilities.index(max(prediction.probabilities))]


def user(text: str, intent: str, language: str) -> UserUttered:
    parse = {"intent": {"name": intent, "confidence": 0.95}, "entities": [], "text": text, "language": language}
    return UserUttered(text, parse["intent"], [], parse)


def conversation(sender: str, language: str, *events: Event) -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events(sender, [ActionExecuted(ACTION_LISTEN_NAME)], slots=DOMAIN.slots)
    tracker.update(SlotSet("language", language))
    for event in events:
        tracker.update(event)
    return tracker


def handed_off_long_ago(sender: str, language: str) -> DialogueStateTracker:
    """A conversation that `action_request_human` handed off an hour ago."""
    began = time.time() - LONG_AGO
    return conversation(sender, language,
                        UserUttered("I want a person", {"name": "request_human", "confidence": 0.99}, [],
                                    {"intent": {"name": "request_human", "confidence": 0.99}, "entities": [],
                                     "text": "I want a person", "language": language}, timestamp=began),
                        ActionExecuted("action_request_human", timestamp=began),
                        SlotSet("handoff_active", True, timestamp=began),
                        ActionExecuted(ACTION_LISTEN_NAME, timestamp=began))


def run_request_human(tracker: DialogueStateTracker) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """`action_request_human` as the action server runs it: the tracker as Rasa sends it over."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.handoff import ActionRequestHuman

    sdk_tracker = Tracker.from_dict(tracker.current_state(EventVerbosity.ALL))
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionRequestHuman().run(dispatcher, sdk_tracker, DOMAIN.as_dict()))
    return dispatcher.messages, events


def apply(tracker: DialogueStateTracker, messages: List[Dict[str, Any]], events: List[Dict[str, Any]]) -> None:
    """What Rasa's processor logs after the action: the action, its messages, its events."""
    tracker.update(ActionExecuted("action_request_human"))
    for message in messages:
        tracker.update(BotUttered(message.get("text")))
    for event in events:
        tracker.update(Event.from_parameters(event))


def handoff_slot_events(events: List[Dict[str, Any]]) -> List[Any]:
    return [e.get("value") for e in events if e.get("event") == "slot" and e.get("name") == "handoff_active"]


def audit_actions(conversation_id: str) -> List[str]:
    from bot.db import session_scope

    with session_scope() as session:
        return list(session.execute(sa.select(AuditEntry.action).where(AuditEntry.conversation_id == conversation_id)
                                    .order_by(AuditEntry.id)).scalars())


# ----------------------------------------------------------------------------- (a) the insert fails
@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_failed_queue_insert_does_not_hand_off_and_tells_the_customer(queue, language):
    sender = f"tg:insert-fails-{language}"
    tracker = conversation(sender, language, user("I want to talk to a person", "request_human", language))
    assert insisted_on(tracker) is None            # the rules run action_request_human for request_human

    with queue_inserts_fail():
        messages, events = run_request_human(tracker)

    assert True not in handoff_slot_events(events), "handed off although no agent can ever see the conversation"
    assert [m.get("text") for m in messages] == [texts.text("queue_unavailable", language)]
    assert service.open_handoff(sender) is None and service.latest_handoff(sender) is None   # nothing half-written
    # the bot keeps serving: the customer's next message is the bot's to answer
    apply(tracker, messages, events)
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    tracker.update(user("where is my order 100234?", "track_order", language))
    assert not tracker.get_slot("handoff_active")
    assert insisted_on(tracker) is None


# ----------------------------------------------------------------------------- (b) slot set, nothing open
def lose_the_handoff(how: str, sender: str, crm: Any) -> None:
    """Leave the queue as a crash between its write and the tracker's would."""
    if how == "never_queued":   # older code set the slot when the insert failed
        return
    outcome = service.request_handoff(sender, channel="telegram", language="fa", reason="requested",
                                      now=service.utcnow() - dt.timedelta(seconds=LONG_AGO))
    if how == "timed_out":      # the bulk time-out updated the queue, then died before the tracker
        assert [h["id"] for h in service.expire_unclaimed()] == [outcome.handoff_id]
    elif how == "handed_back":  # the agent handed back, the tracker write was lost
        assert service.claim(outcome.handoff_id, "bob")
        assert service.end(outcome.handoff_id, "bob", "returned")


@pytest.mark.parametrize("how, language", [("never_queued", "fa"), ("never_queued", "en"), ("timed_out", "fa"),
                                           ("timed_out", "en"), ("handed_back", "en")])
def test_b_a_lost_handoff_gives_the_next_message_back_to_the_bot(queue, how, language):
    sender = f"tg:lost-{how}-{language}"
    lose_the_handoff(how, sender, queue)
    tracker = handed_off_long_ago(sender, language)
    tracker.update(user("where is my order 100234?", "track_order", language))
    assert tracker.get_slot("handoff_active") and service.open_handoff(sender) is None

    # Rasa: the policy does not make the bot listen; it has action_request_human give the conversation back
    assert insisted_on(tracker) == "action_request_human"
    messages, events = run_request_human(tracker)

    last = service.latest_handoff(sender)
    expected = {"never_queued": texts.text("resumed", language),
                "timed_out": texts.text("timeout", language, ticket=queue.tickets[-1].reference if queue.tickets else ""),
                "handed_back": texts.text("handed_back", language)}[how]
    assert [m.get("text") for m in messages] == [expected] == [texts.resumed(last, language)]
    assert handoff_slot_events(events) == [False]
    assert service.latest_handoff(sender) == last and service.open_handoff(sender) is None   # not queued again
    assert "resumed" in audit_actions(sender)

    # the customer's message is read afresh, in the same turn, with the bot in charge: HandoffPolicy leaves it
    # to the rules and TED, which answer a track_order like any other
    apply(tracker, messages, events)
    assert not tracker.get_slot("handoff_active")
    assert tracker.latest_action_name == ACTION_LISTEN_NAME and tracker.latest_message.text == "where is my order 100234?"
    assert insisted_on(tracker) is None
    # and the next message too
    tracker.update(ActionExecuted("action_track_order"))
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    tracker.update(user("thanks", "thank_you", language))
    assert insisted_on(tracker) is None


def test_b_asking_for_a_person_again_queues_a_lost_handoff(queue):
    sender = "tg:lost-asks-again"
    tracker = handed_off_long_ago(sender, "en")
    tracker.update(user("is anybody there? I want a person", "request_human", "en"))
    assert insisted_on(tracker) == "action_request_human"
    messages, events = run_request_human(tracker)
    assert "number 1 in the queue" in messages[0]["text"]
    assert False not in handoff_slot_events(events)
    assert service.open_handoff(sender)["status"] == "waiting"


# ----------------------------------------------------------------------------- (c) really open
def test_c_an_open_handoff_keeps_the_bot_silent_until_it_ends(queue):
    sender = "tg:really-open"
    outcome = service.request_handoff(sender, channel="telegram", language="en", reason="requested",
                                      now=service.utcnow() - dt.timedelta(seconds=30))
    tracker = handed_off_long_ago(sender, "en")
    for text, intent in (("hello?", "greet"), ("/restart", "restart"), ("I want a person", "request_human")):
        tracker.update(user(text, intent, "en"))
        assert insisted_on(tracker) == ACTION_LISTEN_NAME, f"waiting: the bot answered {text!r}"
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME))

    assert service.claim(outcome.handoff_id, "bob")
    tracker.update(user("thanks for taking this", "thank_you", "en"))
    assert insisted_on(tracker) == ACTION_LISTEN_NAME, "with an agent: the bot answered"
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))

    # The agent hands back; the console's tracker write is lost. The next message is the bot's again.
    assert service.end(outcome.handoff_id, "bob", "returned")
    tracker.update(user("one more question: do you ship to Shiraz?", "ask_shipping", "en"))
    assert insisted_on(tracker) == "action_request_human"
    messages, events = run_request_human(tracker)
    assert [m.get("text") for m in messages] == [texts.text("handed_back", "en")]
    assert handoff_slot_events(events) == [False]


def test_c_a_queue_that_cannot_answer_keeps_the_bot_listening(queue):
    """No queue to ask (the table is gone): an agent may have the conversation, so the bot keeps
    listening; once the queue answers again, a lost handoff is given back."""
    from bot.db import get_engine

    sender = "tg:queue-away"
    tracker = handed_off_long_ago(sender, "en")
    tracker.update(user("hello?", "greet", "en"))
    with get_engine().begin() as conn:
        conn.execute(sa.text("ALTER TABLE handoff_conversations RENAME TO handoff_conversations_away"))
    try:
        assert insisted_on(tracker) == ACTION_LISTEN_NAME
    finally:
        with get_engine().begin() as conn:
            conn.execute(sa.text("ALTER TABLE handoff_conversations_away RENAME TO handoff_conversations"))
    assert insisted_on(tracker) == "action_request_human"


# ----------------------------------------------------------------------------- the console's half
class TrackerStoreFailingFor:
    """Rasa's in-memory tracker store, refusing to save one conversation (its database write fails)."""

    def __init__(self, store: Any, conversation_id: str) -> None:
        self._store, self._broken = store, conversation_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def save(self, tracker: Any) -> None:
        if tracker.sender_id == self._broken:
            raise sa.exc.OperationalError("INSERT INTO events", {}, Exception("server closed the connection (injected)"))
        await self._store.save(tracker)


def test_b_a_bulk_time_out_failing_for_one_conversation_still_gives_the_others_back(queue):
    from tests.test_handoff_support import RasaAgentStub, console_server

    stale = service.utcnow() - dt.timedelta(seconds=LONG_AGO)
    senders = ["tg:bulk-1", "tg:bulk-2", "tg:bulk-3"]
    for sender in senders:
        service.request_handoff(sender, channel="telegram", language="en", reason="requested", now=stale)
    agent = RasaAgentStub()
    agent.tracker_store = TrackerStoreFailingFor(agent.tracker_store, "tg:bulk-1")
    with console_server(agent) as server:
        server.app.ctx.agent = agent
        server.channel._app = server.app
        for sender in senders[1:]:
            tracker = server.call(agent.tracker_store.get_or_create_tracker(sender))
            tracker.update(SlotSet("handoff_active", True))
            server.call(agent.tracker_store.save(tracker))
        expired = server.call(server.channel.expire_once())
        assert sorted(h["conversation_id"] for h in expired) == senders
        for sender in senders[1:]:
            assert server.call(agent.tracker_store.retrieve(sender)).get_slot("handoff_active") is False, sender
    # tg:bulk-1 kept its slot: the policy gives it back at its next message (test_b_...[timed_out])


def test_c_an_agent_claiming_a_conversation_the_bot_still_serves_silences_the_bot(queue):
    """The queue row was written but `handoff_active` never reached the tracker (the action server died
    after the insert): when an agent claims it, the bot stops answering."""
    from tests.test_handoff_support import PASSWORD, attach, console_server, login

    service.create_agent("bob", PASSWORD, "agent", "Bob")
    outcome = service.request_handoff("tg:row-without-slot", channel="telegram", language="en", reason="requested")
    with console_server() as server:
        attach(server)
        bob = login(server, "bob")
        assert bob.post(f"api/handoffs/{outcome.handoff_id}/claim", json={}).status_code == 200
        tracker = server.call(server.rasa_agent.tracker_store.retrieve("tg:row-without-slot"))
    assert tracker.get_slot("handoff_active") is True
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    tracker.update(user("hello?", "greet", "en"))
    assert insisted_on(tracker) == ACTION_LISTEN_NAME
