"""Every table Hamsafar keeps, and the database start-up of a process.

`MODEL_MODULES` imports, by name in code, each module that declares models on
`bot.db.Base`: a module missing from it fails at import, not at run time, and
tests/test_registries.py fails when a module with models is not listed.

Start-up: each process entry point (`hamsafar setup`/`run`, the Rasa server, the
action server, the touchpoint consumer, a CLI command that uses the database)
calls `init_db()` once, so a database that cannot be reached or upgraded stops
the process at start. Library code asks `engine(url)` for the engine: it
returns the process's engine for that URL and, for a URL the entry point did
not initialise (a test's own SQLite file or PostgreSQL database, a CRM kept in
another database), initialises it once, thread-safely. That keeps tests free of
a start-up fixture and leaves one place that knows whether a schema is ready.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from types import ModuleType
from typing import Iterator, Optional, Tuple

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import db
from bot.channels import models as channel_models
from bot.crm import models as crm_models
from bot.handoff import models as handoff_models
from bot.identity import models as identity_models
from bot.orchestration import models as orchestration_models
from bot.touchpoints import models as touchpoint_models

# Modules whose models live on `bot.db.Base` (a new one is added here and to nothing else).
MODEL_MODULES: Tuple[ModuleType, ...] = (
    crm_models,
    touchpoint_models,
    handoff_models,
    identity_models,
    channel_models,
    orchestration_models,
)

# Engines whose schema this process has created or upgraded. Keyed by the engine
# object, not its URL: `db.dispose_engines()` (a test's "restart") makes new engines,
# which are then initialised afresh.
_ready: "weakref.WeakSet[Engine]" = weakref.WeakSet()
_lock = threading.Lock()


def init_db(url: Optional[str] = None) -> Engine:
    """Create missing tables and run pending migrations for `url`; safe to call repeatedly.

    Entry points call it at start; it always does the work (cheap when nothing is missing)."""
    engine = db.create_schema(url)
    _ready.add(engine)
    return engine


def engine(url: Optional[str] = None) -> Engine:
    """The process's engine for `url` (default: settings), its schema initialised once."""
    found = db.get_engine(url)
    if found in _ready:
        return found
    with _lock:
        if found not in _ready:
            init_db(url)
    return found


@contextlib.contextmanager
def session(url: Optional[str] = None) -> Iterator[Session]:
    """`bot.db.session_scope` on the engine of `engine(url)`: commit on success, roll back on error."""
    engine(url)
    with db.session_scope(url) as opened:
        yield opened
