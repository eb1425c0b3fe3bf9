"""Where Hamsafar finds its files and services: every environment variable it reads.

`current()` is the typed settings object (`Settings`, one field per `HAMSAFAR_*`
variable, bot/settings/_model.py), built from the environment on each call so a
test that changes a variable sees it at once. Defaults work on a fresh clone:
SQLite in `.hamsafar/`, one process. The processes call `refusal_at_start()`
before they start: a value that cannot be used stops them with a message naming
the variable, and an unknown `HAMSAFAR_*` variable (likely a typo) is reported
with the closest known name. docs/settings.md lists every variable
(`hamsafar config --markdown`); `hamsafar config` prints the effective values.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Any, List, Mapping, Optional, TextIO

from ._model import FIELDS, PREFIX, PROJECT_ROOT, Settings, SettingsError, build, snapshot
from ._report import Row, markdown_table, rows, text_table

__all__ = [
    "PROJECT_ROOT", "STATE_DIR", "DEMO_SHOP_DIR", "JOURNEY_FILE", "SHOP_POLICY_FILE",
    "VARIABLES", "Settings", "SettingsError", "current", "value", "default_of", "env_secret",
    "database_url", "redis_url", "rabbitmq_url", "rabbitmq_queue",
    "unknown_variables", "refusal_at_start", "Row", "rows", "text_table", "markdown_table",
]

# Read once, when the process starts: files of one process stay in one place.
STATE_DIR = Path(os.environ.get("HAMSAFAR_STATE_DIR", "").strip() or PROJECT_ROOT / ".hamsafar")
DEMO_SHOP_DIR = PROJECT_ROOT / "demo_shop"
JOURNEY_FILE = PROJECT_ROOT / "journey.yml"
SHOP_POLICY_FILE = PROJECT_ROOT / "shop_policy.yml"

VARIABLES = tuple(FIELDS)   # every setting's variable name, in table order

# Read by the test suite and bench/ scripts, never by Hamsafar itself: not settings, not typos.
NOT_SETTINGS_PREFIXES = ("HAMSAFAR_TEST_", "HAMSAFAR_BENCH")


def current() -> Settings:
    """The settings as the environment says now (raises SettingsError for an unusable value)."""
    return build(snapshot())


def value(name: str) -> Any:
    """The typed value of the variable `name` (`HAMSAFAR_BALE_TOKEN`), for names built at run time;
    an unknown name is a KeyError, so a typo in the code fails loudly."""
    return getattr(current(), FIELDS[name].name)


def default_of(name: str) -> Any:
    """The default of the variable `name`, for code that keeps it as a constant."""
    return FIELDS[name].default


def env_secret(name: str) -> Optional[str]:
    """A variable's value as text, None when unset (a channel secret, a credential's fallback)."""
    found = value(name)
    return None if found in (None, "") else str(found)


def database_url() -> str:
    """SQLAlchemy URL of our data (CRM, touchpoints, handoff) and Rasa's tracker store."""
    url = current().database_url
    if url:
        return url
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{STATE_DIR / 'hamsafar.db'}"


def redis_url() -> Optional[str]:
    """Redis URL for Rasa's lock store; unset means a single server process."""
    return current().redis_url


def rabbitmq_url() -> Optional[str]:
    """RabbitMQ (amqp://user:password@host:5672/vhost) for Rasa's pika event broker; unset means
    touchpoints are written inside the Rasa process (one process). Set, a separate consumer
    (`python -m bot.touchpoints.consumer`) writes them."""
    return current().rabbitmq_url


def rabbitmq_queue() -> str:
    """The durable queue the touchpoint consumer reads; its fanout exchange is `<queue>.events`."""
    return current().rabbitmq_queue


def unknown_variables(environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """A warning per `HAMSAFAR_*` variable that is no setting, with the closest known name:
    a misspelt variable would otherwise be ignored without a word."""
    environ = os.environ if environ is None else environ
    warnings = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in FIELDS or name.startswith(NOT_SETTINGS_PREFIXES):
            continue
        # compared without the prefix every name shares, which would make any two names look alike
        close = difflib.get_close_matches(name[len(PREFIX):], [known[len(PREFIX):] for known in FIELDS], n=1)
        hint = f" (did you mean {PREFIX}{close[0]}?)" if close else " (docs/settings.md lists the settings)"
        warnings.append(f"{name} is not a Hamsafar setting and is ignored{hint}")
    return warnings


def refusal_at_start(stream: Optional[TextIO] = None) -> Optional[str]:
    """Why this process must not start (a variable's value is unusable), or None; unknown
    `HAMSAFAR_*` variables are written to `stream` (stderr) as warnings, not refused."""
    stream = stream or sys.stderr
    for warning in unknown_variables():
        print(f"[hamsafar] warning: {warning}", file=stream, flush=True)
    try:
        current()
    except SettingsError as error:
        return f"[hamsafar] refusing to start: {error}"
    return None
