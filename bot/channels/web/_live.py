"""Live push: the open event streams (SSE) of each conversation, and waking them.

The one module-level registry of listeners is here; history writes and session ends
call `notify`, the `/events` route listens.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional, Set, Tuple

Listener = Tuple[asyncio.AbstractEventLoop, asyncio.Queue]

# conversation -> (event loop, queue) of every open event stream of that conversation
_waiters: Dict[str, Set[Listener]] = {}


def notify(session_id: str, event: Dict[str, Any]) -> None:
    """Wake the conversation's event streams; safe from any thread (a queue belongs to its loop)."""
    try:
        running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for waiter in list(_waiters.get(session_id, ())):
        loop, queue = waiter
        if loop.is_closed():  # a server that stopped without closing its streams
            _waiters.get(session_id, set()).discard(waiter)
            continue
        if loop is running:
            queue.put_nowait(event)
            continue
        try:
            loop.call_soon_threadsafe(queue.put_nowait, event)
        except RuntimeError:  # closed meanwhile: the stream is gone
            _waiters.get(session_id, set()).discard(waiter)


def notify_conversation_ended(conversation: str) -> None:
    notify(conversation, {"type": "ended"})


def listen(conversation: str) -> Listener:
    """A queue (on the running loop) that receives the conversation's events until `stop_listening`."""
    waiter: Listener = (asyncio.get_running_loop(), asyncio.Queue())
    _waiters.setdefault(conversation, set()).add(waiter)
    return waiter


def stop_listening(conversation: str, waiter: Listener) -> None:
    _waiters.get(conversation, set()).discard(waiter)
    if not _waiters.get(conversation):
        _waiters.pop(conversation, None)
