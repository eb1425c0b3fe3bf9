#!/usr/bin/env bash
# The second README command: the same set-up, then the whole test suite.
# Extra arguments go to pytest (e.g. `scripts/test.sh -k telegram`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh

# The browser tests drive Debian's Chromium (never a downloaded browser); the topology tests
# (tests/test_topology.py) put Debian's nginx in front of several Rasa workers.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[hamsafar] installing Debian's chromium and nginx-light for the browser and topology tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx-light >/dev/null
  else
    echo "[hamsafar] /usr/bin/chromium or /usr/sbin/nginx is missing: install Debian's 'chromium' and 'nginx-light' packages (browser and topology tests will fail or skip)" >&2
  fi
fi

.venv/bin/hamsafar setup
exec .venv/bin/python -m pytest "$@"
