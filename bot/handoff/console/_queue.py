"""The conversations an agent works from: the queue (waiting and active handoffs) and the
canned replies (`bot/handoff/data/canned.yml`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import yaml
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff import service

from ._guard import AGENTS, guarded
from ._http import json_reply, run

CANNED_FILE = Path(__file__).resolve().parent.parent / "data" / "canned.yml"

# what an agent sees of another agent's active conversation: only that it exists
SUMMARY_FIELDS = ("id", "status", "agent", "language", "channel", "journey_stage", "waiting_seconds", "requested_at")


def load_canned() -> Dict[str, List[Dict[str, str]]]:
    """The canned replies, Persian and English, as `{lang: [{"title", "text"}]}`."""
    data = yaml.safe_load(CANNED_FILE.read_text(encoding="utf-8")) or {}
    return {lang: [{"title": str(i["title"]), "text": str(i["text"])} for i in data.get(lang, [])] for lang in ("fa", "en")}


@guarded(AGENTS)
async def queue(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
    """GET /api/queue: waiting handoffs (position, waiting time, language, stage) and active ones."""
    items = await run(service.list_queue)
    if agent["role"] != "admin":
        items = [i if i["status"] == "waiting" or i["agent"] == agent["login"] else
                 {k: i[k] for k in SUMMARY_FIELDS} for i in items]
    return json_reply({"ok": True, "queue": items})


@guarded(AGENTS)
async def canned(request: Request, agent: Dict[str, Any]) -> HTTPResponse:
    """GET /api/canned: canned replies and the dispositions a conversation may be closed with."""
    return json_reply({"ok": True, "canned": load_canned(), "dispositions": list(service.DISPOSITIONS)})
