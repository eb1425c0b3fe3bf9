"""Latency and throughput under load: Hamsafar next to a bare `rasa init` bot, same run.

Starts both on loopback — the bare bot is `rasa init --no-prompt` (Rasa's default
pipeline and policies, its own REST channel, no action server), Hamsafar is a real
`hamsafar run` on a fresh SQLite database with the demo shop — and drives each with
the same closed-loop client over the REST channel: every simulated customer sends a
message, waits for the answer, thinks, sends the next. At human pace the customers'
first messages are spread over one think time (a random start each), as people arrive;
without think time (saturation) they all start at once. Prints, per load, messages
served per second and p50/p95/p99 latency for both, and the Hamsafar/bare ratio.

With `--workers 1,2` (the default) it also starts `hamsafar run --workers 2` — nginx,
two Rasa workers, PostgreSQL, Redis locks, RabbitMQ and the touchpoint consumer
(docs/deploy.md) — on a fresh PostgreSQL database (`HAMSAFAR_BENCH_POSTGRES_URL`,
else `HAMSAFAR_TEST_POSTGRES_URL`) and a queue of its own, loads it the same way and
prints the 2-workers/1-process ratio. `--workers 1` measures the one process only.

    .venv/bin/python bench/load.py                   # 1, 50 and 200 at human pace, 20 saturating
    .venv/bin/python bench/load.py --seconds 60 --customers 100
    .venv/bin/python bench/load.py --workers 1       # without the several-process topology

Hamsafar's customers send a mix of Persian and English shop messages (prices,
shipping, orders, thanks); the bare bot gets `rasa init`'s own kind of messages.
Needs a trained Hamsafar model in models/ (`hamsafar setup`). Figures only: nothing
here asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402
from tests.support.bot_server import BotServer  # noqa: E402
from tests.support.topology import topology  # noqa: E402

HAMSAFAR_MESSAGES = [
    "سلام", "قیمت ایرپاد پرو ۲ چنده؟", "how much is the galaxy a55?", "روش‌های ارسال چیه؟",
    "what payment methods do you take?", "گارانتی گوشی ها چند ماهه؟", "do you sell air fryers?",
    "ممنون", "show me your laptops", "thanks, bye",
]
BARE_MESSAGES = ["hi", "I am good", "are you a bot?", "great", "bye"]


def start_bare_rasa(folder: Path, port: int) -> subprocess.Popen:
    """`rasa init --no-prompt` (trains its default model), then `rasa run` on `port`."""
    rasa = str(Path(sys.executable).with_name("rasa"))
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false")
    subprocess.run([rasa, "init", "--no-prompt", "--init-dir", str(folder)], cwd=folder, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = open(folder / "rasa.log", "ab")
    process = subprocess.Popen([rasa, "run", "--port", str(port)], cwd=folder, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(1)
    process.kill()
    raise TimeoutError("bare Rasa did not start")


async def customer(client: httpx.AsyncClient, url: str, name: str, messages: List[str], think_s: float,
                   until: float, latencies: List[float], errors: List[str]) -> None:
    if think_s:   # people arrive one by one, not all in the same millisecond
        await asyncio.sleep(random.uniform(0, think_s))
    for text in itertools.cycle(messages):
        if time.monotonic() >= until:
            return
        started = time.perf_counter()
        try:
            answer = await client.post(url, json={"sender": name, "message": text}, timeout=60)
            answer.raise_for_status()
            latencies.append(time.perf_counter() - started)
        except httpx.HTTPError as error:
            errors.append(str(error))
        if think_s:
            await asyncio.sleep(random.uniform(0.5 * think_s, 1.5 * think_s))


async def load(url: str, customers: int, think_s: float, seconds: float, messages: List[str]) -> Dict[str, float]:
    latencies: List[float] = []
    errors: List[str] = []
    limits = httpx.Limits(max_connections=customers + 5)
    async with httpx.AsyncClient(limits=limits) as client:
        start = time.monotonic()
        run = f"load{random.randrange(10**6)}"
        await asyncio.gather(*(customer(client, url, f"{run}-{i}", random.sample(messages, len(messages)), think_s,
                                        start + seconds, latencies, errors) for i in range(customers)))
        elapsed = time.monotonic() - start
    ordered = sorted(latencies) or [float("nan")]

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"msg_s": len(latencies) / elapsed, "p50": statistics.median(ordered) * 1000, "p95": pct(0.95),
            "p99": pct(0.99), "errors": len(errors)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30, help="length of each load")
    parser.add_argument("--customers", default="50,200", help="customers at human pace (comma-separated loads)")
    parser.add_argument("--workers", default="1,2", help="Hamsafar set-ups: 1 = one process (SQLite), N = --workers N")
    args = parser.parse_args()
    workers = sorted({int(w) for w in args.workers.split(",")})
    loads: List[Tuple[str, int, float]] = [
        ("1 customer, a message every ~0.5 s", 1, 0.5),
        *[(f"{n} customers at human pace (~2.5 s)", n, 2.5) for n in (int(c) for c in args.customers.split(","))],
        ("20 customers, no think time (saturation)", 20, 0.0),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bare").mkdir()
        print("starting a bare `rasa init` bot (trains its model) and Hamsafar …", flush=True)
        bare_port = free_port()
        bare = start_bare_rasa(folder / "bare", bare_port)
        hamsafar = BotServer(f"sqlite:///{folder / 'hamsafar.db'}", free_port(), free_port(), folder / "hamsafar.log",
                             extra_env={"HAMSAFAR_JOURNEYS": "off"}).start()
        results: Dict[str, Dict[str, Dict[str, float]]] = {}
        try:
            targets = [("bare", f"http://127.0.0.1:{bare_port}/webhooks/rest/webhook", BARE_MESSAGES)]
            if 1 in workers:
                targets.append(("hamsafar", f"{hamsafar.base_url}/webhooks/rest/webhook", HAMSAFAR_MESSAGES))
            results = measure(targets, loads, args.seconds)
        finally:
            hamsafar.stop()
        for count in (w for w in workers if w > 1):
            print(f"starting hamsafar run --workers {count} (nginx, PostgreSQL, Redis, RabbitMQ) …", flush=True)
            with topology(folder, count) as running:
                label = f"{count} workers"
                more = measure([(label, f"{running.server.base_url}/webhooks/rest/webhook", HAMSAFAR_MESSAGES)], loads,
                               args.seconds, results)
                for load_label, figures in more.items():
                    results.setdefault(load_label, {}).update(figures)
                parts = [f"Rasa worker {i}" for i in range(1, count + 1)] + ["action server", "touchpoint consumer", "nginx"]
                print("memory after the loads: " + ", ".join(f"{p} {running.rss_mb(p):.0f} MB" for p in parts), flush=True)
        bare.terminate()
        bare.wait(timeout=30)
    print("\nsummary (throughput ratios, same run)")
    for load_label, figures in results.items():
        base = figures.get("hamsafar", {}).get("msg_s") or 0
        bare_rate = figures["bare"]["msg_s"] or 0
        parts = [f"{name}/bare {f['msg_s'] / bare_rate:.2f}" for name, f in figures.items() if name != "bare" and bare_rate]
        parts += [f"{name}/1 process {f['msg_s'] / base:.2f}" for name, f in figures.items()
                  if name not in ("bare", "hamsafar") and base]
        print(f"{load_label:44} " + ", ".join(parts), flush=True)
    return 0


def measure(targets: List[Tuple[str, str, List[str]]], loads: List[Tuple[str, int, float]], seconds: float,
            earlier: Optional[Dict[str, Dict[str, Dict[str, float]]]] = None) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Each load against each target, one after another; prints a line per pair and a ratio to bare."""
    results: Dict[str, Dict[str, Dict[str, float]]] = {}
    print(f"{'load':44} {'bot':10} {'msg/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for label, customers, think in loads:
        figures = results.setdefault(label, {})
        for bot, url, messages in targets:
            figures[bot] = f = asyncio.run(load(url, customers, think, seconds, messages))
            print(f"{label:44} {bot:10} {f['msg_s']:7.1f} {f['p50']:8.0f} {f['p95']:8.0f} {f['p99']:8.0f} "
                  f"{f['errors']:6d}", flush=True)
        bare = (earlier or {}).get(label, {}).get("bare") or figures.get("bare")
        for bot, f in figures.items():
            if bot != "bare" and bare and bare["msg_s"]:
                print(f"{'':44} {'ratio':10} {f['msg_s'] / bare['msg_s']:7.2f}  ({bot}/bare throughput; "
                      f"p95 {f['p95'] / bare['p95']:.1f}x)", flush=True)
    return results


if __name__ == "__main__":
    sys.exit(main())
