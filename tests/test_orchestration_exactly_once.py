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
cannot be known (the sender died, a timeout after the request was written), the
row is recorded `unknown`, not resent. What the gateway's own record proves was
never sent — a connection refused before any byte left, or a send Kavenegar
itself answered with an error and, asked by our `localid`, does not know — is
sent again, within the runner's bounded retries.
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

MIN, HOUR, DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)


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


def sms_log(world: World, message_id: int) -> dict:
    """The SMS channel's own row for a journey message (`sms_messages`, key `journey:<id>`)."""
    import sqlalchemy as sa

    from bot.channels.models import SmsMessage

    table = SmsMessage.__table__
    with world.engine.connect() as conn:
        return dict(conn.execute(sa.select(table).where(table.c.idempotency_key == f"journey:{message_id}"))
                    .mappings().one())


def lookups(sms: FakeSmsGateways) -> int:
    return len([r for r in sms.requests if r["path"].endswith("statuslocalmessageid.json")])


def stats_line(world: World, journey: str) -> dict:
    """The journey's line of `hamsafar journeys stats`."""
    from bot.orchestration.stats import journey_stats

    return next(line for line in journey_stats(world.engine, world.book) if line["journey"] == journey)


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connecting is refused before any byte is written."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GatewayDown:
    """The SMS gateway's address while nothing answers there (connection refused)."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{closed_port()}"
        self.delivered: list = []


def test_a_5xx_kavenegar_answered_and_whose_lookup_has_no_such_localid_is_sent_again_once(world: World) -> None:
    """Kavenegar itself answers 500 (its JSON envelope: the request is finished there) and, asked by our
    `localid`, has no such message: provably not sent, so it is sent again — once — and recorded sent."""
    [cid] = customer_ids("NS", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    world.sms.script("kavenegar", "500")
    stats = world.run(T0 + HOUR)
    assert (stats.sent, stats.unknown, stats.failed) == (1, 0, 0)
    assert sends_received(world.sms) == 2 and lookups(world.sms) == 1   # asked before the second try
    assert len(world.sms_to(phone)) == 1
    [message] = world.messages("abandoned_payment")
    assert (message["status"], message["channel"]) == ("sent", "sms")
    log = sms_log(world, message["id"])
    assert (log["status"], log["attempts"]) == ("sent", 2)
    assert [r["params"]["localid"] for r in world.sms.sends("kavenegar")] == [str(log["id"])] * 2
    world.run(T0 + 2 * HOUR)
    assert sends_received(world.sms) == 2 and len(world.sms_to(phone)) == 1


def test_a_5xx_page_of_a_proxy_in_front_of_the_gateway_is_unknown_and_never_retried(world: World) -> None:
    """A 502 page from a proxy is no answer of Kavenegar's (the API behind it may still take the request),
    so its "no such localid" proves nothing: at most once — `unknown`, not retried, no other channel."""
    [cid] = customer_ids("PX", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    world.sms.script("kavenegar", "proxy_502")
    stats = world.run(T0 + HOUR)
    assert (stats.sent, stats.unknown) == (0, 1)
    assert sends_received(world.sms) == 1 and lookups(world.sms) == 1 and world.sms_to(phone) == []
    [message] = world.messages("abandoned_payment")
    assert message["status"] == "unknown" and "not resent" in message["error"]
    world.run(T0 + HOUR + 10 * MIN)      # later runs (past the retry delay) leave it alone
    world.run(T0 + 2 * HOUR)
    assert sends_received(world.sms) == 1
    assert world.entry("abandoned_payment", cid)["status"] == "active"   # the 24-hour code is still to come
    line = stats_line(world, "abandoned_payment")
    assert (line["messages"], line["unknown"], line["failed"]) == (0, 1, 0)   # `hamsafar journeys stats`


def test_a_read_timeout_after_the_request_was_written_is_unknown_and_never_resent(world: World) -> None:
    """Maybe sent: the request reached Kavenegar, which is slow to answer; we stop waiting. Asked at once,
    Kavenegar does not show it yet — and then delivers it. Resending on that "not found" would have
    texted the customer twice; the message is `unknown` and nobody sends it again."""
    [cid] = customer_ids("RT", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    world.sms_timeout = 0.5
    world.sms.script("kavenegar", "slow:2")
    stats = world.run(T0 + HOUR)
    assert (stats.sent, stats.unknown) == (0, 1)
    assert lookups(world.sms) == 1
    wait_for(lambda: len(world.sms.delivered) == 1)           # the slow request is delivered after all
    [message] = world.messages("abandoned_payment")
    assert message["status"] == "unknown" and "ReadTimeout" in message["error"]
    world.sms_timeout = 10.0
    world.run(T0 + HOUR + 10 * MIN)
    world.run(T0 + 2 * HOUR)
    assert sends_received(world.sms) == 1 and len(world.sms_to(phone)) == 1


def test_a_gateway_refusing_connections_is_retried_by_the_runner_and_sent_once(world: World) -> None:
    """Connection refused: no byte of the request left, so nothing can have arrived. The message is `failed`
    (not `unknown`) and the runner tries it again after its retry delay; once the gateway is back it goes
    out exactly once."""
    [cid] = customer_ids("CR", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    gateway = world.sms
    world.sms = GatewayDown()
    stats = world.run(T0 + HOUR)
    assert (stats.sent, stats.unknown, stats.failed) == (0, 0, 1)
    [message] = world.messages("abandoned_payment")
    assert message["status"] == "failed" and "ConnectError" in message["error"]
    entry = world.entry("abandoned_payment", cid)
    assert (entry["attempts"], entry["step"]) == (1, 2) and entry["due_at"] == T0 + HOUR + 5 * MIN
    world.sms = gateway                                       # the gateway is back
    assert world.run(T0 + HOUR + 4 * MIN).sent == 0           # not due before its retry delay
    stats = world.run(T0 + HOUR + 5 * MIN)
    assert (stats.sent, stats.unknown, stats.failed) == (1, 0, 0)
    assert len(world.sms_to(phone)) == 1 and sends_received(world.sms) == 1
    [message] = world.messages("abandoned_payment")
    assert (message["status"], message["channel"]) == ("sent", "sms")
    world.run(T0 + 2 * HOUR)
    assert sends_received(world.sms) == 1


def test_retries_of_a_message_provably_not_sent_are_bounded(world: World) -> None:
    """A gateway that stays unreachable: the runner tries the message three times (5 and 10 minutes
    apart), then skips the step — the journey goes on to its 24-hour code, nothing is sent twice."""
    [cid] = customer_ids("BD", "abandoned_payment", holdout=False)
    world.customer(cid)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    gateway, world.sms = world.sms, GatewayDown()
    assert world.run(T0 + HOUR).failed == 1
    assert world.run(T0 + HOUR + 5 * MIN).failed == 1
    assert world.entry("abandoned_payment", cid)["due_at"] == T0 + HOUR + 15 * MIN
    assert world.run(T0 + HOUR + 15 * MIN).failed == 1
    entry = world.entry("abandoned_payment", cid)
    assert (entry["status"], entry["attempts"], entry["messages_sent"]) == ("active", 0, 0)
    assert entry["step"] > 2                                  # the reminder's step was given up
    [message] = world.messages("abandoned_payment")
    assert message["status"] == "failed" and message["attempts"] == 3
    world.sms = gateway
    world.run(T0 + HOUR + 30 * MIN)
    assert sends_received(world.sms) == 0                     # the given-up reminder is not sent later
    line = stats_line(world, "abandoned_payment")
    assert (line["messages"], line["unknown"], line["failed"]) == (0, 0, 1)


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


# ----------------------------------------------------------------------------- Telegram
def test_a_telegram_answer_slower_than_our_timeout_is_unknown_and_not_resent_by_the_next_run(world: World) -> None:
    """The fake Bot API takes sendMessage and answers after our timeout: the message may have arrived (it
    did), so it is recorded `unknown` — no SMS fallback, and the next run-due does not send it again."""
    from tests.fakes.telegram_api import FakeTelegram
    from tests.support.journeys import TELEGRAM_TOKEN

    with FakeTelegram(TELEGRAM_TOKEN) as telegram:
        world.telegram = telegram
        [cid] = customer_ids("TT", "shipping_updates", holdout=False)
        phone = world.customer(cid)
        world.link(cid, "tg:777002")
        world.order(cid, "shipped", T0 - DAY, shipped_at=T0, tracking_code="TR-9", carrier="تیپاکس")
        world.telegram_timeout = 0.5
        telegram.delays["sendMessage"] = 2.0
        stats = world.run(T0 + MIN)
        assert (stats.sent, stats.unknown, stats.failed) == (0, 1, 0)
        [arrived] = telegram.wait_for("sendMessage", 1)        # the Bot API did deliver it, late
        assert str(arrived["chat_id"]) == "777002" and "TR-9" in arrived["text"]
        [message] = world.messages("shipping_updates")
        assert (message["status"], message["channel"]) == ("unknown", "telegram")
        assert "not resent" in message["error"] and "telegram" in message["error"]
        assert world.sms_to(phone) == [] and sends_received(world.sms) == 0   # no fallback to SMS
        telegram.delays.pop("sendMessage")
        world.telegram_timeout = 15.0
        world.run(T0 + 10 * MIN)                               # the next run-due
        world.run(T0 + HOUR)
        assert len(telegram.sent()) == 1 and sends_received(world.sms) == 0
        [message] = world.messages("shipping_updates")
        assert message["status"] == "unknown"
        assert world.entry("shipping_updates", cid)["status"] == "active"   # waiting for the delivery


def test_an_unreachable_telegram_falls_back_to_sms_at_once(world: World) -> None:
    """Connection refused by the Bot API's address: provably not sent, so the message goes by SMS in the
    same run (the fallback an `unknown` never gets)."""
    import types

    [cid] = customer_ids("TU", "shipping_updates", holdout=False)
    phone = world.customer(cid)
    world.link(cid, "tg:777003")
    world.telegram = types.SimpleNamespace(base_url=f"http://127.0.0.1:{closed_port()}/bot")
    world.order(cid, "shipped", T0 - DAY, shipped_at=T0, tracking_code="TR-10", carrier="تیپاکس")
    stats = world.run(T0 + MIN)
    assert (stats.sent, stats.unknown, stats.by_channel["sms"]) == (1, 0, 1)
    [text] = world.sms_to(phone)
    assert "TR-10" in text
    [message] = world.messages("shipping_updates")
    assert (message["status"], message["channel"]) == ("sent", "sms") and message["attempts"] == 2
