"""Shared helpers of the handoff tests (no tests here): a console server with an in-memory Rasa tracker store."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from fakes.channel_server import EchoAgent, ServerThread  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


class FakeCRM:
    """Just what the handoff touches: tickets, a customer and their orders."""

    def __init__(self) -> None:
        self.tickets: List[Any] = []

    def open_ticket(self, customer_id, subject, *, description="", category="general", order_id=None, channel=None):
        from bot.crm.base import Ticket

        ticket = Ticket(reference=f"T-{len(self.tickets) + 1:04d}", customer_id=customer_id, subject=subject,
                        description=description, category=category, channel=channel)
        self.tickets.append(ticket)
        return ticket

    def get_customer(self, customer_id):
        from bot.crm.base import Customer

        if customer_id != "C100":
            return None
        return Customer("C100", "سارا <b>رضایی</b>", "+989121234567", "sara@example.com", "fa",
                        dt.datetime(2024, 1, 1))

    def list_orders(self, customer_id, *, status=None, limit=20):
        from bot.crm.base import Order

        return [Order("100234", customer_id, "shipped", dt.datetime(2025, 1, 2), 2890000, tracking_code="TRK1")]


class RasaAgentStub:
    """The parts of Rasa's Agent the console uses: a tracker store and a lock store."""

    def __init__(self) -> None:
        from rasa.core.lock_store import InMemoryLockStore
        from rasa.core.tracker_store import InMemoryTrackerStore
        from rasa.shared.core.domain import Domain

        self.domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
        self.tracker_store = InMemoryTrackerStore(self.domain)
        self.lock_store = InMemoryLockStore()


def console_server(agent: Optional[RasaAgentStub] = None) -> ServerThread:
    from bot.handoff.console import AgentConsoleInput

    channel = AgentConsoleInput(watch_interval=0)
    server = ServerThread([channel], EchoAgent())
    server.channel = channel  # type: ignore[attr-defined]
    server.rasa_agent = agent or RasaAgentStub()  # type: ignore[attr-defined]
    return server


def attach(server: ServerThread) -> None:
    server.app.ctx.agent = server.rasa_agent  # type: ignore[attr-defined]


def client(server: ServerThread) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/webhooks/handoff/", timeout=15)


def login(server: ServerThread, name: str, password: str = PASSWORD) -> httpx.Client:
    c = client(server)
    reply = c.post("api/login", json={"login": name, "password": password})
    assert reply.status_code == 200, reply.text
    c.headers["X-CSRF-Token"] = reply.json()["csrf"]
    return c


async def seed_conversation(agent: RasaAgentStub, conversation_id: str, turns: List[Dict[str, Any]]) -> None:
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

    tracker = await agent.tracker_store.get_or_create_tracker(conversation_id)
    for turn in turns:
        if "user" in turn:
            parse = {"intent": {"name": turn.get("intent", "greet"), "confidence": 0.9}, "entities": [],
                     "text": turn["user"], "journey_stage": turn.get("stage"), "language": "fa",
                     "sentiment": turn.get("sentiment")}
            tracker.update(UserUttered(turn["user"], parse["intent"], [], parse))
        if "bot" in turn:
            tracker.update(ActionExecuted("utter_x"))
            tracker.update(BotUttered(turn["bot"]))
        if "slot" in turn:
            tracker.update(SlotSet(*turn["slot"]))
        tracker.update(ActionExecuted("action_listen"))
    await agent.tracker_store.save(tracker)
