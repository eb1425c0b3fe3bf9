"""Erasing a customer (`hamsafar touchpoints erase`, bot.touchpoints.erasure.ERASERS):
their verifications, one-time codes and saved preferences (language) go too, so
no channel recognises them afterwards and no profile is carried over."""

from __future__ import annotations

from typing import Dict, List

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.channels import addresses
from bot.identity.models import CustomerPreference, OneTimeCode, VerifiedIdentity


def _codes_of(customer_id: str, conversation_ids: List[str]) -> "sa.sql.ColumnElement":
    """Codes sent to the customer, and codes asked for in their conversations (a number
    the CRM did not know has no customer id, but the code row still holds it)."""
    codes = OneTimeCode.__table__
    phones = [addresses.address_of(c) for c in conversation_ids if addresses.channel_of(c) == "sms"]
    return sa.or_(codes.c.customer_id == customer_id, codes.c.conversation_id.in_(conversation_ids),
                  codes.c.phone.in_(phones))


def erase_customer_data(conn: Connection, customer_id: str, conversation_ids: List[str]) -> Dict[str, int]:
    """Delete the customer's identity rows; rows deleted per table."""
    identities = VerifiedIdentity.__table__
    condition = identities.c.customer_id == customer_id
    if conversation_ids:
        condition = sa.or_(condition, sa.and_(identities.c.channel == "conversation",
                                              identities.c.external_id.in_(conversation_ids)))
    return {
        "verified_identities": conn.execute(identities.delete().where(condition)).rowcount or 0,
        "otp_codes": conn.execute(OneTimeCode.__table__.delete().where(_codes_of(customer_id, conversation_ids))).rowcount or 0,
        "customer_preferences": conn.execute(CustomerPreference.__table__.delete().where(
            CustomerPreference.__table__.c.customer_id == customer_id)).rowcount or 0,
    }
