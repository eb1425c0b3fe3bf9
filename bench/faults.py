"""Faults under load: what customers see when parts of `hamsafar run --workers 2` die or restart.

Starts private PostgreSQL, Redis and RabbitMQ servers on free ports, files in a temporary
folder (tests.support.private_services: the machine's own services on 5432/6379/5672 are
shared with other work and are never touched), then the several-process topology on them
(nginx, two Rasa workers, action server, touchpoint consumer; docs/deploy.md), and drives
it with customers at human pace over the REST channel through nginx. One after another it

* SIGKILLs a Rasa worker, the action server and the touchpoint consumer (the supervisor
  starts each again), then
* restarts PostgreSQL (`pg_ctl stop -m fast`), Redis (SIGTERM; its locks are gone) and
  RabbitMQ (`rabbitmqctl stop`), each kept down `--down` seconds, then started again on
  the same port with the same data.

Prints, per fault, the requests during it and after, the errors customers saw (non-200
answers, with their statuses), when the last of them came, and the seconds until the part
was back (a killed part: its successor answers; a restarted service: it listens again and
a probe message is answered, and for RabbitMQ the consumer reads the queue again). At the
end: touchpoints lost (customer messages stored in the tracker without a touchpoint row,
each with the fault it followed) or duplicated, and conversations that lost state (fewer
stored messages than answered).

    .venv/bin/python bench/faults.py                  # 20 customers, 25 s between faults, 5 s down
    .venv/bin/python bench/faults.py --only postgres,redis,rabbitmq --down 10

Only processes this script started are killed or stopped. Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.private_services import PrivateServices  # noqa: E402
from tests.support.topology import Running, queue_messages, queue_state, topology  # noqa: E402

MESSAGES = ["سلام", "how much is the galaxy a55?", "روش‌های ارسال چیه؟", "what payment methods do you take?",
            "do you sell air fryers?", "ممنون", "show me your laptops", "گارانتی گوشی ها چند ماهه؟"]


@dataclass
class Traffic:
    """Every request: (conversation, HTTP status or 0, monotonic time it ended)."""

    results: List[Tuple[str, int, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    kills: List[Tuple[str, float]] = field(default_factory=list)   # (fault, wall time it began)


async def customer(client: httpx.AsyncClient, url: str, sender: str, think_s: float, traffic: Traffic) -> None:
    for text in MESSAGES * 1000:
        if traffic.stop.is_set():
            return
        try:
            status = (await client.post(url, json={"sender": sender, "message": text}, timeout=90)).status_code
        except httpx.HTTPError:
            status = 0
        traffic.results.append((sender, status, time.monotonic()))
        await asyncio.sleep(random.uniform(0.5 * think_s, 1.5 * think_s))


def drive(url: str, customers: int, think_s: float, traffic: Traffic, run: str) -> None:
    async def main() -> None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=customers + 5)) as client:
            await asyncio.gather(*(customer(client, url, f"faults-{run}-{i}", think_s, traffic) for i in range(customers)))

    asyncio.run(main())


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - loopback
            return 200 <= reply.status < 300
    except OSError:
        return False


def probe(url: str, sender: str) -> bool:
    """One message from a conversation of its own is answered (200)."""
    try:
        return httpx.post(url, json={"sender": sender, "message": "سلام"}, timeout=30).status_code == 200
    except httpx.HTTPError:
        return False


def time_fault(name: str, act: Callable[[], None], healthy: Callable[[], bool], traffic: Traffic,
               settle_s: float) -> Dict[str, object]:
    """Run the fault `act`; seconds until `healthy()`; what customers got from its start until `settle_s` after."""
    began = time.monotonic()
    traffic.kills.append((name, time.time()))
    act()
    while not healthy():
        if time.monotonic() - began > 300:
            break
        time.sleep(0.2)
    recovered = time.monotonic() - began
    time.sleep(settle_s)
    window = [(status, at) for _, status, at in traffic.results if at > began]
    failed = [(status, at) for status, at in window if status != 200]
    statuses = collections.Counter(str(status or "no answer") for status, _ in failed)
    return {"recover_s": recovered, "requests": len(window), "errors": len(failed),
            "last_error_s": (max(at for _, at in failed) - began) if failed else None,
            "statuses": ", ".join(f"{code}×{count}" for code, count in sorted(statuses.items()))}


def sigkill(running: Running, name: str) -> Tuple[Callable[[], None], Callable[[], bool]]:
    """SIGKILL a part; (the act, the test that a successor is running) — combined with a health check."""
    victim = running.pid(name)
    return (lambda: os.kill(victim, signal.SIGKILL)), (lambda: running.pid(name) != victim)


def stored(running: Running, senders: List[str]) -> Tuple[List[Tuple[str, float]], List[Tuple[str, float]]]:
    """(conversation, time) of every customer message in the tracker store, and of every customer touchpoint row."""
    import sqlalchemy as sa

    engine = sa.create_engine(running.database_url, future=True)
    ids = [f"rest:{s}" for s in senders]
    with engine.connect() as conn:
        messages = [(c, float(t)) for c, t in conn.execute(sa.text(
            "SELECT sender_id, timestamp FROM events WHERE type_name = 'user' AND sender_id = ANY(:ids)"), {"ids": ids})]
        rows = [(c, t.replace(tzinfo=dt.timezone.utc).timestamp()) for c, t in conn.execute(sa.text(
            "SELECT conversation_id, occurred_at FROM touchpoints WHERE actor = 'customer' AND conversation_id = ANY(:ids)"),
            {"ids": ids})]
    engine.dispose()
    return messages, rows


def match(messages: List[Tuple[str, float]], rows: List[Tuple[str, float]],
          tolerance_s: float = 0.002) -> Tuple[List[Tuple[str, float]], List[Tuple[str, float]]]:
    """(stored messages without a customer row, rows beyond one per message).

    A row's time is the message's, through a datetime (microseconds): compared within
    `tolerance_s`, not by rounding both (a rounding boundary between them counted a row lost)."""
    left: Dict[str, List[float]] = {}
    for conversation, at in rows:
        left.setdefault(conversation, []).append(at)
    missing = []
    for conversation, at in sorted(messages, key=lambda m: m[1]):
        times = left.get(conversation, [])
        nearest = min(range(len(times)), key=lambda i: abs(times[i] - at), default=None)
        if nearest is None or abs(times[nearest] - at) > tolerance_s:
            missing.append((conversation, at))
        else:
            times.pop(nearest)
    return missing, sorted(((c, at) for c, times in left.items() for at in times), key=lambda r: r[1])


def after_which(kills: List[Tuple[str, float]], at: float) -> str:
    """The last fault before wall time `at` (or 'before any fault')."""
    previous = [f"{name} +{at - when:.1f}s" for name, when in kills if when <= at]
    return previous[-1] if previous else "before any fault"


FAULTS = ("worker", "actions", "consumer", "postgres", "redis", "rabbitmq")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--think", type=float, default=2.0, help="seconds between a customer's messages (mean)")
    parser.add_argument("--settle", type=float, default=25.0, help="seconds of load between faults")
    parser.add_argument("--down", type=float, default=5.0, help="seconds a restarted service stays stopped")
    parser.add_argument("--only", default=",".join(FAULTS), help=f"faults to run, in this order: {','.join(FAULTS)}")
    parser.add_argument("--keep-log", type=Path, help="copy the topology's log (every part's output) to this file")
    args = parser.parse_args()
    chosen = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = set(chosen) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    run = f"{random.randrange(16**6):06x}"
    with tempfile.TemporaryDirectory() as tmp:
        services = PrivateServices(Path(tmp))
        try:
            services.start_all()
            print(f"private services: PostgreSQL :{services.postgres.port}, Redis :{services.redis.port}, "
                  f"RabbitMQ :{services.rabbitmq.port} (node {services.rabbitmq.node})", flush=True)
            with topology(Path(tmp), 2, postgres=services.postgres.url, redis_url=services.redis.url,
                          rabbitmq_url=services.rabbitmq.url) as running:
                return exercise(running, services, args, chosen, run)
        finally:
            services.stop_all()


def exercise(running: Running, services: PrivateServices, args: argparse.Namespace, chosen: List[str], run: str) -> int:
    base = running.server.base_url
    webhook = f"{base}/webhooks/rest/webhook"
    traffic = Traffic()
    driver = threading.Thread(target=drive, args=(webhook, args.customers, args.think, traffic, run))
    driver.start()
    time.sleep(args.settle)
    steady = [s for _, s, _ in traffic.results]
    print(f"steady load: {len(steady)} messages, {len([s for s in steady if s != 200])} errors", flush=True)
    parts = ["Rasa worker 1", "Rasa worker 2", "action server", "touchpoint consumer", "nginx"]
    print("memory: " + ", ".join(f"{p} {running.rss_mb(p):.0f} MB" for p in parts), flush=True)
    worker = f"http://127.0.0.1:{running.port('Rasa worker 1')}/"
    actions = f"http://127.0.0.1:{running.server.actions_port}/health"
    probes = iter(range(10**6))

    def answered() -> bool:
        return probe(webhook, f"faults-{run}-probe{next(probes)}")

    def consuming() -> bool:
        try:
            ready, consumers = queue_state(running.queue, running.rabbitmq_url)
        except Exception:  # noqa: BLE001 - RabbitMQ not answering yet
            return False
        return consumers > 0 and ready == 0

    def listening(port: int) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    def faults() -> Dict[str, Tuple[str, Callable[[], Tuple[Callable[[], None], Callable[[], bool]]]]]:
        def kill(part: str, check: Callable[[], bool]) -> Callable[[], Tuple[Callable[[], None], Callable[[], bool]]]:
            def make() -> Tuple[Callable[[], None], Callable[[], bool]]:
                act, replaced = sigkill(running, part)
                return act, lambda: replaced() and check()
            return make

        def restart(service: object, port: int, check: Callable[[], bool]) -> Callable[[], Tuple[Callable[[], None], Callable[[], bool]]]:
            return lambda: ((lambda: service.restart(args.down)),   # type: ignore[attr-defined]
                            lambda: listening(port) and check())

        return {
            "worker": ("Rasa worker 1 (SIGKILL)", kill("Rasa worker 1", lambda: answers(worker))),
            "actions": ("action server (SIGKILL)", kill("action server", lambda: answers(actions))),
            "consumer": ("touchpoint consumer (SIGKILL)", kill("touchpoint consumer", consuming)),
            "postgres": (f"PostgreSQL ({args.down:.0f} s down)", restart(services.postgres, services.postgres.port, answered)),
            "redis": (f"Redis ({args.down:.0f} s down)", restart(services.redis, services.redis.port, answered)),
            "rabbitmq": (f"RabbitMQ ({args.down:.0f} s down)",
                         restart(services.rabbitmq, services.rabbitmq.port, lambda: consuming() and answered())),
        }

    table = faults()
    print(f"\n{'fault':30} {'back after':>10} {'requests':>9} {'errors':>7} {'last error':>11}  statuses")
    for key in chosen:
        label, make = table[key]
        act, healthy = make()
        figures = time_fault(label, act, healthy, traffic, args.settle)
        last = f"+{figures['last_error_s']:.1f}s" if figures["last_error_s"] is not None else "-"
        print(f"{label:30} {figures['recover_s']:9.1f}s {figures['requests']:9d} {figures['errors']:7d} {last:>11}  "
              f"{figures['statuses']}", flush=True)
    traffic.stop.set()
    driver.join(120)
    answered_n: Dict[str, int] = {}
    failed: Dict[str, int] = {}
    for sender, status, _ in traffic.results:
        target = answered_n if status == 200 else failed
        target[sender] = target.get(sender, 0) + 1
    deadline = time.monotonic() + 180
    while not consuming() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)   # the consumer's last batch
    messages, rows = stored(running, sorted(set(answered_n) | set(failed)))
    missing, extra = match(messages, rows)
    kept: Dict[str, int] = {}
    for c, _ in messages:
        kept[c] = kept.get(c, 0) + 1
    lost_state = [s for s in answered_n if kept.get(f"rest:{s}", 0) < answered_n[s]]
    print(f"\nmessages answered {sum(answered_n.values())}, failed {sum(failed.values())}; "
          f"stored in the tracker {len(messages)}; customer touchpoint rows {len(rows)}")
    print(f"touchpoints lost (stored messages without a row): {len(missing)}; "
          f"duplicated (rows beyond one per stored message): {len(extra)}")
    for conversation, at in missing:
        print(f"  lost: {conversation} message at {after_which(traffic.kills, at)}")
    for conversation, at in extra:
        stored_near = sum(1 for c, t in messages if c == conversation and abs(t - at) <= 0.002)
        print(f"  extra row: {conversation} at {after_which(traffic.kills, at)} "
              f"({stored_near} stored message{'s' if stored_near != 1 else ''} at that time)")
    print(f"conversations that lost state (fewer stored messages than answered): {len(lost_state)} of {len(answered_n)}")
    restarts = re.findall(r"\[hamsafar\] (.+?) exited with code (-?\d+); restarting it", running.server.log_path.read_text(errors="replace"))
    print("supervisor restarts: " + (", ".join(f"{name} (code {code})" for name, code in restarts) or "none"))
    if args.keep_log:
        shutil.copyfile(running.server.log_path, args.keep_log)
        print(f"topology log copied to {args.keep_log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
