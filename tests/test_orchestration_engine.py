"""The work table's building blocks: the sending window, hold-out assignment, claims across workers."""

from __future__ import annotations

import datetime as dt
import threading
import time
from zoneinfo import ZoneInfo

import pytest

from bot.orchestration.definition import Settings, load_book
from bot.orchestration.engine import E, Orchestrator, holdout_of, utcnow
from bot.orchestration.events import Emitter, Event
from bot.orchestration.schedule import SendingWindow

TEHRAN = ZoneInfo("Asia/Tehran")
UTC = dt.timezone.utc


def tehran(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TEHRAN)


def test_the_window_opens_at_nine_closes_at_nine_pm_and_skips_friday() -> None:
    window = SendingWindow(Settings())
    wednesday = tehran(2025, 6, 4, 8, 59)
    assert not window.allows(wednesday)
    assert window.next_allowed(wednesday) == tehran(2025, 6, 4, 9, 0).astimezone(UTC)
    assert window.allows(tehran(2025, 6, 4, 20, 59)) and not window.allows(tehran(2025, 6, 4, 21, 0))
    thursday_night = tehran(2025, 6, 5, 21, 30)
    assert window.next_allowed(thursday_night) == tehran(2025, 6, 7, 9, 0).astimezone(UTC)  # Saturday
    assert not window.allows(tehran(2025, 6, 6, 12, 0))  # Friday noon


def test_friday_is_allowed_when_the_shop_says_so_and_jalali_holidays_are_skipped() -> None:
    window = SendingWindow(Settings(days_off=(), holidays=("01-01", "01-02")))
    assert window.allows(tehran(2025, 6, 6, 12, 0))
    # 1 Farvardin 1404 = 21 March 2025: closed on 1 and 2 Farvardin, open on the 3rd
    assert not window.allows(tehran(2025, 3, 21, 12, 0))
    assert window.next_allowed(tehran(2025, 3, 21, 12, 0)) == tehran(2025, 3, 23, 9, 0).astimezone(UTC)
    one_off = SendingWindow(Settings(holidays=("1404-03-14",)))  # 4 June 2025
    assert not one_off.allows(tehran(2025, 6, 4, 12, 0)) and one_off.allows(tehran(2025, 6, 3, 12, 0))


def test_next_local_time_is_the_first_at_or_after() -> None:
    window = SendingWindow(Settings())
    assert window.next_local_time(tehran(2025, 6, 4, 9, 59), dt.time(10)) == tehran(2025, 6, 4, 10).astimezone(UTC)
    assert window.next_local_time(tehran(2025, 6, 4, 10, 0), dt.time(10)) == tehran(2025, 6, 4, 10).astimezone(UTC)
    assert window.next_local_time(tehran(2025, 6, 4, 10, 1), dt.time(10)) == tehran(2025, 6, 5, 10).astimezone(UTC)


def test_holdout_is_deterministic_per_customer_and_journey_and_near_the_share() -> None:
    keys = [f"C{i:05d}" for i in range(20000)]
    first = [holdout_of("abandoned_payment", k, 0.1) for k in keys]
    assert first == [holdout_of("abandoned_payment", k, 0.1) for k in keys]
    assert 0.09 < sum(first) / len(keys) < 0.11
    other = [holdout_of("win_back", k, 0.1) for k in keys]
    assert other != first  # independent per journey
    assert not any(holdout_of("x", k, 0.0) for k in keys[:100])


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, sqlite_url):
    if request.param == "sqlite":
        return sqlite_url
    return request.getfixturevalue("fresh_postgres_url")


def test_two_workers_never_claim_the_same_entry(database: str) -> None:
    book = load_book()
    now = dt.datetime(2025, 6, 4, 8, 0, tzinfo=UTC)
    first = Orchestrator(book, database, worker="w1")
    emitter = Emitter(first)
    for i in range(60):
        emitter.emit(Event("order.pending_payment", f"t:{i}", now, customer_id=f"C{i}", order_id=str(100000 + i),
                           data={"status": "pending_payment"}), now)
    second = Orchestrator(book, database, worker="w2")
    claimed = {}

    def take(o: Orchestrator) -> None:
        ids = []
        while True:
            _token, batch = o.claim(now, limit=7)
            if not batch:
                break
            ids += batch
        claimed[o.worker] = ids

    threads = [threading.Thread(target=take, args=(o,)) for o in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    both = claimed["w1"] + claimed["w2"]
    assert len(both) == 60 and len(set(both)) == 60
    # leased rows are taken by nobody else until the lease (on the real clock) expires
    assert first.claim(now + dt.timedelta(days=1))[1] == []
    first.lease = second.lease = dt.timedelta(seconds=0.3)
    with first.engine.begin() as conn:  # the leases as a short lease would have set them
        conn.execute(E.update().values(lease_until=utcnow() + dt.timedelta(seconds=0.3)))
    assert second.claim(now)[1] == []
    time.sleep(0.4)
    assert len(second.claim(now, limit=100)[1]) == 60


def test_the_recorder_leaves_journey_messages_to_the_orchestrator() -> None:
    from bot.touchpoints.assembler import TurnAssembler

    assembler = TurnAssembler()
    journey = {"event": "bot", "sender_id": "sms:+989121234567", "timestamp": 1000.0, "text": "…",
               "metadata": {"hamsafar_actor": "system", "hamsafar_journey": {"journey": "abandoned_payment"}}}
    assert assembler.feed(journey) == []
    other = dict(journey, metadata={"hamsafar_actor": "system"})
    assert [r["actor"] for r in assembler.feed(other)] == ["system"]


def test_erasing_a_customer_removes_their_journey_rows(database: str) -> None:
    import sqlalchemy as sa

    from bot.orchestration.events import record_stock_interest
    from bot.orchestration.models import JourneyEntry, JourneyEvent
    from bot.touchpoints.erasure import erase_customer

    o = Orchestrator(load_book(), database)
    now = dt.datetime(2025, 6, 4, 8, 0, tzinfo=UTC)
    Emitter(o).emit(Event("order.pending_payment", "e:1", now, customer_id="C9", order_id="100009"), now)
    Emitter(o).emit(Event("order.pending_payment", "e:2", now, customer_id="C8", order_id="100008"), now)
    record_stock_interest("C9", "SKU-1", None, database, now=now)
    deleted = erase_customer("C9", database)
    assert deleted["journey_entries"] == 1 and deleted["journey_events"] == 1 and deleted["journey_stock_interest"] == 1
    with o.engine.connect() as conn:
        left = conn.execute(sa.select(JourneyEntry.__table__.c.customer_id)).scalars().all()
        assert left == ["C8"]
        assert conn.execute(sa.select(sa.func.count()).select_from(JourneyEvent.__table__)).scalar() == 1
