"""A known customer's profile carried into this conversation from their other channels.

When a conversation becomes a verified customer (Telegram contact, signed web
identity, SMS sender), `actions.journey.state_events` asks `restored_profile`
for the slots that continue where the customer left off on any channel:

* `preferred_language` + `language` — the language they explicitly chose
  (switch_language) on any channel: it wins over detection, as in the
  conversation where they chose it;
* else `language`, only when this message says nothing about it (a shared
  contact, an order number, an emoji): the language of their latest message on
  any channel, else the CRM's `customers.language`;
* `journey_stage` — the stage of their latest touchpoint, when this message has
  no stage of its own.

The goal in progress is not restored as a slot: a goal is reached inside one
conversation (its form), and a `started` goal copied into a new conversation
would be counted abandoned there. Goal history is `bot.identity.profile.goal_history`.

Nothing here may break a turn: when the database or the CRM cannot be read,
the conversation simply goes on without the profile.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, List, Optional, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from bot.identity import profile

from actions.common import LANGUAGES, get_crm, get_verifier

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _url() -> Optional[str]:
    """The identity store's database (the same one the verifier uses)."""
    return getattr(get_verifier(), "url", None)


def _read(query: Callable[..., T], *args: Any, **kwargs: Any) -> Optional[T]:
    """`query(...)`, or None when the database cannot be reached (the turn goes on)."""
    try:
        return query(*args, **kwargs)
    except Exception:  # noqa: BLE001
        logger.exception("customer profile unreadable (%s)", getattr(query, "__name__", query))
        return None


def crm_language(customer_id: str) -> Optional[str]:
    """The CRM's `customers.language`, or None (unknown customer, CRM down)."""
    try:
        customer = get_crm().get_customer(customer_id)
    except Exception:  # noqa: BLE001 - CRM down
        logger.warning("CRM unavailable: no saved language for %s", customer_id)
        return None
    return customer.language if customer is not None and customer.language in LANGUAGES else None


def saved_language(customer_id: str) -> Optional[str]:
    """The customer's explicit choice on any channel, else the CRM's `customers.language`."""
    return _read(profile.saved_language, customer_id, _url()) or crm_language(customer_id)


def save_language_choice(customer_id: str, language: str) -> None:
    """Store an explicit switch_language for the customer's next conversations (never raises)."""
    _read(profile.save_language, customer_id, language, _url())


def restored_profile(tracker: Tracker, customer_id: str, *, language_given: bool,
                     stage_given: bool) -> List[EventType]:
    """SlotSet events continuing the customer's profile from their other channels (see module doc).

    `language_given`: this message has words of a language; `stage_given`: it has a journey stage.
    """
    url = _url()
    conversation = tracker.sender_id
    events: List[EventType] = []
    if tracker.get_slot("preferred_language") not in LANGUAGES:   # a choice made here stays
        chosen = _read(profile.saved_language, customer_id, url)
        if chosen:
            events += [SlotSet("preferred_language", chosen), SlotSet("language", chosen)]
        elif not language_given:
            language = (_read(profile.last_language, customer_id, url, exclude_conversation=conversation)
                        or crm_language(customer_id))
            if language:
                events.append(SlotSet("language", language))
    if not stage_given and not tracker.get_slot("journey_stage"):
        state = _read(profile.latest_journey, customer_id, url, exclude_conversation=conversation)
        if state is not None and state.journey_stage:
            events.append(SlotSet("journey_stage", state.journey_stage))
    return events
