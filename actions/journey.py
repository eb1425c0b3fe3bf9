"""Conversation state after every user message: language, journey stage, goal.

`action_validate_slot_mappings` is Rasa 3's hook for custom slot mappings: Rasa
runs it after every user message (inside `action_extract_slots`). It fills

* `language` — the message's detected `language` (top-level key of the parse
  data, set by bot.nlu's LanguageDetector), unless the customer asked for a
  language with `switch_language` (`preferred_language`); a message without
  words (a phone number, an emoji, one code like "SPRING15" or "A55", an
  email) keeps the conversation's language;
* `dialogue_move` and the slots the message answers (actions/turns.py,
  bot/dialogue): answer, side question, new request, repeat, correction;
* `journey_stage` — the stage of the goal the message starts or answers, else
  the parse's `journey_stage` (from journey.yml); general intents keep the
  stage of the goal in progress;
* `goal` / `goal_status` — the goal journey.yml gives the request the move
  starts; a new goal while another is still in progress marks the old one
  `abandoned` first; stop, thanks and goodbye inside a form abandon it; a
  side question does not (its action suspends the goal, the form resumes it);
* `customer_id` when a channel verified the customer (Telegram contact, signed
  web identity, SMS sender) — the SMS code is checked in the forms
  (actions/forms.py) — and with it the customer's profile from their other
  channels (`actions.profile.restored_profile`: language, journey stage);
* `fallback_count` back to 0 once a message is understood;
* clears the per-goal form slots when a new goal starts, so an answer given for
  one goal (a rating, a reason, a code) is not reused for the next one.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction

from bot.dialogue.moves import ANSWER, LEAVE, REDO, START, WELCOME_GOODBYE_REPLY, Move, read_already
from bot.journey import load_journey
from bot.nlu.language import is_decisive

from actions.common import (
    ABANDONED, IN_PROGRESS, LANGUAGES, STARTED, known_customer, latest_text, names_an_order, previous_slot_value, reply_language, say,
)
from actions.profile import restored_profile, save_language_choice
from actions.turns import read_turn

# Slots that belong to one goal's form and are cleared when another goal starts.
PER_GOAL_SLOTS = ("rating", "review_text", "change_request", "confirm_cancel", "confirm_order", "confirm_change",
                  "return_reason",
                  "problem_description", "feedback_comment", "feedback_kind", "discount_code", "products", "quantity",
                  "otp_code", "verification_status")
FALLBACK_INTENT = "nlu_fallback"
_LETTER = re.compile(r"[^\W\d_]")
_CODE_MARK = re.compile(r"[\d@]")


def speaks_no_language(message: str) -> bool:
    """A bare number, code or email («۱۰۰۰۰۴», "SPRING15", "A55", "a@b.ir"): no words of a
    language, so it must not switch the reply language of the conversation."""
    words = message.split()
    return not _LETTER.search(message) or (len(words) == 1 and bool(_CODE_MARK.search(words[0])))


class ActionValidateSlotMappings(ValidationAction):
    """Reads each message in its context (language, journey stage, goal, dialogue move) and sets the slots,
    after Rasa's own slot mappings."""

    def name(self) -> Text:
        return "action_validate_slot_mappings"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if reading_again(tracker):
            return []
        return state_events(tracker, domain)


def reading_again(tracker: Tracker) -> bool:
    """Rasa runs slot extraction again when a form is activated later in the same turn (after a
    side question's answer, or when the dialogue moved to another form). The message was read
    once, right after it arrived; reading it again inside another form would take it for that
    form's answer (`bot.dialogue.moves.read_already`; the Rasa server skips such calls)."""
    return read_already(event.get("event") for event in reversed(tracker.events))


def state_events(tracker: Tracker, domain: Optional[Dict[Text, Any]] = None) -> List[EventType]:
    """The SlotSet events of one customer message: language, dialogue move and the
    slots it fills, goal, stage, verified customer, fallback counter (in order)."""
    parse = tracker.latest_message or {}
    intent = (parse.get("intent") or {}).get("name")
    events: List[EventType] = []

    def set_if_changed(slot: str, value: Any) -> None:
        if tracker.get_slot(slot) != value:
            events.append(SlotSet(slot, value))

    # language: the customer's explicit choice wins over detection
    preferred = tracker.get_slot("preferred_language")
    detected = parse.get("language")
    message_text = str(parse.get("text") or "")
    if tracker.get_slot("language") in LANGUAGES and (speaks_no_language(message_text)
                                                      or not is_decisive(message_text)):
        detected = None   # a bare number / code / email / emoji, "sorry?", "ok": keep the conversation's language
    language = preferred if preferred in LANGUAGES else detected if detected in LANGUAGES else None
    if language:
        set_if_changed("language", language)

    journey = load_journey()
    fresh = tracker.slots_to_validate()
    requested = tracker.get_slot("requested_slot")

    # The digits of a one-time code or a phone number are not an order number.
    if requested in ("otp_code", "phone_number") and "order_id" in fresh and not names_an_order(tracker):
        events.append(SlotSet("order_id", previous_slot_value(tracker, "order_id")))

    move, turn_events = read_turn(tracker, domain or {}, journey)
    events += turn_events
    # what this message gave (entities, the answer to a proactive question) is not cleared by its own goal
    given = {**fresh, **{e["name"]: e.get("value") for e in turn_events if e.get("event") == "slot"}}
    events += goal_events(tracker, move, journey, given)

    # journey stage: an answer stays in its goal's stage; a new request takes its goal's;
    # anything else the intent's, else the stage of the goal in progress
    new_goal = _goal_of_move(move, journey)
    current_goal = tracker.get_slot("goal")
    stage = None
    if move.kind == ANSWER and current_goal in journey.goals:
        stage = journey.goals[current_goal].stage
    elif new_goal:
        stage = journey.goals[new_goal].stage
    stage = stage or parse.get("journey_stage") or journey.stage_of_intent(intent)
    if not stage and current_goal in journey.goals:
        stage = journey.goals[current_goal].stage
    if stage:
        set_if_changed("journey_stage", stage)

    # a verification stored by a channel (Telegram contact, signed web identity):
    # the customer's profile from their other channels comes with it
    if not tracker.get_slot("customer_id"):
        customer_id = known_customer(tracker)
        if customer_id:
            events.append(SlotSet("customer_id", customer_id))
            worded = not speaks_no_language(str(parse.get("text") or ""))
            events += restored_profile(tracker, customer_id,
                                       language_given=worded and detected in LANGUAGES,
                                       stage_given=bool(stage))

    if intent != FALLBACK_INTENT and (tracker.get_slot("fallback_count") or 0):
        events.append(SlotSet("fallback_count", 0))
    return events


def _goal_of_move(move: Move, journey: Any) -> Optional[str]:
    """The goal the move starts: that of its main (last) request; none for an answer,
    an interruption (whose action reports its own goal), a repeat, or closing words."""
    if move.kind not in (START, REDO, LEAVE):
        return None
    return next((g for g in (journey.goal_of_intent(i) for i in reversed(move.intents)) if g), None)


def goal_events(tracker: Tracker, move: Move, journey: Any, fresh: Dict[str, Any]) -> List[EventType]:
    """Goal bookkeeping for the move (docs/metrics.md, "Goals"): a new request abandons the goal
    in progress (and one suspended by a side question) and starts its own, clearing the previous
    goal's answers; stop, thanks and goodbye inside a form abandon it; an answer or a side
    question changes nothing here (a side question's action suspends and reports, the form
    resumes: actions.common.report_goal, actions.forms)."""
    events: List[EventType] = []
    current_goal = tracker.get_slot("goal")
    in_progress = tracker.get_slot("goal_status") in IN_PROGRESS
    suspended = tracker.get_slot("suspended_goal")
    new_goal = _goal_of_move(move, journey)
    # stop, thanks, goodbye — and a person taking over: the bot's goal ends there unfinished
    closing = move.kind == LEAVE and not new_goal and set(move.intents) & {"stop", "goodbye", "thank_you",
                                                                           WELCOME_GOODBYE_REPLY, "request_human"}

    def abandon_suspended() -> None:
        """A goal left suspended by a side question that never resumed is abandoned."""
        if suspended and suspended != current_goal:
            events.extend([SlotSet("goal", suspended), SlotSet("goal_status", ABANDONED)])
        if suspended:
            events.append(SlotSet("suspended_goal", None))

    if new_goal and (new_goal != current_goal or not in_progress):
        if current_goal and in_progress and new_goal != current_goal:
            events.append(SlotSet("goal_status", ABANDONED))
        abandon_suspended()
        # this message's own candidates (e.g. a rating given with the intent) are kept
        for slot in PER_GOAL_SLOTS:
            if slot not in fresh and tracker.get_slot(slot) is not None:
                events.append(SlotSet(slot, None))
        events.append(SlotSet("goal", new_goal))
        events.append(SlotSet("goal_status", STARTED))
    elif closing or (move.kind == START and "stop" in move.intents):
        if current_goal and in_progress:
            events.append(SlotSet("goal_status", ABANDONED))
        abandon_suspended()
    return events


# --------------------------------------------------------------------------- switch_language

_EN_WORDS = re.compile(r"english|inglisi|engilisi|englisi|انگلیسی|انگلیش|اینگلیسی", re.IGNORECASE)
_FA_WORDS = re.compile(r"persian|farsi|parsi|فارسی|پارسی", re.IGNORECASE)


def requested_language(message: str, message_language: Optional[str], current: str) -> str:
    """The language a switch_language message asks for.

    One language named: that one. Both named ("I don't understand English,
    write Persian" / «انگلیسی بلد نیستم، فارسی بگو»): the message's own
    language. None named ("change the language"): the other one.
    """
    wants_en, wants_fa = bool(_EN_WORDS.search(message)), bool(_FA_WORDS.search(message))
    if wants_en and not wants_fa:
        return "en"
    if wants_fa and not wants_en:
        return "fa"
    if wants_en and wants_fa and message_language in LANGUAGES:
        return message_language
    return "en" if current == "fa" else "fa"


class ActionSwitchLanguage(Action):
    """Switches the reply language on request and remembers the choice for the customer's other channels."""

    def name(self) -> Text:
        return "action_switch_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        current = reply_language(tracker)
        target = requested_language(latest_text(tracker), (tracker.latest_message or {}).get("language"),
                                    current)
        say(dispatcher, "language_switched", target)
        customer_id = known_customer(tracker)
        if customer_id:  # the next conversation, on any channel, starts in this language
            save_language_choice(customer_id, target)
        events: List[EventType] = [SlotSet("preferred_language", target), SlotSet("language", target)]
        if customer_id and tracker.get_slot("customer_id") != customer_id:
            events.append(SlotSet("customer_id", customer_id))
        return events
