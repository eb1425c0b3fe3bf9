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
  reminder, "ok" after the discount offer) is that request;
* "no thanks", "not interested", «نه ممنون», «نمی‌خوام» declines it: that journey
  stops for the customer (`bot.orchestration.answers.decline`, exit reason
  `declined`) and the bot says so (`utter_journey_declined`: "OK, I won't
  message you about this again");
* an opt-out word («لغو», STOP) or asking to stop the messages ("stop sending
  these", «دیگه پیام نده») also opts the conversation out on its channel through
  the one consent check (`bot.channels.consent.opt_out`: no more proactive
  messages there; on SMS nothing at all until START), and the bot confirms it
  (`utter_journey_opted_out`, the one confirmation consent lets through).
The answer's touchpoint carries the journey stage of the message (the stage of
its goal, else the journey's): a "no" to the payment reminder is a decision-stage turn.
Anything else is read as usual.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from bot.channels import addresses, consent
from bot.dialogue.cues import canonical
from bot.dialogue.moves import LEAVE, REDO, Message, Move
from bot.journey import load_journey
from bot.text.persian import to_ascii_digits

logger = logging.getLogger(__name__)

JOURNEY_KEY = "hamsafar_journey"
_SCORE = re.compile(r"^\D{0,12}(\d{1,2})\D{0,20}$")
# Whole messages that decline a proactive message (after `canonical`: Persian letters unified,
# ZWNJ as a space, lower case; punctuation stripped).
_DECLINE = re.compile(
    r"^(?:no|nope|nah|no (?:thanks|thank you|thx|need)|not interested|i ?a?m not interested|not for me|"
    r"no,? i(?: do not|'?m not| don'?t)(?: want it| need it)?|"
    r"نه|نخیر|نه (?:ممنون|مرسی|متشکرم|ممنونم|مچکرم|سپاس)|ممنون نه|مرسی نه|نمی ?خوام|نمی ?خواهم|"
    r"(?:نه )?علاقه(?:ای)? ندارم|لازم ندارم|لازم نیست)$")
# Whole messages asking for no more messages at all (same normalisation): an opt-out, like «لغو».
_UNSUBSCRIBE = re.compile(
    r"^(?:(?:no thanks |please )?(?:stop|quit) (?:sending|texting|messaging)(?: me)?"
    r"(?: these| this| them| those| messages| texts| sms| anymore| any more)*(?: please)?|"
    r"(?:please )?(?:do not|don ?t) (?:send|text|message) me(?: these| this| them| messages| anymore| any more| again)*|"
    r"no more (?:messages|texts|reminders)(?: please)?|unsubscribe me|"
    r"(?:نه )?(?:لطفا )?(?:دیگه |دیگر )?(?:برام |برایم |به من )?(?:این )?(?:پیام|پیامک)(?: ها)?(?: رو| را)?"
    r"(?: دیگه| دیگر)? (?:نده|ندید|ندین|نفرست|نفرستید|نفرستین)(?: دیگه| دیگر)?(?: لطفا)?|"
    r"(?:نه )?(?:لطفا )?(?:دیگه|دیگر) (?:برام |برایم |به من )?(?:نفرست|نفرستید|نفرستین)(?: لطفا)?)$")
DECLINED_REPLY, OPTED_OUT_REPLY = "utter_journey_declined", "utter_journey_opted_out"
_PUNCTUATION = re.compile(r"[.!?؟،,;:«»\"'()\-_*]+")


def journey_message(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The `hamsafar_journey` metadata of the proactive message the latest customer message
    answers, if any: the last thing said before it, by anyone, was that message."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return None
            seen_user = True
        elif kind == "bot" and seen_user:
            meta = (event.get("metadata") or {}).get(JOURNEY_KEY)
            return dict(meta) if isinstance(meta, dict) else None
    return None


def journey_expectation(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """`expects` of the proactive message the latest customer message answers, if any."""
    meta = journey_message(tracker)
    return dict(meta.get("expects") or {}) if meta is not None else None


def declines(message: Message) -> Optional[str]:
    """"opt_out" for an opt-out word («لغو», STOP) or a request to stop the messages ("stop sending
    these", «دیگه پیام نده»), "decline" for a no ("no thanks", «نه ممنون», "not interested", a short
    `deny`), else None. "no, I want to pay by card" is not a no."""
    if consent.keyword(message.text) == "opt_out":
        return "opt_out"
    clean = re.sub(r"\s+", " ", _PUNCTUATION.sub(" ", canonical(message.text))).strip()
    if _UNSUBSCRIBE.match(clean):
        return "opt_out"
    if _DECLINE.match(clean):
        return "decline"
    if message.intent in ("deny", "stop") and len(clean.split()) <= 3 and not message.entities:
        return "decline"
    return None


def _stage(meta: Dict[str, Any]) -> Optional[str]:
    """The journey stage the message belongs to: its expected goal's (journey.yml), else the journey's."""
    goal = (meta.get("expects") or {}).get("goal")
    goals = load_journey().goals
    return goals[goal].stage if goal in goals else meta.get("stage")


def _decline(tracker: Tracker, meta: Dict[str, Any], why: str) -> None:
    """Stop the journey for this customer (and, for an opt-out, proactive messages on this conversation's
    channel: the one consent record every send checks)."""
    conversation = tracker.sender_id or ""
    channel = addresses.channel_of(conversation)
    try:
        if why == "opt_out" and channel in addresses.CHAT_CHANNELS + ("web", "sms"):
            consent.opt_out(channel, conversation, source="keyword")
        if meta.get("entry_id") is not None:
            from bot.orchestration.answers import decline

            decline(int(meta["entry_id"]))
    except Exception:  # noqa: BLE001 - the answer is still given; the next step's consent check remains
        logger.exception("journeys: could not record that %s declined %s", conversation, meta.get("journey"))


def answer_to_journey(tracker: Tracker, message: Message) -> Tuple[Optional[Move], List[EventType]]:
    """The move (None: read as usual) and slot events of a message answering a proactive one."""
    meta = journey_message(tracker)
    if meta is None:
        return None, []
    expects = dict(meta.get("expects") or {})
    stage = _stage(meta)
    events: List[EventType] = [SlotSet("journey_stage", stage)] if stage else []
    why = declines(message)
    if why is not None:
        _decline(tracker, meta, why)
        in_form = bool((tracker.active_loop or {}).get("name"))
        reply = OPTED_OUT_REPLY if why == "opt_out" else DECLINED_REPLY   # said as is (bot.dialogue.policy)
        return Move(LEAVE if in_form else REDO, (reply,)), events
    if not expects:
        return None, events
    events += [SlotSet(name, value) for name, value in (expects.get("slots") or {}).items()
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
