"""Synthetic but realistic journeys, written as touchpoint rows (demos, benchmarks, tests).

Deterministic: the same `seed`, `customers`, `days` and `start` give the same
rows (and the same event ids), so re-running inserts nothing new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any, Dict, Iterator, List, Optional

from sqlalchemy.engine import Engine

from bot.journey import Journey, load_journey
from bot.touchpoints.store import insert_rows

CHANNELS = (("web", 0.45), ("telegram", 0.35), ("sms", 0.15), ("rest", 0.05))
LANGUAGES = (("fa", 0.75), ("en", 0.25))
ENTRY = (("awareness", 0.6), ("consideration", 0.25), ("retention", 0.15))
# Chance to go on from a stage to the next one (awareness -> consideration, …).
ADVANCE = {"awareness": 0.7, "consideration": 0.55, "decision": 0.6, "retention": 0.45, "advocacy": 0.0}
TEXTS = {
    "fa": {"greet": "سلام", "inform": "بله، همینه", "stop": "بیخیال", "request_human": "می‌خوام با اپراتور صحبت کنم",
           "nlu_fallback": "اوووم یه چیزی", "csat": "خیلی خوب بود، {n} از ۵", "nps": "از ۱۰ بهتون {n} می‌دم",
           "goal": "درباره‌ی {goal} سوال دارم", "agent": "سلام، من همکار پشتیبانی هستم"},
    "en": {"greet": "hi", "inform": "yes, that one", "stop": "never mind", "request_human": "let me talk to a human",
           "nlu_fallback": "hmm something", "csat": "it was ok, {n} out of 5", "nps": "I'd give you {n} out of 10",
           "goal": "a question about {goal}", "agent": "Hi, I'm from the support team"},
}


def _pick(rng: random.Random, options) -> str:
    x, total = rng.random(), 0.0
    for value, weight in options:
        total += weight
        if x < total:
            return value
    return options[-1][0]


class _Writer:
    """Builds rows for one conversation, keeping its state like the assembler does."""

    def __init__(self, sim: "Simulator", conversation_id: str, channel: str, language: str,
                 customer_id: Optional[str], at: dt.datetime) -> None:
        self.sim, self.conversation_id, self.channel, self.language = sim, conversation_id, channel, language
        self.customer_id_later, self.customer_id = customer_id, None
        self.at, self.stage, self.goal, self.goal_status, self.handoff = at, None, None, None, False

    def _row(self, actor: str, actions: List[str], **extra: Any) -> Dict[str, Any]:
        row = {
            "event_id": self.sim.next_id(), "occurred_at": self.at, "conversation_id": self.conversation_id,
            "customer_id": self.customer_id, "channel": self.channel, "actor": actor, "language": self.language,
            "journey_stage": self.stage, "intent": None, "intent_confidence": None, "entities": None,
            "actions": actions, "goal": self.goal, "goal_status": self.goal_status, "handoff": self.handoff,
            "sentiment": None, "sentiment_label": None, "latency_ms": None, "fallback": False,
            "text": None, "reply_text": None, "journey_version": self.sim.journey.version,
        }
        row.update(extra)
        self.sim.rows.append(row)
        return row

    def tick(self, low: float = 5, high: float = 90) -> None:
        self.at += dt.timedelta(seconds=self.sim.rng.uniform(low, high))

    def system(self, what: str) -> None:
        self.at += dt.timedelta(milliseconds=50)
        self._row("system", [what])

    def customer(self, intent: str, actions: List[str], text: str, entities: Optional[list] = None,
                 stage: Optional[str] = None, fallback: bool = False) -> None:
        rng = self.sim.rng
        if self.customer_id_later and self.customer_id is None and rng.random() < 0.5:
            self.customer_id = self.customer_id_later  # verified during this conversation
        self._row("customer", actions, intent=intent, journey_stage=stage or self.stage,
                  intent_confidence=round(rng.uniform(0.2, 0.5) if fallback else rng.uniform(0.6, 0.99), 3),
                  entities=entities or [], fallback=fallback, text=text,
                  latency_ms=int(rng.lognormvariate(5.5, 0.5)), sentiment=round(rng.uniform(-1, 1), 2))
        self.tick()

    def turn(self, intent: str, actions: List[str], text: str, *, goal: Optional[str] = None,
             status: Optional[str] = None, handoff: Optional[bool] = None, entities: Optional[list] = None,
             stage: Optional[str] = None) -> None:
        """A customer turn whose row carries the state after it, plus the system rows it caused
        (as the assembler writes them: the customer row at the message time, transitions just after)."""
        old_goal, old_status, old_handoff = self.goal, self.goal_status, self.handoff
        if goal is not None:
            self.goal = goal
        if status is not None:
            self.goal_status = status
        if handoff is not None:
            self.handoff = handoff
        at = self.at
        self.customer(intent, actions, text, entities=entities, stage=stage)
        after, self.at = self.at, at
        if goal is not None and goal != old_goal and old_goal and old_status == "started":
            self.goal, self.goal_status = old_goal, "abandoned"
            self.system("goal_abandoned")
            self.goal, self.goal_status = goal, status
        if status is not None and (status != old_status or goal != old_goal):
            self.system(f"goal_{status}")
        if handoff is not None and handoff != old_handoff:
            self.system("handoff_started" if handoff else "handoff_ended")
        self.at = after


class Simulator:
    """Generates plausible touchpoint rows for many customers, so the analytics and the report can be shown
    and tested without real traffic."""

    def __init__(self, seed: int, journey: Journey) -> None:
        self.seed, self.rng, self.journey = seed, random.Random(seed), journey
        self.rows: List[Dict[str, Any]] = []
        self._counter = 0
        self.goals_by_stage: Dict[str, List[str]] = {}
        for name, goal in journey.goals.items():
            self.goals_by_stage.setdefault(goal.stage, []).append(name)
        self.intents_by_goal: Dict[str, List[str]] = {}
        for intent, goal in journey.intent_goal.items():
            self.intents_by_goal.setdefault(goal, []).append(intent)

    def next_id(self) -> str:
        self._counter += 1
        return "sim-" + hashlib.sha256(f"{self.seed}|{self._counter}".encode()).hexdigest()[:36]

    def customer(self, index: int, start: dt.datetime, days: int) -> None:
        rng = self.rng
        channel, language = _pick(rng, CHANNELS), _pick(rng, LANGUAGES)
        customer_id = f"SIM{self.seed}-{index:06d}" if rng.random() < 0.6 else None
        stages = self.journey.stage_names
        stage = _pick(rng, ENTRY)
        path = [stage]
        while rng.random() < ADVANCE.get(stage, 0) and stages.index(stage) + 1 < len(stages):
            stage = stages[stages.index(stage) + 1]
            path.append(stage)
        at = start + dt.timedelta(seconds=rng.uniform(0, max(days, 1) * 86400 * 0.9))
        writer = self._conversation(index, 0, channel, language, customer_id, at)
        for n, stage in enumerate(path):
            if n and rng.random() < 0.5:  # come back later, maybe on another channel
                at = writer.at + dt.timedelta(hours=rng.uniform(1, 24 * 5))
                other = _pick(rng, CHANNELS) if rng.random() < 0.3 else channel
                writer = self._conversation(index, n, other, language, customer_id, at)
            self._goal(writer, stage)
        if rng.random() < 0.4:
            writer.customer("goodbye", ["utter_goodbye"], TEXTS[language]["greet"])

    def _conversation(self, index: int, n: int, channel: str, language: str, customer_id: Optional[str],
                      at: dt.datetime) -> _Writer:
        writer = _Writer(self, f"{channel}:sim{self.seed}-{index}-{n}", channel, language,
                         customer_id if self.rng.random() < 0.9 else None, at)
        if self.rng.random() < 0.6:
            writer.customer("greet", ["utter_greet"], TEXTS[language]["greet"])
        return writer

    def _goal(self, w: _Writer, stage: str) -> None:
        rng, texts = self.rng, TEXTS[w.language]
        options = self.goals_by_stage[stage]
        goal = "give_feedback" if "give_feedback" in options and rng.random() < 0.5 else rng.choice(options)
        intent = rng.choice(self.intents_by_goal.get(goal) or [goal])
        done_by = self.journey.goals[goal].completed_by[0]
        w.stage = stage
        if rng.random() < 0.07:
            w.customer("nlu_fallback", ["action_default_fallback"], texts["nlu_fallback"], stage=stage, fallback=True)
        w.turn(intent, [f"utter_ask_{goal}"], texts["goal"].format(goal=goal), goal=goal, status="started", stage=stage)
        steps = rng.randint(0, 2)
        for _ in range(steps):
            if rng.random() < 0.08:
                w.customer("nlu_fallback", ["action_default_fallback"], texts["nlu_fallback"], fallback=True)
            w.customer("inform", [f"utter_ask_{goal}_details"], texts["inform"])
        if rng.random() < 0.06:  # the customer asks for a human; an agent answers and hands back
            w.turn("request_human", ["action_handoff"], texts["request_human"], handoff=True)
            w.tick(30, 600)
            w._row("agent", ["message"], text=texts["agent"])
            w.tick(60, 900)
            w.handoff = False
            w.system("handoff_ended")
            w.tick()
        outcome = rng.random()
        if goal == "give_feedback":
            kind = "nps" if rng.random() < 0.4 else "csat"
            score = rng.choices(range(0, 11), weights=[1, 1, 1, 1, 2, 3, 3, 5, 8, 10, 9])[0] if kind == "nps" \
                else rng.choices(range(1, 6), weights=[1, 2, 3, 6, 8])[0]
            w.turn("inform", [done_by], texts[kind].format(n=score), status="completed",
                   entities=[{"entity": "rating", "value": str(score)}])
        elif outcome < 0.68:
            w.turn("inform" if steps else "affirm", [done_by], texts["inform"], status="completed")
            if rng.random() < 0.2 and "give_feedback" in self.journey.goals:
                self._survey(w)
        elif outcome < 0.8:
            w.turn("inform", [done_by, "utter_goal_failed"], texts["inform"], status="failed")
        elif outcome < 0.9:
            w.turn("stop", ["utter_ok_stopped"], texts["stop"], status="abandoned")
        # else: left open; the customer's next goal (if any) abandons it


    def _survey(self, w: _Writer) -> None:
        """A bot-initiated CSAT/NPS question after a completed goal; most customers answer."""
        rng, texts = self.rng, TEXTS[w.language]
        w.tick(60, 3600)
        w._row("bot", ["message"], text="survey")
        w.tick(10, 600)
        if rng.random() < 0.3:
            return
        kind = "nps" if rng.random() < 0.4 else "csat"
        score = rng.choices(range(0, 11), weights=[1, 1, 1, 1, 2, 3, 3, 5, 8, 10, 9])[0] if kind == "nps" \
            else rng.choices(range(1, 6), weights=[1, 2, 3, 6, 8])[0]
        w.turn("give_feedback", ["action_record_feedback"], texts[kind].format(n=score), goal="give_feedback",
               status="started", stage="advocacy", entities=[{"entity": "rating", "value": str(score)}])
        w.turn("thank_you", ["utter_you_are_welcome"], texts["inform"], status="completed")


def simulate_batches(customers: Optional[int], days: int, seed: int = 1, start: Optional[dt.date] = None,
                     journey: Optional[Journey] = None, max_rows: Optional[int] = None,
                     batch_rows: int = 50_000) -> Iterator[List[Dict[str, Any]]]:
    """The simulated rows in batches of about `batch_rows` (each time-ordered), so millions fit in memory.

    Stops after `customers` customers (None: no limit) or after exactly
    `max_rows` rows, the last customer's journey then cut short. Batches hold
    whole customers, so the rows are those of `simulate_rows` with the same arguments.
    """
    if customers is None and max_rows is None:
        raise ValueError("give customers or max_rows")
    journey = journey or load_journey()
    start = start or (dt.datetime.utcnow().date() - dt.timedelta(days=days))
    sim = Simulator(seed, journey)
    origin = dt.datetime.combine(start, dt.time())
    written, index = 0, 0
    while (customers is None or index < customers) and (max_rows is None or written < max_rows):
        sim.customer(index, origin, days)
        index += 1
        if max_rows is not None and written + len(sim.rows) >= max_rows:
            del sim.rows[max_rows - written:]
        if len(sim.rows) >= batch_rows or (max_rows is not None and written + len(sim.rows) >= max_rows):
            written += len(sim.rows)
            yield sorted(sim.rows, key=_time_order)
            sim.rows = []
    if sim.rows:
        yield sorted(sim.rows, key=_time_order)


def _time_order(row: Dict[str, Any]) -> tuple:
    return row["occurred_at"], row["event_id"]


def simulate_rows(customers: int, days: int, seed: int = 1, start: Optional[dt.date] = None,
                  journey: Optional[Journey] = None) -> List[Dict[str, Any]]:
    """The rows of `customers` simulated customers over `days` days from `start` (default: `days` ago, UTC)."""
    rows = [row for batch in simulate_batches(customers, days, seed, start, journey) for row in batch]
    rows.sort(key=_time_order)
    return rows


def simulate(engine: Engine, customers: int, days: int, seed: int = 1, start: Optional[dt.date] = None,
             batch_size: int = 2000) -> int:
    """Write simulated rows (existing event ids are skipped); returns how many rows are new."""
    written = 0
    for batch in simulate_batches(customers, days, seed, start):
        for i in range(0, len(batch), batch_size):
            written += insert_rows(engine, batch[i:i + batch_size])
    return written
