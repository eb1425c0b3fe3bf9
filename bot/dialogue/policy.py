"""`DialogueRepairPolicy`: carries out the dialogue move of each customer message.

The action server decides what a message does to the conversation
(`bot.dialogue.moves`, stored in the `dialogue_move` slot by
`action_validate_slot_mappings`); this policy turns that move into actions,
the same way for every goal:

* `interrupt X`: X's answer (its rule's action; for a product question, the
  goal action of its form), then nothing — Rasa's RulePolicy resumes the
  active form, which asks its question again;
* `leave X`: `action_deactivate_loop`, then X's rule (goodbye, thanks, stop,
  a person, or another goal's form);
* `repeat`: `action_repeat_last`;
* `clarify X…`: `action_clarify` (which of X…, as buttons);
* `hold`: `action_hold` ("take your time"), then the form asks again;
* `redo X…` and `start X Y…`: the rules of X, Y… in order; an `utter_…` among
  them is a response said as it is (one no intent starts, such as the reply to
  a declined proactive message, actions/proactive.py).

`answer`, and `start` of the message's own intent, are left to the rules and
forms (RulePolicy). Which action or form an intent starts, and which action
ends a form, is read from the rules at training time (`data/rules.yml` is
the one place that says it); nothing is repeated here.

Add to config.yml's policies (no training data of its own):

    - name: bot.dialogue.policy.DialogueRepairPolicy
      priority: 7          # above RulePolicy (6), below HandoffPolicy

Predictions are "no user" predictions with confidence 1, like the RulePolicy's
active-loop predictions they have to overrule.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME, RULE_SNIPPET_ACTION_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue.moves import CLARIFY, HOLD, INTERRUPT, LEAVE, REDO, REPEAT, START, Move

MOVE_SLOT = "dialogue_move"
DEACTIVATE = "action_deactivate_loop"
REPEAT_ACTION = "action_repeat_last"
CLARIFY_ACTION = "action_clarify"
HOLD_ACTION = "action_hold"
ROUTES_FILE = "routes.json"
RESPONSE = "utter_"   # a move's item naming a response of the domain rather than an intent


class Routes:
    """What the rules say: intent -> first action or form; form -> action that ends it."""

    def __init__(self, starts: Dict[str, str], completions: Dict[str, str], forms: List[str]) -> None:
        self.starts = starts
        self.completions = completions
        self.forms = set(forms)

    @classmethod
    def from_rules(cls, trackers: List[TrackerWithCachedStates], domain: Domain) -> "Routes":
        starts: Dict[str, str] = {}
        completions: Dict[str, str] = {}
        for tracker in trackers:
            if not tracker.is_rule_tracker:
                continue
            events = list(tracker.events)
            kinds = [(type(e).__name__, getattr(e, "action_name", None)) for e in events[:2]]
            if kinds == [("ActionExecuted", RULE_SNIPPET_ACTION_NAME), ("ActionExecuted", ACTION_LISTEN_NAME)] \
                    and len(events) > 3 and isinstance(events[2], UserUttered) \
                    and isinstance(events[3], ActionExecuted) and events[2].intent_name:
                starts.setdefault(events[2].intent_name, events[3].action_name)
            elif len(events) > 2 and isinstance(events[0], ActiveLoop) and events[0].name \
                    and isinstance(events[2], ActionExecuted) and events[2].action_name == events[0].name:
                after = [e for e in events[3:] if isinstance(e, ActionExecuted)]
                if after and after[0].action_name != ACTION_LISTEN_NAME:
                    completions[events[0].name] = after[0].action_name
        return cls(starts, completions, list(domain.form_names))

    def as_dict(self) -> Dict[str, Any]:
        return {"starts": self.starts, "completions": self.completions, "forms": sorted(self.forms)}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Routes":
        return cls(dict(data.get("starts") or {}), dict(data.get("completions") or {}), list(data.get("forms") or []))

    def answer_inside_form(self, intent: str) -> Optional[str]:
        """The one action that answers `intent` while another form is active ("thanks" there is a
        plain "you're welcome", not "anything else?": the form's question comes next)."""
        if intent.startswith(RESPONSE):
            return intent   # a response no intent starts ("why do you need my number?")
        start = self.starts.get(intent)
        answer = self.completions.get(start) if start in self.forms else start
        return IN_FORM_VARIANTS.get(answer or "", answer)


# Answers that, inside a form, have a variant without the closing question of their own.
IN_FORM_VARIANTS = {"utter_you_are_welcome": "utter_you_are_welcome_in_form"}


def plan(move: Move, routes: Routes, message_intent: Optional[str]) -> List[str]:
    """The actions that carry out `move`, in order; [] leaves it to the rules (an
    answer to a form, or a start of what the message itself asked)."""
    if move.kind == REPEAT:
        return [REPEAT_ACTION, ACTION_LISTEN_NAME]
    if move.kind == CLARIFY:
        return [CLARIFY_ACTION, ACTION_LISTEN_NAME]
    if move.kind == HOLD:
        return [HOLD_ACTION]        # then RulePolicy resumes the form, which asks again
    if move.kind == INTERRUPT:
        answers = [routes.answer_inside_form(intent) for intent in move.intents]
        return [a for a in answers if a]          # then RulePolicy resumes the form
    if move.kind in (LEAVE, REDO, START):
        if move.kind == START and move.intents == (message_intent,):
            return []
        steps = [routes.starts.get(i) or i for i in move.intents if i in routes.starts or i.startswith(RESPONSE)]
        if move.kind == LEAVE:
            steps.insert(0, DEACTIVATE)
        if steps and steps[-1] not in routes.forms:
            steps.append(ACTION_LISTEN_NAME)
        return steps
    return []


def actions_since_user(tracker: DialogueStateTracker) -> List[str]:
    """Names of the actions run since the customer's latest message."""
    names: List[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted) and event.action_name:
            names.append(event.action_name)
    return names[::-1]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class DialogueRepairPolicy(Policy):
    """The Rasa policy that carries out the dialogue move of a message (side question, leaving, repeat,
    correction, several requests) so a form is not derailed."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 7}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, featurizer: Any = None,
                 routes: Optional[Routes] = None) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.routes = routes or Routes({}, {}, [])

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        self.routes = Routes.from_rules(training_trackers, domain)
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as path:
            (path / ROUTES_FILE).write_text(json.dumps(self.routes.as_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "DialogueRepairPolicy":
        routes = None
        try:
            with model_storage.read_from(resource) as path:
                routes = Routes.from_dict(json.loads((path / ROUTES_FILE).read_text(encoding="utf-8")))
        except (ValueError, FileNotFoundError):
            routes = None
        return cls(config, model_storage, resource, execution_context, routes=routes)

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self.next_action(tracker)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, is_no_user_prediction=True)

    def next_action(self, tracker: DialogueStateTracker) -> Optional[str]:
        """The next step of the current message's move, or None to let the other policies decide."""
        if tracker.latest_message is None or tracker.latest_message.intent_name is None:
            return None
        move = Move.decode(tracker.get_slot(MOVE_SLOT))
        if move is None:
            return None
        steps = plan(move, self.routes, tracker.latest_message.intent_name)
        done = actions_since_user(tracker)
        if len(done) >= len(steps) or steps[: len(done)] != done:
            return None
        return steps[len(done)]
