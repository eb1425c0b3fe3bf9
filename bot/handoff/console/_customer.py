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
        from bot.touchpoints.queries import conversations_of

        with schema.engine().connect() as conn:
            conversations = conversations_of(conn, handoff["conversation_id"], customer_id, limit=30)
        panel["conversations"] = [{"conversation_id": c.conversation_id, "channel": c.channel,
                                   "first": c.first.isoformat() + "Z" if c.first else None,
                                   "last": c.last.isoformat() + "Z" if c.last else None, "turns": c.turns,
                                   "current": c.current} for c in conversations]
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
