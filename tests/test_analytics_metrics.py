"""Analytics metrics against independent, plain computations, on SQLite and PostgreSQL.

The `expected_*` helpers below read the table with raw SQL and compute each
metric with straightforward loops written for this test; they never call
bot.analytics.metrics. The tiny hand-built cases have answers worked out by hand.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa

from bot.analytics import metrics
from bot.analytics.data import Filters, load_rows
from bot.analytics.simulate import simulate, simulate_rows
from bot.schema import init_db
from bot.journey import load_journey
from bot.touchpoints.store import insert_rows

STAGES = ["awareness", "consideration", "decision", "retention", "advocacy"]
START = dt.date(2025, 3, 1)
T0 = dt.datetime(2025, 3, 1, 9, 0, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "fresh_postgres_url")
    return init_db(url)


@pytest.fixture
def simulated(engine):
    simulate(engine, customers=160, days=20, seed=11, start=START)
    return engine


# --------------------------------------------------------------------------- independent reference
def raw_rows(engine) -> List[Dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(sa.text("SELECT * FROM touchpoints ORDER BY occurred_at, id")).mappings()
        rows = [dict(r) for r in result]
    for r in rows:
        for key in ("actions", "entities"):
            if isinstance(r[key], str):
                r[key] = json.loads(r[key])
            r[key] = r[key] or []
        if isinstance(r["occurred_at"], str):
            r["occurred_at"] = dt.datetime.fromisoformat(r["occurred_at"])
    return rows


def median(values):
    values = sorted(values)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def unit_map(rows, unit):
    ids = defaultdict(set)
    for r in rows:
        if r["customer_id"]:
            ids[r["conversation_id"]].add(r["customer_id"])
    def unit_of(conv):
        if unit == "customer" and ids[conv]:
            return sorted(ids[conv])[0]
        return "conversation:" + conv
    return unit_of


def expected_funnel(rows, unit="customer", mode="strict", window_days=30):
    unit_of = unit_map(rows, unit)
    staged = defaultdict(list)
    for r in rows:
        if r["actor"] == "customer" and r["journey_stage"]:
            staged[unit_of(r["conversation_id"])].append((r["occurred_at"], r["journey_stage"]))
    window = dt.timedelta(days=window_days)
    counts = [0] * 5
    gaps = [[] for _ in range(5)]
    for events in staged.values():
        events.sort()
        if mode == "strict":
            aware = [t for t, s in events if s == STAGES[0]]
            if not aware:
                continue
            anchor = aware[0]
            reached = []  # walk the unit's messages in time order, advancing on the next needed stage
            for t, s in events:
                if t < anchor or t > anchor + window:
                    continue
                if len(reached) < 5 and s == STAGES[len(reached)]:
                    reached.append(t)
        else:
            first = {}
            for t, s in events:
                first.setdefault(s, t)
            anchor = min(first.values())
            reached = []
            for s in STAGES:
                if s in first and first[s] <= anchor + window:
                    reached.append(max([first[x] for x in STAGES[:len(reached) + 1]]))
                else:
                    break
        for k in range(len(reached)):
            counts[k] += 1
            if k:
                gaps[k].append((reached[k] - reached[k - 1]).total_seconds())
    return counts, [median(g) for g in gaps]


def expected_goals(rows):
    out = defaultdict(lambda: defaultdict(int))
    for r in rows:
        if r["actor"] == "system" and r["actions"] and r["actions"][0].startswith("goal_") and r["goal"]:
            out[r["goal"]][r["actions"][0][5:]] += 1
    return out


def expected_abandon_steps(rows):
    out = defaultdict(lambda: defaultdict(int))
    for i, r in enumerate(rows):
        if r["actor"] == "system" and r["actions"] == ["goal_abandoned"]:
            step = "(before the period)"
            for earlier in reversed(rows[:i]):
                if earlier["conversation_id"] == r["conversation_id"] and earlier["actor"] == "customer" \
                        and earlier["goal"] == r["goal"] and earlier["goal_status"] == "started":
                    last = earlier["actions"][-1] if earlier["actions"] else "-"
                    step = f"{earlier['intent']} → {last}"
                    break
            out[r["goal"]][step] += 1
    return out


def feedback(r):
    if r["actor"] != "customer" or "give_feedback" not in (r["intent"], r["goal"]):
        return None
    for e in r["entities"]:
        if e["entity"] == "rating" and str(e["value"]).isdigit() and int(e["value"]) <= 10:
            n = int(e["value"])
            text = r["text"] or ""
            nps = n == 0 or n >= 6 or "out of 10" in text or "از ۱۰" in text or "recommend" in text
            return ("nps" if nps else "csat"), n
    return None


def expected_kpis(rows, channel=None):
    """Overall (or one channel's) KPIs; in the simulated data a conversation keeps its channel."""
    rows = [r for r in rows if channel is None or r["channel"] == channel]
    conversations = {r["conversation_id"] for r in rows}
    customer = [r for r in rows if r["actor"] == "customer"]
    handoff = {r["conversation_id"] for r in rows if r["actor"] == "system" and r["actions"] == ["handoff_started"]}
    human = handoff | {r["conversation_id"] for r in rows if r["actor"] == "agent"}
    started = sum(1 for r in rows if r["actor"] == "system" and r["actions"] == ["goal_started"] and r["goal"])
    completed = [r for r in rows if r["actor"] == "system" and r["actions"] == ["goal_completed"] and r["goal"]]
    contained = sum(1 for r in completed if r["conversation_id"] not in human)
    csat = [f[1] for f in map(feedback, rows) if f and f[0] == "csat"]
    nps = [f[1] for f in map(feedback, rows) if f and f[0] == "nps"]
    return {
        "conversations": len(conversations),
        "fallback_rate": sum(1 for r in customer if r["fallback"]) / len(customer),
        "handoff_rate": len(handoff) / len(conversations),
        "containment_rate": contained / started,
        "goal_completion_rate": len(completed) / started,
        "csat_mean": sum(csat) / len(csat) if csat else None,
        "csat_satisfied": sum(1 for x in csat if x in (4, 5)) / len(csat) if csat else None,
        "nps": (100 * sum(1 for x in nps if x >= 9) - 100 * sum(1 for x in nps if x <= 6)) / len(nps) if nps else None,
        "csat_responses": len(csat), "nps_responses": len(nps),
    }


# --------------------------------------------------------------------------- simulated data vs reference
@pytest.mark.parametrize("unit", ["customer", "conversation"])
@pytest.mark.parametrize("mode,window", [("strict", 30), ("strict", 0.01), ("any-order", 30), ("any-order", 1)])
def test_funnel_matches_reference(simulated, unit, mode, window):
    got = metrics.funnel(simulated, load_journey(), unit, mode, window)
    counts, medians = expected_funnel(raw_rows(simulated), unit, mode, window)
    assert [line["units"] for line in got] == counts
    assert counts[0] > 20 and counts[1] > 0
    for k, line in enumerate(got):
        if medians[k] is None:
            assert line["median_seconds_from_previous"] is None
        else:
            assert line["median_seconds_from_previous"] == pytest.approx(medians[k], abs=1e-3)
        if k:
            assert line["drop_off"] == counts[k - 1] - counts[k]
            assert line["conversion"] == pytest.approx(counts[k] / counts[k - 1]) if counts[k - 1] else True


def test_goals_match_reference(simulated):
    reference_rows = raw_rows(simulated)
    got = {g["goal"]: g for g in metrics.goals(simulated, load_journey(), top_steps=100)}
    expected = expected_goals(reference_rows)
    assert sum(v["abandoned"] for v in expected.values()) > 5
    for goal, counts in expected.items():
        for status in ("started", "completed", "failed", "abandoned"):
            assert got[goal][status] == counts[status], (goal, status)
    steps = expected_abandon_steps(reference_rows)
    for goal, by_step in steps.items():
        assert {s["step"]: s["count"] for s in got[goal]["abandoned_at"]} == dict(by_step)


def test_kpis_match_reference(simulated):
    reference_rows = raw_rows(simulated)
    overview = metrics.kpi_overview(simulated)
    lines = {(line["channel"], line["language"]): line for line in overview}
    for channel in (None, "web", "telegram", "sms"):
        expected = expected_kpis(reference_rows, channel)
        line = lines[(channel or "all", "all")]
        for key, value in expected.items():
            assert line[key] == (pytest.approx(value) if value is not None else None), (channel, key)
    overall = expected_kpis(reference_rows)
    assert overall["csat_responses"] > 5 and overall["nps_responses"] > 3
    assert 0 < overall["handoff_rate"] < 0.5 and 0 < overall["fallback_rate"] < 0.2


def test_filters_by_date_channel_language(simulated):
    reference_rows = raw_rows(simulated)
    since, until = START + dt.timedelta(days=3), START + dt.timedelta(days=9)
    filters = Filters(since, until, ("web", "sms"), ("fa",))
    rows = load_rows(simulated, filters)
    expected = [r for r in reference_rows if since <= r["occurred_at"].date() <= until
                and r["channel"] in ("web", "sms") and r["language"] == "fa"]
    assert [r["id"] for r in rows] == [r["id"] for r in expected] and rows
    got = {g["goal"]: g["started"] for g in metrics.goals(simulated, load_journey(), filters=filters)}
    for goal, counts in expected_goals(expected).items():
        assert got[goal] == counts["started"]


def test_simulation_is_deterministic():
    a = simulate_rows(40, 10, seed=3, start=START)
    b = simulate_rows(40, 10, seed=3, start=START)
    c = simulate_rows(40, 10, seed=4, start=START)
    assert a == b and a != c
    assert {r["channel"] for r in a} >= {"web", "telegram"} and {r["language"] for r in a} == {"fa", "en"}


def test_simulate_twice_adds_nothing(engine):
    first = simulate(engine, 30, 5, seed=2, start=START)
    assert first > 0 and simulate(engine, 30, 5, seed=2, start=START) == 0


# --------------------------------------------------------------------------- tiny hand-computed cases
def row(conv, minutes, actor="customer", **kw):
    base = {
        "event_id": f"{conv}-{actor}-{minutes}-{kw.get('actions')}", "occurred_at": T0 + dt.timedelta(minutes=minutes),
        "conversation_id": conv, "customer_id": None, "channel": "web", "actor": actor, "language": "fa",
        "journey_stage": None, "intent": None, "entities": [], "actions": [], "goal": None, "goal_status": None,
        "handoff": False, "fallback": False, "text": None,
    }
    base.update(kw)
    return base


DAY = 24 * 60


def tiny_rows():
    return [
        # customer C1: conversation a (awareness -> consideration 1h later -> decision 2 days later)
        row("a", 0, intent="ask_about_company", journey_stage="awareness"),
        row("a", 60, intent="browse_products", journey_stage="consideration", customer_id="C1"),
        row("a", 2 * DAY, intent="place_order", journey_stage="decision", customer_id="C1"),
        # C1 again 40 days later: retention (outside a 30-day window)
        row("b", 40 * DAY, intent="track_order", journey_stage="retention", customer_id="C1", channel="telegram"),
        # anonymous conversation x: consideration first, awareness an hour later
        row("x", 10, intent="ask_price", journey_stage="consideration", channel="sms", language="en"),
        row("x", 70, intent="ask_promotions", journey_stage="awareness", channel="sms", language="en"),
    ]


@pytest.mark.parametrize("unit,mode,window,counts", [
    ("customer", "strict", 30, [2, 1, 1, 0, 0]),
    ("customer", "strict", 50, [2, 1, 1, 1, 0]),
    ("customer", "any-order", 30, [2, 2, 1, 0, 0]),
    ("customer", "any-order", 1, [2, 2, 0, 0, 0]),
    ("conversation", "strict", 30, [2, 1, 1, 0, 0]),
    ("conversation", "any-order", 50, [2, 2, 1, 0, 0]),
])
def test_tiny_funnel(engine, unit, mode, window, counts):
    insert_rows(engine, tiny_rows())
    got = metrics.funnel(engine, load_journey(), unit, mode, window)
    assert [line["units"] for line in got] == counts
    if (unit, mode, window) == ("customer", "strict", 50):
        assert got[1]["median_seconds_from_previous"] == 3600            # 09:00 -> 10:00
        assert got[2]["median_seconds_from_previous"] == 2 * 86400 - 3600
        assert got[3]["median_seconds_from_previous"] == 38 * 86400
        assert got[1]["conversion"] == 0.5 and got[1]["drop_off"] == 1
    if (unit, mode, window) == ("customer", "any-order", 30):
        # x: consideration at 09:10, awareness at 10:10 -> both done at 10:10; C1: 09:00 -> 10:00
        assert got[1]["median_seconds_from_previous"] == 1800  # median of 3600 and 0


def test_strict_funnel_when_a_stage_has_messages_before_and_after_the_previous_one(engine):
    """First/last times per stage cannot settle these units; their messages must."""
    rows = [
        # C7: consideration at 0, 120 and 180 (one conversation), awareness at 60 -> consideration counts at 120
        row("s1", 0, intent="browse_products", journey_stage="consideration", customer_id="C7"),
        row("s1", 60, intent="ask_about_company", journey_stage="awareness", customer_id="C7"),
        row("s1", 120, intent="browse_products", journey_stage="consideration", customer_id="C7"),
        row("s1", 180, intent="ask_price", journey_stage="consideration", customer_id="C7"),
        # C8: the same split over two conversations, then decision at 200 in a third one
        row("s2", 0, intent="browse_products", journey_stage="consideration", customer_id="C8"),
        row("s3", 60, intent="ask_about_company", journey_stage="awareness", customer_id="C8"),
        row("s3", 150, intent="browse_products", journey_stage="consideration", customer_id="C8"),
        row("s4", 200, intent="place_order", journey_stage="decision", customer_id="C8"),
        # anonymous a1: decision before and after consideration, retention after both
        row("a1", 0, intent="ask_about_company", journey_stage="awareness"),
        row("a1", 10, intent="place_order", journey_stage="decision"),
        row("a1", 20, intent="browse_products", journey_stage="consideration"),
        row("a1", 30, intent="place_order", journey_stage="decision"),
        row("a1", 40, intent="track_order", journey_stage="retention"),
    ]
    insert_rows(engine, rows)
    got = metrics.funnel(engine, load_journey(), "customer", "strict", 30)
    assert [line["units"] for line in got] == [3, 3, 2, 1, 0]
    # consideration: C7 60 min, C8 90 min, a1 20 min after awareness -> median 60 min
    assert got[1]["median_seconds_from_previous"] == 3600
    assert got[2]["median_seconds_from_previous"] == (50 * 60 + 10 * 60) / 2  # C8 150->200, a1 20->30
    counts, medians = expected_funnel(raw_rows(engine), "customer", "strict", 30)
    assert [line["units"] for line in got] == counts
    assert [line["median_seconds_from_previous"] for line in got] == medians
    # a window of 100 minutes: C8's decision at 200 is 140 minutes after its awareness
    assert [line["units"] for line in metrics.funnel(engine, load_journey(), "customer", "strict", 100 / 1440)] == \
        [3, 3, 1, 1, 0]


def test_tiny_goals_and_kpis(engine):
    rows = [
        row("a", 0, intent="browse_products", journey_stage="consideration", goal="find_product", goal_status="started",
            actions=["utter_ask_product"]),
        row("a", 0.1, "system", actions=["goal_started"], goal="find_product", goal_status="started"),
        row("a", 1, intent="inform", goal="find_product", goal_status="started", actions=["utter_ask_budget"]),
        # a new goal abandons the first: the customer row carries the new goal, the system rows follow
        row("a", 2, intent="ask_price", goal="know_price", goal_status="started", actions=["action_product_price"],
            fallback=False),
        row("a", 2.1, "system", actions=["goal_abandoned"], goal="find_product", goal_status="abandoned"),
        row("a", 2.2, "system", actions=["goal_started"], goal="know_price", goal_status="started"),
        row("a", 2.3, "system", actions=["goal_completed"], goal="know_price", goal_status="completed"),
        row("a", 3, intent="nlu_fallback", fallback=True, actions=["action_default_fallback"], goal="know_price",
            goal_status="completed"),
        # conversation h: a handoff, then a completed goal (not contained) and feedback
        row("h", 0, intent="track_order", goal="track_order", goal_status="started", channel="telegram"),
        row("h", 0.1, "system", actions=["goal_started"], goal="track_order", goal_status="started", channel="telegram"),
        row("h", 1, intent="request_human", handoff=True, channel="telegram", goal="track_order", goal_status="started"),
        row("h", 1.1, "system", actions=["handoff_started"], handoff=True, channel="telegram", goal="track_order"),
        row("h", 5, "agent", actions=["message"], channel="telegram"),
        row("h", 6, "system", actions=["goal_completed"], goal="track_order", goal_status="completed", channel="telegram"),
        row("f", 0, intent="give_feedback", entities=[{"entity": "rating", "value": "5"}], goal="give_feedback"),
        row("f", 1, intent="inform", entities=[{"entity": "rating", "value": "4"}], goal="give_feedback"),
        row("f", 2, intent="give_feedback", entities=[{"entity": "rating", "value": "2"}], goal="give_feedback"),
        row("f", 3, intent="give_feedback", entities=[{"entity": "rating", "value": "10"}], goal="give_feedback"),
        row("f", 4, intent="give_feedback", entities=[{"entity": "rating", "value": "9"}], goal="give_feedback"),
        row("f", 5, intent="give_feedback", entities=[{"entity": "rating", "value": "7"}], goal="give_feedback"),
        row("f", 6, intent="give_feedback", entities=[{"entity": "rating", "value": "3"}], goal="give_feedback",
            text="از ۱۰ بهتون ۳ می‌دم"),
        row("f", 7, intent="inform", entities=[{"entity": "rating", "value": "5"}], goal="track_order"),  # not feedback
    ]
    insert_rows(engine, rows)
    goals = {g["goal"]: g for g in metrics.goals(engine, load_journey())}
    assert (goals["find_product"]["started"], goals["find_product"]["abandoned"]) == (1, 1)
    assert goals["find_product"]["abandoned_at"] == [{"step": "inform → utter_ask_budget", "count": 1}]
    assert (goals["know_price"]["started"], goals["know_price"]["completed"]) == (1, 1)
    assert goals["track_order"]["completion_rate"] == 1.0
    (overall,) = metrics.kpis(engine)
    assert overall["conversations"] == 3
    assert overall["customer_messages"] == 14 and overall["fallbacks"] == 1
    assert overall["fallback_rate"] == pytest.approx(1 / 14)
    assert overall["handoff_rate"] == pytest.approx(1 / 3)
    assert overall["goals_started"] == 3 and overall["goals_completed"] == 2
    assert overall["contained_goals"] == 1 and overall["containment_rate"] == pytest.approx(1 / 3)
    assert overall["csat_responses"] == 3 and overall["csat_mean"] == pytest.approx(11 / 3)
    assert overall["csat_satisfied"] == pytest.approx(2 / 3)
    # NPS answers 10, 9, 7, 3: promoters 2/4, detractors 1/4 -> 25
    assert overall["nps_responses"] == 4 and overall["nps"] == pytest.approx(25.0)
    by_channel = {line["channel"]: line for line in metrics.kpis(engine, ("channel",))}
    assert by_channel["telegram"]["handoff_rate"] == 1.0 and by_channel["web"]["handoff_rate"] == 0.0
    assert by_channel["telegram"]["containment_rate"] == 0.0
