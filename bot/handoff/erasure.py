"""Erasure of a customer's handoff data (called by bot.touchpoints.erasure)."""

from __future__ import annotations

from typing import Dict, List

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.handoff.models import AuditEntry, Handoff, Note


def erase_customer_data(conn: Connection, customer_id: str, conversation_ids: List[str]) -> Dict[str, int]:
    """Delete notes and handoffs of the customer's conversations; anonymise their audit rows (who did what stays)."""
    handoffs = Handoff.__table__
    condition = handoffs.c.customer_id == customer_id
    if conversation_ids:
        condition = sa.or_(condition, handoffs.c.conversation_id.in_(conversation_ids))
    ids = list(conn.execute(sa.select(handoffs.c.id, handoffs.c.conversation_id).where(condition)))
    handoff_ids = [row[0] for row in ids]
    conversations = sorted(set(conversation_ids) | {row[1] for row in ids})
    deleted: Dict[str, int] = {"handoff_notes": 0, "handoff_conversations": 0, "handoff_audit (anonymised)": 0}
    if conversations:
        deleted["handoff_notes"] = conn.execute(
            Note.__table__.delete().where(Note.__table__.c.conversation_id.in_(conversations))).rowcount or 0
        deleted["handoff_audit (anonymised)"] = conn.execute(
            AuditEntry.__table__.update().where(AuditEntry.__table__.c.conversation_id.in_(conversations))
            .values(conversation_id=None, detail=None)).rowcount or 0
    if handoff_ids:
        deleted["handoff_conversations"] = conn.execute(handoffs.delete().where(handoffs.c.id.in_(handoff_ids))).rowcount or 0
    return deleted
