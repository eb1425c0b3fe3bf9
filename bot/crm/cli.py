"""`hamsafar crm ...`: load CRM data from CSV and seed the demo shop."""

from __future__ import annotations

import argparse
import sys
from typing import Optional


def register(subparsers: "argparse._SubParsersAction") -> None:
    crm = subparsers.add_parser("crm", help="CRM data: import CSV files, seed the demo shop")
    commands = crm.add_subparsers(dest="crm_command", metavar="CRM_COMMAND")

    imp = commands.add_parser(
        "import", help="validate and import customers/products/orders CSV files (all or nothing)",
        description="Validates every row first and reports each bad one as FILE:LINE: column C: reason. "
                    "Imports nothing unless all files are valid; re-importing updates existing rows.")
    imp.add_argument("--customers", metavar="F", help="customers.csv: customer_id,name,phone,email,language,created_at[,timezone]")
    imp.add_argument("--products", metavar="F", help="products.csv: sku,name_fa,name_en,category,price,stock,warranty_months")
    imp.add_argument("--orders", metavar="F",
                     help="orders.csv: order_id,customer_id,status,created_at,total,items,tracking_code,carrier")
    imp.add_argument("--database-url", metavar="URL", help="SQLAlchemy URL (default: HAMSAFAR_DATABASE_URL)")
    imp.add_argument("--policy-codes", action="store_true",
                     help="also create/update the discount codes listed in shop_policy.yml")
    imp.set_defaults(func=_import, uses_database=True)

    seed = commands.add_parser("seed-demo", help="import demo_shop/ (only when the CRM is empty, unless --force)")
    seed.add_argument("--database-url", metavar="URL", help="SQLAlchemy URL (default: HAMSAFAR_DATABASE_URL)")
    seed.add_argument("--force", action="store_true", help="import even if customers exist (updates them)")
    seed.add_argument("--keep-dates", action="store_true",
                      help="keep the CSV dates instead of moving them so the newest order is today")
    seed.set_defaults(func=_seed, uses_database=True)
    crm.set_defaults(func=lambda args: (crm.print_help(), 2)[1])


def _import(args: argparse.Namespace) -> int:
    from bot.crm.importer import import_files

    if not (args.customers or args.products or args.orders):
        print("give at least one of --customers, --products, --orders", file=sys.stderr)
        return 2
    report = import_files(args.customers, args.products, args.orders, url=args.database_url,
                          policy_codes=args.policy_codes)
    for issue in report.errors:
        print(str(issue), file=sys.stderr)
    print(report.summary(), file=sys.stderr if report.errors else sys.stdout)
    if not report.errors:
        _journey_events(args.database_url)
    return 1 if report.errors else 0


def _journey_events(database_url: Optional[str]) -> None:
    """The proactive journeys hear of what the import changed (order statuses, tickets …) now."""
    try:
        from bot.orchestration.cli import scan_after_import
    except ModuleNotFoundError:
        return
    summary = scan_after_import(database_url)
    if summary:
        print(summary)


def _seed(args: argparse.Namespace) -> int:
    from bot.crm.importer import ImportFailed, seed_demo, seed_demo_if_empty

    try:
        if args.force or args.keep_dates:
            report = seed_demo(args.database_url, shift_to_today=not args.keep_dates)
            print(report.summary())
        elif seed_demo_if_empty(args.database_url):
            print("demo shop imported")
        else:
            print("the CRM already has customers; nothing imported (use --force to update from demo_shop/)")
    except ImportFailed as failure:
        for issue in failure.report.errors:
            print(str(issue), file=sys.stderr)
        return 1
    return 0
