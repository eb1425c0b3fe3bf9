"""What one customer message costs: CPU of each process, action-server calls and their bytes, stored events.

Throughput on the shared 2-core machine moves with whatever else runs on it; the CPU a
process spends per message served (`/proc/<pid>/stat`) moves much less. This starts a bare
`rasa init` bot (the baseline, its one process) and a one-process Hamsafar on a fresh SQLite
database — the action server and the Rasa server as `hamsafar run` starts them, with a
byte-counting proxy between the two — and loads them alternately at saturation (20
customers, no think time; bench/load.py's client and messages). Prints, per round and as
the median:

* CPU ms per message of bare Rasa, Hamsafar's Rasa server (NLU, policies, tracker store,
  the in-process touchpoint writer) and its action server;
* action-server calls per customer message, by action, and the bytes of a call's request
  (the tracker and, when sent, the domain) and response;
* the events stored per customer message and their bytes, by type.

    .venv/bin/python bench/message_cost.py [--rounds 3] [--seconds 15] [--profile DIR]
    DIR=$(mktemp -d) && git archive HEAD~1 | tar -x -C "$DIR" && .venv/bin/python bench/message_cost.py --before "$DIR"

`--before DIR` also starts the Hamsafar of another copy of the project (an earlier commit,
exported with `git archive`; it runs on this venv, model and spaCy pipeline) and loads it in
each round too, so that the two are compared under the same conditions.

`--profile DIR` also records both Hamsafar processes with py-spy during the last round
(py-spy must be installed: `uv pip install py-spy`) into DIR/rasa.txt and DIR/actions.txt
(`-f raw`: collapsed stacks). Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import importlib.util
import json
import os
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
load_bench = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(load_bench)  # type: ignore[union-attr]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NEXT_ACTION = re.compile(rb'"next_action"\s*:\s*"([^"]+)"')


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CountingProxy:
    """Forwards HTTP/1.1 requests to the action server, noting each request's action and sizes."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.calls: List[Tuple[str, int, int]] = []   # (action, request body bytes, response body bytes)
        self.samples: List[bytes] = []                 # some request bodies, for the breakdown

    async def _read_message(self, reader: asyncio.StreamReader) -> Optional[Tuple[bytes, bytes]]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        body = await reader.readexactly(int(length.group(1))) if length else b""
        return head, body

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        try:
            while True:
                request = await self._read_message(client_reader)
                if request is None:
                    return
                upstream_writer.write(request[0] + request[1])
                await upstream_writer.drain()
                response = await self._read_message(upstream_reader)
                if response is None:
                    return
                client_writer.write(response[0] + response[1])
                await client_writer.drain()
                name = NEXT_ACTION.search(request[1], 0, 4096) or NEXT_ACTION.search(request[1])
                self.calls.append((name.group(1).decode() if name else "?", len(request[1]), len(response[1])))
                if len(self.calls) % 40 == 1:
                    self.samples.append(request[1])
        finally:
            upstream_writer.close()
            client_writer.close()

    async def run(self, port: int, stop: asyncio.Event) -> None:
        server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        async with server:
            await stop.wait()


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 300:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


def start_hamsafar(folder: Path, rasa_port: int, actions_port: int, proxy_port: int,
                   tree: Path = ROOT) -> Tuple[subprocess.Popen, subprocess.Popen]:
    """The action server and the Rasa server of the project in `tree` as `hamsafar run` starts them;
    Rasa calls the proxy."""
    for shared in ("models", ".hamsafar"):   # another tree runs on this one's model and spaCy pipeline
        if not (tree / shared).exists():
            (tree / shared).symlink_to(ROOT / shared)
    env = dict(os.environ, HAMSAFAR_DATABASE_URL=f"sqlite:///{folder / 'hamsafar.db'}", RASA_TELEMETRY_ENABLED="false",
               HAMSAFAR_JOURNEYS="off", PYTHONUNBUFFERED="1", SQLALCHEMY_SILENCE_UBER_WARNING="1",
               TF_CPP_MIN_LOG_LEVEL="2", HAMSAFAR_ACTIONS_URL=f"http://127.0.0.1:{proxy_port}/webhook",
               HAMSAFAR_ACTION_TOKEN=secrets.token_urlsafe(16))
    subprocess.run([sys.executable, "-c", "from bot.runtime.setup import prepare_database; prepare_database()"],
                   cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    log = open(folder / "hamsafar.log", "ab")
    actions = subprocess.Popen([sys.executable, "-m", "bot.runtime.action_server", "--port", str(actions_port)],
                               cwd=tree, env=env, stdout=log, stderr=log)
    rasa = subprocess.Popen([sys.executable, "-m", "bot.runtime.rasa_server", "run", "--model", "models",
                             "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
                             "--interface", "127.0.0.1", "--port", str(rasa_port)], cwd=tree, env=env, stdout=log, stderr=log)
    wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions)
    wait_until_up(f"http://127.0.0.1:{rasa_port}/", rasa)
    return rasa, actions


def body_breakdown(samples: List[bytes]) -> Dict[str, float]:
    """Median KB of a request body's parts: tracker, its events, the user events' parse_data, domain."""
    parts: Dict[str, List[float]] = collections.defaultdict(list)
    for body in samples:
        call = json.loads(body)
        tracker = call.get("tracker") or {}
        events = tracker.get("events") or []

        def size(value: Any) -> float:
            return len(json.dumps(value, ensure_ascii=False).encode()) / 1000

        parts["whole body"].append(len(body) / 1000)
        parts["tracker"].append(size(tracker))
        parts["tracker events"].append(size(events))
        parts["events (count)"].append(len(events))
        parts["user events' parse_data"].append(sum(size(e.get("parse_data")) for e in events if e.get("event") == "user"))
        parts["tracker latest_message"].append(size(tracker.get("latest_message")))
        parts["domain"].append(size(call.get("domain")) if "domain" in call else 0.0)
        for kind in ("user", "bot", "action", "slot"):
            parts[f"{kind} events"].append(sum(size(e) for e in events if e.get("event") == kind))
    return {name: statistics.median(values) for name, values in parts.items()}


def stored_events(database: Path, prefix: str) -> Tuple[int, List[Tuple[str, int, float]]]:
    """(customer messages, [(event type, count, mean bytes)]) of the conversations whose id starts with prefix."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT type_name, COUNT(*), AVG(LENGTH(CAST(data AS BLOB))) FROM events "
                          "WHERE sender_id LIKE ? GROUP BY type_name ORDER BY 2 DESC", (prefix + "%",)).fetchall()
    messages = next((count for name, count, _ in rows if name == "user"), 0)
    return messages, [(name, count, size) for name, count, size in rows]


def round_of(url: str, pids: List[int], seconds: float, messages: List[str]) -> Tuple[Dict[str, float], List[float]]:
    """One saturating load; its figures and the CPU ms per message of each pid."""
    before = [cpu_seconds(pid) for pid in pids]
    figures = asyncio.run(load_bench.load(url, 20, 0.0, seconds, messages))
    served = figures["msg_s"] * seconds
    return figures, [(cpu_seconds(pid) - b) * 1000 / max(served, 1) for pid, b in zip(pids, before)]


def report_calls(proxy: CountingProxy, messages: int) -> None:
    by_action = collections.Counter(name for name, _, _ in proxy.calls)
    print(f"action-server calls: {len(proxy.calls) / max(messages, 1):.2f} per customer message "
          f"({messages} messages after the warm-up)")
    for name, count in by_action.most_common():
        sizes = [(request, response) for action, request, response in proxy.calls if action == name]
        print(f"  {name:40} {count / max(messages, 1):5.2f}/msg  request "
              f"{statistics.median(s[0] for s in sizes) / 1000:6.1f} KB  response {statistics.median(s[1] for s in sizes) / 1000:5.1f} KB")
    if proxy.samples:
        print("a request body (median KB of a sample of calls): " + ", ".join(
            f"{name} {value:.1f}" for name, value in body_breakdown(proxy.samples).items()))


def report_events(database: Path) -> None:
    messages, events = stored_events(database, "rest:load")
    total = sum(count * size for _, count, size in events)
    print(f"stored events: {sum(c for _, c, _ in events) / max(messages, 1):.1f} per customer message, "
          f"{total / max(messages, 1) / 1000:.1f} KB per customer message")
    for name, count, size in events:
        print(f"  {name:28} {count / max(messages, 1):5.2f}/msg  {size:8.0f} bytes each")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy both Hamsafar processes in the last round")
    parser.add_argument("--before", type=Path, default=None, help="a copy of an earlier commit, loaded in each round too")
    args = parser.parse_args()
    trees = [("after", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bare").mkdir()
        print("starting a bare `rasa init` bot (trains its model) and Hamsafar …", flush=True)
        bare_port = free_port()
        bare = load_bench.start_bare_rasa(folder / "bare", bare_port)
        loop = asyncio.new_event_loop()   # the proxies run on a loop of their own, in a thread
        threading.Thread(target=loop.run_forever, daemon=True).start()
        stop = asyncio.Event()
        proxies: Dict[str, CountingProxy] = {}
        warm_up_messages: Dict[str, int] = {}
        servers: Dict[str, Tuple[subprocess.Popen, subprocess.Popen, str]] = {}
        try:
            for label, tree in trees:
                (folder / label).mkdir()
                rasa_port, actions_port, proxy_port = free_port(), free_port(), free_port()
                proxies[label] = CountingProxy(actions_port)
                asyncio.run_coroutine_threadsafe(proxies[label].run(proxy_port, stop), loop)
                servers[label] = (*start_hamsafar(folder / label, rasa_port, actions_port, proxy_port, tree),
                                  f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook")
            bare_url = f"http://127.0.0.1:{bare_port}/webhooks/rest/webhook"
            asyncio.run(load_bench.load(bare_url, 4, 0.0, 5, load_bench.BARE_MESSAGES))   # warm up
            for label in servers:
                asyncio.run(load_bench.load(servers[label][2], 4, 0.0, 5, load_bench.HAMSAFAR_MESSAGES))
                proxies[label].calls.clear()
                proxies[label].samples.clear()
                warm_up_messages[label] = stored_events(folder / label / "hamsafar.db", "rest:load")[0]
            rows: Dict[str, List[Tuple[float, float, float]]] = collections.defaultdict(list)
            print(f"{'round':>5} {'bot':8} {'msg/s':>6} {'p95 ms':>7} | CPU ms per message: {'rasa':>6} {'actions':>7}",
                  flush=True)
            for number in range(1, args.rounds + 1):
                figures, (cpu,) = round_of(bare_url, [bare.pid], args.seconds, load_bench.BARE_MESSAGES)
                rows["bare"].append((figures["msg_s"], cpu, 0.0))
                print(f"{number:5d} {'bare':8} {figures['msg_s']:6.1f} {figures['p95']:7.0f} | {'':20} {cpu:6.1f}", flush=True)
                for label, (rasa, actions, url) in servers.items():
                    spies = []
                    if args.profile and number == args.rounds:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
                        spies = [subprocess.Popen([spy, "record", "-p", str(pid), "--nonblocking", "-f", "raw", "-r", "100",
                                                   "-d", str(int(args.seconds)), "-o",
                                                   str(args.profile / f"{label}-{name}.txt")],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                                 for name, pid in (("rasa", rasa.pid), ("actions", actions.pid))]
                    figures, (rasa_cpu, actions_cpu) = round_of(url, [rasa.pid, actions.pid], args.seconds,
                                                                load_bench.HAMSAFAR_MESSAGES)
                    for spy_process in spies:
                        spy_process.wait(timeout=args.seconds + 60)
                    rows[label].append((figures["msg_s"], rasa_cpu, actions_cpu))
                    print(f"{number:5d} {label:8} {figures['msg_s']:6.1f} {figures['p95']:7.0f} | {'':20} {rasa_cpu:6.1f} "
                          f"{actions_cpu:7.1f}   ({figures['errors']} errors)", flush=True)
            print("median of the rounds:")
            medians = {label: [statistics.median(column) for column in zip(*values)] for label, values in rows.items()}
            for label, (rate, rasa_cpu, actions_cpu) in medians.items():
                print(f"{'':5} {label:8} {rate:6.1f} {'':7} | {'':20} {rasa_cpu:6.1f} {actions_cpu:7.1f}   "
                      f"throughput {rate / medians['bare'][0]:.2f}x bare's, Rasa CPU per message "
                      f"{rasa_cpu / medians['bare'][1]:.2f}x bare's")
            for label in servers:
                print(f"\n[{label}]")
                report_calls(proxies[label], stored_events(folder / label / "hamsafar.db", "rest:load")[0]
                             - warm_up_messages[label])
                report_events(folder / label / "hamsafar.db")
        finally:
            for rasa, actions, _ in servers.values():
                for process in (rasa, actions):
                    if process.poll() is None:
                        process.terminate()
                        try:
                            process.wait(timeout=30)
                        except subprocess.TimeoutExpired:
                            process.kill()
            bare.terminate()
            bare.wait(timeout=30)
            loop.call_soon_threadsafe(stop.set)
            time.sleep(0.5)
            loop.call_soon_threadsafe(loop.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
