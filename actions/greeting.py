"""Greeting: a known customer by name in their saved language; a hello in mid-conversation briefly.

The saved language is the one they chose with switch_language on any channel,
else the CRM's `customers.language` (actions.profile.saved_language).
A customer is known once verified in this conversation (SMS code) or by a
channel (Telegram contact, signed web identity — carried across conversations
by bot.identity). Anyone else, or when the CRM cannot be reached, gets the
ordinary `utter_greet`: a greeting never fails.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.crm.base import CRMError
from bot.dialogue import cues

from actions.common import LANGUAGES, customer_events, get_crm, known_customer, latest_text, reply_language, say, text
from actions.profile import saved_language

logger = logging.getLogger(__name__)


def greeting_name(name: str, language: str) -> str:
    """«علی رضایی عزیز» in Persian; the first name ("Sara") in English."""
    name = " ".join(str(name or "").split())
    if not name:
        return ""
    return text("dear_name", language, name=name if language == "fa" else name.split(" ")[0])


def said_before(tracker: Tracker) -> bool:
    """The customer wrote before the latest message, in this session."""
    users = 0
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "user":
            users += 1
            if users > 1:
                return True
    return False


class ActionGreet(Action):
    """Greets the customer, by name and in their language when the conversation is verified."""

    def name(self) -> Text:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        customer_id = known_customer(tracker)
        customer = None
        if customer_id:
            try:
                customer = get_crm().get_customer(customer_id)
            except CRMError:
                logger.warning("CRM unavailable: greeting %s without their name", customer_id)
        if said_before(tracker) and cues.asks_how_i_am(latest_text(tracker)):
            say(dispatcher, "greet_how_are_you", reply_language(tracker))   # «خوبی؟» after hello: small talk back
            return []
        if said_before(tracker):
            # "hi, sorry, forgot to say hello" in the middle: a short hello back, and on with it
            showing = bool(tracker.get_slot("shown_products")) and tracker.get_slot("last_request") == "browse_products"
            if showing or customer is None or not customer.name:
                say(dispatcher, "greet_again_choose" if showing else "greet_again", reply_language(tracker))
                return []
            language = self._language(tracker, customer_id)
            say(dispatcher, "greet_again_known", language, name=greeting_name(customer.name, language))
            return [] if tracker.get_slot("language") == language else [SlotSet("language", language)]
        if customer is None or not customer.name:
            dispatcher.utter_message(response="utter_greet")
            return []
        # an explicit switch_language in this conversation wins over the saved language
        # (restored from another channel by actions.profile when chosen there)
        language = self._language(tracker, customer_id)
        say(dispatcher, "greet_known", language, name=greeting_name(customer.name, language))
        events: List[EventType] = [] if tracker.get_slot("language") == language else [SlotSet("language", language)]
        return events + customer_events(tracker, customer_id)

    @staticmethod
    def _language(tracker: Tracker, customer_id: str) -> str:
        """An explicit switch_language in this conversation wins over the saved language."""
        preferred = tracker.get_slot("preferred_language")
        return preferred if preferred in LANGUAGES else saved_language(customer_id) or "fa"
