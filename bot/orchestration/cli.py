"""`hamsafar journeys list | preview | run-due | stats`.

* `list` — the journeys of orchestration.yml (checked; a mistake is named with its place).
* `preview NAME --customer ID` — each message of the journey as this customer would get it,
  when and on which channel (nothing is sent or written).
* `run-due [--now ISO] [--dry-run]` — scan the CRM for events and process everything due at
  that time: what cron, back-fills and tests use (the server does the same in the background).
* `stats` — entered, messaged, converted, hold-out conversion and uplift per journey.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from typing import Any, Dict, List, Optional

UTC = dt.timezone.utc


def register(subparsers: "argparse._SubParsersAction") -> None:
    journeys = subparsers.add_parser("journeys", help="proactive journeys (orchestration.yml): list, preview, run-due, stats")
    commands = journeys.add_subparsers(dest="journeys_command", metavar="WHAT")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--file", help="journeys file (default orchestration.yml, or HAMSAFAR_ORCHESTRATION_FILE)")
        parser.add_argument("--database-url", help="SQLAlchemy URL (default HAMSAFAR_DATABASE_URL)")

    listing = commands.add_parser("list", help="check orchestration.yml and list its journeys")
    common(listing)
    listing.set_defaults(func=cmd_list)

    preview = commands.add_parser("preview", help="show each message of a journey as a customer would get it")
    common(preview)
    preview.add_argument("name", help="journey name (see `hamsafar journeys list`)")
    preview.add_argument("--customer", required=True, help="customer id in the CRM")
    preview.add_argument("--order", help="order id (default: the customer's newest order that fits the trigger)")
    preview.add_argument("--sku", help="product for back-in-stock (default: an out-of-stock product)")
    preview.add_argument("--language", choices=("fa", "en"), help="default: the customer's language")
    preview.add_argument("--at", help="when the trigger happens, ISO 8601 (default: now)")
    preview.set_defaults(func=cmd_preview, uses_database=True)

    run = commands.add_parser("run-due", help="process every journey step due at a time (cron, back-fills, tests)")
    common(run)
    run.add_argument("--now", help="ISO 8601 time to act at (default: now; naive times are UTC)")
    run.add_argument("--dry-run", action="store_true", help="show what would happen; send and write nothing")
    run.add_argument("--no-scan", action="store_true", help="do not look for new CRM events first")
    run.set_defaults(func=cmd_run_due, uses_database=True)

    stats = commands.add_parser("stats", help="entered, messaged, converted, hold-out and uplift per journey")
    common(stats)
    stats.add_argument("--since", help="first UTC day of entry, YYYY-MM-DD")
    stats.add_argument("--until", help="last UTC day of entry, YYYY-MM-DD")
    stats.add_argument("--format", choices=("table", "csv", "json"), default="table")
    stats.set_defaults(func=cmd_stats, uses_database=True)
    journeys.set_defaults(func=lambda args: (journeys.print_help(), 2)[1])


def parse_time(value: Optional[str]) -> Optional[dt.datetime]:
    """ISO 8601 (Persian digits allowed) to aware UTC; naive means UTC."""
    if not value:
        return None
    from bot.text.persian import to_ascii_digits

    parsed = dt.datetime.fromisoformat(to_ascii_digits(value.strip()).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _book(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from bot.orchestration.definition import OrchestrationConfigError, load_book

    try:
        return load_book(args.file)
    except OrchestrationConfigError as error:
        print(f"orchestration.yml is not valid: {error}", file=sys.stderr)
        return None


# --------------------------------------------------------------------------- list
def _describe_trigger(journey: Any) -> str:
    trigger = journey.trigger
    if trigger.segment:
        return f"segment {trigger.segment} ({trigger.days} days)"
    return trigger.event + (f" where {_describe_checks(trigger.where)}" if trigger.where else "")


def _describe_checks(checks: Dict[str, Any]) -> str:
    return " ".join(f"{k}={'/'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in checks.items())


def _describe_steps(journey: Any) -> str:
    from bot.orchestration.definition import Condition, Send, Wait
    from bot.orchestration.templates import describe_wait

    parts = []
    for step in journey.steps:
        if isinstance(step, Wait):
            if step.event:
                parts.append(f"wait {step.event}≤{describe_wait(step.timeout)}")
            elif step.until:
                parts.append(f"wait until {step.until.strftime('%H:%M')}")
            elif step.since_entry:
                parts.append(f"wait until +{describe_wait(step.since_entry)}")
            else:
                parts.append(f"wait {describe_wait(step.delay)}")
        elif isinstance(step, Condition):
            parts.append("if " + ",".join(f"{k}={'/'.join(map(str, v)) if isinstance(v, tuple) else v}"
                                          for k, v in step.checks.items()))
        elif isinstance(step, Send):
            parts.append(f"send {step.name}")
    return " → ".join(parts)


def cmd_list(args: argparse.Namespace) -> int:
    book = _book(args)
    if book is None:
        return 1
    settings = book.settings
    days = ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in settings.days_off) or "none"
    print(f"orchestration.yml version {book.version}: {len(book.journeys)} journeys; sending "
          f"{settings.window_from.strftime('%H:%M')}–{settings.window_to.strftime('%H:%M')} {settings.timezone}, "
          f"days off {days}; cap {settings.cap_per_day}/day, {settings.cap_per_week}/week; channels {', '.join(settings.channels)}")
    for journey in book.journeys.values():
        goal = f"{'/'.join(journey.goal.events)} within {journey.goal.within.days or journey.goal.within}d" \
            if journey.goal else "-"
        flags = [f"priority {journey.priority}"] + ([f"group {journey.group}"] if journey.group else []) + \
            ([f"hold-out {journey.holdout:.0%}"] if journey.holdout else []) + \
            ([] if journey.capped else ["not capped"]) + ([] if journey.enabled else ["DISABLED"])
        print(f"\n{journey.name} — {journey.title['en']} · {journey.title['fa']}")
        print(f"  trigger: {_describe_trigger(journey)}; goal: {goal}; {', '.join(flags)}")
        print(f"  steps:   {_describe_steps(journey)}")
        if journey.while_:
            print(f"  while:   {_describe_checks(journey.while_)} (checked before every step)")
    return 0


# --------------------------------------------------------------------------- preview
def _preview_subject(o: Any, journey: Any, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """(order id, sku, ticket, context) a preview of `journey` for the customer is about."""
    import sqlalchemy as sa

    from bot.crm.models import OrderRow, ProductRow, TicketRow

    trigger = journey.trigger.event or ""
    order_id, sku, ticket, context = args.order, args.sku, None, {}
    with o.engine.connect() as conn:
        if trigger.startswith("order.") and not order_id:
            status = trigger.split(".", 1)[1]
            query = sa.select(OrderRow.__table__.c.order_id).where(OrderRow.__table__.c.customer_id == args.customer)
            if status != "created":
                query = query.where(OrderRow.__table__.c.status == status)
            order_id = conn.execute(query.order_by(OrderRow.__table__.c.created_at.desc()).limit(1)).scalar()
            if order_id is None:  # no order in that state: the newest order still shows the texts
                order_id = conn.execute(sa.select(OrderRow.__table__.c.order_id)
                                        .where(OrderRow.__table__.c.customer_id == args.customer)
                                        .order_by(OrderRow.__table__.c.created_at.desc()).limit(1)).scalar()
        if trigger == "product.back_in_stock" and not sku:
            sku = conn.execute(sa.select(ProductRow.__table__.c.sku).order_by(ProductRow.__table__.c.stock,
                                                                             ProductRow.__table__.c.sku).limit(1)).scalar()
        if trigger == "ticket.closed":
            t = TicketRow.__table__
            ticket = conn.execute(sa.select(t.c.reference).where(t.c.customer_id == args.customer)
                                  .order_by(t.c.created_at.desc()).limit(1)).scalar() or "T-EXAMPLE"
        if trigger == "feedback.nps":
            context["score"] = 10
        if journey.trigger.segment:
            context["days_since"] = journey.trigger.days
    return order_id, sku, ticket, context


class _PreviewCRM:
    """The CRM for previews: reads pass through; a referral code is shown, never created."""

    def __init__(self, crm: Any, customer_id: str, database_url: Optional[str]) -> None:
        self._crm, self._customer, self._url = crm, customer_id, database_url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._crm, name)

    def referral_code(self, customer_id: str) -> str:
        import sqlalchemy as sa

        from bot.crm.models import ReferralCodeRow
        from bot import schema

        table = ReferralCodeRow.__table__
        with schema.engine(self._url).connect() as conn:
            code = conn.execute(sa.select(table.c.code).where(table.c.customer_id == str(customer_id))).scalar()
        return code or "(new code when sent)"


def cmd_preview(args: argparse.Namespace) -> int:
    book = _book(args)
    if book is None:
        return 1
    if args.name not in book.journeys:
        print(f"no journey {args.name!r}; known: {', '.join(book.journeys)}", file=sys.stderr)
        return 2
    from bot.crm.factory import get_crm
    from bot.orchestration.definition import Condition, Send, Wait
    from bot.orchestration.delivery import customer_targets
    from bot.orchestration.engine import Orchestrator, utcnow
    from bot.orchestration.templates import Subject, Values, describe_wait
    from bot.text.formatting import format_date

    journey = book.journeys[args.name]
    o = Orchestrator(book, args.database_url)
    crm = get_crm(database_url=args.database_url)
    customer = crm.get_customer(args.customer)
    if customer is None:
        print(f"no customer {args.customer!r} in the CRM", file=sys.stderr)
        return 2
    language = args.language or customer.language or "fa"
    order_id, sku, ticket, context = _preview_subject(o, journey, args)
    subject = Subject(customer.customer_id, order_id, sku, ticket, context)
    values = Values(subject, language, _PreviewCRM(crm, customer.customer_id, args.database_url), book.settings)
    start = parse_time(args.at) or utcnow()
    with o.engine.connect() as conn:
        targets = customer_targets(conn, customer.customer_id, customer.phone, book.settings.channels, start,
                                   book.settings.web_online_minutes)
    about = ", ".join(p for p in (f"order {order_id}" if order_id else "", f"product {sku}" if sku else "",
                                  f"ticket {ticket}" if ticket else "") if p)
    print(f"{journey.name} for {customer.customer_id} ({customer.name}, {language}){' — ' + about if about else ''}")
    print(f"trigger: {_describe_trigger(journey)} at {format_date(start, 'en', time=True)} (Tehran)")
    held = False
    if journey.holdout:
        from bot.orchestration.engine import holdout_of

        held = holdout_of(journey.name, customer.customer_id, journey.holdout)
        print(f"hold-out {journey.holdout:.0%}: this customer is {'IN the hold-out (would get nothing)' if held else 'messaged'}")
    channel = f"{targets[0].channel} ({targets[0].conversation_id})" if targets else "no channel (would exit: no_channel)"
    fallbacks = ", ".join(t.channel for t in targets[1:])
    window = o.window_for({"customer_key": customer.customer_id, "context": context})  # the customer's clock
    print(f"channel: {channel}{'; falls back to ' + fallbacks if fallbacks else ''}")
    print(f"time zone: {window.timezone}{'' if window is o.window else ' (the customer’s own; times below are Tehran)'}")
    if journey.while_:
        print(f"while: {_describe_checks(journey.while_)} — checked before every step, else the journey ends")
    print()
    clock, sent = start, []
    # After a wait for an event the time of what follows depends on when the event happens: the
    # sends after it are shown relative to it (`after`, the waits since), never at the timeout.
    after: Optional[Any] = None
    since_event: List[str] = []
    for step in journey.steps:
        if isinstance(step, Wait):
            if step.event:
                print(f"  … waits for {step.event} (at most {describe_wait(step.timeout)}, then {step.on_timeout})")
                if after is None and step.on_timeout == "continue":
                    clock = clock + step.timeout   # the latest moment it goes on
                after, since_event = step, []
            elif after is not None:
                since_event.append(f"until {step.until.strftime('%H:%M')}" if step.until else
                                   f"until {describe_wait(step.since_entry)} after the trigger" if step.since_entry
                                   else describe_wait(step.delay))
                print(f"  … waits {since_event[-1]}")
            elif step.until:
                clock = window.next_local_time(clock, step.until)
                print(f"  … waits until {step.until.strftime('%H:%M')} local")
            elif step.since_entry:
                clock = max(clock, start + step.since_entry)
                print(f"  … waits until {describe_wait(step.since_entry)} after the trigger")
            else:
                clock = clock + step.delay
                print(f"  … waits {describe_wait(step.delay)}")
        elif isinstance(step, Condition):
            checks = ", ".join(f"{k} {'/'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in step.checks.items())
            print(f"  … only if {checks} (else {step.otherwise})")
        elif isinstance(step, Send) and after is not None:
            then = "".join(f", then {w}" for w in since_event)
            latest = "" if after.on_timeout == "exit" or since_event else \
                f"; at {format_date(window.next_allowed(clock), 'en', weekday=True, time=True)} if it has not by then"
            print(f"  SEND {step.name} when {after.event} happens (within {describe_wait(after.timeout)}){then}"
                  f", in the sending window{latest}")
            _print_message(step, values)
        elif isinstance(step, Send):
            at = window.next_allowed(clock)
            shifted = " (moved by quiet hours)" if at != clock else ""
            day = book.settings.cap_per_day
            while journey.capped and day and not held and \
                    sum(window.local(t).date() == window.local(at).date() for t in sent) >= day:
                local = window.local(at)
                at = window.next_allowed(dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0),
                                                             tzinfo=window.zone))
                shifted = " (moved by the frequency cap)"
            sent.append(at)
            print(f"  SEND {step.name} at {format_date(at, 'en', weekday=True, time=True)} · "
                  f"{format_date(at, 'fa', weekday=True, time=True)}{shifted}")
            _print_message(step, values)
    return 0


def _print_message(step: Any, values: Any) -> None:
    """The step's message for this customer, or why it would be skipped."""
    from bot.orchestration.templates import MissingValue, render

    try:
        rendered = render(step, values)
    except MissingValue as missing:
        print(f"    (skipped for this customer: {missing})\n")
        return
    _print_rendered(step, rendered)


def _print_rendered(step: Any, rendered: Any) -> None:
    for line in rendered.text.splitlines():
        print(f"    {line}")
    for button in rendered.buttons:
        print(f"    [{button['title']}] → {button.get('url') or button.get('payload')}")
    if rendered.slots or step.expects.goal:
        print(f"    expects: goal {step.expects.goal or '-'}, slots {json.dumps(rendered.slots, ensure_ascii=False)}")
    print()


# --------------------------------------------------------------------------- run-due
def cmd_run_due(args: argparse.Namespace) -> int:
    book = _book(args)
    if book is None:
        return 1
    from bot.orchestration.delivery import EnvironmentOutputs, StoreConversationLog
    from bot.orchestration.engine import Orchestrator, utcnow
    from bot.orchestration.runner import JourneyRunner

    try:
        now = parse_time(args.now) or utcnow()
    except ValueError:
        print(f"--now: not an ISO 8601 time: {args.now!r} (e.g. 2025-06-01T10:00:00+03:30)", file=sys.stderr)
        return 2
    o = Orchestrator(book, args.database_url)
    outputs = EnvironmentOutputs()
    runner = JourneyRunner(o, outputs, None if args.dry_run else StoreConversationLog(args.database_url),
                           scan=not args.no_scan)

    async def run():  # type: ignore[no-untyped-def]
        try:
            return await runner.run_due(now, dry_run=args.dry_run)
        finally:
            await outputs.aclose()

    stats = asyncio.run(run())
    if args.dry_run:
        print(f"dry run at {now.isoformat()}: {len(stats.decisions)} entries due (nothing sent, nothing written)")
        for d in stats.decisions:
            print(f"  #{d.entry_id} {d.journey} {d.customer_key}: {d.action} {d.detail}")
        return 0
    print(f"run at {now.isoformat()}: {stats.summary()}")
    return 0


# --------------------------------------------------------------------------- stats
STATS_COLUMNS = ("journey", "entered", "active", "treated", "holdout", "messaged", "messages", "unknown", "failed",
                 "declined", "converted", "pending", "conversion", "holdout_conversion", "uplift", "uplift_low",
                 "uplift_high")


def _flat(lines: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{k: line[k] for k in STATS_COLUMNS} for line in lines]


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1%}"


def cmd_stats(args: argparse.Namespace) -> int:
    book = _book(args)
    if book is None:
        return 1
    from bot.analytics.data import parse_date
    from bot.analytics.output import render
    from bot.orchestration.stats import journey_stats
    from bot.schema import engine as ready_engine

    engine = ready_engine(args.database_url)
    lines = journey_stats(engine, book, since=parse_date(args.since), until=parse_date(args.until))
    if args.format == "json":
        sys.stdout.write(json.dumps({"journeys": lines}, ensure_ascii=False, indent=2, default=str) + "\n")
        return 0
    sys.stdout.write(render(_flat(lines), args.format, STATS_COLUMNS, {"since": args.since, "until": args.until}))
    if args.format == "table":
        for line in lines:
            if line["by_channel"]:
                cells = "; ".join(f"{c}: {v['entered']} entered, {v['messages']} sent, conversion {_pct(v['conversion'])}"
                                  for c, v in line["by_channel"].items())
                print(f"  {line['journey']} by channel — {cells}")
    return 0


# --------------------------------------------------------------------------- crm import
def scan_after_import(database_url: Optional[str] = None) -> Optional[str]:
    """Turn what `hamsafar crm import` changed into journey events (the runner sends the messages)."""
    from bot.orchestration.definition import OrchestrationConfigError, load_book
    from bot.orchestration.engine import Orchestrator
    from bot.orchestration.watch import CrmWatcher

    try:
        book = load_book()
    except OrchestrationConfigError as error:
        print(f"journeys: orchestration.yml is not valid, no journey events: {error}", file=sys.stderr)
        return None
    counts = CrmWatcher(Orchestrator(book, database_url)).scan(source="import")
    if not counts:
        return None
    return "journey events: " + ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
