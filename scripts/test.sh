#!/usr/bin/env bash
# The second README command: the same set-up, then the whole test suite.
# Extra arguments go to pytest (e.g. `scripts/test.sh -k telegram`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh

# The browser tests drive Debian's Chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[hamsafar] installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[hamsafar] /usr/bin/chromium is missing: install Debian's 'chromium' package (browser tests will fail)" >&2
  fi
fi

.venv/bin/hamsafar setup
exec .venv/bin/python -m pytest "$@"
