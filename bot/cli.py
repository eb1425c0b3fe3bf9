"""`hamsafar` command line: one sub-command group per concern.

Each group lives in its own module exposing `register(subparsers)`; the
sub-parsers set `func(args) -> int`. Modules are imported here only to add
their arguments, so they must not import Rasa or TensorFlow at import time.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import List, Optional

# Modules that contribute sub-commands, in the order `--help` lists them.
COMMAND_MODULES: List[str] = [
    "bot.runtime.cli",       # setup, train, run, chat
    "bot.crm.cli",           # crm import
    "bot.nlu.cli",           # eval nlu
    "bot.analytics.cli",     # analytics, report, simulate
    "bot.touchpoints.cli",   # erase, touchpoints retention
    "bot.handoff.cli",       # agents
    "bot.orchestration.cli",  # journeys
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hamsafar", description="Hamsafar (همسفر): customer-journey assistant on Rasa."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name and name.startswith(error.name):
                continue  # that part of Hamsafar is not installed
            raise
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
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
