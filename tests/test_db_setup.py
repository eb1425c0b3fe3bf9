"""Schema set-up (bot.schema.init_db) when many threads and processes start at once.

Channels, the action server and several Rasa processes may all create the
schema on a fresh database together; none of them may fail with "table already
exists" or a duplicate migration row.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import List

import sqlalchemy as sa

from bot.db import get_engine
from bot.schema import init_db


def _init_from_threads(url: str, threads: int = 6) -> List[str]:
    errors: List[str] = []

    def run() -> None:
        try:
            init_db(url)
        except Exception as error:  # noqa: BLE001 - collected and asserted on
            errors.append(repr(error))

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def _check_concurrent_set_up(url: str) -> None:
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        errors = pool.map(_init_from_threads, [url, url])
    assert errors == [[], []]
    with get_engine(url).connect() as conn:
        rows = conn.execute(sa.text("SELECT module, version, COUNT(*) FROM schema_migrations GROUP BY module, version")).all()
        tables = set(sa.inspect(conn).get_table_names())
    assert rows and all(count == 1 for _, _, count in rows)
    assert {"touchpoints", "customers", "orders", "verified_identities"} <= tables


def test_concurrent_set_up_on_sqlite(sqlite_url: str) -> None:
    _check_concurrent_set_up(sqlite_url)


def test_concurrent_set_up_on_postgresql(fresh_postgres_url: str) -> None:
    _check_concurrent_set_up(fresh_postgres_url)
