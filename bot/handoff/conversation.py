"""The conversation side of the console: read the Rasa tracker, append agent events, deliver to the channel.

All tracker writes go through `append_events`, under Rasa's lock store, so an agent's
message never interleaves with a customer turn being processed; saving the tracker
streams the new events to the event broker, so agent messages (BotUttered with
`{"hamsafar_actor": "agent", "agent": login}`) and handoff transitions (slot
`handoff_active`) become touchpoints with no extra code.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Optional

from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered

from bot.channels.addresses import channel_of

logger = logging.getLogger(__name__)

QUIET_ACTIONS = {"action_listen", "action_session_start"}


async def load_tracker(agent: Any, conversation_id: str, full: bool = True) -> Any:
    store = agent.tracker_store
    if full and hasattr(store, "retrieve_full_tracker"):
        tracker = await store.retrieve_full_tracker(conversation_id)
    else:
        tracker = await store.retrieve(conversation_id)
    return tracker


async def append_events(agent: Any, conversation_id: str, events: List[Event], handed_off: bool = False) -> None:
    """`handed_off`: an agent has the conversation (claimed it), so `handoff_active` is set first
    if the tracker lacks it (the queue row exists but the action's slot never arrived)."""
    async with agent.lock_store.lock(conversation_id):
        tracker = await agent.tracker_store.get_or_create_tracker(conversation_id)
        if handed_off and not tracker.get_slot("handoff_active"):
            events = [SlotSet("handoff_active", True), *events]
        for event in events:
            tracker.update(event)
        await agent.tracker_store.save(tracker)


def agent_message(text: str, login: str) -> BotUttered:
    return BotUttered(text, metadata={"hamsafar_actor": "agent", "agent": login})


def system_message(text: str) -> BotUttered:
    return BotUttered(text, metadata={"hamsafar_actor": "system"})


def _at(timestamp: Optional[float]) -> Optional[str]:
    if not timestamp:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def transcript(tracker: Any, after: int = -1) -> List[Dict[str, Any]]:
    """Events worth showing an agent, with their index in the tracker (the polling cursor)."""
    if tracker is None:
        return []
    items: List[Dict[str, Any]] = []
    for index, event in enumerate(tracker.events):
        if index <= after:
            continue
        item: Optional[Dict[str, Any]] = None
        if isinstance(event, UserUttered):
            parse = event.parse_data or {}
            intent = event.intent or {}
            item = {"kind": "customer", "text": event.text or "", "intent": intent.get("name"),
                    "confidence": round(float(intent.get("confidence") or 0), 3) if intent else None,
                    "stage": parse.get("journey_stage"), "language": parse.get("language"),
                    "sentiment": parse.get("sentiment")}
        elif isinstance(event, BotUttered):
            meta = event.metadata or {}
            actor = meta.get("hamsafar_actor")
            item = {"kind": "agent" if actor == "agent" else "bot", "text": event.text or "",
                    "agent": meta.get("agent") if actor == "agent" else None}
        elif isinstance(event, SlotSet) and event.key == "handoff_active":
            item = {"kind": "system", "text": "handoff started" if event.value else "handoff ended"}
        elif isinstance(event, SessionStarted):
            item = {"kind": "system", "text": "new session"}
        elif isinstance(event, ActionExecuted) and event.action_name and event.action_name not in QUIET_ACTIONS:
            item = {"kind": "action", "text": event.action_name}
        if item is not None:
            item["i"] = index
            item["at"] = _at(event.timestamp)
            items.append(item)
    return items


def conversation_state(tracker: Any) -> Dict[str, Any]:
    if tracker is None:
        return {}
    slots = {name: tracker.get_slot(name) for name in ("language", "journey_stage", "goal", "goal_status",
                                                       "customer_id", "handoff_active")}
    return {"slots": slots, "last_index": len(tracker.events) - 1}


async def deliver(conversation_id: str, text: str, sender: str = "agent") -> bool:
    """Send an agent's (or, sender="system", a handoff notice) into the customer's own channel; False if no push path."""
    channel = channel_of(conversation_id)
    if channel is None or channel == "rest":
        return False  # rest: the caller's HTTP exchange is over; the message is kept in the tracker
    try:
        from bot.channels.base import send_proactive

        # the registered output of the conversation's channel, writing as the agent or the system
        return bool(await send_proactive(conversation_id, text, proactive=False, sender=sender))
    except Exception:  # noqa: BLE001 - the message is still in the tracker; the agent sees "not delivered"
        logger.exception("could not deliver to %s", conversation_id)
        return False
