"""Latency along one long conversation: Hamsafar next to a bare `rasa init` bot, same run.

Issue 16's target: the p95 at turn 500 of a conversation within 20 % of turn 5, i.e.
a message costs the same however long the conversation already is. Starts both bots
the way bench/load.py does (its code is imported: the bare bot is `rasa init
--no-prompt`, Hamsafar a real `hamsafar run` on a fresh SQLite database, or on
`--database-url`), then plays `--turns` messages of ONE conversation per bot over
the REST channel, one message at a time, alternating between the bots so both see
the same machine load. Prints p50/p95 per window of `--window` turns for each bot,
the Hamsafar/bare p95 ratio per window, and the last window's p95 over the first's.

    .venv/bin/python bench/long_conversation.py
    .venv/bin/python bench/long_conversation.py --turns 200 --window 20
    .venv/bin/python bench/long_conversation.py --database-url postgresql://postgres@127.0.0.1:5432/bench

All turns fall in one Rasa session (the domain's expiry is 60 minutes). Needs a
trained Hamsafar model (`hamsafar setup`). Figures only: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import BARE_MESSAGES, HAMSAFAR_MESSAGES, start_bare_rasa  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.support.bot_server import BotServer  # noqa: E402


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def play(urls: Dict[str, str], messages: Dict[str, List[str]], turns: int) -> Dict[str, List[float]]:
    """`turns` messages of one conversation per bot, alternating bots; milliseconds per turn.

    Stops at the first failed request (saying which bot), keeping the turns played so far.
    """
    sender = f"long-{int(time.time())}"
    latencies: Dict[str, List[float]] = {bot: [] for bot in urls}
    cycles = {bot: itertools.cycle(messages[bot]) for bot in urls}
    with httpx.Client(timeout=120) as client:
        for bot, url in urls.items():   # warm up (a model's first predictions are slow) in another conversation
            for text in messages[bot]:
                client.post(url, json={"sender": f"{sender}-warm-up", "message": text}).raise_for_status()
        for turn in range(turns):
            for bot, url in urls.items():
                started = time.perf_counter()
                try:
                    client.post(url, json={"sender": sender, "message": next(cycles[bot])}).raise_for_status()
                except httpx.HTTPError as error:
                    print(f"turn {turn + 1}: {bot} failed: {error!r}", flush=True)
                    return {bot: values[:turn] for bot, values in latencies.items()}
                latencies[bot].append((time.perf_counter() - started) * 1000)
            if (turn + 1) % 50 == 0:
                print(f"  … turn {turn + 1}", flush=True)
    return latencies


def report(latencies: Dict[str, List[float]], window: int) -> None:
    bots = list(latencies)
    header = f"{'turns':>10}" + "".join(f" {bot + ' p50':>13} {bot + ' p95':>13}" for bot in bots)
    print(header + f" {'p95 ratio':>10}")
    turns = len(latencies[bots[0]])
    first_p95: Dict[str, float] = {}
    last_p95: Dict[str, float] = {}
    for start in range(0, turns, window):
        row = f"{start + 1:>4}-{min(start + window, turns):<5}"
        p95s = {}
        for bot in bots:
            part = latencies[bot][start:start + window]
            p95s[bot] = percentile(part, 0.95)
            row += f" {statistics.median(part):13.0f} {p95s[bot]:13.0f}"
            first_p95.setdefault(bot, p95s[bot])
            last_p95[bot] = p95s[bot]
        ratio = p95s["hamsafar"] / p95s["bare"] if "bare" in p95s and p95s["bare"] else float("nan")
        print(row + f" {ratio:10.2f}", flush=True)
    for bot in bots:
        print(f"{bot}: p95 of the last window / the first = {last_p95[bot] / first_p95[bot]:.2f} "
              f"(target for Hamsafar: ≤ 1.20)")
    # around single turns: ten turns each (their p95 is close to their maximum)
    around = [t for t in (5, turns // 2, turns) if t <= turns]
    for bot in bots:
        figures = []
        for t in around:
            part = latencies[bot][max(0, t - 10):t] if t == turns else latencies[bot][max(0, t - 5):t + 5]
            figures.append(f"turn {t}: p50 {statistics.median(part):.0f} p95 {percentile(part, 0.95):.0f} ms")
        print(f"{bot} around " + "; ".join(figures))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--window", type=int, default=50, help="turns per reported window")
    parser.add_argument("--database-url", help="Hamsafar's database (default: a fresh SQLite file)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Rasa baseline")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hamsafar-long-"))  # kept: the bots' logs and databases
    print(f"logs and databases: {folder}", flush=True)
    bare: Optional[subprocess.Popen] = None
    urls: Dict[str, str] = {}
    if not args.no_bare:
        (folder / "bare").mkdir()
        print("starting a bare `rasa init` bot (trains its model) …", flush=True)
        bare_port = free_port()
        bare = start_bare_rasa(folder / "bare", bare_port)
        urls["bare"] = f"http://127.0.0.1:{bare_port}/webhooks/rest/webhook"
    print("starting Hamsafar …", flush=True)
    hamsafar = BotServer(args.database_url or f"sqlite:///{folder / 'hamsafar.db'}", free_port(), free_port(),
                         folder / "hamsafar.log", extra_env={"HAMSAFAR_JOURNEYS": "off"}).start()
    urls["hamsafar"] = f"{hamsafar.base_url}/webhooks/rest/webhook"
    try:
        print(f"Hamsafar's `hamsafar run`: pid {hamsafar.process.pid} (its Rasa server is a child, for py-spy)",
              flush=True)
        latencies = play(urls, {"bare": BARE_MESSAGES, "hamsafar": HAMSAFAR_MESSAGES}, args.turns)
        if latencies["hamsafar"]:
            report(latencies, args.window)
    finally:
        hamsafar.stop()
        if bare is not None:
            bare.terminate()
            bare.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
