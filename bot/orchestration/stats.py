"""Journey figures: entered, messaged, converted, the hold-out, uplift with its confidence interval.

Conversion is the journey's goal reached within its window (`goal.within`
after the trigger). An entry counts in the rates once its outcome is known:
converted, or its window over; entries still inside their window and not yet
converted are `pending`. Hold-out entries go through the same steps without
being messaged, so the conversion of the messaged group minus that of the
hold-out is the uplift the messages caused. Its 95 % interval is Newcombe's
hybrid score interval for a difference of two proportions (built from the
Wilson intervals scipy computes), which stays sensible for small groups and
rates near 0 or 1. Breakdowns: by the channel of the first message and by
language. The seed's other KPIs that the data allows are in `shop_kpis`.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.orchestration.definition import JourneyBook
from bot.orchestration.models import JourneyEntry, JourneyMessage
from bot.orchestration.schedule import aware

E = JourneyEntry.__table__
M = JourneyMessage.__table__
Z95 = 1.959963984540054


def wilson(successes: int, trials: int) -> Tuple[float, float]:
    from scipy.stats import binomtest

    interval = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return float(interval.low), float(interval.high)


def uplift_interval(k1: int, n1: int, k0: int, n0: int) -> Optional[Tuple[float, float, float]]:
    """(uplift, low, high): p1 − p0 with Newcombe's 95 % hybrid score interval; None without both groups."""
    if not n1 or not n0:
        return None
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = wilson(k1, n1)
    l0, u0 = wilson(k0, n0)
    d = p1 - p0
    return d, d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def ratio(a: int, b: int) -> Optional[float]:
    return a / b if b else None


@dataclass
class Group:
    """Counts of one group (messaged or hold-out) of a journey, for its conversion rate."""

    entered: int = 0
    decided: int = 0      # outcome known: converted, or window over
    converted: int = 0

    @property
    def rate(self) -> Optional[float]:
        return ratio(self.converted, self.decided)


def _entries(engine: Engine, since: Optional[dt.date], until: Optional[dt.date]) -> List[Dict[str, Any]]:
    query = sa.select(E.c.id, E.c.journey, E.c.holdout, E.c.status, E.c.exit_reason, E.c.language, E.c.first_channel,
                      E.c.messages_sent, E.c.converted_at, E.c.goal_deadline, E.c.entered_at)
    if since:
        query = query.where(E.c.entered_at >= dt.datetime.combine(since, dt.time(), tzinfo=dt.timezone.utc))
    if until:
        query = query.where(E.c.entered_at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def journey_stats(engine: Engine, book: JourneyBook, now: Optional[dt.datetime] = None,
                  since: Optional[dt.date] = None, until: Optional[dt.date] = None) -> List[Dict[str, Any]]:
    """One line per journey (in the book's order; journeys removed from the file at the end)."""
    now = aware(now or dt.datetime.now(dt.timezone.utc))
    rows = _entries(engine, since, until)
    with engine.connect() as conn:
        outcomes = Counter((j, c, status) for j, c, status in conn.execute(
            sa.select(M.c.journey, M.c.channel, M.c.status).select_from(M.join(E, E.c.id == M.c.entry_id))
            .where(M.c.status.in_(("sent", "unknown", "failed")),
                   *([E.c.entered_at >= dt.datetime.combine(since, dt.time(), tzinfo=dt.timezone.utc)] if since else []),
                   *([E.c.entered_at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)] if until else []))))
    sent = Counter({(j, c): n for (j, c, status), n in outcomes.items() if status == "sent"})
    names = list(book.journeys) + sorted({r["journey"] for r in rows} - set(book.journeys))
    out = []
    for name in names:
        journey = book.journeys.get(name)
        mine = [r for r in rows if r["journey"] == name]
        treated, holdout = Group(), Group()
        by_channel: Dict[str, Group] = defaultdict(Group)
        by_language: Dict[str, Dict[str, Group]] = defaultdict(lambda: {"treated": Group(), "holdout": Group()})
        exits: Counter = Counter()
        pending = 0
        for r in mine:
            group = holdout if r["holdout"] else treated
            cells = [group, by_language[r["language"] or "-"]["holdout" if r["holdout"] else "treated"]]
            if not r["holdout"] and r["first_channel"]:
                cells.append(by_channel[r["first_channel"]])
            converted = r["converted_at"] is not None
            decided = converted or (r["goal_deadline"] is not None and r["goal_deadline"] < now)
            for cell in cells:
                cell.entered += 1
                cell.decided += decided
                cell.converted += converted
            if r["goal_deadline"] is not None and not decided:
                pending += 1
            if r["status"] != "active":
                exits[r["exit_reason"] or r["status"]] += 1
        uplift = uplift_interval(treated.converted, treated.decided, holdout.converted, holdout.decided)
        out.append({
            "journey": name, "title_en": journey.title["en"] if journey else name,
            "title_fa": journey.title["fa"] if journey else name, "goal": ", ".join(journey.goal.events) if journey and journey.goal else None,
            "holdout_share": journey.holdout if journey else None,
            "entered": len(mine), "active": sum(r["status"] == "active" for r in mine),
            "treated": treated.entered, "holdout": holdout.entered,
            "messaged": sum(1 for r in mine if r["messages_sent"]), "messages": sum(n for (j, _c), n in sent.items() if j == name),
            # messages that may have arrived (never resent), and those not sent (waiting for a retry, or given up)
            "unknown": sum(n for (j, _c, status), n in outcomes.items() if j == name and status == "unknown"),
            "failed": sum(n for (j, _c, status), n in outcomes.items() if j == name and status == "failed"),
            "converted": treated.converted + holdout.converted, "pending": pending,
            "conversion": treated.rate, "holdout_conversion": holdout.rate,
            "uplift": uplift[0] if uplift else None, "uplift_low": uplift[1] if uplift else None,
            "uplift_high": uplift[2] if uplift else None,
            "by_channel": {c: {"entered": g.entered, "converted": g.converted, "conversion": g.rate,
                               "messages": sent.get((name, c), 0)} for c, g in sorted(by_channel.items())},
            "by_language": {lang: {k: {"entered": g.entered, "converted": g.converted, "conversion": g.rate}
                                   for k, g in groups.items()} for lang, groups in sorted(by_language.items())},
            "exits": dict(exits),
            # customers who answered a message with a no (bot.orchestration.answers): over those messaged
            "declined": exits.get("declined", 0),
            "decline_rate": ratio(exits.get("declined", 0), sum(1 for r in mine if r["messages_sent"])),
        })
    return out


def shop_kpis(engine: Engine, now: Optional[dt.datetime] = None, churn_days: int = 90) -> Dict[str, Any]:
    """The seed's KPIs the CRM data allows: churn rate and time to resolve a ticket.

    Churn: customers with an order whose newest (not cancelled) order is older than
    `churn_days`, over all customers with an order. Time to resolution: from a
    ticket's creation to when the journey scanner first saw it closed (tickets
    carry no closing time of their own), median hours."""
    from bot.crm.models import OrderRow, TicketRow
    from bot.orchestration.models import JourneyWatch

    now = aware(now or dt.datetime.now(dt.timezone.utc))
    o, t, w = OrderRow.__table__, TicketRow.__table__, JourneyWatch.__table__
    with engine.connect() as conn:
        last = sa.func.max(o.c.created_at).label("last")
        per_customer = sa.select(o.c.customer_id, last).where(o.c.status != "cancelled").group_by(o.c.customer_id).subquery()
        total = conn.execute(sa.select(sa.func.count()).select_from(per_customer)).scalar() or 0
        cutoff = (now - dt.timedelta(days=churn_days)).replace(tzinfo=None)
        churned = conn.execute(sa.select(sa.func.count()).select_from(per_customer)
                               .where(per_customer.c.last < cutoff)).scalar() or 0
        closed = conn.execute(sa.select(t.c.created_at, w.c.updated_at).select_from(
            t.join(w, sa.and_(w.c.kind == "ticket", w.c.key == t.c.reference)))
            .where(t.c.status == "closed", w.c.value == "closed")).all()
    hours = [max(0.0, (aware(seen) - aware(created)).total_seconds() / 3600) for created, seen in closed]
    median = statistics.median(hours) if hours else None
    return {"customers_with_orders": int(total), "churned": int(churned), "churn_rate": ratio(int(churned), int(total)),
            "churn_days": churn_days, "tickets_closed": len(hours), "median_hours_to_resolution": median}
