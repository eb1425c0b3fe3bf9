"""Writing touchpoint rows: idempotent batch inserts (the recorder, the consumer, journeys, the simulator)."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.touchpoints import queries
from bot.touchpoints.models import Touchpoint

TABLE = Touchpoint.__table__


# Bound parameters per INSERT statement: under SQLite's 32766 and PostgreSQL's 65535.
MAX_PARAMETERS = 30_000


def _full_rows(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every row with the same keys (a multi-row VALUES needs that); gaps get the column default."""
    keys = [c.name for c in TABLE.columns if any(c.name in r for r in rows)]
    defaults = {c.name: (c.default.arg if c.default is not None and c.default.is_scalar else None) for c in TABLE.columns}
    return [{k: r.get(k, defaults[k]) for k in keys} for r in rows]


def insert_rows(engine: Engine, rows: List[Dict[str, Any]]) -> int:
    """Insert `rows`, skipping any whose `event_id` is already stored; one transaction.

    Returns how many rows were really inserted (`insert_rows_in`)."""
    if not rows:
        return 0
    with engine.begin() as conn:
        return insert_rows_in(conn, rows)


def insert_rows_in(conn: Connection, rows: List[Dict[str, Any]]) -> int:
    """`insert_rows` inside the caller's transaction (a journey writes its row with its own state change).

    Returns how many rows were really inserted. Each page is one multi-row
    `INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING`, whose rowcount is exact:
    an executemany's is not on PostgreSQL (psycopg2 pages it with
    execute_values and reports the last page only).
    """
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - other databases: filter known ids first
        known = set(conn.execute(sa.select(TABLE.c.event_id).where(TABLE.c.event_id.in_([r["event_id"] for r in rows]))).scalars())
        rows = [r for r in rows if r["event_id"] not in known]
        if rows:
            conn.execute(TABLE.insert(), rows)
        return len(rows)
    rows = _full_rows(rows)
    page = max(1, MAX_PARAMETERS // len(rows[0]))
    inserted = 0
    for start in range(0, len(rows), page):
        statement = insert(TABLE).values(rows[start:start + page]).on_conflict_do_nothing(index_elements=["event_id"])
        inserted += max(conn.execute(statement).rowcount or 0, 0)
    return inserted


def last_state(engine: Engine, conversation_id: str) -> Optional[Dict[str, Any]]:
    """The conversation state carried by its newest row (seeds a fresh recorder); None if it has none."""
    with engine.connect() as conn:
        return queries.conversation_state(conn, conversation_id) or None


def count_rows(engine: Engine, **filters: Any) -> int:
    query = sa.select(sa.func.count()).select_from(TABLE)
    for name, value in filters.items():
        query = query.where(TABLE.c[name] == value)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def rows_for(engine: Engine, conversation_id: str) -> List[Dict[str, Any]]:
    query = sa.select(TABLE).where(TABLE.c.conversation_id == conversation_id).order_by(TABLE.c.occurred_at, TABLE.c.id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def all_event_ids(engine: Engine) -> Iterable[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(TABLE.c.event_id)).scalars())
