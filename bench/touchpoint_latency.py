"""Reply latency through the REST channel with touchpoint recording on versus off, in one run.

Starts two Hamsafar servers (`hamsafar run --skip-train`, so a trained model
must exist in models/): one with endpoints.yml as is (event broker ->
touchpoints) and one with a copy of endpoints.yml without the `event_broker:`
section (passed through HAMSAFAR_ENDPOINTS). Requests alternate between the
two servers (interleaved, same messages, same order) so load and warm-up
affect both alike. Prints median and p95 per server and the ratio on/off;
the bar is p50 and p95 ratio <= 1.10. It also checks that both servers
loaded the same model file and that only the "on" server wrote touchpoint
rows. Exit code 0 when the bar is met, 1 if not, 2 when no model exists.

    .venv/bin/python bench/touchpoint_latency.py --requests 300
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.support.bot_server import BotServer  # noqa: E402

MESSAGES = ["سلام", "سفارش ۱۰۰۲۳۴ کجاست؟", "قیمت گوشی سامسونگ چنده؟", "hi", "how can I pay?",
            "ارسال به شیراز چقدر طول می‌کشه؟", "do you have headphones?", "ممنون", "میخوام با اپراتور حرف بزنم",
            "thanks, bye"]


def endpoints_without_broker(target: Path) -> Path:
    text = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^event_broker:.*?(?=^\S|\Z)", "", text)
    target.write_text(text, encoding="utf-8")
    return target


def recorded(database_url: str, sender_prefix: str) -> int:
    """Customer-turn touchpoint rows of the bench's conversations on one server (0 without a table).
    The REST channel's conversation ids are `rest:<sender>`."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("touchpoints"):
                return 0
            return int(conn.execute(sa.text("SELECT COUNT(*) FROM touchpoints WHERE actor = 'customer' "
                                            "AND conversation_id LIKE :p"), {"p": "%" + sender_prefix + "%"}).scalar_one())
    finally:
        engine.dispose()


def loaded_model(log: Path) -> str:
    """The model file a server's log says it loaded."""
    found = re.findall(r"Loading model (\S+?)\.\.\.", log.read_text(errors="replace"))
    return found[-1] if found else "?"


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per server")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per server first")
    parser.add_argument("--conversations", type=int, default=20, help="distinct senders per server")
    parser.add_argument("--database-url", help="default: a fresh SQLite file per server in a temp dir")
    parser.add_argument("--pause-ms", type=float, default=0,
                        help="pause after each request, so that neither server's background work overlaps the "
                             "other's timed request (default 0: back to back, as under steady traffic)")
    parser.add_argument("--start-timeout", type=float, default=900, help="seconds to wait for each server to load")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if not any((ROOT / "models").glob("*.tar.gz")):
        print("no trained model in models/ — run `hamsafar train` first", file=sys.stderr)
        return 2
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="hamsafar-bench-"))
    off_endpoints = endpoints_without_broker(work / "endpoints-no-broker.yml")
    servers = {}
    try:
        for name, extra in (("on", {}), ("off", {"HAMSAFAR_ENDPOINTS": str(off_endpoints)})):
            url = args.database_url or f"sqlite:///{work / f'{name}.db'}"
            servers[name] = BotServer(url, free_port(), free_port(), work / f"{name}.log",
                                      {**extra, "HAMSAFAR_STATE_DIR": str(work / f"state-{name}")})
        # both load the same model (the newest in models/) at the same time; loading is slow on a busy machine
        with ThreadPoolExecutor(max_workers=2) as pool:
            for started in [pool.submit(server.start, args.start_timeout) for server in servers.values()]:
                started.result()
        models = {name: loaded_model(server.log_path) for name, server in servers.items()}
        if len(set(models.values())) != 1:
            raise SystemExit(f"the two servers loaded different models: {models}")
        for name, server in servers.items():  # Rasa falls back to an in-memory store if the class is missing
            if "Using `InMemoryTrackerStore` instead" in server.log_path.read_text(errors="replace"):
                raise SystemExit(f"the {name} server could not load the tracker store of endpoints.yml")
        times = {"on": [], "off": []}
        run = uuid.uuid4().hex[:6]
        with httpx.Client(timeout=60) as client:
            for i in range(args.warmup + args.requests):
                order = ("on", "off") if i % 2 == 0 else ("off", "on")
                for name in order:
                    sender = f"bench-{run}-{name}-{i % args.conversations}"
                    body = {"sender": sender, "message": MESSAGES[i % len(MESSAGES)]}
                    start = time.perf_counter()
                    reply = client.post(servers[name].base_url + "/webhooks/rest/webhook", json=body)
                    elapsed = (time.perf_counter() - start) * 1000
                    reply.raise_for_status()
                    if i >= args.warmup:
                        times[name].append(elapsed)
                    if args.pause_ms:  # let background work (the recorder's writer) finish before the next request
                        time.sleep(args.pause_ms / 1000)
    finally:
        for server in servers.values():
            server.stop()  # Ctrl-C: the recorder flushes its buffer
    result = {name: {"p50_ms": round(percentile(v, 0.5), 2), "p95_ms": round(percentile(v, 0.95), 2), "n": len(v),
                     "customer_turn_rows": recorded(servers[name].database_url, f"bench-{run}-{name}-")}
              for name, v in times.items()}
    result["load_average"] = {"start": load_at_start, "end": [round(x, 2) for x in os.getloadavg()]}
    result["ratio_p50"] = round(result["on"]["p50_ms"] / result["off"]["p50_ms"], 3)
    result["ratio_p95"] = round(result["on"]["p95_ms"] / result["off"]["p95_ms"], 3)
    result["model"] = models["on"]
    result["pause_ms"] = args.pause_ms
    result["bar"] = 1.10
    # an honest comparison needs recording to have really happened on one server only
    # (every message sent is one customer turn, warm-up included)
    sent = args.warmup + args.requests
    result["recording_checked"] = result["on"]["customer_turn_rows"] == sent and result["off"]["customer_turn_rows"] == 0
    result["ok"] = result["ratio_p50"] <= 1.10 and result["ratio_p95"] <= 1.10 and result["recording_checked"]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"model: {result['model']} (both servers); load average {result['load_average']}")
        print(f"customer-turn touchpoint rows: on {result['on']['customer_turn_rows']}, "
              f"off {result['off']['customer_turn_rows']} (messages sent to each: {sent})")
        print(f"recording on : median {result['on']['p50_ms']} ms, p95 {result['on']['p95_ms']} ms (n={result['on']['n']})")
        print(f"recording off: median {result['off']['p50_ms']} ms, p95 {result['off']['p95_ms']} ms (n={result['off']['n']})")
        print(f"ratio on/off : median {result['ratio_p50']}, p95 {result['ratio_p95']} (bar <= 1.10) -> "
              f"{'OK' if result['ok'] else 'ABOVE THE BAR'}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
