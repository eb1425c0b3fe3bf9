"""What a browser loads besides the API: the console's one page and its script and style
(`bot/handoff/static/`)."""

from __future__ import annotations

from pathlib import Path

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from ._http import SECURITY_HEADERS, error_reply

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_TYPES = {"console.js": "application/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}


async def root(request: Request, blueprint_name: str) -> HTTPResponse:
    """GET /: to the console page."""
    return response.redirect(request.app.url_for(f"{blueprint_name}.page"), headers=SECURITY_HEADERS)


async def page(request: Request) -> HTTPResponse:
    """GET /console: login and the app."""
    html = (STATIC_DIR / "console.html").read_text(encoding="utf-8")
    return response.html(html, headers=SECURITY_HEADERS)


async def static(request: Request, name: str) -> HTTPResponse:
    """GET /static/<name>: the page's script and style, nothing else."""
    if name not in STATIC_TYPES:
        return error_reply(404, "not_found")
    return await response.file(STATIC_DIR / name, mime_type=STATIC_TYPES[name],
                               headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})
