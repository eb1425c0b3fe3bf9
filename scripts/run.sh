#!/usr/bin/env bash
# The first README command: set up everything, then run the bot (demo shop,
# SQLite, web widget). Extra arguments go to `hamsafar run`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
# No SMS gateway in the demo: one-time codes are printed in this terminal.
export HAMSAFAR_DEMO_CODES="${HAMSAFAR_DEMO_CODES:-log}"
exec .venv/bin/hamsafar run "$@"
