"""The customer's answer to a proactive message continues the conversation (bot/orchestration).

A journey writes its message into the customer's conversation as a bot
utterance whose metadata says what an answer means (docs/orchestration.md,
"The answer"):

    {"hamsafar_journey": {"journey", "step", "order_id",
                          "expects": {"goal", "intents", "feedback": "csat" | "nps" | null,
                                      "slots": {"order_id": …, "discount_code": …}}}}

When the customer's next message comes right after such a message:
* its `slots` are set (the order in question, the code offered) and the order
  becomes `last_order_id`, so "pay" and "apply the code" act on that order;
* a score after a survey question is that survey's (`feedback_kind`), and
  gives the feedback goal: «۹» after the NPS question is an NPS of 9;
* "yes" to a message that expects a request ("yes, pay now" after the payment
  reminder, "ok" after the discount offer) is that request.
Anything else is read as usual.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from bot.dialogue.moves import REDO, Message, Move
from bot.text.persian import to_ascii_digits

JOURNEY_KEY = "hamsafar_journey"
_SCORE = re.compile(r"^\D{0,12}(\d{1,2})\D{0,20}$")


def journey_expectation(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """`expects` of the proactive message the latest customer message answers, if any: the
    last thing said before it, by anyone, was that message."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return None
            seen_user = True
        elif kind == "bot" and seen_user:
            meta = (event.get("metadata") or {}).get(JOURNEY_KEY)
            return dict(meta.get("expects") or {}) if isinstance(meta, dict) else None
    return None


def answer_to_journey(tracker: Tracker, message: Message) -> Tuple[Optional[Move], List[EventType]]:
    """The move (None: read as usual) and slot events of a message answering a proactive one."""
    expects = journey_expectation(tracker)
    if not expects:
        return None, []
    events: List[EventType] = [SlotSet(name, value) for name, value in (expects.get("slots") or {}).items()
                               if value not in (None, "")]
    order_id = (expects.get("slots") or {}).get("order_id")
    if order_id:
        events.append(SlotSet("last_order_id", order_id))
    kind = expects.get("feedback")
    if kind in ("csat", "nps"):
        score = _score(message)
        if score is not None:
            events += [SlotSet("feedback_kind", kind), SlotSet("rating", str(score))]
            return Move(REDO, ("give_feedback",)), events
    requests = [i for i in expects.get("intents") or [] if i not in ("affirm", "deny", "inform")]
    if message.intent == "affirm" and "affirm" in (expects.get("intents") or []) and requests:
        return Move(REDO, (requests[0],)), events
    return None, events


def _score(message: Message) -> Optional[int]:
    """A bare score ("9", «۸ از ۱۰», "10!") or the NLU's rating."""
    rated = message.entities.get("rating")
    if rated:
        try:
            return int(to_ascii_digits(rated[0]))
        except ValueError:
            return None
    found = _SCORE.match(to_ascii_digits(message.text.strip()))
    return int(found.group(1)) if found and int(found.group(1)) <= 10 else None
