"""Filters, and the SQL that reduces touchpoints to the small facts each metric needs.

At a million rows, moving rows into Python is what makes a command slow, so
every query here aggregates in the database and returns a small result: one
line per unit, per conversation, per group, or only the few rows a metric
inspects one by one (handoffs, feedback answers). `metrics.py` turns these
facts into the figures of docs/metrics.md. The SQL is SQLAlchemy Core and
gives the same answers on SQLite and PostgreSQL; each query reads one of the
covering indexes of `bot.touchpoints.models` in order rather than the wide
table. A transition row is recognised by its `actions` text being exactly
`["goal_started"]` (etc.), as the recorder writes it, which both databases
can compare inside an index. `load_rows` (every selected row) remains for
tests and ad-hoc use.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.touchpoints.assembler import JOURNEY_CHANNEL
from bot.touchpoints.models import Touchpoint

TABLE = Touchpoint.__table__
COLUMNS = ("id", "occurred_at", "conversation_id", "customer_id", "channel", "actor", "language",
           "journey_stage", "intent", "entities", "actions", "goal", "goal_status", "handoff",
           "fallback", "text")


@dataclass(frozen=True)
class Filters:
    """Rows with `since <= occurred_at < until + 1 day` (UTC dates, both inclusive), in the channels/languages."""

    since: Optional[dt.date] = None
    until: Optional[dt.date] = None
    channels: Sequence[str] = field(default_factory=tuple)
    languages: Sequence[str] = field(default_factory=tuple)

    def describe(self) -> Dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "channels": list(self.channels), "languages": list(self.languages),
        }


def parse_date(value: Optional[str]) -> Optional[dt.date]:
    """`YYYY-MM-DD` (ASCII or Persian digits) -> date; None/empty -> None."""
    if not value:
        return None
    from bot.text.persian import to_ascii_digits

    return dt.date.fromisoformat(to_ascii_digits(value.strip()))


def split_list(values: Optional[Iterable[str]]) -> tuple:
    """`["web,sms", "telegram"]` -> `("web", "sms", "telegram")`."""
    out: List[str] = []
    for value in values or ():
        out += [v.strip() for v in str(value).split(",") if v.strip()]
    return tuple(out)


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def load_rows(engine: Engine, filters: Filters = Filters()) -> List[Dict[str, Any]]:
    """The filtered touchpoint rows as dicts, in time order (ties: storage order)."""
    query = sa.select(*[TABLE.c[name] for name in COLUMNS]).where(*conditions(TABLE, filters))
    query = query.order_by(TABLE.c.occurred_at, TABLE.c.id)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["actions"] = _as_list(row["actions"]) or []
        row["entities"] = _as_list(row["entities"]) or []
        row["handoff"] = bool(row["handoff"])
        row["fallback"] = bool(row["fallback"])
    return rows


# --------------------------------------------------------------------------- facts for the metrics
TRANSITIONS = ("goal_started", "goal_completed", "goal_failed", "goal_abandoned", "goal_suspended", "goal_resumed",
               "handoff_started", "handoff_ended")
# the `actions` text of each transition row, as the recorder (json.dumps) writes it
TRANSITION_TEXT = {name: json.dumps([name]) for name in TRANSITIONS}
TRANSITION_OF_TEXT = {text: name for name, text in TRANSITION_TEXT.items()}


# JOURNEY_CHANNEL (bot.touchpoints.assembler): the rows of a journey's bookkeeping, left out of the metrics.


def conditions(t: Any, filters: Filters) -> List[Any]:
    """The WHERE clauses of `filters` on the touchpoints table (or an alias of it) `t`."""
    out: List[Any] = [t.c.channel != JOURNEY_CHANNEL]
    if filters.since:
        out.append(t.c.occurred_at >= dt.datetime.combine(filters.since, dt.time()))
    if filters.until:
        out.append(t.c.occurred_at < dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time()))
    if filters.channels:
        out.append(t.c.channel.in_(list(filters.channels)))
    if filters.languages:
        out.append(t.c.language.in_(list(filters.languages)))
    return out


def actions_text(t: Any) -> Any:
    """The `actions` JSON as text: the expression ix_touchpoints_transitions indexes."""
    return sa.cast(t.c.actions, sa.Text)


def is_transition(t: Any, name: str) -> Any:
    """`t` is the `system` row of transition `name`."""
    return sa.and_(t.c.actor == "system", actions_text(t) == TRANSITION_TEXT[name])


def _fetch(engine: Engine, query: Any) -> List[Any]:
    with engine.connect() as conn:
        return conn.execute(query).fetchall()


def _fetch_plain(engine: Engine, query: Any) -> List[tuple]:
    """Rows as the driver's own tuples, for large results of text and integers that need no
    conversion (skipping SQLAlchemy's per-row processing saves a third of the time)."""
    with engine.connect() as conn:
        return conn.execute(query).cursor.fetchall()


def concurrently(engine: Engine, *calls: Callable[[], Any]) -> List[Any]:
    """Run independent queries at the same time, each on its own connection; results in order.

    The database does most of the work (SQLite also releases the GIL while it
    runs a statement), so on a machine with several cores the slowest query,
    not the sum, sets the time. An in-memory SQLite database exists once per
    connection, so there they run one after the other.
    """
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(len(calls), 4), thread_name_prefix="analytics") as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def _chunks(values: List[Any], size: int = 500) -> Iterable[List[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def epoch_us(engine: Engine, value: Any) -> Any:
    """`value` (a timestamp) as integer microseconds since 1970-01-01, computed by the database.

    Exact on both databases, and far cheaper to fetch than datetimes when there
    are hundreds of thousands. SQLite holds SQLAlchemy's `YYYY-MM-DD HH:MM:SS.ffffff`
    text: whole seconds come from julianday, microseconds from the text.
    """
    if engine.dialect.name == "sqlite":
        seconds = sa.func.round((sa.func.julianday(sa.func.substr(value, 1, 19)) - 2440587.5) * 86400)
        return sa.cast(seconds, sa.Integer) * 1_000_000 + sa.cast(sa.func.substr(value, 21, 6), sa.Integer)
    return sa.cast(sa.func.round(sa.extract("epoch", value) * 1_000_000), sa.BigInteger)


def period(engine: Engine, filters: Filters = Filters()) -> Tuple[int, Optional[dt.datetime], Optional[dt.datetime]]:
    """(selected rows, first occurred_at, last occurred_at)."""
    t = TABLE.alias("t")
    query = sa.select(sa.func.count(), sa.func.min(t.c.occurred_at), sa.func.max(t.c.occurred_at)).where(*conditions(t, filters))
    count, first, last = _fetch(engine, query)[0]
    return int(count), first, last


# --- funnel
def owners(engine: Engine, filters: Filters = Filters()) -> Dict[str, str]:
    """conversation -> its customer: the smallest non-empty customer_id on its selected rows."""
    t = TABLE.alias("t")
    query = (sa.select(t.c.conversation_id, sa.func.min(t.c.customer_id))
             .where(t.c.customer_id > "", *conditions(t, filters)).group_by(t.c.conversation_id))
    return dict(_fetch_plain(engine, query))


def stage_groups(engine: Engine, filters: Filters, stages: Sequence[str]) -> List[Tuple[str, str, int]]:
    """(conversation, stage, first message time in µs since the epoch) of `customer` rows per
    conversation and stage (one ordered pass over ix_touchpoints_stage_reached)."""
    t = TABLE.alias("t")
    query = (sa.select(t.c.conversation_id, t.c.journey_stage, epoch_us(engine, sa.func.min(t.c.occurred_at)))
             .where(t.c.actor == "customer", t.c.journey_stage.in_(list(stages)), *conditions(t, filters))
             .group_by(t.c.journey_stage, t.c.conversation_id))
    return _fetch_plain(engine, query)


def stage_messages(engine: Engine, filters: Filters, stages: Sequence[str],
                   conversations: Iterable[str]) -> List[Tuple[str, str, int]]:
    """(conversation, stage, time in µs since the epoch) of every staged `customer` row of these conversations."""
    out: List[Tuple[str, str, int]] = []
    for chunk in _chunks(sorted(conversations)):
        t = TABLE.alias("t")
        query = (sa.select(t.c.conversation_id, t.c.journey_stage, epoch_us(engine, t.c.occurred_at))
                 .where(t.c.actor == "customer", t.c.journey_stage.in_(list(stages)),
                        t.c.conversation_id.in_(chunk), *conditions(t, filters)))
        out += [tuple(r) for r in _fetch(engine, query)]
    return out


# --- goals
def transition_cells(engine: Engine, filters: Filters = Filters()) -> List[Tuple[str, str, str, Optional[str], int]]:
    """(transition, goal, channel, language, rows) of transition rows that name a goal."""
    t = TABLE.alias("t")
    keys = (actions_text(t), t.c.goal, t.c.channel, t.c.language)
    query = (sa.select(*keys, sa.func.count())
             .where(t.c.actor == "system", t.c.goal > "", *conditions(t, filters)).group_by(*keys))
    return [(TRANSITION_OF_TEXT[a], g, ch, lang, int(n)) for a, g, ch, lang, n in _fetch(engine, query)
            if a in TRANSITION_OF_TEXT]


def abandon_steps(engine: Engine, filters: Filters = Filters()) -> List[Tuple[str, bool, Optional[str], Optional[str], int]]:
    """(goal, step found, intent, actions text of the step, rows) over `goal_abandoned` rows.

    The step is the conversation's last selected `customer` row before the
    transition row (by time, then id) with the same goal and goal_status
    `started`: found per abandoned goal through the conversation index, then
    read by id (a join on a subquery result would scan the whole table).
    """
    a, c = TABLE.alias("a"), TABLE.alias("c")
    before = sa.and_(c.c.occurred_at <= a.c.occurred_at, sa.or_(c.c.occurred_at < a.c.occurred_at, c.c.id < a.c.id))
    last_step = (sa.select(c.c.id)
                 .where(c.c.conversation_id == a.c.conversation_id, before, c.c.actor == "customer",
                        c.c.goal == a.c.goal, c.c.goal_status == "started", *conditions(c, filters))
                 .order_by(c.c.occurred_at.desc(), c.c.id.desc()).limit(1).scalar_subquery())
    query = (sa.select(a.c.goal, last_step)
             .where(is_transition(a, "goal_abandoned"), a.c.goal > "", *conditions(a, filters)))
    per_step = Counter((goal, step) for goal, step in _fetch(engine, query))
    steps: Dict[int, Tuple[Optional[str], Optional[str]]] = {}
    for chunk in _chunks(sorted({step for _goal, step in per_step if step is not None}), 2000):
        r = TABLE.alias("r")
        steps.update((i, (intent, actions)) for i, intent, actions in
                     _fetch(engine, sa.select(r.c.id, r.c.intent, actions_text(r)).where(r.c.id.in_(chunk))))
    out: Counter = Counter()
    for (goal, step), n in per_step.items():
        out[(goal, step is not None, *(steps[step] if step is not None else (None, None)))] += n
    return [(*key, n) for key, n in out.items()]


# --- KPIs
def message_cells(engine: Engine, filters: Filters = Filters()) -> List[Tuple[str, Optional[str], bool, int]]:
    """(channel, language, fallback, rows) of `customer` rows."""
    t = TABLE.alias("t")
    keys = (t.c.channel, t.c.language, t.c.fallback)
    query = sa.select(*keys, sa.func.count()).where(t.c.actor == "customer", *conditions(t, filters)).group_by(*keys)
    return [(ch, lang, bool(fb), int(n)) for ch, lang, fb, n in _fetch(engine, query)]


def _human(t: Any) -> Any:
    """An agent message or a handoff to a human."""
    return sa.or_(t.c.actor == "agent", is_transition(t, "handoff_started"))


def human_rows(engine: Engine, filters: Filters = Filters()) -> List[Tuple[str, str, dt.datetime, str]]:
    """(conversation, actor, occurred_at, channel) of `agent` rows and `handoff_started` rows."""
    t = TABLE.alias("t")
    query = sa.select(t.c.conversation_id, t.c.actor, t.c.occurred_at, t.c.channel).where(_human(t), *conditions(t, filters))
    return [tuple(r) for r in _fetch(engine, query)]


def handoff_conversations(engine: Engine, filters: Filters = Filters()) -> List[str]:
    """Conversations with a `handoff_started` row (read from ix_touchpoints_transitions alone)."""
    t = TABLE.alias("t")
    query = sa.select(t.c.conversation_id).distinct().where(is_transition(t, "handoff_started"), *conditions(t, filters))
    return [conversation for (conversation,) in _fetch_plain(engine, query)]


def completions_with_human(engine: Engine, filters: Filters = Filters()) -> List[Tuple[str, Optional[str], int]]:
    """(channel, language, rows) of `goal_completed` rows in conversations with a human (see `_human`)."""
    t, h = TABLE.alias("t"), TABLE.alias("h")
    with_human = sa.select(h.c.conversation_id).where(_human(h), *conditions(h, filters))
    query = (sa.select(t.c.channel, t.c.language, sa.func.count())
             .where(is_transition(t, "goal_completed"), t.c.goal > "", t.c.conversation_id.in_(with_human),
                    *conditions(t, filters))
             .group_by(t.c.channel, t.c.language))
    return [(ch, lang, int(n)) for ch, lang, n in _fetch(engine, query)]


def conversation_cells(engine: Engine, filters: Filters = Filters()) -> List[Tuple[str, str, Optional[str], Optional[str]]]:
    """Distinct (conversation, channel, language, customer_id) of the selected rows: one ordered
    pass over ix_touchpoints_conversation_cells gives each conversation's channels and languages
    and each (channel, language)'s customers."""
    t = TABLE.alias("t")
    keys = (t.c.conversation_id, t.c.channel, t.c.language, t.c.customer_id)
    return _fetch_plain(engine, sa.select(*keys).where(*conditions(t, filters)).group_by(*keys))


def first_channel_language(engine: Engine, filters: Filters,
                           conversations: Iterable[str]) -> Dict[str, Tuple[str, Optional[str]]]:
    """conversation -> (channel of its first selected row, language of its first selected row with one).

    "First" is by time, then id. Only asked for conversations whose rows
    disagree on channel or language; for the others any row will do.
    """
    out: Dict[str, Tuple[str, Optional[str]]] = {}
    for chunk in _chunks(sorted(conversations)):
        t = TABLE.alias("t")
        query = (sa.select(t.c.conversation_id, t.c.channel, t.c.language)
                 .where(t.c.conversation_id.in_(chunk), *conditions(t, filters))
                 .order_by(t.c.conversation_id, t.c.occurred_at, t.c.id))
        for conversation, channel, language in _fetch(engine, query):
            first = out.setdefault(conversation, (channel, None))
            if first[1] is None and language:
                out[conversation] = (first[0], language)
    return out


def feedback_rows(engine: Engine, filters: Filters = Filters()) -> List[Dict[str, Any]]:
    """Rows whose intent or goal is give_feedback and whose entities mention a rating: the
    candidates for CSAT/NPS answers (`metrics.rating_of` decides, also that the actor is the customer)."""
    out: List[Dict[str, Any]] = []
    for by_intent in (True, False):  # two index lookups (intent, then goal) rather than a scan of all messages
        t = TABLE.alias("t")
        which = (t.c.intent == "give_feedback") if by_intent else \
            sa.and_(t.c.goal == "give_feedback", sa.or_(t.c.intent.is_(None), t.c.intent != "give_feedback"))
        entities = sa.cast(t.c.entities, sa.Text)
        query = (sa.select(t.c.channel, t.c.language, t.c.actor, t.c.intent, t.c.goal, entities, t.c.text)
                 .where(which, entities.like('%"rating"%'), *conditions(t, filters)))
        out += [{"channel": channel, "language": language, "actor": actor, "intent": intent, "goal": goal,
                 "entities": _as_list(entities) or [], "text": text}
                for channel, language, actor, intent, goal, entities, text in _fetch_plain(engine, query)]
    return out


def daily_cells(engine: Engine, filters: Filters = Filters()) -> List[Tuple[str, str, int, int, int]]:
    """(UTC day, channel, distinct conversations, customer rows, fallback customer rows)."""
    t = TABLE.alias("t")
    day = sa.func.substr(sa.cast(t.c.occurred_at, sa.Text), 1, 10)
    customer = t.c.actor == "customer"
    query = (sa.select(day, t.c.channel, sa.func.count(sa.distinct(t.c.conversation_id)),
                       sa.func.sum(sa.case((customer, 1), else_=0)),
                       sa.func.sum(sa.case((sa.and_(customer, t.c.fallback), 1), else_=0)))
             .where(*conditions(t, filters)).group_by(day, t.c.channel))
    return [(d, ch, int(n), int(m or 0), int(f or 0)) for d, ch, n, m, f in _fetch(engine, query)]
