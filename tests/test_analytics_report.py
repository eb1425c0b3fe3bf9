"""SQL views, the CLI and the offline HTML report."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.analytics.report import build_report
from bot.analytics.simulate import simulate
from bot.analytics.views import create_views, views_sql
from bot.cli import main
from bot.schema import init_db
from bot.touchpoints.store import insert_rows

from tests.test_analytics_metrics import START, expected_funnel, expected_goals, raw_rows, row

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "fresh_postgres_url")


def test_views_sql_file_is_current():
    assert (ROOT / "docs" / "sql" / "views.sql").read_text(encoding="utf-8") == views_sql()


def test_views_match_reference(url):
    engine = init_db(url)
    create_views(engine)
    create_views(engine)  # idempotent
    simulate(engine, 120, 10, seed=5, start=START)
    rows = raw_rows(engine)
    with engine.connect() as conn:
        daily = conn.execute(sa.text("SELECT day, channel, language, conversations, customer_messages, fallbacks, "
                                     "handoffs_started FROM analytics_daily_volume")).all()
        outcomes = conn.execute(sa.text("SELECT goal, SUM(started), SUM(completed), SUM(failed), SUM(abandoned) "
                                        "FROM analytics_goal_outcomes GROUP BY goal")).all()
        funnel = dict(conn.execute(sa.text("SELECT journey_stage, units_reached FROM analytics_stage_funnel")).all())
    expected = defaultdict(lambda: [set(), 0, 0, 0])
    for r in rows:
        e = expected[(r["occurred_at"].date().isoformat(), r["channel"], r["language"])]
        e[0].add(r["conversation_id"])
        e[1] += r["actor"] == "customer"
        e[2] += r["actor"] == "customer" and bool(r["fallback"])
        e[3] += r["actor"] == "system" and r["actions"] == ["handoff_started"]
    assert {(d, c, l): [n, m, f, h] for d, c, l, n, m, f, h in daily} == \
        {k: [len(v[0]), v[1], v[2], v[3]] for k, v in expected.items()}
    goals = expected_goals(rows)
    assert {g: (s, c, f, a) for g, s, c, f, a in outcomes} == \
        {g: (v["started"], v["completed"], v["failed"], v["abandoned"]) for g, v in goals.items()}
    # units reaching each stage at all == the any-order funnel with an unlimited window, stage by stage
    reached = defaultdict(set)
    ids = defaultdict(set)
    for r in rows:
        if r["customer_id"]:
            ids[r["conversation_id"]].add(r["customer_id"])
    for r in rows:
        if r["actor"] == "customer" and r["journey_stage"]:
            unit = min(ids[r["conversation_id"]]) if ids[r["conversation_id"]] else "conversation:" + r["conversation_id"]
            reached[r["journey_stage"]].add(unit)
    assert funnel == {s: len(u) for s, u in reached.items()}


def test_cli_formats(sqlite_url, capsys):
    assert main(["simulate", "--customers", "60", "--days", "7", "--seed", "9", "--start", "2025-03-01",
                 "--database-url", sqlite_url]) == 0
    capsys.readouterr()
    assert main(["analytics", "funnel", "--format", "json", "--database-url", sqlite_url, "--window-days", "7",
                 "--unit", "customer", "--mode", "strict"]) == 0
    data = json.loads(capsys.readouterr().out)
    counts, _ = expected_funnel(raw_rows(init_db(sqlite_url)), window_days=7)
    assert [r["units"] for r in data["rows"]] == counts and data["window_days"] == 7
    assert main(["analytics", "goals", "--format", "csv", "--database-url", sqlite_url, "--channel", "web"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("goal,stage,started,completed,failed,abandoned")
    for command in ("channels", "kpis"):
        assert main(["analytics", command, "--database-url", sqlite_url, "--since", "2025-03-02",
                     "--until", "۲۰۲۵-۰۳-۰۵", "--language", "fa"]) == 0
        text = capsys.readouterr().out
        assert "fallback_rate" in text and "nps" in text
    assert main(["analytics", "views", "--database-url", sqlite_url]) == 0


def test_cli_on_a_database_without_touchpoints(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    for command in ("funnel", "goals", "channels", "kpis"):
        assert main(["analytics", command, "--format", "json", "--database-url", url]) == 0
        data = json.loads(capsys.readouterr().out)
        assert all(not line.get("units") and not line.get("started") and not line.get("conversations")
                   for line in data["rows"])
    assert main(["report", "--out", str(tmp_path / "r.html"), "--database-url", url]) == 0
    assert "0 touchpoints" in capsys.readouterr().out


def hostile_rows():
    evil = "<script>alert('x')</script>"
    return [
        row("evil", 0, intent="ask_price", journey_stage="consideration", goal=evil, goal_status="started",
            channel=evil, text=evil + " http://example.invalid", actions=[evil]),
        row("evil", 0.1, "system", actions=["goal_started"], goal=evil, goal_status="started", channel=evil),
        row("evil", 1, intent="stop", goal=evil, goal_status="abandoned", channel=evil, actions=[evil]),
        row("evil", 1.1, "system", actions=["goal_abandoned"], goal=evil, goal_status="abandoned", channel=evil),
    ]


def test_report_is_self_contained_and_escaped(sqlite_url, tmp_path, artifacts_dir):
    engine = init_db(sqlite_url)
    simulate(engine, 150, 14, seed=4, start=START)
    insert_rows(engine, hostile_rows())
    html = build_report(engine)
    assert "<script" not in html.lower()
    assert "http" not in html.lower()
    assert "&lt;script&gt;" in html
    assert "example.invalid" not in html  # customer text is never shown
    assert "<svg" in html and 'dir="rtl"' in html and "قیف سفر مشتری" in html
    assert re.search(r'dir="rtl" lang="fa">[^<]*[۰-۹]', html), "Persian labels use Persian digits"
    assert not re.search(r"(src|href)=", html)
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out), "--database-url", sqlite_url]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    (artifacts_dir / "analytics-report.html").write_text(html, encoding="utf-8")


def test_report_renders_offline_in_chromium(sqlite_url, tmp_path, artifacts_dir):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    playwright = pytest.importorskip("playwright.sync_api")
    engine = init_db(sqlite_url)
    simulate(engine, 200, 21, seed=8, start=START)
    page_file = tmp_path / "report.html"
    page_file.write_text(build_report(engine), encoding="utf-8")
    requests = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            assert page.locator("svg.chart").count() >= 6
            assert "Journey funnel" in page.inner_text("body")
            page.screenshot(path=str(artifacts_dir / "analytics-report.png"), full_page=True)
        finally:
            browser.close()
    assert all(u.startswith("file:") for u in requests), requests
