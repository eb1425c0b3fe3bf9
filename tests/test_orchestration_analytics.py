"""Journey figures: conversion, hold-out, uplift and its interval; the report's journey section and funnel views."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from bot.analytics.report import build_report
from bot.analytics.simulate import simulate
from bot.schema import init_db
from bot.orchestration.definition import load_book
from bot.orchestration.models import JourneyEntry
from bot.orchestration.stats import journey_stats, uplift_interval

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 6, 30, tzinfo=UTC)


def test_uplift_interval_matches_newcombes_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    uplift, low, high = uplift_interval(56, 70, 48, 80)
    assert round(uplift, 4) == 0.2 and round(low, 4) == 0.0524 and round(high, 4) == 0.3339
    assert uplift_interval(5, 10, 0, 0) is None


def entries(engine, journey, rows) -> None:  # type: ignore[no-untyped-def]
    """rows: (holdout, converted, window_over, channel, language, messages)."""
    table = JourneyEntry.__table__
    with engine.begin() as conn:
        for i, (holdout, converted, over, channel, language, messages) in enumerate(rows):
            entered = NOW - dt.timedelta(days=10 if over else 1)
            conn.execute(table.insert().values(
                journey=journey, journey_version=1, entry_key=f"{journey}:{i}", customer_key=f"K{i}", customer_id=f"K{i}",
                language=language, holdout=holdout, priority=50, status="completed", step=9, anchor_at=entered,
                clock_at=entered, entered_at=entered, goal_deadline=entered + dt.timedelta(days=3),
                converted_at=entered + dt.timedelta(hours=5) if converted else None,
                conversion_event="order.paid" if converted else None, messages_sent=messages, first_channel=channel))


def test_journey_stats_conversion_holdout_uplift_and_breakdowns(sqlite_url) -> None:
    engine = init_db(sqlite_url)
    rows = ([(False, True, True, "sms", "fa", 1)] * 24 + [(False, False, True, "sms", "fa", 1)] * 36
            + [(False, True, True, "telegram", "en", 1)] * 6 + [(False, False, True, "telegram", "en", 1)] * 14
            + [(False, False, False, "sms", "fa", 1)] * 5        # window still open: pending
            + [(True, True, True, None, "fa", 0)] * 2 + [(True, False, True, None, "fa", 0)] * 18)
    entries(engine, "abandoned_payment", rows)
    line = next(l for l in journey_stats(engine, load_book(), now=NOW) if l["journey"] == "abandoned_payment")
    assert (line["entered"], line["treated"], line["holdout"], line["messaged"], line["pending"]) == (105, 85, 20, 85, 5)
    assert line["conversion"] == pytest.approx(30 / 80) and line["holdout_conversion"] == pytest.approx(2 / 20)
    expected = uplift_interval(30, 80, 2, 20)
    assert (line["uplift"], line["uplift_low"], line["uplift_high"]) == pytest.approx(expected)
    assert line["uplift_low"] < line["uplift"] < line["uplift_high"]
    assert line["by_channel"]["sms"]["conversion"] == pytest.approx(24 / 60)
    assert line["by_channel"]["telegram"]["conversion"] == pytest.approx(6 / 20)
    assert line["by_language"]["en"]["treated"]["conversion"] == pytest.approx(6 / 20)
    assert line["by_language"]["fa"]["holdout"]["entered"] == 20
    return None


def test_report_has_the_journey_section_and_says_which_funnel_it_shows(sqlite_url, tmp_path, artifacts_dir, capsys) -> None:
    engine = init_db(sqlite_url)
    simulate(engine, 120, 10, seed=3, start=dt.date(2025, 6, 1))
    entries(engine, "abandoned_payment", [(False, i % 3 == 0, True, "sms", "fa", 1) for i in range(90)]
            + [(True, i % 9 == 0, True, None, "fa", 0) for i in range(30)])
    html = build_report(engine, now=NOW.replace(tzinfo=None))
    assert 'id="journeys"' in html and "Proactive journeys" in html and 'aria-label="uplift"' in html
    shown = re.search(r'id="funnel-shown">([^<]*)<', html).group(1)
    assert shown.startswith("Shown: conversations reaching each stage, any order")
    assert "<th>conversations, any-order</th><th>customers, any-order</th><th>customers, strict</th>" in html
    assert "<script" not in html.lower() and not re.search(r"(src|href)=", html)
    (artifacts_dir / "journeys-report.html").write_text(html, encoding="utf-8")

    from bot.cli import main

    assert main(["analytics", "journeys", "--format", "json", "--database-url", sqlite_url]) == 0
    data = json.loads(capsys.readouterr().out)
    line = next(r for r in data["rows"] if r["journey"] == "abandoned_payment")
    assert (line["treated"], line["holdout"], line["converted"]) == (90, 30, 30 + 4)
    assert "churn_rate" in data["shop_kpis"]
    if Path("/usr/bin/chromium").exists():
        playwright = pytest.importorskip("playwright.sync_api")
        page_file = tmp_path / "report.html"
        page_file.write_text(html, encoding="utf-8")
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless"])
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 900})
                page.goto(page_file.as_uri())
                section = page.locator("#journeys")
                assert "Abandoned payment" in section.inner_text() and section.locator("svg circle").count() == 1
                section.screenshot(path=str(artifacts_dir / "journeys-report.png"))
            finally:
                browser.close()


def test_journey_bookkeeping_rows_are_not_conversations(sqlite_url) -> None:
    from bot.analytics.metrics import kpi_overview
    from bot.touchpoints.store import insert_rows

    engine = init_db(sqlite_url)
    simulate(engine, 40, 5, seed=5, start=dt.date(2025, 6, 1))
    before = kpi_overview(engine)[0]["conversations"]
    insert_rows(engine, [{"event_id": f"journey-{i}", "occurred_at": dt.datetime(2025, 6, 2), "actor": "system",
                          "conversation_id": f"journey:K{i}", "channel": "journey", "actions": ["journey_entered", "treated"],
                          "journey": "win_back"} for i in range(25)])
    assert kpi_overview(engine)[0]["conversations"] == before


def test_analytics_funnel_without_options_is_the_reports_headline_and_says_so(sqlite_url, capsys) -> None:
    """Conversations in any order, as the report's headline (per identified customer in strict order, a day of
    anonymous chats starting at consideration shows nobody past awareness); the table names what it shows."""
    from bot.analytics.metrics import funnel
    from bot.cli import main
    from bot.journey import load_journey

    engine = init_db(sqlite_url)
    simulate(engine, 60, 7, 5, dt.date(2025, 3, 1))
    assert main(["analytics", "funnel", "--format", "json", "--database-url", sqlite_url]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["unit"], data["mode"]) == ("conversation", "any-order")
    expected = funnel(engine, load_journey(), "conversation", "any-order", 30)
    assert [r["units"] for r in data["rows"]] == [r["units"] for r in expected]
    assert main(["analytics", "funnel", "--database-url", sqlite_url]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "conversations reaching each journey stage in any order within 30 days " \
                    "(also: --unit customer, --mode strict)"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_shop_kpis_churn_and_time_to_resolution_from_the_crm(backend, sqlite_url, request, monkeypatch) -> None:
    """Churn: customers whose newest order (not cancelled) is older than 90 days, of those with one; time to
    resolution: a ticket's creation to the scan that first saw it closed, median hours."""
    from bot.orchestration.stats import shop_kpis
    from tests.support.journeys import T0, World

    url = sqlite_url if backend == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    world = World(url)
    for cid in ("KA", "KB", "KC"):
        world.customer(cid)
    world.order("KA", "delivered", T0 - 100 * day)                 # churned
    world.order("KB", "delivered", T0 - 100 * day)
    world.order("KB", "delivered", T0 - 10 * day)                  # ordered again: not churned
    world.order("KC", "cancelled", T0 - 5 * day)                   # no order that counts
    world.ticket("TK-1", "KA", "open", T0 - hour)
    world.ticket("TK-2", "KB", "open", T0 - 2 * hour)
    world.ticket("TK-3", "KB", "open", T0)
    world.run(T0)                                                  # the scanner sees them open
    world.ticket("TK-1", "KA", "closed", T0 - hour)
    world.run(T0 + hour)                                           # 2 h after TK-1 was opened
    world.ticket("TK-2", "KB", "closed", T0 - 2 * hour)
    world.ticket("TK-3", "KB", "closed", T0)
    world.run(T0 + 4 * hour)                                       # 6 h and 4 h
    kpis = shop_kpis(world.engine, now=T0)
    assert (kpis["customers_with_orders"], kpis["churned"], kpis["churn_rate"]) == (2, 1, 0.5)
    assert (kpis["tickets_closed"], kpis["median_hours_to_resolution"]) == (3, pytest.approx(4.0))
