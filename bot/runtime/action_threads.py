"""Run each custom action in a worker thread, so one slow backend does not stall the others.

rasa_sdk awaits every action on the action server's one event loop. Our actions
call the CRM, identity, handoff and SMS code synchronously (SQLAlchemy, httpx):
one CRM that answers late, or a SQLite write waiting on its lock, held every
other customer's action too (issue 16). `install()` makes
`ActionExecutor.run` hand each call to a bounded thread pool, where the action
runs on that thread's own event loop (kept from one action to the next); the
server's loop only waits for the result. The interpreter hands the GIL over every
`SWITCH_INTERVAL_S` (0.5 ms, not 5), so an action's thread does not wait long for
it behind the server's loop after each of its queries.

Rasa never runs two actions of one conversation at once (its lock store), so
threads only ever share process-wide objects: the database engines (pooled,
thread-safe), the CRM client and the verifier, which `warm_up()` builds before
the first request so that no two threads build them at once.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional

from bot import settings

logger = logging.getLogger(__name__)

DEFAULT_THREADS: int = settings.default_of("HAMSAFAR_ACTION_THREADS")

_pool: Optional[ThreadPoolExecutor] = None
_thread_loops = threading.local()
# How long a thread holds the GIL before one that waits for it gets it (CPython's default: 5 ms).
# An action waits for it after every query it makes (the driver lets the GIL go meanwhile), and
# the server's loop holds it parsing the next request's ~50 KB of JSON: at the default, an action
# took 7.8-7.9 ms (p95 26-27 ms) of which 2.4 ms CPU, at 0.5 ms 4.4-5.2 ms (p95 12-15 ms); the 2
# workers' p95 at 50 customers 184-612 -> 137-143 ms (probe, alternated, load average ~3.5).
SWITCH_INTERVAL_S = 0.0005


def threads_from_env() -> int:
    """`HAMSAFAR_ACTION_THREADS` (default 8): actions that may wait on backends at once."""
    return max(1, settings.current().action_threads)


def install(threads: Optional[int] = None) -> None:
    """Make rasa_sdk's `ActionExecutor.run` run each action in the pool (idempotent)."""
    global _pool
    from rasa_sdk.executor import ActionExecutor

    if getattr(ActionExecutor.run, "hamsafar_threaded", False):
        return
    _pool = ThreadPoolExecutor(max_workers=threads or threads_from_env(), thread_name_prefix="action")
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    run_on_the_loop = ActionExecutor.run

    async def run(self: Any, action_call: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(_pool, lambda: _thread_loop().run_until_complete(
                run_on_the_loop(self, action_call)))
        except (ActionExecutionRejection, ActionNotFoundException):
            raise   # rasa_sdk answers these itself (a form's rejection, an unknown action)
        except Exception:  # noqa: BLE001 - the last line of defence: never leave a customer without an answer
            logger.exception("action %s failed", action_call.get("next_action"))
            return apology(action_call)

    run.hamsafar_threaded = True  # type: ignore[attr-defined]
    ActionExecutor.run = run  # type: ignore[method-assign]


def _thread_loop() -> asyncio.AbstractEventLoop:
    """The event loop of this pool thread, made on its first action and kept: `asyncio.run` made
    and closed one per action (0.12 ms here, two actions a message)."""
    loop = getattr(_thread_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _thread_loops.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)   # as `asyncio.run` does, for code that asks for the thread's loop
    return loop


def apology(action_call: Dict[str, Any]) -> Dict[str, Any]:
    """The answer of an action that failed with a bug: an apology in the conversation's language
    and no events (Rasa then goes on as if the action did nothing; a form asks its question again)."""
    from bot.text.catalogue import text

    slots = (action_call.get("tracker") or {}).get("slots") or {}
    language = "en" if slots.get("language") == "en" else "fa"
    return {"events": [], "responses": [{"text": text("action_failed", language)}]}


def warm_up() -> None:
    """Build the process-wide CRM client and verifier now, in one thread. A backend that
    cannot be set up is left to the first action, which answers the customer about it.

    These are the objects `actions.common.get_crm`/`get_verifier` hand out (bot/ does not
    import actions/); the one-time-code sender is plugged in by the first action that asks."""
    from bot.crm.factory import get_crm
    from bot.identity.verification import get_verifier

    try:
        get_crm()
        get_verifier()
    except Exception:  # noqa: BLE001 - reported by the action that needs it
        logger.warning("action server: CRM or verifier not ready at start; the first action will retry",
                       exc_info=True)
