"""The agent console: a Rasa input channel (`handoff`, routes under `/webhooks/handoff/`).

Add to credentials.yml:

    bot.handoff.console.AgentConsoleInput: {}

It runs inside the Rasa server process, so it reaches the tracker store and lock
store through `request.app.ctx.agent` and delivers through the channels' output
paths (`bot.channels.base`). Rasa's HTTP API stays disabled.

Pages: `GET /console` (login and the app; one static page, `static/console.js`).
JSON API under `/api/` (all but login need the session cookie; all POSTs need the
`X-CSRF-Token` header of the session and a JSON body):

| endpoint | roles | |
|---|---|---|
| `POST /api/login`, `POST /api/logout`, `GET /api/me` | any | rate-limited login, server-side session |
| `GET /api/queue` | agent, admin | waiting (position, waiting time, language, stage) and active conversations |
| `POST /api/handoffs/<id>/claim` | agent, admin | exactly one agent wins (409 for the others) |
| `GET /api/handoffs/<id>?after=N` | agent, admin | transcript (bot turns, intents, stage), state, notes; waiting, own or (admin) any |
| `GET /api/handoffs/<id>/customer` | agent, admin | 360°: profile, orders, tickets, earlier conversations on every channel |
| `POST /api/handoffs/<id>/reply` | claiming agent | delivered to the customer's channel and written to the tracker |
| `POST /api/handoffs/<id>/notes` | claiming agent, admin | internal note |
| `POST /api/handoffs/<id>/handback` | claiming agent, admin | the bot resumes with the conversation's context |
| `POST /api/handoffs/<id>/close` | claiming agent, admin | with a disposition |
| `GET /api/canned` | agent, admin | canned replies (fa, en) |
| `GET /api/report` | analyst, admin | aggregate handoff figures, no personal data |
| `GET/POST /api/agents`, `POST /api/agents/<login>/active` | admin | users |
| `GET /api/audit` | admin | who did what, when |

Every response carries a strict Content-Security-Policy; the page writes customer
text with `textContent` only. Every agent action is audited.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional

import yaml
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import SlotSet
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.addresses import channel_of
from bot.handoff import config, conversation, service, texts

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
CANNED_FILE = Path(__file__).resolve().parent / "data" / "canned.yml"
COOKIE = "hamsafar_console"
MAX_BODY = 16 * 1024
MAX_REPLY = 4000
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
    """Blocking database work off the event loop."""
    return asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


def _opaque(data: Any) -> Any:
    """`data` with every web conversation id shown as its reference (`web:ref-…`, bot.touchpoints.privacy).

    The console never needs the raw widget conversation key: agents act through the handoff
    id, and the server looks the conversation up itself."""
    from bot.touchpoints.privacy import conversation_ref

    if isinstance(data, dict):
        return {k: (conversation_ref(v) if k == "conversation_id" and channel_of(v) == "web"
                    else _opaque(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_opaque(item) for item in data]
    return data


def _json(data: Any, status: int = 200) -> HTTPResponse:
    return response.json(_opaque(data), status=status, headers=SECURITY_HEADERS, ensure_ascii=False)


def _error(status: int, code: str) -> HTTPResponse:
    return _json({"ok": False, "error": code}, status)


def _address(request: Request) -> str:
    return str(request.remote_addr or request.ip or "")[:64]


class ApiError(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


def _body(request: Request) -> Dict[str, Any]:
    raw = request.body or b""
    if len(raw) > MAX_BODY:
        raise ApiError(413, "body_too_large")
    if "application/json" not in (request.headers.get("content-type") or ""):
        raise ApiError(415, "json_required")
    try:
        data = json.loads(raw.decode("utf-8") or "{}")
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nesting too deep
        raise ApiError(400, "malformed_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json")
    return data


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def load_canned() -> Dict[str, List[Dict[str, str]]]:
    data = yaml.safe_load(CANNED_FILE.read_text(encoding="utf-8")) or {}
    return {lang: [{"title": str(i["title"]), "text": str(i["text"])} for i in data.get(lang, [])] for lang in ("fa", "en")}


class AgentConsoleInput(InputChannel):
    """Rasa input channel `handoff`: the agent console (pages + JSON API + polling live updates)."""

    @classmethod
    def name(cls) -> str:
        return "handoff"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "AgentConsoleInput":
        credentials = credentials or {}
        return cls(watch_interval=float(credentials.get("watch_interval", 5.0)))

    def __init__(self, watch_interval: float = 5.0) -> None:
        self.watch_interval = watch_interval
        self._watcher: Optional[asyncio.Task] = None
        self._app: Any = None

    # ------------------------------------------------------------------ sessions and roles
    async def _agent(self, request: Request) -> Optional[Dict[str, Any]]:
        return await _run(service.session_agent, request.cookies.get(COOKIE))

    def _route(self, roles: tuple, *, write: bool = False) -> Callable:
        """Wrap a handler: session, role, CSRF (for writes) and error mapping."""

        def wrap(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
            @functools.wraps(handler)
            async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
                try:
                    agent = await self._agent(request)
                    if agent is None:
                        return _error(401, "not_logged_in")
                    if agent["role"] not in roles:
                        return _error(403, "forbidden")
                    if write:
                        supplied = request.headers.get("x-csrf-token", "")
                        if not _same_origin(request) or not hmac.compare_digest(supplied.encode(), agent["csrf"].encode()):
                            return _error(403, "csrf")
                    return await handler(request, agent, *args, **kwargs)
                except ApiError as error:
                    return _error(error.status, error.code)
                except Exception:  # noqa: BLE001
                    logger.exception("console: %s failed", request.path)
                    return _error(500, "internal_error")

            return guarded

        return wrap

    @staticmethod
    def _tracker_agent(request: Request) -> Any:
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or getattr(agent, "tracker_store", None) is None:
            raise ApiError(503, "bot_not_ready")
        return agent

    @staticmethod
    async def _visible_handoff(handoff_id: int, me: Dict[str, Any]) -> Dict[str, Any]:
        """A handoff the agent may see: waiting ones (to triage), their own, or any for an admin."""
        handoff = await _run(service.get_handoff, handoff_id)
        if handoff is None:
            raise ApiError(404, "not_found")
        if me["role"] == "admin" or handoff["status"] == "waiting" or handoff["agent"] == me["login"]:
            return handoff
        raise ApiError(403, "not_your_conversation")

    @staticmethod
    async def _held_handoff(handoff_id: int, me: Dict[str, Any], *, admin_too: bool = True) -> Dict[str, Any]:
        handoff = await _run(service.get_handoff, handoff_id)
        if handoff is None:
            raise ApiError(404, "not_found")
        if handoff["status"] != "active":
            raise ApiError(409, "not_active")
        if handoff["agent"] != me["login"] and not (admin_too and me["role"] == "admin"):
            raise ApiError(403, "not_your_conversation")
        return handoff

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
        expired = await _run(service.expire_unclaimed)
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

    # ------------------------------------------------------------------ Sanic
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"handoff_console_{id(self)}", __name__)
        channel = self
        agents_only = ("agent", "admin")

        @bp.listener("after_server_start")
        async def start(app, loop) -> None:  # type: ignore[no-untyped-def]
            channel._app = app
            await _run(service.ensure_tables)
            if channel.watch_interval > 0:
                channel._watcher = asyncio.ensure_future(channel._watch())

        @bp.listener("before_server_stop")
        async def stop(app, loop) -> None:  # type: ignore[no-untyped-def]
            if channel._watcher is not None:
                channel._watcher.cancel()

        @bp.route("/", methods=["GET"])
        async def root(request: Request) -> HTTPResponse:
            return response.redirect(request.app.url_for(f"{bp.name}.page"), headers=SECURITY_HEADERS)

        @bp.route("/console", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            html = (STATIC_DIR / "console.html").read_text(encoding="utf-8")
            return response.html(html, headers=SECURITY_HEADERS)

        @bp.route("/static/<name>", methods=["GET"])
        async def static(request: Request, name: str) -> HTTPResponse:
            types = {"console.js": "application/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
            if name not in types:
                return _error(404, "not_found")
            return await response.file(STATIC_DIR / name, mime_type=types[name],
                                       headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})

        # -------------------------------------------------------------- session
        @bp.route("/api/login", methods=["POST"])
        async def login(request: Request) -> HTTPResponse:
            try:
                data = _body(request)
            except ApiError as error:
                return _error(error.status, error.code)
            if not _same_origin(request):
                return _error(403, "csrf")
            name, password = data.get("login"), data.get("password")
            if not isinstance(name, str) or not isinstance(password, str) or len(password) > 1000 \
                    or any(0xD800 <= ord(c) <= 0xDFFF for c in name + password):  # lone surrogates: not UTF-8
                return _error(400, "invalid_credentials_format")
            address = _address(request)
            try:
                agent = await _run(service.authenticate, name, password, address)
            except service.RateLimited:
                await _run(service.audit, name.strip().lower()[:64] or "-", "login_rate_limited", address=address)
                return _json({"ok": False, "error": "too_many_attempts"}, 429)
            if agent is None:
                await _run(service.audit, name.strip().lower()[:64] or "-", "login_failed", address=address)
                return _error(401, "wrong_login_or_password")
            session = await _run(service.create_session, agent["id"])
            await _run(service.audit, agent["login"], "login", address=address)
            reply = _json({"ok": True, "agent": _public(agent), "csrf": session["csrf"]})
            reply.cookies[COOKIE] = session["token"]
            reply.cookies[COOKIE]["httponly"] = True
            reply.cookies[COOKIE]["samesite"] = "Strict"
            reply.cookies[COOKIE]["path"] = "/webhooks/handoff"
            reply.cookies[COOKIE]["max-age"] = int(service.SESSION_LIFETIME.total_seconds())
            if config.secure_cookie():
                reply.cookies[COOKIE]["secure"] = True
            return reply

        @bp.route("/api/me", methods=["GET"])
        @channel._route(("agent", "admin", "analyst"))
        async def me(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
            return _json({"ok": True, "agent": _public(agent), "csrf": agent["csrf"]})

        @bp.route("/api/logout", methods=["POST"])
        @channel._route(("agent", "admin", "analyst"), write=True)
        async def logout(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
            await _run(service.end_session, request.cookies.get(COOKIE))
            await _run(service.audit, agent["login"], "logout", address=_address(request))
            reply = _json({"ok": True})
            reply.cookies[COOKIE] = ""
            reply.cookies[COOKIE]["max-age"] = 0
            reply.cookies[COOKIE]["path"] = "/webhooks/handoff"
            return reply

        # -------------------------------------------------------------- queue and conversations
        @bp.route("/api/queue", methods=["GET"])
        @channel._route(agents_only)
        async def queue(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
            items = await _run(service.list_queue)
            if agent["role"] != "admin":  # others' active conversations: only that they exist
                items = [i if i["status"] == "waiting" or i["agent"] == agent["login"] else
                         {k: i[k] for k in ("id", "status", "agent", "language", "channel", "journey_stage",
                                            "waiting_seconds", "requested_at")} for i in items]
            return _json({"ok": True, "queue": items})

        @bp.route("/api/handoffs/<handoff_id:int>/claim", methods=["POST"])
        @channel._route(agents_only, write=True)
        async def claim(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
            handoff = await _run(service.get_handoff, handoff_id)
            if handoff is None:
                return _error(404, "not_found")
            won = await _run(service.claim, handoff_id, agent["login"])
            await _run(service.audit, agent["login"], "claim" if won else "claim_lost", handoff_id=handoff_id,
                       conversation_id=handoff["conversation_id"], address=_address(request))
            if not won:
                current = await _run(service.get_handoff, handoff_id)
                return _json({"ok": False, "error": "already_claimed" if current["status"] == "active" else "not_waiting",
                              "agent": current["agent"] if current["status"] == "active" else None}, 409)
            message = texts.text("claimed", handoff["language"], agent=agent["display_name"])
            delivered = await conversation.deliver(handoff["conversation_id"], message)
            try:
                await conversation.append_events(channel._tracker_agent(request), handoff["conversation_id"],
                                                 [conversation.agent_message(message, agent["login"])],
                                                 handed_off=True)
            except ApiError:
                pass
            return _json({"ok": True, "handoff": await _run(service.get_handoff, handoff_id), "delivered": delivered})

        @bp.route("/api/handoffs/<handoff_id:int>", methods=["GET"])
        @channel._route(agents_only)
        async def show(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
            handoff = await channel._visible_handoff(handoff_id, agent)
            try:
                after = int(request.args.get("after", "-1"))
            except ValueError:
                return _error(400, "invalid_after")
            tracker = await conversation.load_tracker(channel._tracker_agent(request), handoff["conversation_id"])
            if after < 0:
                await _run(service.audit, agent["login"], "view", handoff_id=handoff_id,
                           conversation_id=handoff["conversation_id"], address=_address(request))
            return _json({"ok": True, "handoff": handoff, "events": conversation.transcript(tracker, after),
                          **conversation.conversation_state(tracker),
                          "notes": await _run(service.notes_for, handoff["conversation_id"])})

        @bp.route("/api/handoffs/<handoff_id:int>/customer", methods=["GET"])
        @channel._route(agents_only)
        async def customer(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
            handoff = await channel._visible_handoff(handoff_id, agent)
            tracker = await conversation.load_tracker(channel._tracker_agent(request), handoff["conversation_id"], full=False)
            state = conversation.conversation_state(tracker)
            customer_id = handoff["customer_id"] or (state.get("slots") or {}).get("customer_id")
            panel = await _run(customer_360, handoff, customer_id, state.get("slots") or {})
            await _run(service.audit, agent["login"], "view_customer", handoff_id=handoff_id,
                       conversation_id=handoff["conversation_id"], address=_address(request))
            return _json({"ok": True, **panel})

        @bp.route("/api/handoffs/<handoff_id:int>/reply", methods=["POST"])
        @channel._route(agents_only, write=True)
        async def reply(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
            handoff = await channel._held_handoff(handoff_id, agent, admin_too=False)
            text = _body(request).get("text")
            if not isinstance(text, str) or not text.strip():
                return _error(400, "empty_text")
            if len(text) > MAX_REPLY:
                return _error(413, "text_too_long")
            text = text.strip()
            tracker_agent = channel._tracker_agent(request)
            delivered = await conversation.deliver(handoff["conversation_id"], text)
            await conversation.append_events(tracker_agent, handoff["conversation_id"],
                                             [conversation.agent_message(text, agent["login"])])
            await _run(service.audit, agent["login"], "reply", handoff_id=handoff_id,
                       conversation_id=handoff["conversation_id"], detail={"chars": len(text), "delivered": delivered},
                       address=_address(request))
            return _json({"ok": True, "delivered": delivered})

        @bp.route("/api/handoffs/<handoff_id:int>/notes", methods=["POST"])
        @channel._route(agents_only, write=True)
        async def note(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
            handoff = await channel._held_handoff(handoff_id, agent)
            text = _body(request).get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY:
                return _error(400, "invalid_note")
            saved = await _run(service.add_note, handoff_id, agent["login"], text.strip())
            await _run(service.audit, agent["login"], "note", handoff_id=handoff_id,
                       conversation_id=handoff["conversation_id"], address=_address(request))
            return _json({"ok": True, "note": saved})

        async def _finish(request: Request, agent: Dict[str, Any], handoff_id: int, status: str,
                          disposition: Optional[str]) -> HTTPResponse:
            handoff = await channel._held_handoff(handoff_id, agent)
            tracker_agent = channel._tracker_agent(request)
            done = await _run(service.end, handoff_id, agent["login"], status, disposition,
                              any_agent=agent["role"] == "admin")
            if not done:
                return _error(409, "not_active")
            message = texts.text("handed_back" if status == "returned" else "closed", handoff["language"])
            delivered = await conversation.deliver(handoff["conversation_id"], message, sender="system")
            await conversation.append_events(tracker_agent, handoff["conversation_id"], [
                SlotSet("handoff_active", False), conversation.system_message(message)])
            await _run(service.audit, agent["login"], "handback" if status == "returned" else "close",
                       handoff_id=handoff_id, conversation_id=handoff["conversation_id"],
                       detail={"disposition": disposition} if disposition else None, address=_address(request))
            return _json({"ok": True, "handoff": await _run(service.get_handoff, handoff_id), "delivered": delivered})

        @bp.route("/api/handoffs/<handoff_id:int>/handback", methods=["POST"])
        @channel._route(agents_only, write=True)
        async def handback(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
            _body(request)
            return await _finish(request, agent, handoff_id, "returned", None)

        @bp.route("/api/handoffs/<handoff_id:int>/close", methods=["POST"])
        @channel._route(agents_only, write=True)
        async def close(request: Request, agent: Dict[str, Any], handoff_id: int) -> HTTPResponse:
            disposition = _body(request).get("disposition")
            if disposition not in service.DISPOSITIONS:
                return _error(400, "invalid_disposition")
            return await _finish(request, agent, handoff_id, "closed", disposition)

        @bp.route("/api/canned", methods=["GET"])
        @channel._route(agents_only)
        async def canned(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
            return _json({"ok": True, "canned": load_canned(), "dispositions": list(service.DISPOSITIONS)})

        # -------------------------------------------------------------- analysts and admins
        @bp.route("/api/report", methods=["GET"])
        @channel._route(("analyst", "admin"))
        async def report(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
            await _run(service.audit, agent["login"], "report", address=_address(request))
            return _json({"ok": True, "report": await _run(service.report)})

        @bp.route("/api/agents", methods=["GET"])
        @channel._route(("admin",))
        async def agents(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
            return _json({"ok": True, "agents": await _run(service.list_agents)})

        @bp.route("/api/agents", methods=["POST"])
        @channel._route(("admin",), write=True)
        async def add_agent(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
            data = _body(request)
            try:
                created = await _run(service.create_agent, str(data.get("login") or ""), str(data.get("password") or ""),
                                     str(data.get("role") or "agent"), str(data.get("display_name") or ""))
            except service.AgentError as error:
                return _json({"ok": False, "error": "invalid_agent", "detail": str(error)}, 400)
            await _run(service.audit, agent["login"], "agent_create", detail={"login": created["login"],
                                                                               "role": created["role"]},
                       address=_address(request))
            return _json({"ok": True, "agent": created})

        @bp.route("/api/agents/<login>/active", methods=["POST"])
        @channel._route(("admin",), write=True)
        async def activate(request: Request, agent: Dict[str, Any], login: str) -> HTTPResponse:
            active = bool(_body(request).get("active"))
            try:
                await _run(service.set_active, login, active)
            except service.AgentError:
                return _error(404, "not_found")
            await _run(service.audit, agent["login"], "agent_activate" if active else "agent_deactivate",
                       detail={"login": login}, address=_address(request))
            return _json({"ok": True})

        @bp.route("/api/audit", methods=["GET"])
        @channel._route(("admin",))
        async def audit(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
            return _json({"ok": True, "audit": await _run(service.audit_log)})

        return bp


def _public(agent: Dict[str, Any]) -> Dict[str, Any]:
    return {k: agent[k] for k in ("login", "display_name", "role")}


def customer_360(handoff: Dict[str, Any], customer_id: Optional[str], slots: Dict[str, Any]) -> Dict[str, Any]:
    """Profile, orders, tickets, journey stage, earlier conversations and goals on every channel."""
    import sqlalchemy as sa

    from bot.db import session_scope

    panel: Dict[str, Any] = {"customer_id": customer_id, "profile": None, "orders": [], "tickets": [],
                             "journey": {"stage": slots.get("journey_stage") or handoff.get("journey_stage"),
                                         "goal": slots.get("goal"), "goal_status": slots.get("goal_status")},
                             "conversations": [], "goals": [], "handoffs": [], "crm_error": None}
    if customer_id:
        try:
            from bot.crm.factory import get_crm

            crm = get_crm()
            customer = crm.get_customer(customer_id)
            if customer is not None:
                panel["profile"] = {"name": customer.name, "phone": customer.phone, "email": customer.email,
                                    "language": customer.language,
                                    "since": customer.created_at.isoformat() if customer.created_at else None}
            panel["orders"] = [{"order_id": o.order_id, "status": o.status, "total": o.total,
                                "created_at": o.created_at.isoformat() if getattr(o, "created_at", None) else None,
                                "tracking_code": getattr(o, "tracking_code", None)}
                               for o in crm.list_orders(customer_id)[:20]]
            lister = getattr(crm, "list_tickets", None)
            if callable(lister):
                panel["tickets"] = [{"reference": t.reference, "subject": t.subject, "status": t.status}
                                    for t in lister(customer_id)[:20]]
        except Exception as error:  # noqa: BLE001 - the panel shows the CRM is unavailable
            logger.exception("console: CRM lookup failed")
            panel["crm_error"] = type(error).__name__
    try:
        from bot.touchpoints.models import Touchpoint
        from bot.touchpoints.privacy import stored_conversation_ids

        tp = Touchpoint.__table__
        # Touchpoints store an SMS conversation by its pseudonymous reference (sms:ref-…).
        current = stored_conversation_ids([handoff["conversation_id"]])
        condition = tp.c.conversation_id.in_(sorted(current))
        if customer_id:
            condition = sa.or_(condition, tp.c.customer_id == customer_id)
        with session_scope() as session:
            rows = session.execute(
                sa.select(tp.c.conversation_id, tp.c.channel, sa.func.min(tp.c.occurred_at), sa.func.max(tp.c.occurred_at),
                          sa.func.count()).where(condition).group_by(tp.c.conversation_id, tp.c.channel)
                .order_by(sa.func.max(tp.c.occurred_at).desc()).limit(30)).all()
        panel["conversations"] = [{"conversation_id": r[0], "channel": r[1],
                                   "first": r[2].isoformat() + "Z" if r[2] else None,
                                   "last": r[3].isoformat() + "Z" if r[3] else None, "turns": r[4],
                                   "current": r[0] in current} for r in rows]
    except Exception:  # noqa: BLE001
        logger.exception("console: touchpoints lookup failed")
    if customer_id:
        try:
            from bot.identity.profile import goal_history

            panel["goals"] = [{"goal": g.goal, "status": g.status, "channel": g.channel,
                               "conversation_id": g.conversation_id, "at": g.at.isoformat() + "Z"}
                              for g in goal_history(customer_id, limit=30)]
        except Exception:  # noqa: BLE001
            logger.exception("console: goal history lookup failed")
    # Handoffs keep the raw sender id (`sms:<phone>`), which touchpoints name only by reference.
    conversation_ids = sorted({c["conversation_id"] for c in panel["conversations"]} | {handoff["conversation_id"]})
    panel["handoffs"] = service.earlier_handoffs(conversation_ids, customer_id, handoff["id"])
    tickets = {t["reference"] for t in panel["tickets"]}
    for item in panel["handoffs"]:
        if item.get("ticket") and item["ticket"] not in tickets:
            panel["tickets"].append({"reference": item["ticket"], "subject": f"handoff {item['status']}", "status": None})
    return panel
