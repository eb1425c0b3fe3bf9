"""Handing the conversation to a person.

`action_request_human` runs when the customer asks for a person (request_human)
or accepts the offer after repeated misunderstandings. For now it sets
`handoff_active` and tells the customer, in their language, that a person will
take over. The handoff module (bot/handoff: queue, agent console) extends it:
override `HandoffRequest.enqueue` (or subclass `ActionRequestHuman` and replace
`handoff`) to put the conversation in the queue; the returned events are kept.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import known_customer, latest_intent, reply_language, say


class HandoffRequest:
    """Everything a queue needs to know about the conversation being handed off."""

    def __init__(self, tracker: Tracker, language: str, reason: str, customer_id: Optional[str]) -> None:
        self.conversation_id = tracker.sender_id
        self.language = language
        self.reason = reason                       # requested | fallback | upset | error
        self.customer_id = customer_id
        self.goal = tracker.get_slot("goal")
        self.journey_stage = tracker.get_slot("journey_stage")
        self.channel = (tracker.get_latest_input_channel() or None)

    def enqueue(self) -> List[EventType]:
        """Put the conversation in the agents' queue (no queue yet: nothing to do)."""
        return []


def handoff_reason(tracker: Tracker) -> str:
    if latest_intent(tracker) == "request_human":
        return "requested"
    if int(tracker.get_slot("fallback_count") or 0) >= 2:
        return "fallback"
    return "requested"


class ActionRequestHuman(Action):
    def name(self) -> Text:
        return "action_request_human"

    def handoff(self, request: HandoffRequest) -> List[EventType]:
        return request.enqueue()

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        if tracker.get_slot("handoff_active"):
            say(dispatcher, "handoff_already", language)
            return []
        request = HandoffRequest(tracker, language, handoff_reason(tracker), known_customer(tracker))
        extra = self.handoff(request)
        say(dispatcher, "handoff_started", language)
        return [SlotSet("handoff_active", True), *extra]
