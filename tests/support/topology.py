"""`hamsafar run --workers N` on a fresh PostgreSQL database and RabbitMQ queue, for bench/ scripts.

By default on the machine's services (or `HAMSAFAR_BENCH_*_URL`); a bench that restarts
them passes the URLs of private ones (tests.support.private_services)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

from tests.conftest import free_port
from tests.support.bot_server import BotServer

RABBITMQ_URL = os.environ.get("HAMSAFAR_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("HAMSAFAR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def postgres_base() -> str:
    return os.environ.get("HAMSAFAR_BENCH_POSTGRES_URL") or os.environ.get("HAMSAFAR_TEST_POSTGRES_URL") \
        or "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Running:
    """A started topology: its `hamsafar run` process, database and queue."""

    server: BotServer
    database_url: str
    queue: str
    rabbitmq_url: str = RABBITMQ_URL

    def pid(self, name: str) -> int:
        """The newest pid the supervisor announced for `name` ("Rasa worker 1", "action server", …)."""
        return int(re.findall(rf"\[hamsafar\] {re.escape(name)}: pid (\d+)", self.server.log_path.read_text(errors="replace"))[-1])

    def rss_mb(self, name: str) -> float:
        """Resident memory of a part, in MB (Linux /proc)."""
        for line in Path(f"/proc/{self.pid(name)}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def port(self, name: str) -> int:
        """The loopback port of "Rasa worker N"."""
        return int(re.findall(rf"{re.escape(name)}:\s+http://127\.0\.0\.1:(\d+)", self.server.log_path.read_text(errors="replace"))[-1])


@contextmanager
def topology(folder: Path, workers: int, extra_env: Optional[Dict[str, str]] = None, postgres: Optional[str] = None,
             redis_url: str = REDIS_URL, rabbitmq_url: str = RABBITMQ_URL) -> Iterator[Running]:
    """Start it (fresh database `hamsafar_bench_<id>`, queue of the same id); drop both afterwards.

    `postgres`: the server's base URL (a database on it is created), else `postgres_base()`."""
    import sqlalchemy as sa

    base = postgres or postgres_base()
    name = f"hamsafar_bench_{uuid.uuid4().hex[:10]}"
    # pre-ping: a fault bench restarts PostgreSQL between the CREATE and the DROP
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", future=True, pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    env = {"HAMSAFAR_JOURNEYS": "off", "HAMSAFAR_REDIS_URL": redis_url, "HAMSAFAR_RABBITMQ_URL": rabbitmq_url,
           "HAMSAFAR_RABBITMQ_QUEUE": name, **(extra_env or {})}
    database_url = base.rsplit("/", 1)[0] + "/" + name
    server = BotServer(database_url, free_port(), free_port(), folder / f"workers{workers}.log",
                       extra_env=env, extra_args=["--workers", str(workers)])
    try:
        yield Running(server.start(timeout_s=600), database_url, name, rabbitmq_url)
    finally:
        server.stop()
        from bot import settings

        shutil.rmtree(settings.STATE_DIR / f"topology-{server.port}", ignore_errors=True)   # nginx's files
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        delete_queue(name, rabbitmq_url)


def queue_messages(queue: str, url: str = RABBITMQ_URL) -> int:
    """Messages ready in the queue (passive declare: nothing is created)."""
    return queue_state(queue, url)[0]


def queue_state(queue: str, url: str = RABBITMQ_URL) -> Tuple[int, int]:
    """(messages ready, consumers) of the queue (passive declare: nothing is created)."""
    import aio_pika

    async def count() -> Tuple[int, int]:
        async with await aio_pika.connect(url) as connection:
            channel = await connection.channel()
            result = (await channel.declare_queue(queue, passive=True)).declaration_result
            return int(result.message_count or 0), int(result.consumer_count or 0)

    return asyncio.run(count())


def delete_queue(queue: str, url: str = RABBITMQ_URL) -> None:
    import aio_pika

    from bot.touchpoints.broker import exchange_name

    async def delete() -> None:
        async with await aio_pika.connect(url) as connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)
            await channel.exchange_delete(exchange_name(queue))

    asyncio.run(delete())
