"""One conversation's actions: claim it, read its transcript and the customer's 360° panel,
reply, write an internal note, hand it back to the bot or close it. Each action is audited;
what the customer is told goes through the conversation's own channel and into its tracker."""

from __future__ import annotations

from typing import Any, Dict, Optional

from rasa.shared.core.events import SlotSet
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff import conversation, service, texts

from ._customer import customer_360
from ._guard import AGENTS, guarded, held_handoff, tracker_agent, visible_handoff
from ._http import MAX_REPLY, ApiError, client_address, error_reply, json_body, json_reply, run


@guarded(AGENTS, write=True)
async def claim(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
    """POST /api/handoffs/<id>/claim: exactly one agent wins (409 for the others); the customer is told who."""
    handoff = await run(service.get_handoff, handoff_id)
    if handoff is None:
        return error_reply(404, "not_found")
    won = await run(service.claim, handoff_id, agent["login"])
    await run(service.audit, agent["login"], "claim" if won else "claim_lost", handoff_id=handoff_id,
              conversation_id=handoff["conversation_id"], address=client_address(request))
    if not won:
        current = await run(service.get_handoff, handoff_id)
        return json_reply({"ok": False, "error": "already_claimed" if current["status"] == "active" else "not_waiting",
                           "agent": current["agent"] if current["status"] == "active" else None}, 409)
    message = texts.text("claimed", handoff["language"], agent=agent["display_name"])
    delivered = await conversation.deliver(handoff["conversation_id"], message)
    try:
        await conversation.append_events(tracker_agent(request), handoff["conversation_id"],
                                         [conversation.agent_message(message, agent["login"])],
                                         handed_off=True)
    except ApiError:
        pass
    return json_reply({"ok": True, "handoff": await run(service.get_handoff, handoff_id), "delivered": delivered})


@guarded(AGENTS)
async def show(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
    """GET /api/handoffs/<id>?after=N: transcript (bot turns, intents, stage), state and notes."""
    handoff = await visible_handoff(handoff_id, agent)
    try:
        after = int(request.args.get("after", "-1"))
    except ValueError:
        return error_reply(400, "invalid_after")
    tracker = await conversation.load_tracker(tracker_agent(request), handoff["conversation_id"])
    if after < 0:
        await run(service.audit, agent["login"], "view", handoff_id=handoff_id,
                  conversation_id=handoff["conversation_id"], address=client_address(request))
    return json_reply({"ok": True, "handoff": handoff, "events": conversation.transcript(tracker, after),
                       **conversation.conversation_state(tracker),
                       "notes": await run(service.notes_for, handoff["conversation_id"])})


@guarded(AGENTS)
async def customer(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
    """GET /api/handoffs/<id>/customer: profile, orders, tickets, earlier conversations on every channel."""
    handoff = await visible_handoff(handoff_id, agent)
    tracker = await conversation.load_tracker(tracker_agent(request), handoff["conversation_id"], full=False)
    state = conversation.conversation_state(tracker)
    customer_id = handoff["customer_id"] or (state.get("slots") or {}).get("customer_id")
    panel = await run(customer_360, handoff, customer_id, state.get("slots") or {})
    await run(service.audit, agent["login"], "view_customer", handoff_id=handoff_id,
              conversation_id=handoff["conversation_id"], address=client_address(request))
    return json_reply({"ok": True, **panel})


@guarded(AGENTS, write=True)
async def reply(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
    """POST /api/handoffs/<id>/reply `{"text"}`: only the claiming agent; delivered and written to the tracker."""
    handoff = await held_handoff(handoff_id, agent, admin_too=False)
    text = json_body(request).get("text")
    if not isinstance(text, str) or not text.strip():
        return error_reply(400, "empty_text")
    if len(text) > MAX_REPLY:
        return error_reply(413, "text_too_long")
    text = text.strip()
    rasa_agent = tracker_agent(request)
    delivered = await conversation.deliver(handoff["conversation_id"], text)
    await conversation.append_events(rasa_agent, handoff["conversation_id"],
                                     [conversation.agent_message(text, agent["login"])])
    await run(service.audit, agent["login"], "reply", handoff_id=handoff_id,
              conversation_id=handoff["conversation_id"], detail={"chars": len(text), "delivered": delivered},
              address=client_address(request))
    return json_reply({"ok": True, "delivered": delivered})


@guarded(AGENTS, write=True)
async def note(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
    """POST /api/handoffs/<id>/notes `{"text"}`: an internal note the customer never sees."""
    handoff = await held_handoff(handoff_id, agent)
    text = json_body(request).get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY:
        return error_reply(400, "invalid_note")
    saved = await run(service.add_note, handoff_id, agent["login"], text.strip())
    await run(service.audit, agent["login"], "note", handoff_id=handoff_id,
              conversation_id=handoff["conversation_id"], address=client_address(request))
    return json_reply({"ok": True, "note": saved})


@guarded(AGENTS, write=True)
async def handback(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
    """POST /api/handoffs/<id>/handback: the bot resumes with the conversation's context."""
    json_body(request)
    return await finish(request, agent, handoff_id, "returned", None)


@guarded(AGENTS, write=True)
async def close(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
    """POST /api/handoffs/<id>/close `{"disposition"}`."""
    disposition = json_body(request).get("disposition")
    if disposition not in service.DISPOSITIONS:
        return error_reply(400, "invalid_disposition")
    return await finish(request, agent, handoff_id, "closed", disposition)


async def finish(request: Request, agent: Dict[str, Any], handoff_id: int, status: str,
                 disposition: Optional[str]) -> HTTPResponse:
    """End a held handoff (`returned` or `closed`): the customer is told and the bot answers again."""
    handoff = await held_handoff(handoff_id, agent)
    rasa_agent = tracker_agent(request)
    done = await run(service.end, handoff_id, agent["login"], status, disposition,
                     any_agent=agent["role"] == "admin")
    if not done:
        return error_reply(409, "not_active")
    message = texts.text("handed_back" if status == "returned" else "closed", handoff["language"])
    delivered = await conversation.deliver(handoff["conversation_id"], message, sender="system")
    await conversation.append_events(rasa_agent, handoff["conversation_id"], [
        SlotSet("handoff_active", False), conversation.system_message(message)])
    await run(service.audit, agent["login"], "handback" if status == "returned" else "close",
              handoff_id=handoff_id, conversation_id=handoff["conversation_id"],
              detail={"disposition": disposition} if disposition else None, address=client_address(request))
    return json_reply({"ok": True, "handoff": await run(service.get_handoff, handoff_id), "delivered": delivered})
