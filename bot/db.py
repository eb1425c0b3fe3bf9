"""One SQLAlchemy engine and declarative base for all of Hamsafar's tables.

Every module (crm, touchpoints, handoff, ...) declares its models on `Base`
and may register ordered schema migrations with `register_migration`; the
`schema_migrations` table records which ran, so `create_schema` both creates a
new database and upgrades an old one. This module imports no Hamsafar module
but settings: the list of model modules and the start-up of a process
(`init_db`, `engine`) are `bot.schema`'s, one layer up.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

from bot import settings

Base = declarative_base()

_engines: Dict[str, Engine] = {}
_lock = threading.Lock()
_init_lock = threading.RLock()
_PG_INIT_LOCK_KEY = 0x48414D53  # "HAMS": one schema set-up at a time per database


@dataclass(frozen=True)
class Migration:
    """A schema change after a table was first released: `upgrade` runs once."""

    module: str
    version: int
    upgrade: Callable[[Connection], None]


_migrations: List[Migration] = []

schema_migrations = sa.Table(
    "schema_migrations",
    Base.metadata,
    sa.Column("module", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime, server_default=sa.func.now()),
)


def register_migration(module: str, version: int) -> Callable:
    """Decorator: register `fn(connection)` as migration `version` of `module`."""

    def wrap(fn: Callable[[Connection], None]) -> Callable[[Connection], None]:
        _migrations.append(Migration(module, version, fn))
        return fn

    return wrap


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """WAL and a busy timeout let the Rasa and action servers share one file.

    `synchronous=NORMAL` is SQLite's recommended setting under WAL: a commit no longer
    waits for the disk (fsync) — 0.27 ms -> 0.02 ms per commit here, several commits per
    message, on the event loop. A crashed process loses nothing and the file is never
    corrupted; only a power loss or OS crash can undo the last commits (PostgreSQL is the
    production store, docs/deploy.md)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_pooled_engine(url: Union[str, URL], future: bool = True, **kwargs: Any) -> Engine:
    """An engine that keeps its connections open between queries.

    SQLAlchemy 1.4 gives a SQLite file `NullPool`: every query opened the file,
    ran the pragmas below and closed it again. A file database gets a `QueuePool`
    (SQLAlchemy 2's default) instead; PostgreSQL keeps its `QueuePool` and checks
    a connection that sat unused for over `IDLE_BEFORE_PING_S` before handing it out
    (`_ping_if_idle`), so a server restarted during a quiet moment costs a reconnect,
    not a failed message. `kwargs` go to `create_engine` (Rasa's pool sizes).
    """
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"check_same_thread": False, "timeout": 10}
        if parsed.database and parsed.database != ":memory:":
            kwargs.setdefault("poolclass", sa.pool.QueuePool)
        engine = sa.create_engine(url, future=future, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = sa.create_engine(url, future=future, **kwargs)
    event.listen(engine, "checkin", _note_idle_since)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


# A pooled connection unused for longer than this is pinged before it is handed out.
# SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip, and PostgreSQL's
# work, 3-4 times per message on the Rasa server's event loop (issue 16). Under load a
# connection is reused within milliseconds; one the server closed during a restart while
# it was in use fails its query like any other query of that moment, and SQLAlchemy then
# invalidates the pool's connections.
IDLE_BEFORE_PING_S = 1.0


def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Pool `checkout`: ping a connection idle for a while; a dead one is replaced by the pool
    (`DisconnectionError` is SQLAlchemy's signal to discard it and connect again)."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING_S:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except Exception as error:  # noqa: BLE001 - whatever the driver raises for a closed socket
        raise sa.exc.DisconnectionError(str(error)) from error
    if alive is False:
        raise sa.exc.DisconnectionError("the database did not answer a ping")


def get_engine(url: Optional[str] = None) -> Engine:
    """The process-wide engine for `url` (default: `settings.database_url()`)."""
    url = url or settings.database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_pooled_engine(url)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests and shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """For a SQLite file, an exclusive lock on `<file>.init-lock` (other processes wait).

    pysqlite runs DDL outside transactions, so SQLite itself cannot serialise
    two processes creating the schema; PostgreSQL uses an advisory lock instead.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.init-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def create_schema(url: Optional[str] = None) -> Engine:
    """Create the missing tables of every model imported on `Base` and run pending migrations.

    Safe to call repeatedly. Call `bot.schema.init_db`, which imports every model module
    first; this function knows only the models that happen to be imported."""
    engine = get_engine(url)
    # Threads of one process (channels, action server) and several server
    # processes on one PostgreSQL may all start at once: create tables and
    # migrate one at a time, or two of them race to CREATE the same table.
    with _init_lock, _sqlite_file_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_INIT_LOCK_KEY})
        Base.metadata.create_all(conn)
        done = {(m, v) for m, v in conn.execute(sa.select(schema_migrations.c.module, schema_migrations.c.version))}
        for migration in sorted(_migrations, key=lambda m: (m.module, m.version)):
            if (migration.module, migration.version) not in done:
                migration.upgrade(conn)
                conn.execute(schema_migrations.insert().values(module=migration.module, version=migration.version))
    return engine


_sessionmakers: Dict[str, sessionmaker] = {}


@contextlib.contextmanager
def session_scope(url: Optional[str] = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    engine = get_engine(url)
    key = str(engine.url)
    maker = _sessionmakers.get(key)
    if maker is None:
        maker = _sessionmakers[key] = sessionmaker(bind=engine, future=True, expire_on_commit=False)
    session = maker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
