#!/usr/bin/env bash
# The first README command: set up everything, then run the bot (demo shop,
# SQLite, web widget). Extra arguments go to `hamsafar run`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
exec .venv/bin/hamsafar run "$@"
