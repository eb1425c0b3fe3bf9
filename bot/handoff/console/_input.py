"""`AgentConsoleInput`: the Rasa input channel `handoff` that serves the agent console, and
its background watcher that gives unclaimed handoffs back to the bot after their time-out."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import SlotSet
from sanic import Blueprint

from bot.handoff import conversation, service, texts

from ._http import run
from ._routes import blueprint

logger = logging.getLogger(__package__)  # "bot.handoff.console", as before the package split


class AgentConsoleInput(InputChannel):
    """Rasa input channel `handoff`: the agent console (pages + JSON API + polling live updates).

    An input channel so the console runs inside the Rasa server, next to the tracker and
    lock stores it writes agent turns to; it never passes a message to the bot itself."""

    @classmethod
    def name(cls) -> str:
        return "handoff"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "AgentConsoleInput":
        credentials = credentials or {}
        return cls(watch_interval=float(credentials.get("watch_interval", 5.0)))

    def __init__(self, watch_interval: float = 5.0) -> None:
        from bot.channels.base import get_output, register_output
        from bot.channels.web import WebOutput

        self.watch_interval = watch_interval
        if get_output("web") is None:
            # agents answer web conversations from here whatever inputs this server has: the web
            # output writes into our own history table, which the widget reads
            register_output(WebOutput(proactive=False))
        self._watcher: Optional[asyncio.Task] = None
        self._app: Any = None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        return blueprint(self)

    # ------------------------------------------------------------------ server start and stop
    async def start(self, app: Any) -> None:
        """After the server starts: the handoff tables exist, and the time-out watcher runs."""
        self._app = app
        await run(service.ensure_tables)
        if self.watch_interval > 0:
            self._watcher = asyncio.ensure_future(self._watch())

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    # ------------------------------------------------------------------ background: claim timeouts
    async def _watch(self) -> None:
        while True:
            try:
                await asyncio.sleep(self.watch_interval)
                await self.expire_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep watching
                logger.exception("console: timeout watcher failed")

    async def expire_once(self) -> List[Dict[str, Any]]:
        """Apologise, open a ticket and bring the bot back for every handoff nobody claimed in time.

        Waits while the Rasa agent (its tracker store) is not ready: expiring then would
        leave `handoff_active` set, and the bot silent in that conversation for good.
        """
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        if agent is None or getattr(agent, "tracker_store", None) is None:
            return []
        expired = await run(service.expire_unclaimed)
        for handoff in expired:
            # One conversation failing must not leave the rest of the batch handed off; any that is
            # left (this process dying half-way) is given back at its next message (HandoffPolicy).
            try:
                key = "timeout" if handoff.get("ticket") else "timeout_no_ticket"
                message = texts.text(key, handoff["language"], ticket=handoff.get("ticket") or "")
                await conversation.deliver(handoff["conversation_id"], message, sender="system")
                await conversation.append_events(agent, handoff["conversation_id"], [
                    conversation.system_message(message), SlotSet("handoff_active", False)])
            except Exception:  # noqa: BLE001
                logger.exception("console: could not give %s back to the bot after its time-out",
                                 handoff.get("conversation_id"))
        return expired
