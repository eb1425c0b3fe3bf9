"""10,000 customers in the abandoned-payment journey, two worker processes, one killed and restarted.

The shop (PostgreSQL by default: a fresh database next to HAMSAFAR_TEST_POSTGRES_URL,
dropped afterwards) gets 10,000 customers, each with an order left in
`pending_payment`, created over twelve hours from Tuesday 3 June 2025 12:00
Tehran time; 3 % of the numbers have opted out by SMS, 10 % fall in the
journey's hold-out, and 5 % live in Berlin (their shop told their time zone:
their quiet hours are Berlin's, 1 h 30 behind Tehran). The CRM scanner turns the orders into entries. Two worker
processes then run the same code the Rasa server runs in the background
(`JourneyRunner`), claiming due entries with `FOR UPDATE SKIP LOCKED`, and send
the one-hour payment reminders as SMS through the Kavenegar protocol to a fake
gateway on 127.0.0.1 (real HTTP). A simulated clock (a file the workers read)
moves in 30-minute steps to Wednesday 11:30 (each step when the previous one is
done): reminders due after 21:00 wait for 09:00. During the 09:00 burst one
worker is killed (SIGKILL) and started again; its entries come back to a worker
when their lease (15 s here, 5 minutes in the server) expires. Printed: messages due, sent, duplicated (must be 0), sent in quiet hours
of the customer's own time zone (0), sent to opted-out numbers (0), and the throughput — beside a
baseline measured in the same run: the same SMS sent straight through the SMS
channel (`SmsOutput`, its idempotency log, the same fake gateway, 16 at a time
in one process), with no journey around them.

    .venv/bin/python bench/journeys.py                 # 10,000 customers, PostgreSQL
    .venv/bin/python bench/journeys.py --customers 2000 --database-url sqlite:///tmp/b.db
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

import sqlalchemy as sa  # noqa: E402

TEHRAN = ZoneInfo("Asia/Tehran")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.timezone.utc
START = dt.datetime(2025, 6, 3, 12, 0, tzinfo=TEHRAN).astimezone(UTC)   # Tuesday noon, Tehran
END = dt.datetime(2025, 6, 4, 11, 30, tzinfo=TEHRAN).astimezone(UTC)    # Wednesday 11:30 (before any 24 h code)
STEP = dt.timedelta(minutes=30)


# --------------------------------------------------------------------------- worker process
def worker(args: argparse.Namespace) -> int:
    """One "server process": the background runner on a simulated clock, until the stop file appears."""
    os.environ["HAMSAFAR_DATABASE_URL"] = args.database_url
    from bot.channels.sms import SmsOutput
    from bot.channels.sms_gateways.kavenegar import KavenegarGateway
    from bot.orchestration.engine import Orchestrator
    from bot.orchestration.runner import JourneyRunner
    from tests.fakes.sms_gateways import API_KEY

    clock_file, stop_file = Path(args.clock_file), Path(args.clock_file + ".stop")

    class Outputs:
        def __init__(self) -> None:
            self.sms = SmsOutput(KavenegarGateway(API_KEY, sender="10004346", base_url=args.sms_url), backoff=0.05)

        def get(self, channel: str):  # type: ignore[no-untyped-def]
            return self.sms if channel == "sms" else None

    async def loop() -> None:
        # a 15-second lease (the server's is 5 minutes) so the killed worker's entries come back quickly
        orchestrator = Orchestrator(database_url=args.database_url, worker=args.name, lease=dt.timedelta(seconds=15))
        runner = JourneyRunner(orchestrator, Outputs(), None, concurrency=16, batch=100, scan=False)
        while not stop_file.exists():
            now = dt.datetime.fromisoformat(clock_file.read_text().strip())  # replaced atomically by the controller
            stats = await runner.run_due(now)
            if not stats.entries:
                await asyncio.sleep(0.2)

    asyncio.run(loop())
    return 0


# --------------------------------------------------------------------------- controller
def fresh_database(base: str) -> str:
    name = f"hamsafar_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    from bot.db import dispose_engines

    dispose_engines()
    base, name = url.rsplit("/", 1)
    admin = sa.create_engine(base + "/postgres", isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, customers: int, opted_out_share: float) -> list:
    """Customers, products and pending orders (the shop's rows); opted-out numbers. Returns the opted-out phones."""
    from bot.channels.models import ChannelConsent
    from bot.crm.models import CustomerRow, OrderItemRow, OrderRow, ProductRow
    from bot.crm.sql import SQLCRM
    from bot.schema import init_db
    from bot.orchestration.models import JourneyWatch

    engine = init_db(url)
    crm = SQLCRM(url)
    crm.upsert_discount_codes(crm.policy.discount_codes())
    spread = dt.timedelta(hours=12) / customers
    opted = []
    with engine.begin() as conn:
        conn.execute(ProductRow.__table__.insert(), [{"sku": "AUD-JBL-T520", "name_fa": "هدفون جی‌بی‌ال T520",
                                                      "name_en": "JBL T520 headphones", "category": "audio",
                                                      "price": 2950000, "stock": 1000000, "warranty_months": 18,
                                                      "search_text": "jbl", "updated_at": START}])
        rows_c, rows_o, rows_i, rows_consent, rows_zone = [], [], [], [], []
        for i in range(customers):
            cid, phone = f"B{i:05d}", f"+98912{i:07d}"
            created = START + spread * i
            rows_c.append({"customer_id": cid, "name": f"مشتری {i}", "phone": phone, "email": None,
                           "language": "fa" if i % 3 else "en", "created_at": START - dt.timedelta(days=100),
                           "updated_at": START})
            rows_o.append({"order_id": str(500000 + i), "customer_id": cid, "status": "pending_payment",
                           "created_at": created, "updated_at": created, "total": 2950000, "discount_amount": 0})
            rows_i.append({"order_id": str(500000 + i), "position": 0, "sku": "AUD-JBL-T520", "quantity": 1,
                           "unit_price": 2950000})
            if berlin(cid):   # what an order event with the customer's `timezone` leaves (bot.orchestration.events)
                rows_zone.append({"kind": "timezone", "key": cid, "value": "Europe/Berlin", "updated_at": START})
            if (i * 7919) % 1000 < opted_out_share * 1000:
                opted.append(phone)
                rows_consent.append({"channel": "sms", "address": phone, "opted_out": True, "source": "keyword",
                                     "confirmation_sent": True, "updated_at": START.replace(tzinfo=None)})
        for table, rows in ((CustomerRow, rows_c), (OrderRow, rows_o), (OrderItemRow, rows_i), (ChannelConsent, rows_consent),
                            (JourneyWatch, rows_zone)):
            for start in range(0, len(rows), 2000):
                conn.execute(table.__table__.insert(), rows[start:start + 2000])
    return opted


def set_clock(clock_file: str, now: dt.datetime) -> None:
    """Write the simulated time so a worker never reads a half-written file."""
    Path(clock_file + ".tmp").write_text(now.isoformat())
    os.replace(clock_file + ".tmp", clock_file)


def state(url: str, now: dt.datetime) -> tuple:
    """(entries due at simulated time `now` and not finished — also those a worker holds, messages sent).

    Entries held by the killed worker stay due until their (real-time) lease expires
    and another worker resumes them."""
    from bot.orchestration.models import JourneyEntry, JourneyMessage

    e, m = JourneyEntry.__table__, JourneyMessage.__table__
    engine = sa.create_engine(url, future=True)
    with engine.connect() as conn:
        due = conn.execute(sa.select(sa.func.count()).where(e.c.status == "active", e.c.due_at <= now)).scalar()
        sent = conn.execute(sa.select(sa.func.count()).where(m.c.status == "sent")).scalar()
    engine.dispose()
    return int(due), int(sent)


def start_worker(name: str, url: str, clock_file: str, sms_url: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--worker", "--name", name, "--database-url", url,
                             "--clock-file", clock_file, "--sms-url", sms_url],
                            cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def berlin(customer_id: str) -> bool:
    return int(customer_id[1:]) % 20 == 7


def in_window(moment: dt.datetime, zone: ZoneInfo = TEHRAN) -> bool:
    local = moment.astimezone(zone)
    return local.weekday() != 4 and dt.time(9) <= local.time() < dt.time(21)


def explain_duplicate(url: str, to: str, deliveries: list, burst: Optional[dt.datetime]) -> None:
    """What the SMS log and the journey know of a message the gateway got twice (to find the race)."""
    from bot.channels.models import SmsMessage
    from bot.orchestration.models import JourneyMessage

    s, m = SmsMessage.__table__, JourneyMessage.__table__
    engine = sa.create_engine(url, future=True)
    with engine.connect() as conn:
        logged = conn.execute(sa.select(s.c.id, s.c.idempotency_key, s.c.status, s.c.attempts, s.c.error)
                              .where(s.c.phone.like(f"%{to[-9:]}"))).all()
        keys = [int(row.idempotency_key.split(":")[1]) for row in logged if row.idempotency_key.startswith("journey:")]
        journey = conn.execute(sa.select(m.c.id, m.c.status, m.c.attempts).where(m.c.id.in_(keys))).all() if keys else []
    engine.dispose()
    print(f"  duplicate to {to}: gateway got localids {[d['localid'] for d in deliveries]} at "
          f"{[round(d['at'] - deliveries[0]['at'], 1) for d in deliveries]} s; SMS log {[tuple(r) for r in logged]}; "
          f"journey message {[tuple(r) for r in journey]}; a worker was killed in the {burst} step")


def baseline(sms_url: str, url: str, count: int = 1000, concurrency: int = 16) -> float:
    """Messages/s of the SMS channel alone: `count` SMS through `SmsOutput` to the same gateway."""
    from bot.channels.sms import SmsOutput
    from bot.channels.sms_gateways.kavenegar import KavenegarGateway
    from tests.fakes.sms_gateways import API_KEY

    run_id = uuid.uuid4().hex[:8]

    async def run() -> float:
        output = SmsOutput(KavenegarGateway(API_KEY, sender="10004346", base_url=sms_url), backoff=0.05)
        limit = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with limit:
                await output.send_sms(f"+98935{i:07d}", f"baseline {i}", idempotency_key=f"baseline:{run_id}:{i}",
                                      kind="journey", proactive=True, raise_on_failure=True)

        began = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(count)))
        took = time.monotonic() - began
        await output.gateway.aclose()
        return count / took

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--database-url", help="default: a fresh PostgreSQL database next to HAMSAFAR_TEST_POSTGRES_URL")
    parser.add_argument("--opted-out", type=float, default=0.03)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--name", default="w", help=argparse.SUPPRESS)
    parser.add_argument("--clock-file", help=argparse.SUPPRESS)
    parser.add_argument("--sms-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    from bot.orchestration.engine import Orchestrator
    from bot.orchestration.models import JourneyEntry, JourneyMessage
    from bot.orchestration.watch import CrmWatcher
    from bot.text.identifiers import national_phone
    from tests.fakes.sms_gateways import FakeSmsGateways

    created_db = None
    url = args.database_url
    if not url:
        base = os.environ.get("HAMSAFAR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
        url = created_db = fresh_database(base)
    if url.startswith("sqlite"):
        print("note: SQLite takes one writer at a time; the two workers share it through locks and retries")
    os.environ["HAMSAFAR_DATABASE_URL"] = url
    folder = Path(tempfile.mkdtemp(prefix="hamsafar-bench-journeys-"))
    clock_file = str(folder / "clock")
    try:
        t = time.monotonic()
        opted = seed(url, args.customers, args.opted_out)
        print(f"seeded {args.customers} customers with a pending order, {len(opted)} opted out ({time.monotonic() - t:.1f} s)")
        t = time.monotonic()
        # scanned at the start: each entry's one-hour wait runs from its own order's time
        counts = CrmWatcher(Orchestrator(database_url=url)).scan(START)
        entries = sa.create_engine(url, future=True)
        e, m = JourneyEntry.__table__, JourneyMessage.__table__
        with entries.connect() as conn:
            entered = conn.execute(sa.select(sa.func.count()).select_from(e)).scalar()
            held = conn.execute(sa.select(sa.func.count()).where(e.c.holdout.is_(True))).scalar()
        print(f"CRM scan: {sum(counts.values())} events, {entered} entries ({held} in the hold-out) "
              f"in {time.monotonic() - t:.1f} s")

        with FakeSmsGateways() as other:   # the baseline on a gateway of its own, before and after the run
            base_before = baseline(other.url, url)
        with FakeSmsGateways() as gateway:
            now = START
            set_clock(clock_file, now)
            logs = {n: folder / f"{n}.log" for n in ("a", "b", "a2")}
            workers = {"a": start_worker("a", url, clock_file, gateway.url, logs["a"]),
                       "b": start_worker("b", url, clock_file, gateway.url, logs["b"])}
            busy = 0.0
            killed = False
            burst = None
            while now < END:
                now = now + STEP
                set_clock(clock_file, now)
                began = time.monotonic()
                due_at_start, sent_before = state(url, now)
                burst_step = due_at_start > args.customers // 5  # the 09:00 step: the night's reminders at once
                while True:
                    time.sleep(0.3)
                    due, sent = state(url, now)
                    if burst_step and not killed and sent - sent_before >= due_at_start // 3:
                        workers["a"].send_signal(signal.SIGKILL)
                        workers["a"].wait()
                        killed = True
                        burst = now
                        print(f"killed worker a at {now.astimezone(TEHRAN):%a %H:%M} Tehran after {sent - sent_before} "
                              f"messages of this step; restarting it")
                        workers["a"] = start_worker("a2", url, clock_file, gateway.url, logs["a2"])
                        continue
                    if due == 0:
                        break
                    if time.monotonic() - began > 900:
                        print(f"step {now.isoformat()} did not finish in 15 minutes ({due} due)")
                        break
                if sent != sent_before:
                    busy += time.monotonic() - began
            Path(clock_file + ".stop").write_text("stop")
            for process in workers.values():
                process.wait(timeout=60)

            with entries.connect() as conn:
                messages = [dict(r) for r in conn.execute(
                    sa.select(m.c.status, m.c.sent_at, m.c.conversation_id, m.c.step, e.c.anchor_at, e.c.customer_key)
                    .select_from(m.join(e, e.c.id == m.c.entry_id))).mappings()]
                exits = collections.Counter(conn.execute(sa.select(e.c.exit_reason).where(e.c.status != "active")).scalars())
            entries.dispose()
            delivered = gateway.delivered
            per_message = collections.Counter((d["to"], d["text"]) for d in delivered)
            duplicated = sum(n - 1 for n in per_message.values() if n > 1)
            opted_local = {national_phone(p) for p in opted}
            to_opted = sum(1 for d in delivered if d["to"] in opted_local)
            statuses = collections.Counter(r["status"] for r in messages)
            sent_rows = [r for r in messages if r["status"] == "sent"]
            zone = {r["customer_key"]: BERLIN if berlin(r["customer_key"]) else TEHRAN for r in messages}
            quiet = sum(1 for r in sent_rows if not in_window(r["sent_at"], zone[r["customer_key"]]))
            in_berlin = [r for r in sent_rows if zone[r["customer_key"]] is BERLIN]
            # Berlin customers texted when it was already quiet in Tehran, or still quiet in Berlin at Tehran's 09:00
            berlin_shifted = sum(1 for r in in_berlin if not in_window(r["sent_at"]))
            due_messages = sum(1 for r in messages if r["step"] == "payment_link") + exits.get("opted_out", 0)
            print()
            print(f"messages due:              {due_messages} (one-hour reminders of {entered} entries; "
                  f"{statuses.get('held_out', 0)} held out, {exits.get('opted_out', 0)} to opted-out numbers "
                  f"not sent: entry exited)")
            print(f"sent (gateway received):   {len(delivered)}  (recorded sent: {statuses.get('sent', 0)}, "
                  f"outcome unknown: {statuses.get('unknown', 0)}, failed: {statuses.get('failed', 0)})")
            print(f"duplicated:                {duplicated}")
            for (to, _text), n in [(k, n) for k, n in per_message.items() if n > 1][:5]:
                explain_duplicate(url, to, [d for d in delivered if d["to"] == to], burst)
            held = sum(1 for r in sent_rows if not in_window(r["anchor_at"] + dt.timedelta(hours=1), zone[r["customer_key"]]))
            print(f"sent in quiet hours:       {quiet}  (of the customer's own time zone; {held} reminders fell due "
                  f"in quiet hours and waited; {len(in_berlin)} sent to customers in Berlin, {berlin_shifted} of them "
                  f"outside Tehran's window)")
            print(f"sent to opted-out numbers: {to_opted}")
            restart = (f"one killed at {burst.astimezone(TEHRAN):%a %H:%M} and restarted" if burst else
                       "NO worker was killed: no step had more than a fifth of the customers due at once")
            rate = len(delivered) / busy if busy else 0.0
            print(f"throughput:                {rate:.0f} messages/s "
                  f"({len(delivered)} in {busy:.1f} s of sending, 2 worker processes, {restart})")
            with FakeSmsGateways() as other:
                base_after = baseline(other.url, url)
            base = (base_before + base_after) / 2
            print(f"baseline:                  {base:.0f} messages/s from the SMS channel alone (1000 SMS through SmsOutput "
                  f"to the same fake gateway, 16 at a time, 1 process; {base_before:.0f} before the run, {base_after:.0f} after)")
            print(f"per process:               journeys {rate / 2:.1f} messages/s vs SMS channel alone {base:.1f}: "
                  f"ratio {rate / 2 / base:.2f}")
            # the run proves nothing about restarts unless a worker was really killed in the middle
            ok = duplicated == 0 and quiet == 0 and to_opted == 0 and statuses.get("failed", 0) == 0 and burst is not None
            return 0 if ok else 1
    finally:
        if created_db:
            drop_database(created_db)


if __name__ == "__main__":
    sys.exit(main())
