"""Python's cyclic garbage collector kept off the servers' reply path (issue 16).

Once its model is loaded the Rasa server holds about half a million objects (Rasa,
TensorFlow, spaCy, scikit-learn, the model, the domain), the action server a few hundred
thousand. Python's full (generation 2) collection walks every one of them, and it runs
whenever enough new objects have outlived the younger generations — as every new
conversation's objects do. Measured with `gc.callbacks` under 50 customers at human pace
(docs/performance.md): full collections of 400-700 ms in the Rasa server, several a minute,
each stopping its event loop (every customer waits), and up to 600 ms in the action server;
they found almost nothing to free. `freeze()` collects once, when the server has started, then
moves every object alive at that moment into the permanent generation (`gc.freeze`): later
collections walk only what was made since. Reference counting frees objects as before; only a
reference cycle among the frozen objects that becomes garbage later (a model replaced through
Rasa's HTTP API) stays in memory.
"""

from __future__ import annotations

import gc
from typing import Any


def freeze() -> int:
    """Collect once, then exempt every object alive now from later collections; how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def freeze_after_start(*_: Any) -> None:
    """A Sanic `after_server_start` listener: the model is loaded by then (Rasa loads it before start)."""
    freeze()
