"""The metrics of docs/metrics.md, computed from the facts `bot.analytics.data` reads with SQL.

Every function takes an engine and `Filters` and returns plain lists of
dicts, one per output line, ready for a table, CSV, JSON or the HTML report.
The database does the counting over the touchpoints; this module holds the
definitions (stage order and window, which action is a transition, what a
feedback answer is) and combines the small results.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from sqlalchemy.engine import Engine

from bot.analytics import data
from bot.analytics.data import Filters
from bot.journey import Journey

GOAL_EVENTS = {"goal_started": "started", "goal_completed": "completed", "goal_failed": "failed",
               "goal_abandoned": "abandoned", "goal_suspended": "suspended", "goal_resumed": "resumed"}
FEEDBACK_GOAL = "give_feedback"
FEEDBACK_INTENT = "give_feedback"
ALL = "all"
UNITS = ("customer", "conversation")
MODES = ("strict", "any-order")
# Words that mark a 0–10 "would you recommend" answer (same idea as actions.advocacy.feedback_kind).
NPS_WORDS = re.compile(r"recommend|nps|توصیه|معرفی|out of 10|/10|0 ?(?:-|to|تا) ?10|از ?(?:10|۱۰)", re.IGNORECASE)


# --------------------------------------------------------------------------- helpers
def ratio(numerator: float, denominator: float) -> Optional[float]:
    return numerator / denominator if denominator else None


def rating_of(row: Dict[str, Any]) -> Optional[Tuple[str, int]]:
    """(`csat`|`nps`, score) for a feedback answer on a customer row, else None."""
    if row["actor"] != "customer":
        return None
    if row["intent"] != FEEDBACK_INTENT and row["goal"] != FEEDBACK_GOAL:
        return None
    for entity in row["entities"] or []:
        if entity.get("entity") != "rating":
            continue
        try:
            score = int(str(entity.get("value")).strip())
        except (TypeError, ValueError):
            continue
        if not 0 <= score <= 10:
            continue
        if score == 0 or score > 5 or NPS_WORDS.search(row.get("text") or ""):
            return "nps", score
        return "csat", score
    return None


def step_label(intent: Optional[str], actions: Optional[List[Any]]) -> str:
    """`intent → last action` of the turn where an abandoned goal stopped."""
    actions = [a for a in actions or [] if a]
    return f"{intent or '-'} → {actions[-1] if actions else '-'}"


# --------------------------------------------------------------------------- funnel
MICROSECOND = dt.timedelta(microseconds=1)


def _stage_firsts(rows: Sequence[Tuple[str, str, int]], owner: Dict[str, str], index: Dict[str, int],
                  unit: str, reached_any: List[int]) -> Dict[str, List[Optional[int]]]:
    """unit -> its first message time (µs) in each stage, None where it has none; counts the
    units reaching each stage into `reached_any`."""
    firsts: Dict[str, List[Optional[int]]] = {}
    by_customer = unit == "customer"
    owner_of = owner.get
    for conversation, stage, first in rows:
        name = (by_customer and owner_of(conversation)) or "conversation:" + conversation
        times = firsts.get(name)
        k = index[stage]
        if times is None:
            times = firsts[name] = [None] * len(index)
        elif times[k] is not None:
            if first < times[k]:
                times[k] = first
            continue
        times[k] = first
        reached_any[k] += 1
    return firsts


def _strict_chain(firsts: List[Optional[int]]) -> Optional[List[int]]:
    """t1, t2, … of the strict funnel (tk = first stage-k message at or after t(k-1)) from the
    first message of each stage (t1 must exist), or None when a stage's first message comes
    before t(k-1): whether a later one follows, only the messages themselves can tell."""
    chain = [firsts[0]]
    for first in firsts[1:]:
        if first is None:
            break
        if first < chain[-1]:
            return None
        chain.append(first)
    return chain


def _within(chain: List[int], window: int) -> List[int]:
    """The chain up to its first time past t1 + window: each chain time is the earliest
    candidate, so one past the deadline means no message of that stage in the window."""
    deadline = chain[0] + window
    return [when for when in chain if when <= deadline]


def _strict_chain_of_messages(times: List[List[int]]) -> List[int]:
    """The same chain from every message time of each stage."""
    chain: List[int] = []
    for stage_times in times:
        candidates = [t for t in stage_times if not chain or t >= chain[-1]]
        if not candidates:
            break
        chain.append(min(candidates))
    return chain


def funnel(engine: Engine, journey: Journey, unit: str = "customer", mode: str = "strict",
           window_days: float = 30, filters: Filters = Filters()) -> List[Dict[str, Any]]:
    """Units reaching each stage in journey order within `window_days`; see docs/metrics.md#funnel."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    stages = journey.stage_names
    index = {s: k for k, s in enumerate(stages)}
    owner, rows = data.concurrently(engine,
                                    lambda: data.owners(engine, filters) if unit == "customer" else {},
                                    lambda: data.stage_groups(engine, filters, stages))
    window = dt.timedelta(days=window_days) // MICROSECOND
    counts = [0] * len(stages)
    reached_any = [0] * len(stages)
    gaps: List[List[float]] = [[] for _ in stages]
    units = _stage_firsts(rows, owner, index, unit, reached_any)

    def count(completion: List[int]) -> None:
        for k, when in enumerate(completion):
            counts[k] += 1
            if k:
                gaps[k].append((when - completion[k - 1]) / 1_000_000)

    unsure = []
    if mode == "strict":
        for name, firsts in units.items():
            if firsts[0] is not None:  # units without a first-stage message are not in the funnel
                chain = _strict_chain(firsts)
                if chain is None:
                    unsure.append(name)
                else:
                    count(_within(chain, window))
    else:
        for firsts in units.values():
            deadline = min(t for t in firsts if t is not None) + window
            completion: List[int] = []
            for first in firsts:
                if first is None or first > deadline:
                    break
                completion.append(max(completion[-1], first) if completion else first)
            count(completion)
    if unsure:  # the few units whose first times cannot settle the order: use every message
        names = set(unsure)
        unit_of = {conv: name for conv, name in owner.items() if name in names}
        unit_of.update((name[len("conversation:"):], name) for name in names if name.startswith("conversation:"))
        times: Dict[str, List[List[int]]] = {name: [[] for _ in stages] for name in unsure}
        for conversation, stage, when in data.stage_messages(engine, filters, stages, unit_of):
            times[unit_of[conversation]][index[stage]].append(when)
        for name in unsure:
            chain = _strict_chain_of_messages(times[name])
            if chain:
                count(_within(chain, window))
    out: List[Dict[str, Any]] = []
    for k, stage in enumerate(journey.stages):
        previous = counts[k - 1] if k else None
        out.append({
            "stage": stage.name, "order": k + 1,
            "title_en": stage.title.get("en", stage.name), "title_fa": stage.title.get("fa", stage.name),
            "units": counts[k],
            "reached_any": reached_any[k],
            "conversion": ratio(counts[k], previous) if k else None,
            "drop_off": (previous - counts[k]) if k else None,
            "drop_off_rate": (1 - ratio(counts[k], previous)) if k and previous else None,
            "conversion_from_first": ratio(counts[k], counts[0]),
            "median_seconds_from_previous": statistics.median(gaps[k]) if gaps[k] else None,
        })
    return out


# --------------------------------------------------------------------------- goals
def goals(engine: Engine, journey: Journey, top_steps: int = 3, filters: Filters = Filters()) -> List[Dict[str, Any]]:
    """Per goal: started/completed/failed/abandoned transitions and where abandoned goals stopped."""
    transitions, abandoned = data.concurrently(engine,
                                              lambda: data.transition_cells(engine, filters),
                                              lambda: data.abandon_steps(engine, filters))
    counts: Dict[str, Counter] = defaultdict(Counter)
    for transition, goal, _channel, _language, n in transitions:
        if transition in GOAL_EVENTS:
            counts[goal][GOAL_EVENTS[transition]] += n
    steps: Dict[str, Counter] = defaultdict(Counter)
    for goal, found, intent, actions, n in abandoned:
        label = step_label(intent, _list(actions)) if found else "(before the period)"
        steps[goal][label] += n
    names = list(journey.goals) + sorted(g for g in counts if g not in journey.goals)
    out = []
    for name in names:
        c = counts.get(name, Counter())
        goal = journey.goals.get(name)
        out.append({
            "goal": name, "stage": goal.stage if goal else None,
            "title_en": goal.title.get("en", name) if goal else name,
            "title_fa": goal.title.get("fa", name) if goal else name,
            "started": c["started"], "completed": c["completed"], "failed": c["failed"], "abandoned": c["abandoned"],
            "suspended": c["suspended"], "resumed": c["resumed"],
            "completion_rate": ratio(c["completed"], c["started"]),
            "abandon_rate": ratio(c["abandoned"], c["started"]),
            "abandoned_at": [{"step": s, "count": n} for s, n in
                             sorted(steps[name].items(), key=lambda item: (-item[1], item[0]))[:top_steps]],
        })
    return out


def _list(text: Optional[str]) -> List[Any]:
    value = json.loads(text) if isinstance(text, str) else text
    return value if isinstance(value, list) else []


# --------------------------------------------------------------------------- KPIs
Cell = Tuple[str, str]  # (channel, language) with "unknown" for a missing language


@dataclass
class KpiFacts:
    """What the KPIs need, per (channel, language) cell; summed into any grouping."""

    messages: Counter            # cell -> customer rows
    fallbacks: Counter           # cell -> customer rows with fallback
    goals_started: Counter       # cell -> goal_started rows
    goals_completed: Counter     # cell -> goal_completed rows
    completed_with_human: Counter  # cell -> goal_completed rows in conversations with a human
    customers: Dict[Cell, Set[str]]  # cell -> customer ids on its rows
    conversations: Counter       # conversation cell (its channel and language) -> conversations
    handoff_conversations: Counter  # conversation cell -> conversations with a handoff
    ratings: List[Tuple[Cell, str, int]]  # (row cell, csat|nps, score)

    @classmethod
    def load(cls, engine: Engine, filters: Filters = Filters()) -> "KpiFacts":
        message_cells, transition_cells, handoff_conversations, completions_with_human, conversation_cells, \
            feedback_rows = data.concurrently(engine, *[lambda query=query: query(engine, filters) for query in (
                data.message_cells, data.transition_cells, data.handoff_conversations, data.completions_with_human,
                data.conversation_cells, data.feedback_rows)])
        messages, fallbacks, started, completed = Counter(), Counter(), Counter(), Counter()
        for channel, language, fallback, n in message_cells:
            messages[_row_cell(channel, language)] += n
            fallbacks[_row_cell(channel, language)] += n if fallback else 0
        for transition, _goal, channel, language, n in transition_cells:
            if transition == "goal_started":
                started[_row_cell(channel, language)] += n
            elif transition == "goal_completed":
                completed[_row_cell(channel, language)] += n
        handoffs = set(handoff_conversations)
        with_human = Counter()
        for channel, language, n in completions_with_human:
            with_human[_row_cell(channel, language)] += n
        customers, first_cells = _conversation_facts(engine, filters, conversation_cells)
        conversations, with_handoff = Counter(), Counter()
        for conversation, cell in first_cells.items():
            conversations[cell] += 1
            if conversation in handoffs:
                with_handoff[cell] += 1
        ratings = []
        for row in feedback_rows:
            rated = rating_of(row)
            if rated:
                ratings.append((_row_cell(row["channel"], row["language"]), rated[0], rated[1]))
        return cls(messages, fallbacks, started, completed, with_human, customers, conversations, with_handoff, ratings)


def _conversation_facts(engine: Engine, filters: Filters, cells: Sequence[Tuple[str, str, Optional[str], Optional[str]]]
                        ) -> Tuple[Dict[Cell, Set[str]], Dict[str, Cell]]:
    """From distinct (conversation, channel, language, customer): the customers of each row cell, and
    each conversation's cell (channel of its first row, language of its first row with one, else "unknown")."""
    customers: Dict[Cell, Set[str]] = defaultdict(set)
    seen: Dict[str, Tuple[str, Optional[str]]] = {}
    mixed = set()
    for conversation, channel, language, customer in cells:
        if customer:
            customers[_row_cell(channel, language)].add(customer)
        known = seen.get(conversation)
        if known is None:
            seen[conversation] = (channel, language or None)
        elif known[0] != channel or (language and known[1] and language != known[1]):
            mixed.add(conversation)  # rows disagree: only their order can tell
        elif language and not known[1]:
            seen[conversation] = (channel, language)
    seen.update(data.first_channel_language(engine, filters, mixed))
    return customers, {conversation: (channel, language or "unknown") for conversation, (channel, language) in seen.items()}


def _row_cell(channel: Optional[str], language: Optional[str]) -> Cell:
    return channel or "unknown", language or "unknown"


def kpis(engine: Engine, dimensions: Sequence[str] = (), filters: Filters = Filters(),
         facts: Optional[KpiFacts] = None) -> List[Dict[str, Any]]:
    """Fallback, handoff, containment, CSAT and NPS per group of `dimensions` (channel, language).

    Conversation-level figures (conversations, handoff rate) use the
    conversation's channel and first language; row-level figures (messages,
    fallbacks, goals, ratings) use the row's own channel and language.
    """
    for d in dimensions:
        if d not in ("channel", "language"):
            raise ValueError(f"unknown dimension {d!r}")
    facts = facts or KpiFacts.load(engine, filters)

    def key(cell: Cell) -> Tuple[str, ...]:
        return tuple({"channel": cell[0], "language": cell[1]}[d] for d in dimensions)

    groups: Dict[Tuple[str, ...], Dict[str, Any]] = defaultdict(
        lambda: {"conversations": 0, "handoffs": 0, "customers": set(), "messages": 0, "fallbacks": 0,
                 "started": 0, "completed": 0, "contained": 0, "csat": [], "nps": []})
    for cell, n in facts.conversations.items():
        g = groups[key(cell)]
        g["conversations"] += n
        g["handoffs"] += facts.handoff_conversations.get(cell, 0)
    for cell, customers in facts.customers.items():
        groups[key(cell)]["customers"] |= customers
    for counter, name in ((facts.messages, "messages"), (facts.fallbacks, "fallbacks"),
                          (facts.goals_started, "started"), (facts.goals_completed, "completed")):
        for cell, n in counter.items():
            groups[key(cell)][name] += n
    for cell, n in facts.goals_completed.items():
        groups[key(cell)]["contained"] += n - facts.completed_with_human.get(cell, 0)
    for cell, kind, score in facts.ratings:
        groups[key(cell)][kind].append(score)
    out = []
    for k in sorted(groups):
        g = groups[k]
        conversations = g["conversations"]
        csat, nps = g["csat"], g["nps"]
        promoters = sum(1 for s in nps if s >= 9)
        detractors = sum(1 for s in nps if s <= 6)
        line: Dict[str, Any] = dict(zip(dimensions, k))
        line.update({
            "conversations": conversations,
            "customers": len(g["customers"]),
            "customer_messages": g["messages"],
            "fallbacks": g["fallbacks"],
            "fallback_rate": ratio(g["fallbacks"], g["messages"]),
            "handoff_conversations": g["handoffs"],
            "handoff_rate": ratio(g["handoffs"], conversations),
            "goals_started": g["started"],
            "goals_completed": g["completed"],
            "goal_completion_rate": ratio(g["completed"], g["started"]),
            "contained_goals": g["contained"],
            "containment_rate": ratio(g["contained"], g["started"]),
            "csat_responses": len(csat),
            "csat_mean": statistics.fmean(csat) if csat else None,
            "csat_satisfied": ratio(sum(1 for s in csat if s >= 4), len(csat)),
            "nps_responses": len(nps),
            "promoters": ratio(promoters, len(nps)),
            "detractors": ratio(detractors, len(nps)),
            "nps": (100.0 * (promoters - detractors) / len(nps)) if nps else None,
        })
        out.append(line)
    return out


def kpi_overview(engine: Engine, filters: Filters = Filters(), facts: Optional[KpiFacts] = None) -> List[Dict[str, Any]]:
    """`hamsafar analytics kpis`: all rows, then per channel, then per language."""
    facts = facts or KpiFacts.load(engine, filters)
    out = []
    for line in kpis(engine, (), facts=facts):
        out.append({"channel": ALL, "language": ALL, **line})
    for line in kpis(engine, ("channel",), facts=facts):
        out.append({"channel": line.pop("channel"), "language": ALL, **line})
    for line in kpis(engine, ("language",), facts=facts):
        out.append({"channel": ALL, "language": line.pop("language"), **line})
    return out


# --------------------------------------------------------------------------- time series
def daily(engine: Engine, filters: Filters = Filters()) -> List[Dict[str, Any]]:
    """Per UTC day and channel: conversations active, customer messages, fallbacks, handoffs started."""
    handoffs: Counter = Counter()
    for _conv, actor, at, channel in data.human_rows(engine, filters):
        if actor == "system":
            handoffs[(at.date().isoformat(), channel)] += 1
    return [{"day": day, "channel": channel, "conversations": n, "customer_messages": m, "fallbacks": f,
             "handoffs": handoffs.get((day, channel), 0)}
            for day, channel, n, m, f in sorted(data.daily_cells(engine, filters))]


def rating_distribution(facts: KpiFacts) -> Dict[str, Counter]:
    out = {"csat": Counter(), "nps": Counter()}
    for _cell, kind, score in facts.ratings:
        out[kind][score] += 1
    return out
