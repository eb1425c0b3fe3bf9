"""Helpers shared by every action: reply language, fa/en text, CRM access, goal outcome.

Actions stay thin: they read slots, call `bot.crm` / `bot.identity`, and choose
the Persian or English text from the text catalogue (`bot.text.catalogue`, its
`text` re-exported here). Persian replies get Persian digits (numbers formatted
here or with `bot.text.formatting`); codes, links and button payloads keep ASCII
so customers can copy them.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import settings
from bot.crm.base import CRM, OPEN_STATUSES, CRMError, CRMUnavailable, Order
from bot.text import formatting
from bot.text.catalogue import has, text
from bot.text.persian import to_persian_digits

logger = logging.getLogger(__name__)

LANGUAGES = ("fa", "en")
T = TypeVar("T")

# Goal outcomes (goal_status slot values; docs/metrics.md "Goals").
STARTED, COMPLETED, FAILED, ABANDONED = "started", "completed", "failed", "abandoned"
SUSPENDED, RESUMED = "suspended", "resumed"   # a side question paused the goal / its form took it up again
IN_PROGRESS = (STARTED, RESUMED)


# --------------------------------------------------------------------------- language


def reply_language(tracker: Tracker) -> str:
    """fa or en: the `language` slot, else the customer's preference, else the parse, else fa."""
    for value in (tracker.get_slot("language"), tracker.get_slot("preferred_language"),
                  (tracker.latest_message or {}).get("language")):
        if value in LANGUAGES:
            return value
    return "fa"


def digits(value: Any, language: str) -> str:
    """`value` as text with Persian digits in Persian replies."""
    text = "" if value is None else str(value)
    return to_persian_digits(text) if language == "fa" else text


_LONE_DIGITS = re.compile(r"(?<![A-Za-z0-9])[0-9]+(?![A-Za-z0-9])")


def product_name(product: Any, language: str) -> str:
    """A product's name in the reply language; in Persian, numbers standing alone get
    Persian digits («تیون ۵۲۰») while model codes keep theirs («A55»)."""
    name = product.name(language)
    return _LONE_DIGITS.sub(lambda m: to_persian_digits(m.group(0)), name) if language == "fa" else name


def toman(amount: int, language: str) -> str:
    return formatting.format_toman(amount, language)


def number(value: int, language: str) -> str:
    return formatting.format_number(value, language)


def date(value: Any, language: str) -> str:
    return formatting.format_date(value, language) if value is not None else ""


# `text(key, language, **values)` is bot.text.catalogue's: values are inserted as given, so
# format numbers with `digits`/`number`/`toman` first (codes and links must stay ASCII).


def intent_label(intent: str, language: str) -> Optional[str]:
    """The title of a button that triggers `intent` (catalogue key `intent.<name>`), None for an
    intent that is never offered as a button."""
    key = f"intent.{intent}"
    return text(key, language) if has(key) else None


def say(dispatcher: CollectingDispatcher, key: str, language: str, *,
        buttons: Optional[List[Dict[str, Any]]] = None, **values: Any) -> None:
    message = text(key, language, **values)
    if buttons:
        dispatcher.utter_message(text=message, buttons=buttons)
    else:
        dispatcher.utter_message(text=message)


def button(title: str, intent: str, entities: Optional[Dict[str, Any]] = None) -> Dict[str, str]:
    """A button whose payload triggers `intent` directly: `/intent{"entity": "value"}`."""
    import json

    payload = f"/{intent}"
    if entities:
        payload += json.dumps(entities, ensure_ascii=False, separators=(",", ":"))
    return {"title": title, "payload": payload}


# --------------------------------------------------------------------------- CRM / identity


def get_crm() -> CRM:
    """The configured CRM backend (tests replace it with `set_crm`)."""
    if _overrides.get("crm") is not None:
        return _overrides["crm"]
    from bot.crm.factory import get_crm as factory_get_crm

    return factory_get_crm()


def get_verifier():  # type: ignore[no-untyped-def]
    """The configured `bot.identity.verification.Verifier` (tests replace it with `set_verifier`)."""
    if _overrides.get("verifier") is not None:
        return _overrides["verifier"]
    from bot.identity.verification import get_verifier as identity_get_verifier

    verifier = identity_get_verifier()
    if verifier.sender is None and not _overrides.get("sender_checked"):
        # the action server sends one-time codes through the SMS channel's gateway
        _overrides["sender_checked"] = True
        try:
            from bot.channels.sms import code_sender_from_env
            from bot.identity.verification import set_code_sender

            sender = code_sender_from_env()
            if sender is None and settings.current().demo_codes == "log":
                sender = print_code_for_demo
            if sender is not None:
                set_code_sender(sender)
        except Exception:  # noqa: BLE001 - no gateway configured: codes cannot be sent
            logger.exception("no SMS gateway for one-time codes")
    return verifier


_overrides: Dict[str, Any] = {}


def print_code_for_demo(phone: str, text: str) -> None:
    """Demo only (`scripts/run.sh` sets HAMSAFAR_DEMO_CODES=log): no SMS gateway, so the
    one-time code is printed in the terminal running the bot instead of being sent."""
    print(f"[hamsafar demo] SMS to {phone}: {text}", flush=True)


def set_crm(crm: Optional[CRM]) -> None:
    _overrides["crm"] = crm


def set_verifier(verifier: Any) -> None:
    _overrides["verifier"] = verifier


def known_customer(tracker: Tracker) -> Optional[str]:
    """The verified customer id: the slot, else a verification stored for this
    conversation by a channel (Telegram contact, signed web identity)."""
    customer_id = tracker.get_slot("customer_id")
    if customer_id:
        return str(customer_id)
    try:
        return get_verifier().customer_for(tracker.sender_id)
    except Exception:  # noqa: BLE001 - identity store down: treat as not verified
        logger.exception("identity lookup failed for %s", tracker.sender_id)
        return None


def customer_events(tracker: Tracker, customer_id: Optional[str]) -> List[EventType]:
    """SlotSet for customer_id when verification found it outside the slot."""
    if customer_id and tracker.get_slot("customer_id") != customer_id:
        return [SlotSet("customer_id", customer_id)]
    return []


def latest_open_order(customer_id: str) -> Optional[Order]:
    """The customer's newest order still on its way (what "my order" means), or None."""
    return next((o for o in get_crm().list_orders(customer_id, limit=20) if o.status in OPEN_STATUSES), None)


def goal_status(status: str) -> List[EventType]:
    return [SlotSet("goal_status", status)]


class Outcome:
    """What a goal action reports: events to return (goal_status included)."""

    @staticmethod
    def completed(*events: EventType) -> List[EventType]:
        return list(events) + goal_status(COMPLETED)

    @staticmethod
    def failed(*events: EventType) -> List[EventType]:
        return list(events) + goal_status(FAILED)


def crm_unavailable(dispatcher: CollectingDispatcher, language: str) -> List[EventType]:
    """The apology for a backend that is down; the goal fails, nothing crashes."""
    say(dispatcher, "crm_unavailable", language)
    return Outcome.failed()


def report_goal(action_name: str, tracker: Tracker, events: List[EventType]) -> List[EventType]:
    """A goal action reports the outcome of its own goal (journey.yml `completed_by`).

    When the conversation's goal is another one — a side question answered
    inside a form, or one of several questions in one message — that goal is
    suspended first (the form resumes it, actions.forms) and the action's own
    goal is started, so the outcome lands on the right goal. A goal that was
    itself suspended is resumed instead of started again."""
    if not any(e.get("event") == "slot" and e.get("name") == "goal_status" for e in events):
        return events
    from bot.journey import load_journey

    own = load_journey().goal_completed_by(action_name)
    current = tracker.get_slot("goal")
    if not own or not current or current in own:
        return events
    before: List[EventType] = []
    suspended = tracker.get_slot("suspended_goal")
    if current and tracker.get_slot("goal_status") in IN_PROGRESS and not suspended:
        before += [SlotSet("goal_status", SUSPENDED), SlotSet("suspended_goal", current)]
    if suspended in own:
        before += [SlotSet("goal", suspended), SlotSet("goal_status", RESUMED), SlotSet("suspended_goal", None)]
    else:
        before += [SlotSet("goal", own[0]), SlotSet("goal_status", STARTED)]
    return before + events


def guarded(run: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for a goal action's `run`: a CRM outage (or any CRM error not handled
    by the action) becomes an apology in the customer's language and a failed goal, and
    so does a bug (logged with its traceback: the customer is never left without an answer);
    the outcome is reported on the action's own goal (`report_goal`)."""
    import functools

    @functools.wraps(run)
    async def wrapper(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]):  # type: ignore[no-untyped-def]
        try:
            events = await run(self, dispatcher, tracker, domain)
        except CRMUnavailable:
            logger.warning("CRM unavailable in %s", self.name())
            events = crm_unavailable(dispatcher, reply_language(tracker))
        except CRMError:
            logger.exception("CRM error in %s", self.name())
            events = crm_unavailable(dispatcher, reply_language(tracker))
        except Exception:  # noqa: BLE001 - a bug must not leave the customer with no answer at all
            logger.exception("unexpected error in %s", self.name())
            say(dispatcher, "action_failed", reply_language(tracker))
            events = Outcome.failed()
        return report_goal(self.name(), tracker, events)

    return wrapper


# --------------------------------------------------------------------------- tracker helpers


def latest_text(tracker: Tracker) -> str:
    """The latest message as the NLU read it (normalised: ASCII digits, Persian ی/ک)."""
    return str((tracker.latest_message or {}).get("text") or "")


def clause_texts(tracker: Tracker, intent: str) -> List[str]:
    """The clauses of the latest message that ask for `intent`, last first (bot/nlu/requests.py):
    in "…, i'm looking for a gift. do you sell espresso machines? and do you deliver to Qazvin?"
    the browse is about "do you sell espresso machines", not the whole message."""
    requests = (tracker.latest_message or {}).get("requests") or []
    return [str(r.get("text")) for r in reversed(requests) if r.get("intent") == intent and r.get("text")]


def typed_text(tracker: Tracker) -> str:
    """The latest message as the customer typed it, for answers kept word for word
    (an address, a review): the user event keeps the original, the parse the normalised copy."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return str(event.get("text") or "").lstrip("\u200b").strip()
    return latest_text(tracker)


def latest_intent(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def entity_values(tracker: Tracker, entity: str) -> List[str]:
    return [str(e.get("value")) for e in (tracker.latest_message or {}).get("entities") or []
            if e.get("entity") == entity and e.get("value") is not None]


_ORDER_WORDS = re.compile(r"\border\b|\bsefaresh|سفارش")


def names_an_order(tracker: Tracker) -> bool:
    """The message gives an order number in words that say so («ببخشید شماره سفارشم ۱۰۰۱۴۲ هست»,
    "sorry, my order number is 100142") while asked for a phone: a correction of the order,
    not a phone number."""
    if not entity_values(tracker, "order_id") or tracker.get_slot("requested_slot") != "phone_number":
        return False
    return bool(_ORDER_WORDS.search(latest_text(tracker).lower()))


def requested_intents(tracker: Tracker) -> List[str]:
    """What the customer's latest message asked for: the intents its dialogue move routes
    (several questions in one message, a correction redoing an earlier one), else its intent."""
    from bot.dialogue.moves import Move

    move = Move.decode(tracker.get_slot("dialogue_move"))
    if move is not None and move.intents:
        return list(move.intents)
    intent = latest_intent(tracker)
    return [intent] if intent else []


def last_goal_intent(tracker: Tracker, intents: Sequence[str]) -> Optional[str]:
    """The most recent user intent among `intents` (e.g. which of two intents opened the goal)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if name in intents:
                return name
    return None


def goal_message(tracker: Tracker, intents: Sequence[str]) -> Dict[str, Any]:
    """Parse data of the latest user message with one of `intents` (the message that
    opened the goal, even after verification turns); {} if there is none."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            parse = event.get("parse_data") or {}
            if (parse.get("intent") or {}).get("name") in intents:
                return {"text": event.get("text") or "", **parse}
    return {}


def previous_slot_value(tracker: Tracker, slot: str) -> Any:
    """The value `slot` had before the latest user message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
            continue
        if seen_user and event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return None


def recent_slot_values(tracker: Tracker, slot: str, limit: int = 2, turns: int = 10) -> List[Any]:
    """The last `limit` distinct values `slot` took in the last `turns` customer messages,
    oldest first ("which one is better?" after two products were discussed: those two)."""
    values: List[Any] = []
    seen_turns = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_turns += 1
            if seen_turns > turns:
                break
        elif event.get("event") in ("restart", "session_started"):
            break
        elif event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
            if value and value not in values:
                values.append(value)
                if len(values) == limit:
                    break
    return list(reversed(values))


def policy():  # type: ignore[no-untyped-def]
    """The raw shop_policy.yml mapping (text the operator edits)."""
    from bot.crm.policy import load_policy

    return load_policy().raw


def shop_rules():  # type: ignore[no-untyped-def]
    """The same file read through bot.crm.policy.ShopPolicy (which cities a method serves, the hours of a day)."""
    from bot.crm.policy import load_policy

    return load_policy()


def without_note(name: str) -> str:
    """A policy name without its note in brackets: "Hamsafar courier (Tehran only)" → "Hamsafar courier"."""
    return re.sub(r"\s*\(.*?\)", "", name).strip() or name


def policy_text(entry: Any, language: str) -> str:
    """A {fa:…, en:…} entry of shop_policy.yml in `language` (plain strings as they are)."""
    if isinstance(entry, dict):
        return str(entry.get(language) or entry.get("fa") or entry.get("en") or "")
    return "" if entry is None else str(entry)
