"""A Rasa server parses one message before it serves customers (issue 16).

The first message a freshly started Rasa server parses takes about 400 ms more than
the next ones: the sentiment step of the NLU graph (`bot.handoff.sentiment`) fits its
small classifier on first use (profiled). Each worker's first customer waited 0.5-0.7 s;
with two workers behind nginx, that was enough of a one-customer run's messages to make
its p95. Parsing a throwaway message once the model is loaded moves that cost into
start-up. Only the NLU runs: nothing is stored, no action is called, no event published.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

# Any text does it: the first parse of any message pays the cost (measured).
WARM_UP_TEXT = "hello"


async def parse_once(app: Any) -> bool:
    """Run the loaded model's NLU on one message; False when no model is loaded (nothing to warm)."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or not agent.is_ready():
        return False
    try:
        await agent.parse_message(WARM_UP_TEXT)
    except Exception:  # a warm-up failure must not stop the server: the first customer pays instead
        logger.exception("warm-up parse failed; the first message will be slower")
        return False
    return True
