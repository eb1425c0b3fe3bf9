"""SQL views over `touchpoints` for BI tools (documented in docs/metrics.md, text in docs/sql/views.sql).

The SQL is portable between SQLite and PostgreSQL: days are
`SUBSTR(CAST(occurred_at AS TEXT), 1, 10)`, JSON action lists are matched as
text, booleans through `CASE WHEN`. The stage order comes from journey.yml
when the views are created, so edit the journey, then run
`hamsafar analytics views` (or `hamsafar setup`) to refresh them. They belong to
analytics set-up: `bot.runtime.setup.prepare_database` creates them after the schema.
"""

from __future__ import annotations

import contextlib
from typing import List, Optional, Union

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.journey import Journey, load_journey

DAY = "SUBSTR(CAST(t.occurred_at AS TEXT), 1, 10)"
VIEW_NAMES = ("analytics_conversations", "analytics_stage_reached", "analytics_stage_funnel",
              "analytics_goal_outcomes", "analytics_daily_volume")


def _has(action: str, column: str = "t.actions") -> str:
    return f"CAST({column} AS TEXT) LIKE '%\"{action}\"%'"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def view_statements(journey: Optional[Journey] = None) -> List[str]:
    """CREATE VIEW statements, dependencies first."""
    journey = journey or load_journey()
    order = "CASE t.journey_stage " + " ".join(
        f"WHEN {_quote(s.name)} THEN {s.order + 1}" for s in journey.stages) + " END"
    return [
        f"""CREATE VIEW analytics_conversations AS
-- one row per conversation; unit_id = its customer, else the conversation itself
SELECT t.conversation_id,
       MIN(t.customer_id) AS customer_id,
       COALESCE(MIN(t.customer_id), 'conversation:' || t.conversation_id) AS unit_id,
       MIN(t.channel) AS channel,
       MIN(t.occurred_at) AS started_at,
       MAX(t.occurred_at) AS last_at,
       SUM(CASE WHEN t.actor = 'customer' THEN 1 ELSE 0 END) AS customer_messages,
       SUM(CASE WHEN t.actor = 'customer' AND t.fallback THEN 1 ELSE 0 END) AS fallbacks,
       MAX(CASE WHEN t.actor = 'system' AND {_has('handoff_started')} THEN 1 ELSE 0 END) AS had_handoff,
       MAX(CASE WHEN t.actor = 'agent' OR (t.actor = 'system' AND {_has('handoff_started')}) THEN 1 ELSE 0 END) AS had_human,
       SUM(CASE WHEN t.actor = 'system' AND {_has('goal_started')} THEN 1 ELSE 0 END) AS goals_started,
       SUM(CASE WHEN t.actor = 'system' AND {_has('goal_completed')} THEN 1 ELSE 0 END) AS goals_completed
FROM touchpoints t
GROUP BY t.conversation_id""",
        f"""CREATE VIEW analytics_stage_reached AS
-- first time each unit (customer, else conversation) sent a message in each journey stage
SELECT c.unit_id,
       t.journey_stage,
       {order} AS stage_order,
       MIN(t.occurred_at) AS first_reached_at,
       COUNT(*) AS customer_messages
FROM touchpoints t
JOIN analytics_conversations c ON c.conversation_id = t.conversation_id
WHERE t.actor = 'customer' AND t.journey_stage IS NOT NULL
GROUP BY c.unit_id, t.journey_stage""",
        """CREATE VIEW analytics_stage_funnel AS
-- units that reached each stage at all (no order, no window; `hamsafar analytics funnel` adds both)
SELECT r.journey_stage,
       r.stage_order,
       COUNT(*) AS units_reached,
       MIN(r.first_reached_at) AS first_reached_at,
       MAX(r.first_reached_at) AS last_reached_at
FROM analytics_stage_reached r
GROUP BY r.journey_stage, r.stage_order""",
        f"""CREATE VIEW analytics_goal_outcomes AS
-- goal transitions per UTC day, channel, language and goal
SELECT {DAY} AS day,
       t.channel,
       t.language,
       t.goal,
       SUM(CASE WHEN {_has('goal_started')} THEN 1 ELSE 0 END) AS started,
       SUM(CASE WHEN {_has('goal_completed')} THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN {_has('goal_failed')} THEN 1 ELSE 0 END) AS failed,
       SUM(CASE WHEN {_has('goal_abandoned')} THEN 1 ELSE 0 END) AS abandoned
FROM touchpoints t
WHERE t.actor = 'system' AND t.goal IS NOT NULL
GROUP BY {DAY}, t.channel, t.language, t.goal""",
        f"""CREATE VIEW analytics_daily_volume AS
-- activity per UTC day, channel and language
SELECT {DAY} AS day,
       t.channel,
       t.language,
       COUNT(DISTINCT t.conversation_id) AS conversations,
       COUNT(DISTINCT t.customer_id) AS customers,
       SUM(CASE WHEN t.actor = 'customer' THEN 1 ELSE 0 END) AS customer_messages,
       SUM(CASE WHEN t.actor = 'customer' AND t.fallback THEN 1 ELSE 0 END) AS fallbacks,
       SUM(CASE WHEN t.actor = 'system' AND {_has('handoff_started')} THEN 1 ELSE 0 END) AS handoffs_started,
       SUM(CASE WHEN t.actor = 'agent' THEN 1 ELSE 0 END) AS agent_messages,
       SUM(CASE WHEN t.actor = 'bot' THEN 1 ELSE 0 END) AS bot_initiated_messages
FROM touchpoints t
GROUP BY {DAY}, t.channel, t.language""",
    ]


def views_sql(journey: Optional[Journey] = None) -> str:
    """The text of docs/sql/views.sql."""
    head = ("-- Hamsafar analytics views over `touchpoints` (docs/metrics.md).\n"
            "-- Generated by `hamsafar analytics views --print` from journey.yml; portable SQLite/PostgreSQL.\n"
            "-- Created (dropped and re-created) by bot.analytics.views.create_views, called by `hamsafar setup` and `hamsafar analytics views`.\n\n")
    drops = "".join(f"DROP VIEW IF EXISTS {name};\n" for name in reversed(VIEW_NAMES))
    return head + drops + "\n" + "".join(s + ";\n\n" for s in view_statements(journey))


def create_views(bind: Union[Engine, Connection], journey: Optional[Journey] = None) -> None:
    """(Re)create the analytics views; needs the `touchpoints` table.

    Given a Connection, runs in its transaction; given an Engine, in a
    transaction of its own.
    """
    statements = view_statements(journey)
    with (contextlib.nullcontext(bind) if isinstance(bind, Connection) else bind.begin()) as conn:
        for name in reversed(VIEW_NAMES):
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))
        for statement in statements:
            conn.execute(sa.text(statement))
