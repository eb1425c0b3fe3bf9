"""Wallet invoices for orders on a Bot-API messenger (Bale), behind a setting.

Bale bots can send an invoice (`sendInvoice`) that the customer pays from the
messenger (card or Bale wallet) into the shop's account given as
`provider_token`; Bale's own samples send `currency="IRR"` with amounts in Rial.
The shop turns this on with `HAMSAFAR_BALE_PAYMENTS=wallet` and
`HAMSAFAR_BALE_PROVIDER_TOKEN`; the payment link stays the other way to pay.

The flow, and what is checked where:

1. `action_place_order` adds `invoice_json(order, ...)` to its answer; channels
   without wallet invoices ignore that JSON message (it has no "text").
2. The output sends the invoice with payload `order:<order_id>`.
3. Before money moves, a `pre_checkout_query` is answered ok only if the order
   exists, still awaits payment, the amount and currency are the order's, and the
   payer's conversation is verified as the order's customer (`check_pre_checkout`).
4. A `successful_payment` message is stored once per charge in
   `messenger_payments` (`record_payment`) and confirmed to the customer. The CRM
   interface has no "mark paid", so the shop reconciles from that table.

Erasing a customer (`hamsafar erase`) unlinks their payments from their conversations
but keeps order, amount and charge ids: the shop's books need them, the person is gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot import settings
from ._platform import Platform
from bot.channels.models import MessengerPayment
from bot.channels.redaction import register_secret
from bot import schema
from bot.text.catalogue import text as catalogue_text
from bot.text.formatting import format_toman
from bot.text.persian import to_persian_digits

logger = logging.getLogger(__name__)

PAYLOAD_PREFIX = "order:"
CURRENCY = "IRR"        # what Bale's samples send; amounts are in Rial
RIAL_PER_TOMAN = 10     # the CRM keeps Toman
TITLE_MAX, DESCRIPTION_MAX = 32, 255  # sendInvoice limits as Bale's client libraries document them



@dataclass(frozen=True)
class InvoiceSettings:
    """The shop's wallet-invoice settings on one platform; None (from `from_env`) keeps
    invoices off, and the order's payment link stays the way to pay."""

    provider_token: str  # Bale: the card or wallet number the money is paid into

    @classmethod
    def from_env(cls, platform: Platform) -> Optional["InvoiceSettings"]:
        """`<ENV>_PAYMENTS=wallet` and `<ENV>_PROVIDER_TOKEN`; None when off or incomplete."""
        if not platform.wallet_invoices:
            return None
        if settings.value(platform.variable("PAYMENTS")) != "wallet":   # off, link, none (bot.settings checks)
            return None
        token = settings.env_secret(platform.variable("PROVIDER_TOKEN"))
        if not token:
            logger.warning("%s is unset; wallet invoices stay off", platform.variable("PROVIDER_TOKEN"))
            return None
        register_secret(token)
        return cls(token)


def invoice_json(order_id: str, total_toman: int, title: str, language: str = "fa") -> Dict[str, Any]:
    """The JSON message an action adds to offer a wallet invoice for an order."""
    return {"invoice": {"order_id": str(order_id), "total_toman": int(total_toman), "title": title,
                        "language": language}}


def invoice_parameters(invoice: Dict[str, Any], shop: InvoiceSettings) -> Optional[Dict[str, Any]]:
    """python-telegram-bot `send_invoice` arguments for an `invoice_json` request; None if malformed."""
    from telegram import LabeledPrice

    order_id = str(invoice.get("order_id") or "").strip()
    try:
        total = int(invoice.get("total_toman") or 0)
    except (TypeError, ValueError):
        return None
    if not order_id or len(order_id) > 64 or total <= 0:
        return None
    language = "en" if invoice.get("language") == "en" else "fa"
    shown_id = order_id if language == "en" else to_persian_digits(order_id)
    title = str(invoice.get("title") or shown_id).strip()[:TITLE_MAX] or shown_id
    description = catalogue_text("botapi.invoice_description", language, order_id=shown_id,
                                 total=format_toman(total, language))
    return {
        "title": title,
        "description": description[:DESCRIPTION_MAX],
        "payload": PAYLOAD_PREFIX + order_id,
        "provider_token": shop.provider_token,
        "currency": CURRENCY,
        "prices": [LabeledPrice(title, total * RIAL_PER_TOMAN)],
    }


def order_of_payload(payload: Optional[str]) -> Optional[str]:
    """The order id of an invoice payload we issued, else None."""
    if not payload or not payload.startswith(PAYLOAD_PREFIX):
        return None
    return payload[len(PAYLOAD_PREFIX):] or None


def check_pre_checkout(conversation_id: str, payload: Optional[str], currency: str, total_amount: int) -> bool:
    """May this payment go ahead? (blocking: a CRM lookup; run it off the event loop)."""
    from bot.crm.base import PENDING_PAYMENT
    from bot.crm.factory import get_crm
    from bot.identity.verification import customer_for

    order_id = order_of_payload(payload)
    if order_id is None:
        return False
    order = get_crm().get_order(order_id)
    if order is None or order.status != PENDING_PAYMENT:
        return False
    if currency != CURRENCY or int(total_amount) != int(order.total) * RIAL_PER_TOMAN:
        return False
    return customer_for(conversation_id) == str(order.customer_id)


def matches_its_order(conversation_id: str, payment: Any) -> bool:
    """A reported payment is for an order of this conversation's customer, in our currency and for
    the order's total — what `check_pre_checkout` let through (blocking: a CRM lookup)."""
    from bot.crm.factory import get_crm
    from bot.identity.verification import customer_for

    order_id = order_of_payload(getattr(payment, "invoice_payload", None))
    order = get_crm().get_order(order_id) if order_id else None
    if order is None or str(getattr(payment, "currency", "")) != CURRENCY:
        return False
    if int(getattr(payment, "total_amount", 0) or 0) != int(order.total) * RIAL_PER_TOMAN:
        return False
    return customer_for(conversation_id) == str(order.customer_id)


def record_payment(channel: str, conversation_id: str, payment: Any) -> Optional[Tuple[str, int]]:
    """Store a `successful_payment` once per charge; (order id, Toman) when new, else None."""
    order_id = order_of_payload(getattr(payment, "invoice_payload", None))
    charge = (getattr(payment, "telegram_payment_charge_id", None)
              or getattr(payment, "provider_payment_charge_id", None))
    if order_id is None or not charge:
        logger.warning("%s: a payment without our payload or a charge id was not recorded", channel)
        return None
    try:
        with schema.session() as session:
            session.add(MessengerPayment(
                channel=channel, charge_id=str(charge)[:200],
                provider_charge_id=(str(payment.provider_payment_charge_id)[:200]
                                    if getattr(payment, "provider_payment_charge_id", None) else None),
                order_id=order_id[:64], conversation_id=conversation_id[:200],
                amount=int(payment.total_amount), currency=str(payment.currency)[:8]))
    except sa.exc.IntegrityError:
        return None  # the same charge reported twice
    logger.info("%s: wallet payment recorded for order %s", channel, order_id)
    return order_id, int(payment.total_amount) // RIAL_PER_TOMAN


ERASED = "erased"


def erase_customer_data(conn: Connection, customer_id: str, conversation_ids: List[str]) -> Dict[str, int]:
    """`hamsafar erase`: the customer's payments lose their conversation (rows changed per table)."""
    table = MessengerPayment.__table__
    if not conversation_ids or not sa.inspect(conn).has_table(table.name):
        return {"messenger_payments": 0}
    changed = conn.execute(table.update().where(table.c.conversation_id.in_(conversation_ids))
                           .values(conversation_id=ERASED)).rowcount
    return {"messenger_payments": changed or 0}
