"""`hamsafar erase --customer ID` and `hamsafar touchpoints drop-old-text --days N`."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    erase = subparsers.add_parser("erase", help="erase a customer's conversations and touchpoints everywhere")
    erase.add_argument("--customer", required=True, help="CRM customer id")
    erase.add_argument("--database-url", default=None)
    erase.set_defaults(func=cmd_erase, uses_database=True)

    touchpoints = subparsers.add_parser("touchpoints", help="touchpoint data maintenance")
    sub = touchpoints.add_subparsers(dest="touchpoints_command", metavar="SUBCOMMAND")
    drop = sub.add_parser("drop-old-text", help="blank stored text older than the retention period")
    drop.add_argument("--days", type=int, default=None, help="default HAMSAFAR_TEXT_RETENTION_DAYS, 180")
    drop.add_argument("--database-url", default=None)
    drop.set_defaults(func=cmd_drop_old_text, uses_database=True)


def cmd_erase(args: argparse.Namespace) -> int:
    from bot.touchpoints.erasure import erase_customer

    deleted = erase_customer(args.customer, args.database_url)
    for table, rows in deleted.items():
        print(f"{table}: {rows} rows deleted")
    print(f"total: {sum(deleted.values())} rows deleted for customer {args.customer}")
    return 0


def cmd_drop_old_text(args: argparse.Namespace) -> int:
    from bot import settings
    from bot.touchpoints.erasure import drop_old_text

    if args.days is None:
        args.days = settings.current().text_retention_days
    print(f"text dropped from {drop_old_text(args.days, args.database_url)} touchpoints older than {args.days} days")
    return 0
