"""Signing in and out of the console: a rate-limited login that sets the HttpOnly session
cookie and hands the page its CSRF token, who is signed in, and log out."""

from __future__ import annotations

from typing import Any, Dict

from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff import config, service

from ._guard import ANYONE, guarded
from ._http import COOKIE, COOKIE_PATH, ApiError, client_address, error_reply, json_body, json_reply, run, same_origin


def public(agent: Dict[str, Any]) -> Dict[str, Any]:
    """What the page may know of an agent."""
    return {k: agent[k] for k in ("login", "display_name", "role")}


async def login(request: Request) -> HTTPResponse:
    """POST /api/login `{"login", "password"}`: a server-side session, limited per login and address."""
    try:
        data = json_body(request)
    except ApiError as error:
        return error_reply(error.status, error.code)
    if not same_origin(request):
        return error_reply(403, "csrf")
    name, password = data.get("login"), data.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or len(password) > 1000 \
            or any(0xD800 <= ord(c) <= 0xDFFF for c in name + password):  # lone surrogates: not UTF-8
        return error_reply(400, "invalid_credentials_format")
    address = client_address(request)
    try:
        agent = await run(service.authenticate, name, password, address)
    except service.RateLimited:
        await run(service.audit, name.strip().lower()[:64] or "-", "login_rate_limited", address=address)
        return json_reply({"ok": False, "error": "too_many_attempts"}, 429)
    if agent is None:
        await run(service.audit, name.strip().lower()[:64] or "-", "login_failed", address=address)
        return error_reply(401, "wrong_login_or_password")
    session = await run(service.create_session, agent["id"])
    await run(service.audit, agent["login"], "login", address=address)
    reply = json_reply({"ok": True, "agent": public(agent), "csrf": session["csrf"]})
    reply.cookies[COOKIE] = session["token"]
    reply.cookies[COOKIE]["httponly"] = True
    reply.cookies[COOKIE]["samesite"] = "Strict"
    reply.cookies[COOKIE]["path"] = COOKIE_PATH
    reply.cookies[COOKIE]["max-age"] = int(service.SESSION_LIFETIME.total_seconds())
    if config.secure_cookie():
        reply.cookies[COOKIE]["secure"] = True
    return reply


@guarded(ANYONE)
async def me(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
    """GET /api/me: who is signed in, and the session's CSRF token (after a reload)."""
    return json_reply({"ok": True, "agent": public(agent), "csrf": agent["csrf"]})


@guarded(ANYONE, write=True)
async def logout(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
    """POST /api/logout: the session ends server-side and the cookie is cleared."""
    await run(service.end_session, request.cookies.get(COOKIE))
    await run(service.audit, agent["login"], "logout", address=client_address(request))
    reply = json_reply({"ok": True})
    reply.cookies[COOKIE] = ""
    reply.cookies[COOKIE]["max-age"] = 0
    reply.cookies[COOKIE]["path"] = COOKIE_PATH
    return reply
