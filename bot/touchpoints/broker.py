"""Rasa event broker that records touchpoints (configured in endpoints.yml).

Rasa publishes every event of every channel to the event broker, so this is
the one place turns are recorded — no action or channel records its own.
"""

from __future__ import annotations

from asyncio import AbstractEventLoop
from typing import Any, Dict, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.touchpoints.recorder import TouchpointRecorder


class TouchpointBroker(EventBroker):
    """`event_broker: {type: bot.touchpoints.broker.TouchpointBroker}` in endpoints.yml."""

    def __init__(self, recorder: TouchpointRecorder) -> None:
        self.recorder = recorder

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[AbstractEventLoop] = None
    ) -> "TouchpointBroker":
        options = dict(broker_config.kwargs or {}) if broker_config else {}
        recorder = TouchpointRecorder(
            batch_size=int(options.get("batch_size", 200)),
            flush_interval_s=float(options.get("flush_interval_s", 0.5)),
            buffer_size=int(options.get("buffer_size", 20_000)),
        )
        return cls(recorder.start())

    def publish(self, event: Dict[str, Any]) -> None:
        self.recorder.publish(event)

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        self.recorder.close()
