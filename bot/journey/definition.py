"""Load and validate `journey.yml`, the only copy of the intent -> stage/goal mapping."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from bot import settings


class JourneyDefinitionError(ValueError):
    """journey.yml is inconsistent (unknown stage, goal or duplicate intent)."""


@dataclass(frozen=True)
class Stage:
    """One stage of the customer journey (journey.yml), in order, with its titles."""

    name: str
    order: int
    title: Dict[str, str]


@dataclass(frozen=True)
class Goal:
    """A goal a customer can reach in a stage, and the actions that complete it."""

    name: str
    stage: str
    title: Dict[str, str]
    completed_by: Tuple[str, ...]


@dataclass(frozen=True)
class Journey:
    """journey.yml read and checked: stages, goals, and which intent belongs to which stage and goal."""

    version: int
    stages: Tuple[Stage, ...]
    goals: Dict[str, Goal]
    intent_stage: Dict[str, str]
    intent_goal: Dict[str, str]
    general_intents: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def stage_names(self) -> List[str]:
        return [s.name for s in self.stages]

    @property
    def intents(self) -> List[str]:
        """Every intent the journey knows: staged ones, then general ones."""
        return list(self.intent_stage) + list(self.general_intents)

    def stage_of_intent(self, intent: Optional[str]) -> Optional[str]:
        return self.intent_stage.get(intent or "")

    def goal_of_intent(self, intent: Optional[str]) -> Optional[str]:
        return self.intent_goal.get(intent or "")

    def goal_completed_by(self, action: str) -> List[str]:
        """Goals that `action` completes."""
        return [g.name for g in self.goals.values() if action in g.completed_by]

    def stage_order(self, stage: str) -> int:
        for s in self.stages:
            if s.name == stage:
                return s.order
        raise KeyError(stage)


def parse_journey(data: dict) -> Journey:
    """Build a `Journey` from the YAML mapping, checking every reference."""
    stages = tuple(
        Stage(name=s["name"], order=i, title=dict(s.get("title", {}))) for i, s in enumerate(data["stages"])
    )
    stage_names = {s.name for s in stages}
    goals: Dict[str, Goal] = {}
    for name, g in data["goals"].items():
        if g["stage"] not in stage_names:
            raise JourneyDefinitionError(f"goal {name!r}: unknown stage {g['stage']!r}")
        goals[name] = Goal(name, g["stage"], dict(g.get("title", {})), tuple(g.get("completed_by", [])))
    intent_stage: Dict[str, str] = {}
    intent_goal: Dict[str, str] = {}
    for intent, spec in data["intents"].items():
        if spec["stage"] not in stage_names:
            raise JourneyDefinitionError(f"intent {intent!r}: unknown stage {spec['stage']!r}")
        goal = spec.get("goal")
        if goal is not None:
            if goal not in goals:
                raise JourneyDefinitionError(f"intent {intent!r}: unknown goal {goal!r}")
            intent_goal[intent] = goal
        intent_stage[intent] = spec["stage"]
    general = tuple(data.get("general_intents", []))
    overlap = set(general) & set(intent_stage)
    if overlap:
        raise JourneyDefinitionError(f"intents both general and staged: {sorted(overlap)}")
    return Journey(int(data.get("version", 1)), stages, goals, intent_stage, intent_goal, general)


@functools.lru_cache(maxsize=8)
def load_journey(path: Optional[Path] = None) -> Journey:
    """The journey of `path` (default: the project's journey.yml), cached."""
    with open(path or settings.JOURNEY_FILE, encoding="utf-8") as handle:
        return parse_journey(yaml.safe_load(handle))
