"""A web conversation's stored messages (`web_messages`): append, retract, read back.

Every change is pushed to the conversation's live event streams (`_live.notify`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set

import sqlalchemy as sa

from bot.channels.models import WebMessage, utcnow
from bot import schema

from ._live import notify

SENDERS = ("customer", "bot", "agent", "system")


def _as_dict(row: WebMessage) -> Dict[str, Any]:
    return {
        "seq": row.seq,
        "sender": row.sender,
        "text": row.text,
        "buttons": row.buttons or [],
        "at": row.created_at.isoformat() + "Z",
    }


def append_message(session_id: str, sender: str, text: str, buttons: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """Store a message with the next `seq` of its conversation and push it to live listeners."""
    assert sender in SENDERS
    clean_buttons = [
        {"title": str(b.get("title") or b.get("payload") or ""), "payload": str(b.get("payload") or b.get("title") or "")}
        for b in (buttons or [])
    ] or None
    for _ in range(20):
        try:
            with schema.session() as session:
                last = session.execute(
                    sa.select(sa.func.max(WebMessage.seq)).where(WebMessage.session_id == session_id)
                ).scalar()
                row = WebMessage(session_id=session_id, seq=(last or 0) + 1, sender=sender, text=text,
                                 buttons=clean_buttons, created_at=utcnow())
                session.add(row)
                session.flush()
                message = _as_dict(row)
            notify(session_id, {"type": "message", "message": message})
            return message
        except sa.exc.IntegrityError:  # a concurrent append took this seq: take the next
            continue
    raise RuntimeError("could not number a web message")


def retract_message(session_id: str, seq: int) -> None:
    """Remove a customer message the bot could not handle (the client keeps the text and retries)."""
    with schema.session() as session:
        session.execute(sa.delete(WebMessage).where(WebMessage.session_id == session_id, WebMessage.seq == seq,
                                                    WebMessage.sender == "customer"))
    notify(session_id, {"type": "retract", "seq": seq})


def history(session_id: str, after: int = 0, limit: int = 500) -> List[Dict[str, Any]]:
    with schema.session() as session:
        rows = session.execute(
            sa.select(WebMessage).where(WebMessage.session_id == session_id, WebMessage.seq > after)
            .order_by(WebMessage.seq).limit(limit)
        ).scalars().all()
        return [_as_dict(r) for r in rows]


def offered_payloads(session_id: str, lookback: int = 20) -> Set[str]:
    """The button payloads the bot (or an agent) offered lately in this conversation."""
    with schema.session() as session:
        rows = session.execute(
            sa.select(WebMessage.buttons).where(WebMessage.session_id == session_id, WebMessage.sender != "customer")
            .order_by(WebMessage.seq.desc()).limit(lookback)
        ).scalars().all()
    return {b.get("payload") for buttons in rows if buttons for b in buttons}
