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


def test_the_engine_accessor_initialises_once_per_engine(sqlite_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Library code calls `bot.schema.engine` per message: the schema work runs once per engine,
    however many threads ask at once, and again for a new engine after `dispose_engines`."""
    from bot import db, schema

    runs: List[str] = []
    create_schema = db.create_schema

    def counted(url=None):  # type: ignore[no-untyped-def]
        runs.append(url)
        return create_schema(url)

    monkeypatch.setattr(db, "create_schema", counted)
    barrier = threading.Barrier(8)
    engines: List[sa.engine.Engine] = []

    def ask() -> None:
        barrier.wait()
        engines.append(schema.engine(sqlite_url))

    workers = [threading.Thread(target=ask) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert runs == [sqlite_url] and len({id(e) for e in engines}) == 1
    with schema.session(sqlite_url) as session:  # the tables are there
        assert session.execute(sa.text("SELECT COUNT(*) FROM web_sessions")).scalar() == 0
    db.dispose_engines()
    schema.engine(sqlite_url)
    assert runs == [sqlite_url, sqlite_url]
    db.dispose_engines()


def test_cli_commands_that_write_the_database_initialise_it_at_start(sqlite_url: str) -> None:
    """`uses_database` is set on every command with `--database-url` but the read-only analytics
    reports, and `main` creates the schema before such a command runs."""
    import argparse

    from bot.cli import build_parser, main

    def leaves(parser: argparse.ArgumentParser, path: str = ""):  # type: ignore[no-untyped-def]
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield path.strip(), parser
        for action in subs:
            for name, child in action.choices.items():
                yield from leaves(child, f"{path} {name}")

    commands = dict(leaves(build_parser()))
    with_url = {name for name, parser in commands.items()
                if any("--database-url" in a.option_strings for a in parser._actions)}
    initialising = {name for name, parser in commands.items() if parser.get_default("uses_database")}
    read_only = {name for name in with_url if name.startswith(("analytics", "report"))}
    assert "crm import" in initialising and "erase" in initialising
    no_database = {"journeys list"}  # checks orchestration.yml only (the option is common to `journeys`)
    assert with_url - read_only - no_database - {"analytics views"} <= initialising
    assert not read_only & initialising and "simulate" in initialising  # simulate writes touchpoints
    assert main(["touchpoints", "drop-old-text", "--days", "30", "--database-url", sqlite_url]) == 0
    with get_engine(sqlite_url).connect() as conn:
        assert {"touchpoints", "customers", "journey_entries"} <= set(sa.inspect(conn).get_table_names())


def test_a_sqlite_file_is_shared_in_wal_without_waiting_for_the_disk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every pooled connection to a file: WAL (two servers share it), a busy timeout, and
    synchronous=NORMAL (1), so a commit does not fsync."""
    from bot.db import create_pooled_engine

    engine = create_pooled_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    engine.dispose()


def test_postgres_connections_are_pinged_only_after_sitting_idle(fresh_postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    """No round trip before every query under load; a connection the server closed while it
    sat idle is replaced at checkout, not failed on the customer's query."""
    import time

    from bot import db

    engine = db.create_pooled_engine(fresh_postgres_url)
    pings: List[int] = []
    ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda connection: (pings.append(1), ping(connection))[1]  # type: ignore[method-assign]
    for _ in range(5):   # back-to-back use: one connection, never pinged
        with engine.connect() as conn:
            backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    assert pings == []

    admin = sa.create_engine(fresh_postgres_url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:   # the server ends the pooled connection's backend
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar()
    admin.dispose()
    time.sleep(db.IDLE_BEFORE_PING_S + 0.1)
    with engine.connect() as conn:
        after = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    assert pings == [1] and after != backend
    engine.dispose()
