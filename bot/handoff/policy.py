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
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

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


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class HandoffPolicy(Policy):
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
