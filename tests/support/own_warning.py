"""A Rasa server start that raises one deprecation warning from our own code.

`bot.runtime.quiet_warnings` hides third-party deprecations but must keep ours.
Rasa builds the lock store named in the endpoints file while it starts, after
its command line has set up its own warning filters — the moment the filters
used to be overtaken — so this lock store warns there and is otherwise ours
(`bot.stores.EnvLockStore`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional

from bot.stores import EnvLockStore

MESSAGE = "hamsafar-own-deprecation: raised by tests.support.own_warning while Rasa starts"
OUR_LOCK_STORE = "type: bot.stores.EnvLockStore"


class WarningLockStore(EnvLockStore):
    def __new__(cls, endpoint_config: Optional[Any] = None) -> Any:  # type: ignore[misc]
        warnings.warn(MESSAGE, DeprecationWarning, stacklevel=1)
        return EnvLockStore.__new__(cls, endpoint_config)


def endpoints_with_warning_lock_store(project_root: Path, folder: Path) -> Path:
    """The project's endpoints.yml with this lock store in place of ours (pass as HAMSAFAR_ENDPOINTS)."""
    text = (project_root / "endpoints.yml").read_text(encoding="utf-8")
    if OUR_LOCK_STORE not in text:
        raise AssertionError(f"endpoints.yml no longer has '{OUR_LOCK_STORE}': update tests/support/own_warning.py")
    path = folder / "endpoints-own-warning.yml"
    path.write_text(text.replace(OUR_LOCK_STORE, f"type: {__name__}.WarningLockStore"), encoding="utf-8")
    return path
