"""Routes for analysts and admins: aggregate handoff figures (no personal data), the console's
users, and the audit log of who did what."""

from __future__ import annotations

from typing import Any, Dict

from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff import service

from ._guard import ADMINS, ANALYSTS, guarded
from ._http import client_address, error_reply, json_body, json_reply, run


@guarded(ANALYSTS)
async def report(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
    """GET /api/report: aggregate handoff figures."""
    await run(service.audit, agent["login"], "report", address=client_address(request))
    return json_reply({"ok": True, "report": await run(service.report)})


@guarded(ADMINS)
async def agents(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
    """GET /api/agents: the console's users."""
    return json_reply({"ok": True, "agents": await run(service.list_agents)})


@guarded(ADMINS, write=True)
async def add_agent(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
    """POST /api/agents `{"login", "password", "role", "display_name"}`."""
    data = json_body(request)
    try:
        created = await run(service.create_agent, str(data.get("login") or ""), str(data.get("password") or ""),
                            str(data.get("role") or "agent"), str(data.get("display_name") or ""))
    except service.AgentError as error:
        return json_reply({"ok": False, "error": "invalid_agent", "detail": str(error)}, 400)
    await run(service.audit, agent["login"], "agent_create", detail={"login": created["login"],
                                                                      "role": created["role"]},
              address=client_address(request))
    return json_reply({"ok": True, "agent": created})


@guarded(ADMINS, write=True)
async def activate(request: Request, agent: Dict[str, Any], login: str) -> HTTPResponse:
    """POST /api/agents/<login>/active `{"active": bool}`."""
    active = bool(json_body(request).get("active"))
    try:
        await run(service.set_active, login, active)
    except service.AgentError:
        return error_reply(404, "not_found")
    await run(service.audit, agent["login"], "agent_activate" if active else "agent_deactivate",
              detail={"login": login}, address=client_address(request))
    return json_reply({"ok": True})


@guarded(ADMINS)
async def audit(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
    """GET /api/audit: who did what, when."""
    return json_reply({"ok": True, "audit": await run(service.audit_log)})
