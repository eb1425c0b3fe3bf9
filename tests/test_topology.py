"""The several-process topology (`hamsafar run --workers 2`) on real PostgreSQL, Redis, RabbitMQ and nginx.

One start for the module: nginx in front of two Rasa workers, the action server and
the touchpoint consumer, on a database and a RabbitMQ queue of this module's own.
Requests go through nginx; its access log (`<worker address> <status> <method> <path>`)
says which worker served each one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import PROJECT_ROOT, free_port, postgres_url
from tests.fakes.telegram_api import FakeTelegram, text_update

RABBITMQ_URL = os.environ.get("HAMSAFAR_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("HAMSAFAR_TEST_REDIS_URL")
NGINX = "/usr/sbin/nginx"
RUN = uuid.uuid4().hex[:10]
TELEGRAM_TOKEN = "7000001:topology-test-token"
TELEGRAM_SECRET = "topology-webhook-secret-0123456789"
AGENT_PASSWORD = "a long agent password of this test"
REPLY = "Mina here, how can I help?"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _why_skip() -> Optional[str]:
    if not list((PROJECT_ROOT / "models").glob("*.tar.gz")):
        return "no trained model: run `hamsafar setup` (scripts/test.sh does)"
    if not postgres_url():
        return "HAMSAFAR_TEST_POSTGRES_URL is not set (.ci/run sets it)"
    if not REDIS_URL:
        return "HAMSAFAR_TEST_REDIS_URL is not set (.ci/run sets it)"
    if not _reachable(RABBITMQ_URL, 5672):
        return f"no RabbitMQ at {urlsplit(RABBITMQ_URL).hostname}:{urlsplit(RABBITMQ_URL).port or 5672} (HAMSAFAR_TEST_RABBITMQ_URL)"
    if not os.access(NGINX, os.X_OK):
        return "nginx is not installed (Debian: nginx-light; scripts/test.sh installs it)"
    return None




@dataclass
class Topology:
    process: subprocess.Popen
    log_path: Path
    base_url: str
    database_url: str
    queue: str
    telegram: FakeTelegram
    access_log: Path
    worker_ports: List[int] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pid(self, name: str) -> int:
        """The newest pid the supervisor announced for `name` ("Rasa worker 1", "touchpoint consumer")."""
        found = re.findall(rf"\[hamsafar\] {re.escape(name)}: pid (\d+)", self.log())
        assert found, f"no pid announced for {name}"
        return int(found[-1])

    def access_lines(self) -> List[Tuple[str, str, str, str]]:
        """(worker address, status, method, path) of every request nginx finished."""
        lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
        return [tuple(line.split(" ", 3)) for line in lines if line.count(" ") >= 3]  # type: ignore[misc]

    def send(self, sender: str, text: str, timeout: float = 60) -> httpx.Response:
        return httpx.post(f"{self.base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=timeout)

    def send_logged(self, sender: str, text: str) -> Tuple[List[Dict[str, Any]], str]:
        """One message (nothing else in flight); the bot's messages and the worker that answered."""
        before = len(self.access_lines())
        reply = self.send(sender, text)
        assert reply.status_code == 200, reply.text
        deadline = time.monotonic() + 10
        while len(self.access_lines()) <= before and time.monotonic() < deadline:
            time.sleep(0.02)   # nginx logs a request just after answering it
        return reply.json(), self.access_lines()[before][0]


def _sql(url: str, statement: str, **params: Any) -> List[Any]:
    import sqlalchemy as sa

    engine = sa.create_engine(url, future=True)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def _customer_rows(topology: Topology, conversations: List[str]) -> Dict[str, int]:
    rows = _sql(topology.database_url, "SELECT conversation_id, count(*) FROM touchpoints WHERE actor = 'customer' "
                "AND conversation_id = ANY(:ids) GROUP BY conversation_id", ids=conversations)
    return {conversation: count for conversation, count in rows}


def _wait_rows(topology: Topology, expected: Dict[str, int], timeout_s: float = 60) -> Dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = _customer_rows(topology, list(expected))
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def _queue_messages(queue: str) -> int:
    """Messages ready in the queue (passive declare: the queue is not created or changed)."""
    import asyncio

    import aio_pika

    async def count() -> int:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            return int(declared.declaration_result.message_count or 0)

    return asyncio.run(count())


def _delete_queue(queue: str) -> None:
    import asyncio

    import aio_pika

    async def delete() -> None:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)
            await channel.exchange_delete(f"{queue}.events")

    asyncio.run(delete())


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    import sqlalchemy as sa

    reason = _why_skip()
    if reason:
        pytest.skip(reason)
    base = postgres_url() or ""
    name = f"hamsafar_topology_{RUN}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = base.rsplit("/", 1)[0] + "/" + name
    queue = f"hamsafar_test_{RUN}"
    folder = tmp_path_factory.mktemp("topology")
    port, actions_port = free_port(), free_port()
    telegram = FakeTelegram(TELEGRAM_TOKEN).start()
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false", "PYTHONUNBUFFERED": "1",
        "HAMSAFAR_DATABASE_URL": database_url, "HAMSAFAR_REDIS_URL": REDIS_URL or "",
        "HAMSAFAR_RABBITMQ_URL": RABBITMQ_URL, "HAMSAFAR_RABBITMQ_QUEUE": queue,
        "HAMSAFAR_JOURNEYS": "off",   # proactive journeys would message the demo shop's customers
        "HAMSAFAR_HANDOFF_HOURS": "always", "HAMSAFAR_HANDOFF_DAYS_OFF": "",
        "HAMSAFAR_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "HAMSAFAR_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "HAMSAFAR_TELEGRAM_API_BASE_URL": telegram.base_url,
        "HAMSAFAR_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/webhooks/hamsafar_telegram/webhook",
        "HAMSAFAR_BALE_TOKEN": "",
    }
    log_path = folder / "topology.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--skip-train", "--workers", "2",
             "--port", str(port), "--actions-port", str(actions_port)],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    from bot import settings

    topology = Topology(process, log_path, f"http://127.0.0.1:{port}", database_url, queue, telegram,
                        settings.STATE_DIR / f"topology-{port}" / "access.log")
    try:
        deadline = time.monotonic() + 400
        while "Hamsafar is running" not in topology.log():
            assert process.poll() is None, f"hamsafar run --workers 2 exited:\n{topology.log()[-4000:]}"
            assert time.monotonic() < deadline, f"not ready:\n{topology.log()[-4000:]}"
            time.sleep(0.5)
        topology.worker_ports = [int(p) for p in re.findall(r"Rasa worker \d:\s+http://127\.0\.0\.1:(\d+)", topology.log())]
        yield topology
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        telegram.stop()
        shutil.rmtree(topology.access_log.parent, ignore_errors=True)   # nginx's configuration, logs, pid
        from bot.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        _delete_queue(queue)


def test_refuses_without_shared_services(tmp_path: Path) -> None:
    """--workers 2 on SQLite would give every worker its own conversations: refused, saying what is missing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAMSAFAR_DATABASE", "HAMSAFAR_REDIS", "HAMSAFAR_RABBITMQ"))}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--skip-setup", "--workers", "2", "--port", str(free_port())],
                          cwd=PROJECT_ROOT, env={**env, "RASA_TELEMETRY_ENABLED": "false"}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    for variable in ("HAMSAFAR_DATABASE_URL", "HAMSAFAR_REDIS_URL", "HAMSAFAR_RABBITMQ_URL"):
        assert variable in done.stderr


def test_supervisor_restarts_a_part_that_exits_until_it_keeps_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    """restart=True: an exited part is started again (a new pid); one that exits MAX_RESTARTS times within
    the window stops everything, with its exit code. restart=False (one process): the first exit stops all."""
    from bot.runtime import supervisor as sup

    monkeypatch.setattr(sup, "RESTART_DELAY_S", 0.05)
    steady = sup.ManagedProcess("steady", [sys.executable, "-c", "import time; time.sleep(60)"], dict(os.environ), str(PROJECT_ROOT))
    flaky = sup.ManagedProcess("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"], dict(os.environ), str(PROJECT_ROOT),
                               restart=True)
    pids: List[int] = []
    original = sup.Supervisor._start

    def recording(self: Any, managed: Any) -> None:
        original(self, managed)
        if managed is flaky:
            pids.append(managed.pid)

    monkeypatch.setattr(sup.Supervisor, "_start", recording)
    supervisor = sup.Supervisor([steady, flaky])
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        supervisor.start()
        assert supervisor.wait() == 3
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    assert len(pids) == sup.MAX_RESTARTS + 1 and len(set(pids)) == len(pids)   # first start + restarts, each new
    assert steady.exit_code() is not None   # stopped with the rest

    once = sup.ManagedProcess("once", [sys.executable, "-c", "import sys; sys.exit(4)"], dict(os.environ), str(PROJECT_ROOT))
    other = sup.ManagedProcess("other", [sys.executable, "-c", "import time; time.sleep(60)"], dict(os.environ), str(PROJECT_ROOT))
    supervisor = sup.Supervisor([other, once])
    try:
        supervisor.start()
        assert supervisor.wait() == 4
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    assert other.exit_code() is not None


CONVERSATIONS = [f"topo-{RUN}-{i}" for i in range(6)]


def test_conversation_keeps_its_state_on_whichever_worker_answers(topology: Topology) -> None:
    """Consecutive messages land on either worker; the order-tracking form carries on regardless."""
    workers_seen: Dict[str, List[str]] = {}
    for sender in CONVERSATIONS:
        for text in ("hi", "I want to track my order", "ORD-1001"):
            messages, worker = topology.send_logged(sender, text)
            workers_seen.setdefault(sender, []).append(worker)
        # only inside the form (its phone question) is an order number "not a valid mobile number"
        assert "valid mobile number" in " ".join(m.get("text", "") for m in messages), (sender, messages)
    assert set(w for ws in workers_seen.values() for w in ws) == {f"127.0.0.1:{p}" for p in topology.worker_ports}
    assert any(len(set(ws)) > 1 for ws in workers_seen.values()), workers_seen


def test_every_message_is_one_touchpoint(topology: Topology) -> None:
    """The consumer writes one customer row per message, none twice, and leaves the queue empty."""
    expected = {f"rest:{sender}": 3 for sender in CONVERSATIONS}
    assert _wait_rows(topology, expected) == expected
    assert _queue_messages(topology.queue) == 0
    assert _customer_rows(topology, list(expected)) == expected   # nothing more arrived after the queue emptied


def test_telegram_update_through_nginx_is_processed_once(topology: Topology) -> None:
    """Telegram delivers an update again (no answer in time): whichever worker gets it, it is not processed twice."""
    chat = 880000 + int(RUN[:4], 16)
    update = text_update(91000001, "hi", chat_id=chat, user_id=chat, language_code="en")
    assert topology.telegram.push(update, timeout=60).status_code == 200
    first = [m for m in topology.telegram.wait_for("sendMessage", 1, timeout=60) if str(m.get("chat_id")) == str(chat)]
    assert first
    for _ in range(3):   # the platform's retries, each to a worker nginx picks
        assert topology.telegram.push(update, timeout=60).status_code == 200
    expected = {f"tg:{chat}": 1}
    assert _wait_rows(topology, expected) == expected
    assert _queue_messages(topology.queue) == 0
    assert _customer_rows(topology, list(expected)) == expected
    assert len([m for m in topology.telegram.sent() if str(m.get("chat_id")) == str(chat)]) == len(first)


def _read_stream(url: str, cookies: Dict[str, str], got: List[Dict[str, Any]], until: str, timeout: float = 60) -> None:
    """Collect the event stream's messages until one whose text is `until` arrives."""
    current: Dict[str, Any] = {}
    with httpx.stream("GET", url, cookies=cookies, timeout=timeout) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line[6:].startswith("{"):
                current = json.loads(line[6:])
            elif line == "" and current:
                got.append(current)
                if current.get("text") == until:
                    return
                current = {}


def test_widget_is_sticky_and_the_agent_console_works_on_every_worker(topology: Topology) -> None:
    """The widget's requests all reach one worker (cookie hash); the console's spread over both, and an agent's
    reply from either reaches the customer's live stream."""
    from bot.handoff import service

    web = httpx.Client(base_url=f"{topology.base_url}/webhooks/web", timeout=60)
    assert web.post("/session", json={"lang": "en"}).status_code == 200
    cookies = dict(web.cookies)
    assert "hamsafar_web" in cookies
    got: List[Dict[str, Any]] = []
    reader = threading.Thread(target=_read_stream, args=(f"{topology.base_url}/webhooks/web/events?after=0", cookies, got, REPLY))
    reader.start()
    for text in ("hi", "talk to a human"):
        assert web.post("/messages", json={"text": text}).status_code == 200

    previous = os.environ.get("HAMSAFAR_DATABASE_URL")
    os.environ["HAMSAFAR_DATABASE_URL"] = topology.database_url
    try:
        service.create_agent(f"mina{RUN}", AGENT_PASSWORD, "agent", "Mina")
    finally:
        if previous is None:
            os.environ.pop("HAMSAFAR_DATABASE_URL")
        else:
            os.environ["HAMSAFAR_DATABASE_URL"] = previous
        from bot.db import dispose_engines

        dispose_engines()
    console = httpx.Client(base_url=f"{topology.base_url}/webhooks/handoff/", timeout=60)
    login = console.post("api/login", json={"login": f"mina{RUN}", "password": AGENT_PASSWORD})
    assert login.status_code == 200
    console.headers["X-CSRF-Token"] = login.json()["csrf"]
    for _ in range(16):   # the console's session is in the database: every worker knows it
        assert console.get("api/me").status_code == 200
    queue = console.get("api/queue").json()["queue"]
    mine = [h for h in queue if h["status"] == "waiting" and str(h.get("conversation_id", "")).startswith("web:")]
    assert len(mine) == 1, queue
    assert console.post(f"api/handoffs/{mine[0]['id']}/claim").status_code == 200
    assert console.post(f"api/handoffs/{mine[0]['id']}/reply", json={"text": REPLY}).status_code == 200
    reader.join(60)
    senders = [m.get("sender") for m in got]
    assert "customer" in senders and "bot" in senders, got
    assert got[-1]["text"] == REPLY and got[-1]["sender"] == "agent", got

    lines = topology.access_lines()
    widget = {worker for worker, _, _, path in lines if path.startswith("/webhooks/web/") and not path.endswith("/session")}
    assert len(widget) == 1, lines   # messages and the event stream: one worker
    console_workers = {worker for worker, _, _, path in lines if path.startswith("/webhooks/handoff/api/")}
    assert len(console_workers) == 2, lines


def _traffic(topology: Topology, senders: List[str], stop: threading.Event, results: List[Tuple[str, int, float]],
             new_conversations: bool = False) -> None:
    """A customer per sender, one message after another, until `stop` (`new_conversations`: a new one each time)."""
    turn = 0
    while not stop.is_set():
        for name in senders:
            sender = f"{name}-{turn}" if new_conversations else name
            try:
                status = topology.send(sender, "hi" if turn % 2 == 0 else "what are your shipping options?", timeout=30).status_code
            except httpx.HTTPError:
                status = 0
            results.append((sender, status, time.monotonic()))
        turn += 1


def test_killed_consumer_loses_no_touchpoint(topology: Topology) -> None:
    """SIGKILL of the touchpoint consumer while customers write: after its restart every message is one row."""
    stop, results = threading.Event(), []
    senders = [f"consumer-{RUN}-{i}" for i in range(3)]
    threads = [threading.Thread(target=_traffic, args=(topology, [s], stop, results)) for s in senders]
    for thread in threads:
        thread.start()
    while len(results) < 6:
        time.sleep(0.05)
    victim = topology.pid("touchpoint consumer")
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while topology.pid("touchpoint consumer") == victim and time.monotonic() < deadline:
        time.sleep(0.1)
    restarted_at = time.monotonic()
    while len([r for r in results if r[2] > restarted_at]) < 6 and time.monotonic() < deadline:
        time.sleep(0.1)   # customers write on while the new consumer starts and catches up
    stop.set()
    for thread in threads:
        thread.join(60)
    assert topology.pid("touchpoint consumer") != victim
    answered = {f"rest:{s}": len([r for r in results if r[0] == s and r[1] == 200]) for s in senders}
    assert all(status == 200 for _, status, _ in results), results
    assert _wait_rows(topology, answered) == answered
    assert _queue_messages(topology.queue) == 0
    assert _customer_rows(topology, list(answered)) == answered


def test_killed_worker_is_restarted_and_customers_keep_getting_answers(topology: Topology) -> None:
    """SIGKILL of a Rasa worker in mid-traffic: nginx sends later messages to the other worker; the supervisor
    starts a new worker 1.

    Each message is a new conversation: one whose message the killed worker was handling keeps its Redis lock
    until the lock's lifetime ends (Rasa's ticket lock, 60 s), and its next message waits that long
    (docs/deploy.md)."""
    stop, results = threading.Event(), []
    senders = [f"kill-{RUN}-{i}" for i in range(3)]
    threads = [threading.Thread(target=_traffic, args=(topology, [s], stop, results, True)) for s in senders]
    for thread in threads:
        thread.start()
    while len(results) < 6:
        time.sleep(0.05)
    victim = topology.pid("Rasa worker 1")
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    deadline = time.monotonic() + 60
    while len([r for r in results if r[2] > killed_at]) < 12 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(60)
    after = [status for _, status, at in results if at > killed_at]
    # at most the one message each customer had in flight on the killed worker fails; every later one is answered
    failures = [s for s in after if s != 200]
    assert len(after) >= 12 and len(failures) <= len(senders), after
    for sender in senders:
        mine = [status for s, status, at in results if s.startswith(sender + "-") and at > killed_at]
        assert mine[-1] == 200, (sender, mine)
    restarted = "Rasa worker 1 exited with code -9; restarting it." in topology.log()
    deadline = time.monotonic() + 10
    while topology.pid("Rasa worker 1") == victim and time.monotonic() < deadline:
        time.sleep(0.2)
    assert restarted and topology.pid("Rasa worker 1") != victim
    os.kill(topology.pid("Rasa worker 1"), 0)   # running
