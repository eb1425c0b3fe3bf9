"""No proactive message goes out twice: a lease that expires during a slow send, a runner killed mid-send.

Both are the races behind the benchmark's duplicates (bench/journeys.py, 7 December):
a second runner took the entry over while the first runner's SMS was still in
flight at the gateway, asked the gateway (`statuslocalmessageid`) whether it had
the message — not yet — and sent it again; the first request was delivered
after that. The fake Kavenegar gateway (real HTTP on 127.0.0.1) holds the first
request (`slow:`), as an overloaded gateway or a full listen backlog does.

The rule since: a message row is marked `sending` by one attempt (the lease
holder, with an attempt id) before anything goes out, and a send whose attempt
started is never started again by anyone else — at most once. When its outcome
cannot be known (the sender died), the row is recorded `unknown`, not resent.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from bot.orchestration.engine import Orchestrator
from tests.conftest import PROJECT_ROOT
from tests.fakes.sms_gateways import FakeSmsGateways
from tests.support.journeys import T0, World, customer_ids

MIN, HOUR = dt.timedelta(minutes=1), dt.timedelta(hours=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, sqlite_url, monkeypatch):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)  # consent and the SMS log use it too
    monkeypatch.delenv("HAMSAFAR_DEMO_CODES", raising=False)
    return url


@pytest.fixture
def world(database):
    with FakeSmsGateways() as sms:
        yield World(database, sms)


def sends_received(sms: FakeSmsGateways) -> int:
    return len(sms.sends("kavenegar"))


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_lease_that_expires_during_a_slow_send_does_not_send_it_again(world: World) -> None:
    """Runner A's SMS hangs at the gateway past A's lease; runner B takes the entry: B must not send."""
    [cid] = customer_ids("SL", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)  # the scanner: the customer enters, the reminder is due at T0 + 1 h
    world.sms.script("kavenegar", "slow:2.5")
    slow = Orchestrator(world.book, world.url, crm=world.crm, worker="slow", lease=dt.timedelta(seconds=0.5))
    results = {}

    def run_slow() -> None:
        results["slow"] = _with(world, slow).run(T0 + HOUR)

    first = threading.Thread(target=run_slow)
    first.start()
    wait_for(lambda: sends_received(world.sms) == 1)   # A's request is at the gateway, not answered
    time.sleep(0.7)                                      # A's lease has expired meanwhile
    world.run(T0 + HOUR)                                 # B: takes the entry over
    first.join(timeout=30)
    assert not first.is_alive()
    wait_for(lambda: len(world.sms.delivered) >= sends_received(world.sms))  # every request answered
    assert len(world.sms_to(phone)) == 1, world.sms.delivered
    assert sends_received(world.sms) == 1
    [message] = world.messages("abandoned_payment")
    assert (message["status"], message["channel"]) == ("sent", "sms")   # A's outcome, recorded by A
    entry = world.entry("abandoned_payment", cid)
    assert entry["messages_sent"] == 1 and entry["status"] == "active"
    world.run(T0 + HOUR + MIN)                           # and nobody sends it later either
    assert len(world.sms_to(phone)) == 1


def test_a_runner_killed_mid_send_is_taken_over_without_sending_again(world: World) -> None:
    """A runner process is SIGKILLed while its SMS is in flight; after its lease the restarted runner
    takes the entry: the message is recorded `unknown` (at most once), not resent, and the journey goes on."""
    [cid] = customer_ids("KL", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    world.sms.script("kavenegar", "slow:4")
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    doomed = subprocess.Popen([sys.executable, "-m", "tests.support.journey_worker", world.url, world.sms.url,
                               (T0 + HOUR).isoformat(), "1"], cwd=PROJECT_ROOT, env=env)
    try:
        wait_for(lambda: sends_received(world.sms) == 1, timeout=60)  # its request reached the gateway
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    time.sleep(1.2)                      # its lease (1 s, real time) expires
    world.run(T0 + HOUR + 2 * MIN)       # the restarted runner
    # the dead runner's request is delivered after all (and any other request answered)
    wait_for(lambda: len(world.sms.delivered) >= max(1, sends_received(world.sms)))
    assert len(world.sms_to(phone)) == 1, world.sms.delivered
    assert sends_received(world.sms) == 1
    [message] = world.messages("abandoned_payment")
    assert message["status"] == "unknown" and "not resent" in message["error"]
    entry = world.entry("abandoned_payment", cid)
    assert entry["step"] > 1 and entry["status"] == "active"   # on to the 24-hour code
    world.run(T0 + HOUR + 3 * MIN)
    assert len(world.sms_to(phone)) == 1


def _with(world: World, orchestrator: Orchestrator) -> World:
    """The same shop seen by another runner (its own orchestrator)."""
    other = object.__new__(World)
    other.__dict__.update(world.__dict__)
    other.o = orchestrator
    return other


def test_an_ambiguous_gateway_error_is_recorded_unknown_and_never_retried(world: World) -> None:
    """Kavenegar answers 500 (it may or may not have queued the SMS) and does not show it when asked: at most
    once, so the reminder is `unknown` — not retried, no other channel — and the journey goes on."""
    [cid] = customer_ids("AM", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    world.sms.script("kavenegar", "500")
    stats = world.run(T0 + HOUR)
    assert (stats.sent, stats.unknown) == (0, 1)
    assert sends_received(world.sms) == 1 and world.sms_to(phone) == []
    [message] = world.messages("abandoned_payment")
    assert message["status"] == "unknown" and "not resent" in message["error"]
    world.run(T0 + HOUR + 10 * MIN)      # later runs (past the old retry delay) leave it alone
    world.run(T0 + 2 * HOUR)
    assert sends_received(world.sms) == 1
    assert world.entry("abandoned_payment", cid)["status"] == "active"   # the 24-hour code is still to come


def test_a_message_table_of_an_older_release_gets_the_attempt_columns(database: str) -> None:
    """Migration `orchestration` 2 adds `attempt_id` and `claimant` to an existing `journey_messages`."""
    import sqlalchemy as sa

    from bot.schema import init_db

    engine = init_db(database)
    with engine.begin() as conn:
        for column in ("attempt_id", "claimant"):
            conn.execute(sa.text(f"ALTER TABLE journey_messages DROP COLUMN {column}"))
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE module = 'orchestration' AND version = 2"))
    init_db(database)
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("journey_messages")}
    assert {"attempt_id", "claimant"} <= columns
