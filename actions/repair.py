"""Conversation repair actions the dialogue moves (bot.dialogue.moves) run.

* `action_repeat_last`: "what?", «چی گفتی؟» — the messages the bot sent after
  the customer's previous message, again, with their buttons (a form's question
  repeated this way is still the open question);
* `action_clarify`: a word that could mean several requests ("order") — which
  one, a button for each (the payload starts that request);
* `action_hold`: "one sec, let me find it" — no hurry (the form asks again).
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from bot.dialogue.moves import Move

from actions.common import button, intent_label, reply_language, say, text


# Said once, not an answer to repeat: "what?" after a tracking answer is not about being verified.
ACKNOWLEDGEMENTS = ("verified",)
# "Sorry, I didn't quite get that": "what?" after it means the answer before it.
NOT_AN_ANSWER = ("rephrase_with_suggestions", "rephrase")
LOOK_BACK_TURNS = 5


def last_answer(tracker: Tracker) -> List[Dict[str, Any]]:
    """The bot's messages (text, buttons) between the customer's previous message and the latest one,
    without acknowledgements ("You're verified"); when those only said it did not understand ("hm?"
    was not understood, then "sorry, what?"), the answer before them."""
    acknowledgements = {text(key, language) for key in ACKNOWLEDGEMENTS for language in ("fa", "en")}
    fallbacks = tuple(text(key, language) for key in NOT_AN_ANSWER for language in ("fa", "en"))
    users_seen = 0
    messages: List[Dict[str, Any]] = []
    latest: List[Dict[str, Any]] = []   # the latest answer, even if only "I didn't get that"
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            users_seen += 1
            if users_seen == 1:
                continue
            if users_seen == 2:
                latest = messages
            if any(not str(m.get("text") or "").startswith(fallbacks) for m in messages):
                return messages[::-1]
            if users_seen > LOOK_BACK_TURNS:
                break
            messages = []   # only "I didn't get that" in this turn: the turn before
        elif kind == "bot" and users_seen >= 1:
            data = event.get("data") or {}
            if (event.get("text") or data.get("buttons")) and event.get("text") not in acknowledgements:
                messages.append({"text": event.get("text"), "buttons": data.get("buttons")})
    if users_seen < 2:
        latest = messages   # the conversation's first answer
    return latest[::-1]


class ActionRepeatLast(Action):
    """Says the bot's last answer again when the customer asks "what?"."""

    def name(self) -> Text:
        return "action_repeat_last"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        messages = last_answer(tracker)
        if not messages:
            say(dispatcher, "nothing_to_repeat", reply_language(tracker))
            return []
        for message in messages:
            if message.get("buttons"):
                dispatcher.utter_message(text=message.get("text"), buttons=message["buttons"])
            else:
                dispatcher.utter_message(text=message.get("text"))
        return []


class ActionClarify(Action):
    """Asks which of several meanings the customer had, with a button for each."""

    def name(self) -> Text:
        return "action_clarify"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        move = Move.decode(tracker.get_slot("dialogue_move"))
        labelled = [(intent, intent_label(intent, language)) for intent in (move.intents if move else ())]
        say(dispatcher, "clarify_request", language,
            buttons=[button(label, intent) for intent, label in labelled if label is not None] or None)
        return []


class ActionHold(Action):
    """"one sec, let me find it": no hurry — the form asks its question again after this."""

    def name(self) -> Text:
        return "action_hold"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        say(dispatcher, "take_your_time", reply_language(tracker))
        return []
