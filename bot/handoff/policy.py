"""`HandoffPolicy`: keeps the bot silent while a person has the conversation, and hands off automatically.

Add it to `config.yml` under `policies` (it needs no training data):

    - name: bot.handoff.policy.HandoffPolicy
      priority: 8              # above RulePolicy (6) and DialogueRepairPolicy (7)
      fallbacks_in_a_row: 2    # HAMSAFAR_HANDOFF_AFTER_FALLBACKS overrides at run time; 0 = never

It predicts, with confidence 1 and as a "no-user" prediction (which Rasa's ensemble
lets overrule every other policy, rules included):

* `action_listen` whenever slot `handoff_active` is true: the customer's message is
  recorded (tracker, touchpoints, console) but the bot does nothing — not even for
  an intent such as `restart` or `session_start` that somehow reached it;
* `action_listen` right after `action_request_human` (it answered already);
* `action_request_human` after a customer message marked `frustrated` by
  `bot.handoff.sentiment.SentimentAnalyzer`, or after N messages in a row that
  were not understood (`nlu_fallback`);
* otherwise nothing (all zeros): the other policies decide.

A session that expires keeps the slot (`carry_over_slots_to_new_session`), so it
does not bring the bot back either; `tests/test_handoff_policy.py` checks it.

The handoff queue (`handoff_conversations`) is the source of truth, the slot only its
copy in the tracker (security finding 8 of issue 17). On a customer message while
`handoff_active` is set, once the handoff is older than the claim timeout
(`HAMSAFAR_HANDOFF_CLAIM_TIMEOUT`, when an unclaimed one is timed out anyway; a copy
carried into a new session counts as old), the policy asks the queue whether the
conversation is still waiting or with an agent. If it is not — the queue insert failed,
a hand-back or a bulk time-out updated the queue and died before the tracker — it
predicts `action_request_human`, which gives the conversation back to the bot
(actions/handoff.py). A database that cannot answer keeps the bot listening (an agent
may have the conversation); the next message asks again. Conversations without the slot
never cost a query.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.handoff import config as handoff_config

logger = logging.getLogger(__name__)

HANDOFF_SLOT = "handoff_active"
REQUEST_ACTION = "action_request_human"
FALLBACK_INTENT = "nlu_fallback"


MOVE_SLOT = "dialogue_move"   # set by the action server for a message the conversation understood


def consecutive_fallbacks(tracker: DialogueStateTracker) -> int:
    """Customer messages in a row, newest first, that were not understood (this session, since
    the last handoff). A message the NLU did not classify but the conversation understood — a
    bare product name, "I'll take this one" after a price (a `dialogue_move` was set for it,
    bot/dialogue) — is understood."""
    count = 0
    repaired = False   # a dialogue move was set after the user message being looked at
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        if isinstance(event, SlotSet) and event.key == HANDOFF_SLOT:
            break
        if isinstance(event, ActionExecuted) and event.action_name == REQUEST_ACTION:
            break
        if isinstance(event, SlotSet) and event.key == MOVE_SLOT and event.value:
            repaired = True
        if isinstance(event, UserUttered):
            if (event.intent or {}).get("name") == FALLBACK_INTENT and not repaired:
                count += 1
            else:
                break
            repaired = False
    return count


# Ordinary conversational turns: a goodbye, thanks, "no", "what?" or a correction is never
# frustration, however the sentiment model scores its words ("never mind, bye").
CONVERSATIONAL_INTENTS = frozenset({"goodbye", "thank_you", "stop", "affirm", "deny", "greet", "inform",
                                    "switch_language", "bot_challenge"})
CONVERSATIONAL_MOVES = ("repeat", "redo", "leave stop", "leave goodbye", "leave thank_you", "start stop",
                        "start goodbye")   # leaving a form, however grumpily ("ugh, no time for this now")


def is_frustrated(tracker: DialogueStateTracker) -> bool:
    """The latest message is upset enough to hand the conversation to a person."""
    message = tracker.latest_message
    if message is None:
        return False
    if message.intent_name in CONVERSATIONAL_INTENTS:
        return False
    if str(tracker.get_slot(MOVE_SLOT) or "").startswith(CONVERSATIONAL_MOVES):
        return False
    from bot.dialogue import cues

    if cues.wants_it(message.text or "") or cues.acknowledges(message.text or ""):
        return False   # "nice, I'll take this one" is a sale, whatever the sentiment model scores
    if tracker.get_slot("requested_slot") in ("phone_number", "otp_code") and cues.code_did_not_arrive(message.text or ""):
        # «یه بار دیگه بفرست», "the code didn't come" while verifying: the bot sends it again, no person
        # needed («سفارشم نرسیده!!!» elsewhere is no code)
        return False
    if cues.says_goodbye(message.text or "") or cues.wants_to_stop(message.text or "", strong_only=True):
        return False   # a goodbye is never frustration (issue 15): the customer is leaving, not asking for help
    sentiment = (message.parse_data or {}).get("sentiment") or {}
    return bool(sentiment.get("frustrated"))


def decide(tracker: DialogueStateTracker, fallbacks_in_a_row: int, on_frustration: bool) -> Optional[str]:
    """The action this policy insists on, or None."""
    if tracker.get_slot(HANDOFF_SLOT):
        return ACTION_LISTEN_NAME
    latest_action = tracker.latest_action_name
    if latest_action == REQUEST_ACTION:
        return ACTION_LISTEN_NAME
    if latest_action != ACTION_LISTEN_NAME or tracker.latest_message is None or not tracker.latest_message.text:
        return None
    if on_frustration and is_frustrated(tracker):
        return REQUEST_ACTION
    if fallbacks_in_a_row > 0 and consecutive_fallbacks(tracker) >= fallbacks_in_a_row:
        return REQUEST_ACTION
    return None


def handoff_started_at(tracker: DialogueStateTracker) -> Optional[float]:
    """When the current handoff began, as far as the tracker shows: the time of the first
    `handoff_active = true` of the current run; None when only a copy carried into a new
    session is visible (Rasa's SQL tracker store loads the latest session only)."""
    events = list(tracker.events)
    started: Optional[float] = None
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if not (isinstance(event, SlotSet) and event.key == HANDOFF_SLOT):
            continue
        if not event.value:
            break
        before = index - 1
        while before >= 0 and isinstance(events[before], SlotSet):
            before -= 1
        carried = before >= 0 and isinstance(events[before], SessionStarted)
        started = None if carried else event.timestamp
    return started


def handoff_lost(tracker: DialogueStateTracker, is_open: Callable[[str], bool],
                 trust_for_seconds: float, now: Optional[float] = None) -> bool:
    """`handoff_active` is set but the queue has no open handoff for the conversation.

    Asked only on a customer message (the latest action is `action_listen`) and only once the
    handoff is older than `trust_for_seconds`: until then the slot is trusted without a query.
    A queue that cannot answer is not a lost handoff (the bot keeps listening)."""
    if not tracker.get_slot(HANDOFF_SLOT) or tracker.latest_action_name != ACTION_LISTEN_NAME:
        return False
    if tracker.latest_message is None:
        return False
    started = handoff_started_at(tracker)
    if started is not None and (now if now is not None else time.time()) - started < trust_for_seconds:
        return False
    try:
        return not is_open(tracker.sender_id)
    except Exception:  # noqa: BLE001 - database unavailable: keep listening, ask again on the next message
        logger.exception("handoff queue unavailable; %s stays handed off for now", tracker.sender_id)
        return False


def queue_has_open_handoff(conversation_id: str) -> bool:
    """Is the conversation waiting in the queue or with an agent? (Raises if the database cannot say.)"""
    from bot.handoff.service import open_handoff

    return open_handoff(conversation_id) is not None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class HandoffPolicy(Policy):
    """The Rasa policy that keeps the bot silent while a person has the conversation, and hands over after
    repeated fallbacks or frustration."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 8, "fallbacks_in_a_row": 2, "on_frustration": True}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, featurizer: Any = None) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        fallbacks = handoff_config.fallbacks_before_handoff(int(self.config.get("fallbacks_in_a_row", 2)))
        on_frustration = bool(self.config.get("on_frustration", True)) and handoff_config.handoff_on_frustration()
        action = decide(tracker, fallbacks, on_frustration)
        if action == ACTION_LISTEN_NAME and handoff_lost(tracker, queue_has_open_handoff,
                                                         handoff_config.claim_timeout_seconds()):
            action = REQUEST_ACTION   # gives the conversation back to the bot (actions/handoff.py)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, is_no_user_prediction=True)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "HandoffPolicy":
        return cls(config, model_storage, resource, execution_context)

    def persist(self) -> None:  # nothing learnt
        return None
