"""The customer's 360° panel beside a handed-off conversation: profile, orders and tickets from
the CRM, the journey stage and goal, earlier conversations on every channel (touchpoints),
goal history and earlier handoffs. Each source may fail on its own; the panel says so."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from bot.handoff import service

logger = logging.getLogger(__package__)  # "bot.handoff.console", as before the package split


def customer_360(handoff: Dict[str, Any], customer_id: Optional[str], slots: Dict[str, Any]) -> Dict[str, Any]:
    """Profile, orders, tickets, journey stage, earlier conversations and goals on every channel."""
    import sqlalchemy as sa

    from bot import schema

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
        with schema.session() as session:
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
