"""What a database round trip costs with and without a connection pool, same run.

SQLAlchemy 1.4 gives a SQLite file `NullPool` (Rasa's SQL tracker store and, before
issue 16, `bot.db`): every read and save opened the file, set its pragmas and closed
it. `bot.db.create_pooled_engine` keeps connections in a `QueuePool` (with pre-ping on
PostgreSQL). This prints, per database, the median time of

* a `bot.db`-style query (`SELECT 1` in a session) on an engine without a pool and on ours;
* a tracker-store read and save of a ten-message conversation (the save finds nothing
  new: a count and a commit) with Rasa's `SQLTrackerStore` on the engine Rasa makes and
  on a pooled one (what `bot.stores.WindowedSQLTrackerStore` does),

and the ratio (medians, the two called alternately). PostgreSQL is measured when `--postgres-url` (or HAMSAFAR_TEST_POSTGRES_URL)
names a server; a scratch database is created there and dropped.

    .venv/bin/python bench/db_pool.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import create_pooled_engine  # noqa: E402


def compare(before: Callable[[], Any], after: Callable[[], Any], repeat: int) -> tuple:
    """Median milliseconds of each, called alternately (the machine's load hits both alike)."""
    samples: tuple = ([], [])
    for _ in range(2):
        before(), after()
    for _ in range(repeat):
        for fn, into in ((before, samples[0]), (after, samples[1])):
            started = time.perf_counter()
            fn()
            into.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


def query_cost(url: str, repeat: int) -> tuple:
    unpooled = sa.create_engine(url, poolclass=NullPool, future=True)
    pooled = create_pooled_engine(url)

    def query(engine: sa.engine.Engine) -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1")).all()

    try:
        return compare(lambda: query(unpooled), lambda: query(pooled), repeat)
    finally:
        unpooled.dispose()
        pooled.dispose()


def tracker_turn_cost(url: str, repeat: int) -> tuple:
    """Rasa's `SQLTrackerStore` with the engine it makes, then with `create_pooled_engine`'s."""
    from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from sqlalchemy.orm import sessionmaker

    domain = Domain.load(str(ROOT / "domain.yml"))

    async def turn(store: Any, sender: str) -> None:
        tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
        for event in (UserUttered("hi", {"name": "greet", "confidence": 1.0}), ActionExecuted("utter_greet"),
                      BotUttered("hello"), ActionExecuted("action_listen")):
            tracker.update(event)
        await store.save(tracker)

    async def read_and_save(store: Any, sender: str) -> None:
        await store.save(await store.retrieve(sender))

    loop = asyncio.new_event_loop()
    stores = []
    try:
        for pooled in (False, True):
            store = SQLTrackerStore(domain=domain, host=url)
            if pooled:
                store.engine.dispose()
                store.engine = create_pooled_engine(store.engine.url, future=False, **create_engine_kwargs(url))
                store.sessionmaker = sessionmaker(bind=store.engine)
            sender = f"bench-{uuid.uuid4().hex[:8]}"
            for _ in range(10):   # a ten-message conversation, read and saved (nothing new) per call
                loop.run_until_complete(turn(store, sender))
            stores.append((store, sender))
        (rasa, rasa_sender), (ours, our_sender) = stores
        return compare(lambda: loop.run_until_complete(read_and_save(rasa, rasa_sender)),
                       lambda: loop.run_until_complete(read_and_save(ours, our_sender)), repeat)
    finally:
        for store, _ in stores:
            store.engine.dispose()
        loop.close()


def scratch_postgres(base: str) -> Iterator[str]:
    name = f"hamsafar_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--postgres-url", default=os.environ.get("HAMSAFAR_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    print(f"{'database':12} {'what':36} {'before ms':>11} {'pooled ms':>10} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}")]
        scratch: Optional[Iterator[str]] = scratch_postgres(args.postgres_url) if args.postgres_url else None
        if scratch is not None:
            urls.append(("postgresql", next(scratch)))
        try:
            for name, url in urls:
                for label, measure in (("SELECT 1 (bot.db)", query_cost),
                                       ("tracker read+save (SQLTrackerStore)", tracker_turn_cost)):
                    before, after = measure(url, args.repeat)
                    print(f"{name:12} {label:36} {before:11.2f} {after:10.2f} {after / before:6.2f}", flush=True)
        finally:
            if scratch is not None:
                next(scratch, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
