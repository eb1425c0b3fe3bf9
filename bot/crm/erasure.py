"""Erasing a customer (`hamsafar erase`, bot.touchpoints.erasure.ERASERS) from the CRM tables in our database.

With the `sql` backend these tables are the shop's CRM; with WooCommerce or REST
only carts, tickets, return requests, feedback, referral codes and loyalty points
live here (the shop erases the customer in its own system). Orders stay for the
shop's books — id, amounts, status — but lose the shipping address and cancel
reason; the customer row stays as an empty shell (orders point at it) without
name, phone or email. Everything else of the customer is deleted.
"""

from __future__ import annotations

from typing import Dict, List

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.crm.models import (CartItemRow, CustomerRow, FeedbackRow, LoyaltyRow, OrderRow, ReferralCodeRow,
                            ReturnRequestRow, ReviewRow, TicketRow)

ERASED_NAME = "(erased)"


def erase_customer_data(conn: Connection, customer_id: str, conversation_ids: List[str]) -> Dict[str, int]:
    """Delete the customer's CRM records, blank what the shop's books keep; rows per table."""
    deleted: Dict[str, int] = {}
    for model in (TicketRow, ReturnRequestRow, ReviewRow, ReferralCodeRow, LoyaltyRow):
        table = model.__table__
        deleted[table.name] = conn.execute(table.delete().where(table.c.customer_id == customer_id)).rowcount or 0
    feedback, carts = FeedbackRow.__table__, CartItemRow.__table__
    theirs = feedback.c.customer_id == customer_id
    owners = [customer_id, *conversation_ids]
    if conversation_ids:
        theirs = sa.or_(theirs, feedback.c.conversation_id.in_(conversation_ids))
    deleted["feedback"] = conn.execute(feedback.delete().where(theirs)).rowcount or 0
    deleted["carts"] = conn.execute(carts.delete().where(carts.c.owner.in_(owners))).rowcount or 0
    orders, customers = OrderRow.__table__, CustomerRow.__table__
    deleted["orders (address blanked)"] = conn.execute(orders.update().where(orders.c.customer_id == customer_id)
                                                       .values(shipping_address=None, cancel_reason=None)).rowcount or 0
    deleted["customers (anonymised)"] = conn.execute(customers.update().where(customers.c.customer_id == customer_id)
                                                     .values(name=ERASED_NAME, phone=None, email=None)).rowcount or 0
    return deleted
