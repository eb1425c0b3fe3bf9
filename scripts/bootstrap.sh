#!/usr/bin/env bash
# Shared set-up for scripts/run.sh and scripts/test.sh: a pinned virtualenv in
# .venv, installed from requirements.lock with uv (Rasa 3.6 declares Python
# <3.11; uv honours our overrides, a plain pip resolve would not).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export HAMSAFAR_SETUP_STARTED="${HAMSAFAR_SETUP_STARTED:-$(date +%s)}"
export RASA_TELEMETRY_ENABLED=false

UV_VERSION=0.9.5
PYTHON_BIN="${PYTHON:-}"
if [ -z "$PYTHON_BIN" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON_BIN="$(command -v "$candidate")"; break
    fi
  done
fi
if [ -z "$PYTHON_BIN" ]; then
  echo "Hamsafar needs Python 3.11 (set PYTHON=/path/to/python3.11)." >&2; exit 1
fi

if [ ! -x .hamsafar/tools/bin/uv ]; then
  echo "[hamsafar] installing uv $UV_VERSION into .hamsafar/tools"
  "$PYTHON_BIN" -m venv .hamsafar/tools
  .hamsafar/tools/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
UV=.hamsafar/tools/bin/uv
if [ ! -x .venv/bin/python ]; then
  "$UV" venv --quiet --python "$PYTHON_BIN" .venv
fi
echo "[hamsafar] installing pinned packages (requirements.lock)"
# --compile-bytecode: write every package's .pyc now. Where PYTHONDONTWRITEBYTECODE is set (as on
# our CI machines) Python never writes them, and each process importing Rasa and TensorFlow
# compiled their sources again: about 9 s of CPU per process, on every server start and test worker.
"$UV" pip sync --quiet --compile-bytecode --python .venv/bin/python requirements.lock
"$UV" pip install --quiet --python .venv/bin/python --no-deps -e .
