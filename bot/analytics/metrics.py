"""The metrics of docs/metrics.md, computed over rows from `bot.analytics.data.load_rows`.

Every function takes the rows (dicts, time-ordered) and returns plain lists of
dicts, one per output line, ready for a table, CSV, JSON or the HTML report.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter, defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from bot.journey import Journey

GOAL_EVENTS = {"goal_started": "started", "goal_completed": "completed", "goal_failed": "failed",
               "goal_abandoned": "abandoned"}
FEEDBACK_GOAL = "give_feedback"
FEEDBACK_INTENT = "give_feedback"
ALL = "all"
UNITS = ("customer", "conversation")
MODES = ("strict", "any-order")
# Words that mark a 0–10 "would you recommend" answer (same idea as actions.advocacy.feedback_kind).
NPS_WORDS = re.compile(r"recommend|nps|توصیه|معرفی|out of 10|/10|0 ?(?:-|to|تا) ?10|از ?(?:10|۱۰)", re.IGNORECASE)


# --------------------------------------------------------------------------- helpers
def system_action(row: Dict[str, Any]) -> Optional[str]:
    """`goal_started`, `handoff_started`, … for system rows; None otherwise."""
    if row["actor"] != "system" or not row["actions"]:
        return None
    return str(row["actions"][0])


def ratio(numerator: float, denominator: float) -> Optional[float]:
    return numerator / denominator if denominator else None


def conversation_customers(rows: Iterable[Dict[str, Any]]) -> Dict[str, Optional[str]]:
    """conversation_id -> the (smallest) customer_id seen on any of its rows, or None."""
    out: Dict[str, Optional[str]] = {}
    for row in rows:
        conv, cust = row["conversation_id"], row["customer_id"]
        if conv not in out:
            out[conv] = cust
        elif cust is not None and (out[conv] is None or cust < out[conv]):
            out[conv] = cust
    return out


def unit_id(conversation_id: str, customer_id: Optional[str], unit: str) -> str:
    """The funnel unit: the customer, or the conversation itself when it has no customer."""
    if unit == "customer" and customer_id:
        return customer_id
    return "conversation:" + conversation_id


def conversation_attributes(rows: Iterable[Dict[str, Any]]) -> Dict[str, Tuple[str, str]]:
    """conversation_id -> (channel of its first row, first non-null language of its rows)."""
    channel: Dict[str, str] = {}
    language: Dict[str, str] = {}
    for row in rows:
        channel.setdefault(row["conversation_id"], row["channel"])
        if row["language"]:
            language.setdefault(row["conversation_id"], row["language"])
    return {c: (channel[c], language.get(c) or "unknown") for c in channel}


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


# --------------------------------------------------------------------------- funnel
def funnel(rows: Sequence[Dict[str, Any]], journey: Journey, unit: str = "customer", mode: str = "strict",
           window_days: float = 30) -> List[Dict[str, Any]]:
    """Units reaching each stage in journey order within `window_days`; see docs/metrics.md#funnel."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    stages = journey.stage_names
    customers = conversation_customers(rows)
    reached: Dict[str, Dict[str, List[dt.datetime]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row["actor"] == "customer" and row["journey_stage"] in stages:
            u = unit_id(row["conversation_id"], customers[row["conversation_id"]], unit)
            reached[u][row["journey_stage"]].append(row["occurred_at"])
    window = dt.timedelta(days=window_days)
    counts = [0] * len(stages)
    gaps: List[List[float]] = [[] for _ in stages]
    for times in reached.values():
        completion: List[dt.datetime] = []
        if mode == "strict":
            if not times.get(stages[0]):
                continue
            deadline = min(times[stages[0]]) + window
            for stage in stages:
                after = completion[-1] if completion else dt.datetime.min
                candidates = [t for t in times.get(stage, ()) if after <= t <= deadline]
                if not candidates:
                    break
                completion.append(min(candidates))
        else:
            firsts = {s: min(ts) for s, ts in times.items() if ts}
            deadline = min(firsts.values()) + window
            for stage in stages:
                if stage not in firsts or firsts[stage] > deadline:
                    break
                completion.append(max(completion[-1], firsts[stage]) if completion else firsts[stage])
        for k, when in enumerate(completion):
            counts[k] += 1
            if k:
                gaps[k].append((when - completion[k - 1]).total_seconds())
    reached_any = Counter(stage for times in reached.values() for stage in times)
    out: List[Dict[str, Any]] = []
    for k, stage in enumerate(journey.stages):
        previous = counts[k - 1] if k else None
        out.append({
            "stage": stage.name, "order": k + 1,
            "title_en": stage.title.get("en", stage.name), "title_fa": stage.title.get("fa", stage.name),
            "units": counts[k],
            "reached_any": reached_any.get(stage.name, 0),
            "conversion": ratio(counts[k], previous) if k else None,
            "drop_off": (previous - counts[k]) if k else None,
            "drop_off_rate": (1 - ratio(counts[k], previous)) if k and previous else None,
            "conversion_from_first": ratio(counts[k], counts[0]),
            "median_seconds_from_previous": statistics.median(gaps[k]) if gaps[k] else None,
        })
    return out


# --------------------------------------------------------------------------- goals
def step_label(row: Dict[str, Any]) -> str:
    actions = [a for a in row["actions"] or [] if a]
    return f"{row['intent'] or '-'} → {actions[-1] if actions else '-'}"


def goals(rows: Sequence[Dict[str, Any]], journey: Journey, top_steps: int = 3) -> List[Dict[str, Any]]:
    """Per goal: started/completed/failed/abandoned transitions and where abandoned goals stopped."""
    counts: Dict[str, Counter] = defaultdict(Counter)
    steps: Dict[str, Counter] = defaultdict(Counter)
    # conversation -> goal -> the last customer row while that goal was `started`
    last_in_progress: Dict[str, Dict[str, Dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        if row["actor"] == "customer" and row["goal"] and row["goal_status"] == "started":
            last_in_progress[row["conversation_id"]][row["goal"]] = row
        what = system_action(row)
        if what in GOAL_EVENTS and row["goal"]:
            status = GOAL_EVENTS[what]
            counts[row["goal"]][status] += 1
            if status == "abandoned":
                where = last_in_progress[row["conversation_id"]].get(row["goal"])
                steps[row["goal"]][step_label(where) if where else "(before the period)"] += 1
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
            "completion_rate": ratio(c["completed"], c["started"]),
            "abandon_rate": ratio(c["abandoned"], c["started"]),
            "abandoned_at": [{"step": s, "count": n} for s, n in
                             sorted(steps[name].items(), key=lambda item: (-item[1], item[0]))[:top_steps]],
        })
    return out


# --------------------------------------------------------------------------- KPIs
def _empty_group() -> Dict[str, Any]:
    return {"conversations": set(), "customers": set(), "customer_messages": 0, "fallbacks": 0,
            "handoff_conversations": set(), "goals_started": 0, "goals_completed": 0, "contained_goals": 0,
            "csat": [], "nps": []}


def kpis(rows: Sequence[Dict[str, Any]], dimensions: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """Fallback, handoff, containment, CSAT and NPS per group of `dimensions` (channel, language).

    Conversation-level figures (conversations, handoff rate) use the
    conversation's channel and first language; row-level figures (messages,
    fallbacks, goals, ratings) use the row's own channel and language.
    """
    for d in dimensions:
        if d not in ("channel", "language"):
            raise ValueError(f"unknown dimension {d!r}")
    attributes = conversation_attributes(rows)
    human: set = set()
    for row in rows:
        if system_action(row) == "handoff_started" or row["actor"] == "agent":
            human.add(row["conversation_id"])
    groups: Dict[Tuple[str, ...], Dict[str, Any]] = defaultdict(_empty_group)

    def row_key(row: Dict[str, Any]) -> Tuple[str, ...]:
        return tuple(row[d] or "unknown" for d in dimensions)

    def conversation_key(conv: str) -> Tuple[str, ...]:
        channel, language = attributes[conv]
        return tuple({"channel": channel, "language": language}[d] for d in dimensions)

    for conv in attributes:
        groups[conversation_key(conv)]["conversations"].add(conv)
    for row in rows:
        g = groups[row_key(row)]
        conv = row["conversation_id"]
        if row["customer_id"]:
            g["customers"].add(row["customer_id"])
        if row["actor"] == "customer":
            g["customer_messages"] += 1
            g["fallbacks"] += 1 if row["fallback"] else 0
            rated = rating_of(row)
            if rated:
                g[rated[0]].append(rated[1])
        what = system_action(row)
        if what == "handoff_started":
            groups[conversation_key(conv)]["handoff_conversations"].add(conv)
        elif what == "goal_started" and row["goal"]:
            g["goals_started"] += 1
        elif what == "goal_completed" and row["goal"]:
            g["goals_completed"] += 1
            if conv not in human:
                g["contained_goals"] += 1
    out = []
    for key in sorted(groups):
        g = groups[key]
        conversations = len(g["conversations"])
        csat, nps = g["csat"], g["nps"]
        promoters = sum(1 for s in nps if s >= 9)
        detractors = sum(1 for s in nps if s <= 6)
        line: Dict[str, Any] = dict(zip(dimensions, key))
        line.update({
            "conversations": conversations,
            "customers": len(g["customers"]),
            "customer_messages": g["customer_messages"],
            "fallbacks": g["fallbacks"],
            "fallback_rate": ratio(g["fallbacks"], g["customer_messages"]),
            "handoff_conversations": len(g["handoff_conversations"]),
            "handoff_rate": ratio(len(g["handoff_conversations"]), conversations),
            "goals_started": g["goals_started"],
            "goals_completed": g["goals_completed"],
            "goal_completion_rate": ratio(g["goals_completed"], g["goals_started"]),
            "contained_goals": g["contained_goals"],
            "containment_rate": ratio(g["contained_goals"], g["goals_started"]),
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


def kpi_overview(rows: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """`hamsafar analytics kpis`: all rows, then per channel, then per language."""
    out = []
    for line in kpis(rows, ()):
        out.append({"channel": ALL, "language": ALL, **line})
    for line in kpis(rows, ("channel",)):
        out.append({"channel": line.pop("channel"), "language": ALL, **line})
    for line in kpis(rows, ("language",)):
        out.append({"channel": ALL, "language": line.pop("language"), **line})
    return out


# --------------------------------------------------------------------------- time series
def day_of(row: Dict[str, Any]) -> str:
    return row["occurred_at"].date().isoformat()


def daily(rows: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Per UTC day and channel: conversations active, customer messages, fallbacks, handoffs started."""
    groups: Dict[Tuple[str, str], Dict[str, Any]] = defaultdict(
        lambda: {"conversations": set(), "customer_messages": 0, "fallbacks": 0, "handoffs": 0})
    for row in rows:
        g = groups[(day_of(row), row["channel"])]
        g["conversations"].add(row["conversation_id"])
        if row["actor"] == "customer":
            g["customer_messages"] += 1
            g["fallbacks"] += 1 if row["fallback"] else 0
        if system_action(row) == "handoff_started":
            g["handoffs"] += 1
    return [{"day": day, "channel": channel, "conversations": len(g["conversations"]),
             "customer_messages": g["customer_messages"], "fallbacks": g["fallbacks"], "handoffs": g["handoffs"]}
            for (day, channel), g in sorted(groups.items())]


def rating_distribution(rows: Sequence[Dict[str, Any]]) -> Dict[str, Counter]:
    out = {"csat": Counter(), "nps": Counter()}
    for row in rows:
        rated = rating_of(row)
        if rated:
            out[rated[0]][rated[1]] += 1
    return out
