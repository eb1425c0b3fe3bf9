"""Handing the conversation to a person (owned by the handoff module, bot/handoff).

`action_request_human` runs when the customer asks for a person (request_human),
accepts the offer after misunderstandings, or when `bot.handoff.policy.HandoffPolicy`
decides to hand off (N messages in a row not understood, or a frustrated customer).
It puts the conversation in the agents' queue (`bot.handoff.service`) and tells
the customer, in their language, that a person is coming and their place in the
queue; it sets `handoff_active`, which keeps the bot silent until an agent hands
back (the policy predicts `action_listen` while it is set).

Outside working hours it opens a ticket, says when agents are back and does NOT
set `handoff_active` (the bot keeps helping). If the conversation cannot be put in
the queue (database down, insert failed) `handoff_active` is NOT set: no agent would
ever see the conversation, so the customer is told, in their language, that it did
not reach the team and the bot keeps serving (security finding 8 of issue 17).

It also gives a lost handoff back to the bot. `HandoffPolicy` predicts it on a customer
message while `handoff_active` is set but the queue has no open handoff for the
conversation (a hand-back or a time-out that updated the queue and died before the
tracker, a handoff of older code whose insert failed). Unless the customer is asking
for a person again, the action then tells them what the console would have (time-out
apology with the ticket, hand-back, close) or that the request never reached the team,
clears `handoff_active`, audits `resumed`, and reads their message afresh (an
`action_listen` event), so the bot answers it in the same turn.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import known_customer, latest_intent, reply_language

logger = logging.getLogger(__name__)

def conversation_channel(tracker: Tracker) -> Optional[str]:
    """The customer's channel (`telegram`, `bale`, `web`, `sms`, `rest`…): from the conversation
    id (bot.channels.addresses owns the prefixes), else from the latest input channel."""
    from bot.channels.addresses import channel_of
    from bot.channels.base import channel_label

    return channel_of(tracker.sender_id) or channel_label(tracker.get_latest_input_channel() or None)


class HandoffRequest:
    """Everything a queue needs to know about the conversation being handed off."""

    def __init__(self, tracker: Tracker, language: str, reason: str, customer_id: Optional[str]) -> None:
        self.conversation_id = tracker.sender_id
        self.language = language
        self.reason = reason                       # requested | fallback | upset | error
        self.customer_id = customer_id
        self.goal = tracker.get_slot("goal")
        self.journey_stage = tracker.get_slot("journey_stage") or (tracker.latest_message or {}).get("journey_stage")
        self.channel = conversation_channel(tracker)
        self.summary = str((tracker.latest_message or {}).get("text") or "")[:500]

    def enqueue(self) -> Any:
        """Put the conversation in the agents' queue: a `bot.handoff.service.HandoffOutcome`."""
        from bot.handoff.service import request_handoff

        return request_handoff(self.conversation_id, channel=self.channel, language=self.language,
                               journey_stage=self.journey_stage, goal=self.goal, reason=self.reason,
                               customer_id=self.customer_id, summary=self.summary)


# Requests the queue refused (bot.handoff.service limits): the customer is told why, the bot keeps serving.
NOT_QUEUED = ("limited", "queue_full")


def consecutive_fallbacks(tracker: Tracker) -> int:
    count = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "session_started" or (kind == "slot" and event.get("name") == "handoff_active"):
            break
        if kind == "user":
            if ((event.get("parse_data") or {}).get("intent") or {}).get("name") == "nlu_fallback":
                count += 1
            else:
                break
    return count


def handoff_reason(tracker: Tracker) -> str:
    if latest_intent(tracker) == "request_human":
        return "requested"
    sentiment = (tracker.latest_message or {}).get("sentiment") or {}
    if sentiment.get("frustrated"):
        return "upset"
    if int(tracker.get_slot("fallback_count") or 0) >= 2 or consecutive_fallbacks(tracker) >= 1:
        return "fallback"
    return "requested"


def customer_text(outcome: Any, reason: str, language: str) -> str:
    from bot.handoff import texts

    if outcome.status == "queued":
        key = {"upset": "queued_upset", "fallback": "queued_fallback"}.get(reason, "queued")
        return texts.text(key, language, position=outcome.position or 1)
    if outcome.status == "waiting":
        return texts.text("still_waiting", language, position=outcome.position or 1)
    if outcome.status == "with_agent":
        return texts.text("with_agent", language)
    if outcome.status in NOT_QUEUED:
        return texts.text(outcome.status, language)
    when = texts.when_back(outcome.back_at, language) if outcome.back_at else "-"
    if outcome.ticket:
        return texts.text("after_hours", language, when=when, ticket=outcome.ticket)
    return texts.text("after_hours_no_ticket", language, when=when)


def resume_lost_handoff(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> Optional[List[EventType]]:
    """`handoff_active` is set: if the queue has no open handoff for the conversation, the bot takes
    it back (events to return); None if it is still in the queue. Raises if the queue cannot say."""
    from bot.handoff import service, texts

    conversation_id = tracker.sender_id
    if service.open_handoff(conversation_id) is not None:
        return None
    last = service.latest_handoff(conversation_id)
    dispatcher.utter_message(text=texts.resumed(last, language))
    try:
        service.audit("system", "resumed", handoff_id=(last or {}).get("id"), conversation_id=conversation_id,
                      detail={"last_status": (last or {}).get("status")})
    except Exception:  # noqa: BLE001 - the customer is served all the same
        logger.exception("could not audit the resumed handoff of %s", conversation_id)
    logger.warning("handoff of %s was lost (latest queue status %s): the bot resumes", conversation_id,
                   (last or {}).get("status"))
    # action_listen: the customer's message is read afresh, so the bot answers it in this turn
    return [SlotSet("handoff_active", False), ActionExecuted("action_listen")]


class ActionRequestHuman(Action):
    """Hands the conversation to a person (bot.handoff queue) and tells the customer what happens next:
    waiting, after hours, or a ticket."""

    def name(self) -> Text:
        return "action_request_human"

    def handoff(self, request: HandoffRequest) -> Any:
        return request.enqueue()

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        if tracker.get_slot("handoff_active") and latest_intent(tracker) != "request_human":
            try:
                resumed = resume_lost_handoff(dispatcher, tracker, language)
            except Exception:  # noqa: BLE001 - the queue cannot say: stay handed off, ask again next message
                logger.exception("handoff queue unavailable for %s", tracker.sender_id)
                return []
            if resumed is not None:
                return resumed
        reason = handoff_reason(tracker)
        request = HandoffRequest(tracker, language, reason, known_customer(tracker))
        try:
            outcome = self.handoff(request)
        except Exception:  # noqa: BLE001 - not in the queue: no agent would ever see it, so the bot keeps serving
            logger.exception("handoff queue unavailable for %s: not handed off", tracker.sender_id)
            from bot.handoff import texts

            dispatcher.utter_message(text=texts.text("queue_unavailable", language))
            return [SlotSet("handoff_active", False)] if tracker.get_slot("handoff_active") else []
        dispatcher.utter_message(text=customer_text(outcome, reason, language))
        if outcome.status == "after_hours" or outcome.status in NOT_QUEUED:
            return [SlotSet("handoff_active", False)] if tracker.get_slot("handoff_active") else []
        return [] if tracker.get_slot("handoff_active") else [SlotSet("handoff_active", True)]
