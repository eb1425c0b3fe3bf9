"""The Rasa input channel `journeys`: webhook routes and the background runner of the server.

Routes under `/webhooks/journeys/`:

* `GET  /` — status: journeys loaded, runner on/off, last run.
* `POST /woocommerce` — WooCommerce webhooks (order.created, order.updated, product.updated).
* `POST /events` — events of the REST backend (our signature, docs/orchestration.md).

Every Rasa server process runs the runner as an asyncio task once the agent
is loaded (`HAMSAFAR_JOURNEYS=off` disables it): it claims due entries with
row locks, so several processes share the work without sending anything twice.
Messages go through the outputs the other channels registered and into the
agent's tracker store. A webhook that starts or advances a journey wakes the
runner at once instead of waiting for the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, UserMessage

from bot import settings

logger = logging.getLogger(__name__)


def runner_enabled() -> bool:
    return settings.current().journeys


def interval_seconds() -> float:
    return max(1.0, settings.current().journeys_interval)


class _AgentLog:
    """Writes into the conversations through the server's agent, once it is loaded."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def append(self, conversation_id: str, text: str, buttons: Any, metadata: Dict[str, Any]) -> None:
        from bot.orchestration.delivery import AgentConversationLog

        agent = getattr(self.app.ctx, "agent", None)
        if agent is None or getattr(agent, "tracker_store", None) is None:
            logger.warning("journeys: agent not loaded; %s not written into the conversation", conversation_id)
            return
        await AgentConversationLog(agent).append(conversation_id, text, buttons, metadata)


class JourneysInput(InputChannel):
    """Rasa input channel `journeys` (credentials.yml: `bot.orchestration.channel.JourneysInput: {}`)."""

    @classmethod
    def name(cls) -> str:
        return "journeys"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "JourneysInput":
        return cls()

    def __init__(self) -> None:
        self._orchestrator: Any = None
        self._runner: Any = None
        self._task: Optional[asyncio.Task] = None
        self._wake: Optional[asyncio.Event] = None
        self.last_run: Optional[str] = None

    def orchestrator(self) -> Any:
        if self._orchestrator is None:
            from bot.orchestration.engine import Orchestrator

            self._orchestrator = Orchestrator()
        return self._orchestrator

    async def _loop(self, app: Any) -> None:
        from bot.orchestration.engine import utcnow
        from bot.orchestration.runner import JourneyRunner

        while getattr(getattr(app.ctx, "agent", None), "tracker_store", None) is None:
            await asyncio.sleep(1)  # the model is loading; messages must be writable into conversations
        orchestrator = await asyncio.to_thread(self.orchestrator)
        self._runner = JourneyRunner(orchestrator, conversation_log=_AgentLog(app))
        interval = interval_seconds()
        while True:
            try:
                await asyncio.to_thread(orchestrator.refresh)
                stats = await self._runner.run_due(utcnow())
                self.last_run = utcnow().isoformat()
                if stats.sent or stats.failed or stats.events:
                    logger.info("journeys: %s", stats.summary())
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - e.g. the database restarting: try again next time
                logger.exception("journeys: a run failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"journeys_{id(self)}", __name__)
        channel = self

        @bp.listener("after_server_start")
        async def start(app, loop) -> None:  # type: ignore[no-untyped-def]
            channel._wake = asyncio.Event()
            if runner_enabled():
                channel._task = asyncio.ensure_future(channel._loop(app))
            else:
                logger.info("journeys: background runner off (HAMSAFAR_JOURNEYS=off)")

        @bp.listener("before_server_stop")
        async def stop(app, loop) -> None:  # type: ignore[no-untyped-def]
            if channel._task is not None:
                channel._task.cancel()
                try:
                    await channel._task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "runner": channel._task is not None and not channel._task.done(),
                                  "last_run": channel.last_run})

        async def handle(request: Request, fn: Callable[..., Any], secret_env: str) -> HTTPResponse:
            from bot.orchestration.webhooks import WebhookRejected

            try:
                orchestrator = await asyncio.to_thread(channel.orchestrator)
                outcome = await asyncio.to_thread(fn, orchestrator, dict(request.headers), request.body or b"",
                                                  settings.env_secret(secret_env))
            except WebhookRejected as rejected:
                return response.json({"ok": False, "error": rejected.code, "message": rejected.message},
                                     status=rejected.status)
            except Exception:  # noqa: BLE001 - answer 500 so the sender retries; nothing half-written (one transaction per event)
                logger.exception("journeys: webhook failed")
                return response.json({"ok": False, "error": "internal_error"}, status=500)
            if outcome.entered or outcome.events:
                channel.wake()
            return response.json(outcome.as_json())

        @bp.route("/woocommerce", methods=["POST"])
        async def woocommerce(request: Request) -> HTTPResponse:
            from bot.orchestration.webhooks import handle_woocommerce

            return await handle(request, handle_woocommerce, "HAMSAFAR_WOOCOMMERCE_WEBHOOK_SECRET")

        @bp.route("/events", methods=["POST"])
        async def events(request: Request) -> HTTPResponse:
            from bot.orchestration.webhooks import handle_rest_event

            return await handle(request, handle_rest_event, "HAMSAFAR_JOURNEY_EVENTS_SECRET")

        return bp
