"""`hamsafar` command line: one sub-command group per concern.

Each group lives in its own module exposing `register(subparsers)`; the
sub-parsers set `func(args) -> int`. Modules are imported here only to add
their arguments, so they must not import Rasa or TensorFlow at import time.

Start-up: a sub-command that uses the database sets `uses_database=True`;
`main` then creates or upgrades the schema (`bot.schema.init_db`) for its
`--database-url` once, before the command runs. The analytics reports do not:
they only read, and a read-only database user is enough for them.
"""

from __future__ import annotations

import argparse
import os
import sys
from types import ModuleType
from typing import List, Optional, Tuple

from bot.analytics import cli as analytics_cli
from bot.crm import cli as crm_cli
from bot.handoff import cli as handoff_cli
from bot.nlu import cli as nlu_cli
from bot.orchestration import cli as orchestration_cli
from bot.runtime import cli as runtime_cli
from bot.touchpoints import cli as touchpoints_cli

# Modules that contribute sub-commands, in the order `--help` lists them.
COMMAND_MODULES: Tuple[ModuleType, ...] = (
    runtime_cli,        # setup, train, run, chat
    crm_cli,            # crm import
    nlu_cli,            # eval nlu
    analytics_cli,      # analytics, report, simulate
    touchpoints_cli,    # erase, touchpoints retention
    handoff_cli,        # agents
    orchestration_cli,  # journeys
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hamsafar", description="Hamsafar (همسفر): customer-journey assistant on Rasa."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    from bot.runtime.quiet_warnings import quiet_third_party_deprecations

    quiet_third_party_deprecations()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "uses_database", False):
        from bot.schema import init_db

        init_db(getattr(args, "database_url", None))
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
