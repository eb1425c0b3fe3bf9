"""Filters and row loading shared by every analytics command.

Metrics are computed in plain Python over the rows a filter selects, so the
same code gives the same answer on SQLite and PostgreSQL; the database only
does the filtering (indexed on `occurred_at`, `channel`, `language`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

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
    query = sa.select(*[TABLE.c[name] for name in COLUMNS])
    if filters.since:
        query = query.where(TABLE.c.occurred_at >= dt.datetime.combine(filters.since, dt.time()))
    if filters.until:
        query = query.where(TABLE.c.occurred_at < dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time()))
    if filters.channels:
        query = query.where(TABLE.c.channel.in_(list(filters.channels)))
    if filters.languages:
        query = query.where(TABLE.c.language.in_(list(filters.languages)))
    query = query.order_by(TABLE.c.occurred_at, TABLE.c.id)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["actions"] = _as_list(row["actions"]) or []
        row["entities"] = _as_list(row["entities"]) or []
        row["handoff"] = bool(row["handoff"])
        row["fallback"] = bool(row["fallback"])
    return rows
