"""Latency and throughput under load: Hamsafar next to a bare `rasa init` bot, same run.

Starts both on loopback — the bare bot is `rasa init --no-prompt` (Rasa's default
pipeline and policies, its own REST channel, no action server), Hamsafar is a real
`hamsafar run` on a fresh SQLite database with the demo shop — and drives each with
the same closed-loop client over the REST channel: every simulated customer sends a
message, waits for the answer, thinks, sends the next. Prints, per load, messages
served per second and p50/p95/p99 latency for both, and the Hamsafar/bare ratio.

    .venv/bin/python bench/load.py                   # 1, 50 at human pace, 20 saturating
    .venv/bin/python bench/load.py --seconds 60 --customers 200

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
from typing import Dict, List, Tuple

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402
from tests.support.bot_server import BotServer  # noqa: E402

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
    parser.add_argument("--customers", type=int, default=50, help="customers at human pace")
    args = parser.parse_args()
    loads: List[Tuple[str, int, float]] = [
        ("1 customer, a message every ~0.5 s", 1, 0.5),
        (f"{args.customers} customers at human pace (~2.5 s)", args.customers, 2.5),
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
        try:
            print(f"{'load':44} {'bot':9} {'msg/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
            for label, customers, think in loads:
                figures = {}
                for bot, url, messages in (
                        ("bare", f"http://127.0.0.1:{bare_port}/webhooks/rest/webhook", BARE_MESSAGES),
                        ("hamsafar", f"{hamsafar.base_url}/webhooks/rest/webhook", HAMSAFAR_MESSAGES)):
                    figures[bot] = asyncio.run(load(url, customers, think, args.seconds, messages))
                    f = figures[bot]
                    print(f"{label:44} {bot:9} {f['msg_s']:7.1f} {f['p50']:8.0f} {f['p95']:8.0f} {f['p99']:8.0f} "
                          f"{f['errors']:6d}", flush=True)
                ratio = figures["hamsafar"]["msg_s"] / figures["bare"]["msg_s"] if figures["bare"]["msg_s"] else 0
                print(f"{'':44} {'ratio':9} {ratio:7.2f}  (Hamsafar/bare throughput; "
                      f"p95 {figures['hamsafar']['p95'] / figures['bare']['p95']:.1f}x)", flush=True)
        finally:
            hamsafar.stop()
            bare.terminate()
            bare.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
