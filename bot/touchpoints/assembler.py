"""Turn Rasa's event stream into touchpoint rows.

Rasa publishes a conversation's new events in order each time its tracker is
saved. A customer turn is a `user` event followed by the actions and bot
messages up to the next `action_listen`; it becomes one `customer` row. Bot
messages outside a customer turn become `bot` rows (or `agent` rows when their
metadata says an agent wrote them). Changes of the `goal_status` and
`handoff_active` slots become `system` rows, so analysts can count
transitions without diffing state.

Rows carry no personal data (bot.touchpoints.privacy): text and entity values
are masked — a customer message that answers the bot's one-time-code question
(`requested_slot` = `otp_code`) has its bare numbers masked as a code — and a
conversation id that is a phone number (`sms:+98…`) is stored as its
pseudonymous reference (`sms:ref-…`), also inside `event_id`.

The assembler is pure bookkeeping (no I/O) so it can be tested event by event.
It remembers at most `max_conversations` conversations (issue 17, finding 9: one
state per conversation ever seen grew without bound in the Rasa server): the least
recently active one is dropped first, its open turn written as it stands; the
recorder seeds a returning conversation from its newest row. A conversation whose
last question was the one-time code is kept for `CODE_ANSWER_SECONDS` all the same,
so that its answer is still masked as a code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from bot.channels.base import channel_label
from bot.journey import load_journey
from bot.touchpoints.privacy import conversation_ref, mask_entities, prepare_text

# Actions that are Rasa's plumbing rather than something the bot did for the customer.
IGNORED_ACTIONS = {"action_listen", "action_session_start", "action_validate_slot_mappings", "action_extract_slots"}
FALLBACK_INTENT = "nlu_fallback"
AGENT_ACTOR_KEY = "hamsafar_actor"  # BotUttered metadata {"hamsafar_actor": "agent", "agent": "..."}
JOURNEY_KEY = "hamsafar_journey"    # a proactive journey message: bot.orchestration writes its own row
# Touchpoint channel of a proactive journey's entered / exited / converted rows (bot.orchestration):
# bookkeeping, not a conversation, so the conversation metrics leave them out (docs/orchestration.md).
JOURNEY_CHANNEL = "journey"
CODE_SLOT = "otp_code"              # the form slot of the one-time code (domain.yml)
ASK_CODE_ACTION = "action_ask_otp_code"
# Conversations remembered at once: ~1 KB each, so about 10 MB; a returning one is seeded from the database.
MAX_CONVERSATIONS = 10_000
# How long a conversation asked for its one-time code is never dropped (the code's lifetime is shorter).
CODE_ANSWER_SECONDS = 15 * 60


def event_id(*parts: Any) -> str:
    """A stable id for a row, from what identifies its source event."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:40]


def utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).replace(tzinfo=None)


def goal_transition(status: str) -> str:
    """The action a goal transition row records (`goal_completed`); bot.touchpoints.queries reads it back."""
    return f"goal_{status}"


@dataclass
class ConversationState:
    """What the assembler remembers of one conversation between events."""

    channel: str = "unknown"
    customer_id: Optional[str] = None
    language: Optional[str] = None
    journey_stage: Optional[str] = None
    goal: Optional[str] = None
    goal_status: Optional[str] = None
    handoff: bool = False
    turn: Optional[Dict[str, Any]] = None
    code_asked: bool = False  # the bot's last question was the one-time code (its answer is masked as one)
    touched: float = 0.0      # timestamp of its latest event


@dataclass
class TurnAssembler:
    """Feeds on Rasa event dicts, emits touchpoint row dicts."""

    states: "OrderedDict[str, ConversationState]" = field(default_factory=OrderedDict)   # least recent first
    max_conversations: int = MAX_CONVERSATIONS

    def feed(self, event: Dict[str, Any]) -> List[Dict[str, Any]]:
        sender = str(event.get("sender_id") or "")
        kind = event.get("event")
        if not sender or not kind:
            return []
        state = self.states.get(sender)
        if state is None:
            state = self.states[sender] = ConversationState()
        else:
            self.states.move_to_end(sender)
        stamp = float(event.get("timestamp") or 0.0)
        state.touched = max(state.touched, stamp)
        rows: List[Dict[str, Any]] = self._forget_oldest(stamp)
        if kind == "user":
            rows += self._close_turn(sender, state)
            self._open_turn(state, event, stamp)
        elif kind == "action":
            name = event.get("name") or ""
            if name == ASK_CODE_ACTION:
                state.code_asked = True
            if name == "action_listen":
                rows += self._close_turn(sender, state, stamp)
            elif name not in IGNORED_ACTIONS and state.turn is not None:
                state.turn["actions"].append(name)
                state.turn["last"] = stamp
        elif kind == "bot":
            metadata = event.get("metadata") or {}
            if metadata.get(JOURNEY_KEY):
                return rows  # recorded by bot.orchestration with its journey, step and channel
            actor = metadata.get(AGENT_ACTOR_KEY)
            if state.turn is not None and actor is None:
                state.turn["replies"].append(event.get("text") or "")
                state.turn["last"] = stamp
            else:
                rows.append(self._message_row(sender, state, event, stamp, actor or "bot"))
        elif kind == "slot":
            rows += self._apply_slot(sender, state, event.get("name"), event.get("value"), stamp)
        elif kind in ("restart", "session_started"):
            rows += self._close_turn(sender, state)
            if kind == "restart":
                self.states[sender] = ConversationState(channel=state.channel, customer_id=state.customer_id)
            else:
                # Rasa re-sets carried-over slots (customer_id too) right after this event;
                # a session without them — e.g. of a conversation `hamsafar erase` emptied — has no customer.
                state.customer_id = None
        return rows

    def _forget_oldest(self, now: float) -> List[Dict[str, Any]]:
        """Drop the least recently active conversations beyond `max_conversations` (their open
        turns become rows now); one asked for its code within CODE_ANSWER_SECONDS stays."""
        rows: List[Dict[str, Any]] = []
        for _ in range(len(self.states)):   # each conversation looked at once at most
            if len(self.states) <= self.max_conversations:
                break
            sender, state = next(iter(self.states.items()))
            if state.code_asked and now - state.touched < CODE_ANSWER_SECONDS:
                self.states.move_to_end(sender)
                continue
            del self.states[sender]
            rows += self._close_turn(sender, state)
        return rows

    # -- customer turns -------------------------------------------------------------
    def _open_turn(self, state: ConversationState, event: Dict[str, Any], stamp: float) -> None:
        parse = event.get("parse_data") or {}
        intent = (parse.get("intent") or {})
        state.channel = channel_label(event.get("input_channel")) or state.channel
        language = parse.get("language")
        if language:
            state.language = language
        stage = parse.get("journey_stage") or load_journey().stage_of_intent(intent.get("name"))
        sentiment = parse.get("sentiment") or {}
        code_expected, state.code_asked = state.code_asked, False
        state.turn = {
            "code_expected": code_expected,
            "started": stamp, "last": stamp, "text": event.get("text"), "intent": intent.get("name"),
            "confidence": intent.get("confidence"), "stage": stage,
            "entities": [
                {"entity": e.get("entity"), "value": e.get("value")} for e in parse.get("entities") or []
            ],
            "sentiment": sentiment.get("score"), "sentiment_label": sentiment.get("label"),
            "message_id": event.get("message_id") or "", "actions": [], "replies": [],
        }

    def _close_turn(self, sender: str, state: ConversationState, stamp: Optional[float] = None) -> List[Dict[str, Any]]:
        turn, state.turn = state.turn, None
        if turn is None:
            return []
        end = max(stamp or turn["last"], turn["last"])
        fallback = turn["intent"] == FALLBACK_INTENT or "action_default_fallback" in turn["actions"] \
            or any(a.startswith("action_ask_rephrase") for a in turn["actions"])
        reference = conversation_ref(sender)
        return [{
            "event_id": event_id(reference, "customer", turn["started"], turn["message_id"]),
            "occurred_at": utc(turn["started"]),
            "conversation_id": reference,
            "customer_id": state.customer_id,
            "channel": state.channel,
            "actor": "customer",
            "language": state.language,
            "journey_stage": turn["stage"] or state.journey_stage,
            "intent": turn["intent"],
            "intent_confidence": turn["confidence"],
            "entities": mask_entities(turn["entities"], turn["text"], turn["code_expected"]),
            "actions": turn["actions"],
            "goal": state.goal,
            "goal_status": state.goal_status,
            "handoff": state.handoff,
            "sentiment": turn["sentiment"],
            "sentiment_label": turn["sentiment_label"],
            "latency_ms": int(round((end - turn["started"]) * 1000)),
            "fallback": fallback,
            "text": prepare_text(turn["text"], turn["code_expected"]),
            "reply_text": prepare_text("\n".join(r for r in turn["replies"] if r)) or None,
            "journey_version": load_journey().version,
        }]

    # -- bot-initiated and agent messages ------------------------------------------
    def _message_row(self, sender: str, state: ConversationState, event: Dict[str, Any], stamp: float, actor: str) -> Dict[str, Any]:
        return self._system_like_row(sender, state, stamp, actor, "message", text=prepare_text(event.get("text")))

    def _system_like_row(self, sender: str, state: ConversationState, stamp: float, actor: str, what: str,
                         text: Optional[str] = None) -> Dict[str, Any]:
        reference = conversation_ref(sender)
        return {
            "event_id": event_id(reference, actor, what, stamp, state.goal, state.goal_status, state.handoff),
            "occurred_at": utc(stamp),
            "conversation_id": reference,
            "customer_id": state.customer_id,
            "channel": state.channel,
            "actor": actor,
            "language": state.language,
            "journey_stage": state.journey_stage,
            "intent": None, "intent_confidence": None, "entities": None,
            "actions": [what],
            "goal": state.goal,
            "goal_status": state.goal_status,
            "handoff": state.handoff,
            "sentiment": None, "sentiment_label": None, "latency_ms": None, "fallback": False,
            "text": text, "reply_text": None,
            "journey_version": load_journey().version,
        }

    # -- slots -------------------------------------------------------------------------
    def _apply_slot(self, sender: str, state: ConversationState, name: Optional[str], value: Any, stamp: float) -> List[Dict[str, Any]]:
        if name == "customer_id":
            state.customer_id = value or None
        elif name == "language" and value:
            state.language = value
        elif name == "journey_stage":
            state.journey_stage = value
        elif name == "goal":
            state.goal = value
        elif name == "goal_status":
            changed = value != state.goal_status
            state.goal_status = value
            if changed and value:
                return [self._system_like_row(sender, state, stamp, "system", goal_transition(value))]
        elif name == "requested_slot":
            state.code_asked = value == CODE_SLOT
        elif name == "handoff_active":
            active = bool(value)
            if active != state.handoff:
                state.handoff = active
                return [self._system_like_row(sender, state, stamp, "system", "handoff_started" if active else "handoff_ended")]
        return []
