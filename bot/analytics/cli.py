"""`hamsafar analytics funnel|goals|channels|kpis|views`, `hamsafar report`, `hamsafar simulate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List

FUNNEL_COLUMNS = ("order", "stage", "units", "reached_any", "conversion", "drop_off", "drop_off_rate",
                  "conversion_from_first", "median_seconds_from_previous")
GOAL_COLUMNS = ("goal", "stage", "started", "completed", "failed", "abandoned", "suspended", "resumed",
                "completion_rate", "abandon_rate",
                "abandoned_at")
KPI_COLUMNS = ("channel", "language", "conversations", "customer_messages", "fallback_rate", "handoff_rate",
               "goals_started", "goals_completed", "containment_rate", "csat_responses", "csat_mean", "csat_satisfied",
               "nps_responses", "nps")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="first UTC day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--until", help="last UTC day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--channel", action="append", help="only these channels (repeat or comma-separate)")
    parser.add_argument("--language", action="append", help="only these languages: fa, en (repeat or comma-separate)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default HAMSAFAR_DATABASE_URL)")


def register(subparsers: argparse._SubParsersAction) -> None:
    analytics = subparsers.add_parser("analytics", help="funnel, goals, channel and KPI tables from touchpoints")
    commands = analytics.add_subparsers(dest="analytics_command", metavar="WHAT")

    def command(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        _filters(sub)
        sub.add_argument("--format", choices=("table", "csv", "json"), default="table")
        sub.set_defaults(func=func)
        return sub

    funnel = command("funnel", "units reaching each journey stage, conversion, drop-off, time between stages", cmd_funnel)
    # the report's headline by default: anonymous chats that start at consideration count, and a stage
    # reached out of order counts (per identified customer in strict order a demo day shows 0 % past awareness)
    funnel.add_argument("--unit", choices=("customer", "conversation"), default="conversation",
                        help="what is counted (default conversation; customer: identified customers)")
    funnel.add_argument("--mode", choices=("strict", "any-order"), default="any-order",
                        help="any-order (default): a stage counts whenever reached; strict: in journey order")
    funnel.add_argument("--window-days", type=float, default=30.0, help="conversion window (default 30)")
    command("goals", "started / completed / failed / abandoned per goal, and where abandoned goals stopped", cmd_goals)
    command("channels", "fallback, handoff, containment, CSAT and NPS per channel and language", cmd_channels)
    command("kpis", "the same KPIs overall, per channel and per language", cmd_kpis)
    command("journeys", "proactive journeys: entered, messaged, converted, hold-out, uplift with its 95% interval",
            cmd_journeys)
    views = commands.add_parser("views", help="(re)create the SQL views for BI tools, or print their SQL")
    views.add_argument("--print", action="store_true", help="print the SQL (docs/sql/views.sql) instead")
    views.add_argument("--database-url")
    views.set_defaults(func=cmd_views)
    analytics.set_defaults(func=lambda args: (analytics.print_help(), 2)[1])

    report = subparsers.add_parser("report", help="self-contained HTML report (funnel, goals, channels, CSAT/NPS)")
    _filters(report)
    report.add_argument("--out", default="report.html")
    report.add_argument("--window-days", type=float, default=30.0)
    report.add_argument("--unit", choices=("customer", "conversation"), default="conversation",
                        help="unit of the headline funnel (default conversation; the others are shown beside it)")
    report.add_argument("--mode", choices=("strict", "any-order"), default="any-order",
                        help="order of the headline funnel (default any-order)")
    report.set_defaults(func=cmd_report)

    simulate = subparsers.add_parser("simulate", help="write simulated customer journeys as touchpoint rows")
    simulate.add_argument("--customers", type=int, default=500)
    simulate.add_argument("--days", type=int, default=30)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--start", help="first UTC day, YYYY-MM-DD (default: DAYS days ago)")
    simulate.add_argument("--database-url")
    simulate.set_defaults(func=cmd_simulate, uses_database=True)


def _load(args: argparse.Namespace):
    """(filters, engine) from the common options.

    Analytics only reads: the schema is the server's business (`bot.schema.init_db`), so
    it is created here only when the database has no touchpoints table at all
    (then every figure is empty). A read-only database user is enough.
    """
    import sqlalchemy as sa

    from bot.analytics.data import Filters, parse_date, split_list
    from bot.db import get_engine
    from bot.schema import init_db

    filters = Filters(parse_date(args.since), parse_date(args.until), split_list(args.channel),
                      split_list(args.language))
    engine = get_engine(args.database_url)
    if not sa.inspect(engine).has_table("touchpoints"):
        engine = init_db(args.database_url)
    return filters, engine


def _print(lines: List[Dict[str, Any]], args: argparse.Namespace, columns, meta: Dict[str, Any]) -> int:
    from bot.analytics.output import render

    sys.stdout.write(render(lines, args.format, None if args.format == "json" else columns, meta))
    return 0


def cmd_funnel(args: argparse.Namespace) -> int:
    from bot.analytics.metrics import funnel
    from bot.journey import load_journey

    filters, engine = _load(args)
    lines = funnel(engine, load_journey(), args.unit, args.mode, args.window_days, filters)
    meta = {"filters": filters.describe(), "unit": args.unit, "mode": args.mode, "window_days": args.window_days}
    if args.format == "table":   # say which funnel this is (CSV and JSON stay machine-readable; JSON has the meta)
        print(funnel_title(args.unit, args.mode, args.window_days))
    return _print(lines, args, FUNNEL_COLUMNS, meta)


def funnel_title(unit: str, mode: str, window_days: float) -> str:
    """One line naming the funnel shown and how to get the others."""
    what = "conversations" if unit == "conversation" else "identified customers"
    order = f"{'in any order' if mode == 'any-order' else 'in journey order'} within {window_days:g} days"
    others = [f"--unit {u}" for u in ("conversation", "customer") if u != unit] + \
             [f"--mode {m}" for m in ("any-order", "strict") if m != mode]
    return f"{what} reaching each journey stage {order} (also: {', '.join(others)})"


def cmd_goals(args: argparse.Namespace) -> int:
    from bot.analytics.metrics import goals
    from bot.journey import load_journey

    filters, engine = _load(args)
    return _print(goals(engine, load_journey(), filters=filters), args, GOAL_COLUMNS, {"filters": filters.describe()})


def cmd_channels(args: argparse.Namespace) -> int:
    from bot.analytics.metrics import kpis

    filters, engine = _load(args)
    return _print(kpis(engine, ("channel", "language"), filters), args, KPI_COLUMNS, {"filters": filters.describe()})


def cmd_kpis(args: argparse.Namespace) -> int:
    from bot.analytics.metrics import kpi_overview

    filters, engine = _load(args)
    return _print(kpi_overview(engine, filters), args, KPI_COLUMNS, {"filters": filters.describe()})


JOURNEY_COLUMNS = ("journey", "entered", "holdout", "messaged", "messages", "converted", "pending", "conversion",
                   "holdout_conversion", "uplift", "uplift_low", "uplift_high")


def cmd_journeys(args: argparse.Namespace) -> int:
    """Journey figures (bot.orchestration.stats); --since/--until select entries by entry date."""
    from bot.orchestration.definition import OrchestrationConfigError, load_book
    from bot.orchestration.stats import journey_stats, shop_kpis

    filters, engine = _load(args)
    try:
        book = load_book()
    except OrchestrationConfigError as error:
        print(f"orchestration.yml is not valid: {error}", file=sys.stderr)
        return 1
    import sqlalchemy as sa

    try:
        lines = journey_stats(engine, book, since=filters.since, until=filters.until)
        meta = {"filters": filters.describe(), "shop_kpis": shop_kpis(engine)}
    except sa.exc.DBAPIError as error:
        print(f"no journey figures in this database yet ({type(error.orig).__name__}); they appear once the server "
              "or `hamsafar journeys run-due` has run", file=sys.stderr)
        return 1
    if args.format == "json":
        return _print(lines, args, None, meta)
    return _print([{k: line[k] for k in JOURNEY_COLUMNS} for line in lines], args, JOURNEY_COLUMNS, meta)


def cmd_views(args: argparse.Namespace) -> int:
    from bot.analytics.views import VIEW_NAMES, create_views, views_sql

    if args.print:
        sys.stdout.write(views_sql())
        return 0
    from bot.schema import init_db

    create_views(init_db(args.database_url))
    print("created views: " + ", ".join(VIEW_NAMES))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bot.analytics.report import build_report

    from bot.analytics.data import period

    filters, engine = _load(args)
    html = build_report(engine, filters, unit=args.unit, mode=args.mode, window_days=args.window_days)
    Path(args.out).write_text(html, encoding="utf-8")
    print(f"wrote {args.out} ({len(html) // 1024} KiB, {period(engine, filters)[0]} touchpoints)")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from bot.analytics.data import parse_date
    from bot.analytics.simulate import simulate
    from bot.schema import engine as ready_engine

    engine = ready_engine(args.database_url)
    written = simulate(engine, args.customers, args.days, args.seed, parse_date(args.start))
    print(f"simulated {args.customers} customers over {args.days} days (seed {args.seed}): {written} new touchpoint rows")
    return 0
