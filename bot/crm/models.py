"""SQL tables of the CRM (the SQL backend's storage and the analysts' interface).

All timestamps are stored as UTC without a zone (`UTCDateTime` re-attaches UTC
on read), all money as integer Toman. Documented in docs/crm.md.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from bot.db import Base, register_migration


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as naive UTC; returns aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class CustomerRow(Base):
    """Table `customers` of the SQL CRM."""

    __tablename__ = "customers"
    customer_id = sa.Column(sa.String(64), primary_key=True)
    name = sa.Column(sa.String(200), nullable=False)
    phone = sa.Column(sa.String(20), index=True)            # E.164
    email = sa.Column(sa.String(254), index=True)           # lower case
    language = sa.Column(sa.String(2), nullable=False, default="fa")
    # IANA time zone of the customer (quiet hours, local days); empty: the shop's, Asia/Tehran by default
    timezone = sa.Column(sa.String(64), nullable=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=_now)
    updated_at = sa.Column(UTCDateTime, nullable=False, default=_now, onupdate=_now)


class ProductRow(Base):
    """Table `products`: the catalogue of the SQL CRM."""

    __tablename__ = "products"
    sku = sa.Column(sa.String(64), primary_key=True)
    name_fa = sa.Column(sa.String(300), nullable=False)
    name_en = sa.Column(sa.String(300), nullable=False)
    category = sa.Column(sa.String(64), nullable=False, index=True)
    price = sa.Column(sa.BigInteger, nullable=False)         # Toman
    stock = sa.Column(sa.Integer, nullable=False, default=0)
    warranty_months = sa.Column(sa.Integer, nullable=False, default=0)
    return_days = sa.Column(sa.Integer)                      # null: shop policy for the category
    search_text = sa.Column(sa.Text, nullable=False, default="")  # normalised fa+en+sku+category words
    updated_at = sa.Column(UTCDateTime, nullable=False, default=_now, onupdate=_now)


class OrderRow(Base):
    """Table `orders` of the SQL CRM."""

    __tablename__ = "orders"
    order_id = sa.Column(sa.String(32), primary_key=True)
    customer_id = sa.Column(sa.String(64), sa.ForeignKey("customers.customer_id"), nullable=False, index=True)
    status = sa.Column(sa.String(20), nullable=False, index=True)
    created_at = sa.Column(UTCDateTime, nullable=False, index=True)
    updated_at = sa.Column(UTCDateTime, nullable=False, default=_now)
    total = sa.Column(sa.BigInteger, nullable=False)         # Toman, after discount
    tracking_code = sa.Column(sa.String(64))
    carrier = sa.Column(sa.String(64))
    paid_at = sa.Column(UTCDateTime)
    shipped_at = sa.Column(UTCDateTime)
    delivered_at = sa.Column(UTCDateTime)
    shipping_address = sa.Column(sa.Text)
    delivery_time = sa.Column(sa.String(100))
    discount_code = sa.Column(sa.String(64))
    discount_amount = sa.Column(sa.BigInteger, nullable=False, default=0)
    cancel_reason = sa.Column(sa.Text)


class OrderItemRow(Base):
    """Table `order_items`: the lines of an order."""

    __tablename__ = "order_items"
    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    order_id = sa.Column(sa.String(32), sa.ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False, index=True)
    position = sa.Column(sa.Integer, nullable=False, default=0)
    sku = sa.Column(sa.String(64), sa.ForeignKey("products.sku"), nullable=False, index=True)
    quantity = sa.Column(sa.Integer, nullable=False)
    unit_price = sa.Column(sa.BigInteger, nullable=False)    # Toman at order time


class CartItemRow(Base):
    """Table `carts`: one SKU put aside by a customer or a conversation (kept for every CRM backend)."""

    __tablename__ = "carts"
    owner = sa.Column(sa.String(200), primary_key=True)      # customer id or conversation id
    sku = sa.Column(sa.String(64), primary_key=True)
    quantity = sa.Column(sa.Integer, nullable=False)
    added_at = sa.Column(UTCDateTime, nullable=False, default=_now)
    updated_at = sa.Column(UTCDateTime, nullable=False, default=_now)


class TicketRow(Base):
    """Table `tickets`: support tickets the bot opened."""

    __tablename__ = "tickets"
    reference = sa.Column(sa.String(20), primary_key=True)
    customer_id = sa.Column(sa.String(64), index=True)
    subject = sa.Column(sa.String(300), nullable=False)
    description = sa.Column(sa.Text, nullable=False, default="")
    category = sa.Column(sa.String(32), nullable=False, default="general")
    order_id = sa.Column(sa.String(32), index=True)
    status = sa.Column(sa.String(20), nullable=False, default="open")
    channel = sa.Column(sa.String(32))
    created_at = sa.Column(UTCDateTime, nullable=False, default=_now)


class ReturnRequestRow(Base):
    """Table `return_requests` (kept for every CRM backend; orders may live elsewhere)."""

    __tablename__ = "return_requests"
    reference = sa.Column(sa.String(20), primary_key=True)
    order_id = sa.Column(sa.String(32), nullable=False, index=True)     # no FK: orders may live in WooCommerce
    customer_id = sa.Column(sa.String(64), nullable=False, index=True)
    items = sa.Column(sa.Text, nullable=False)               # "sku:qty;sku:qty"
    reason = sa.Column(sa.Text, nullable=False, default="")
    status = sa.Column(sa.String(20), nullable=False, default="requested")
    deadline = sa.Column(UTCDateTime)
    created_at = sa.Column(UTCDateTime, nullable=False, default=_now)


class DiscountCodeRow(Base):
    """Table `discount_codes`: the shop's codes and their rules."""

    __tablename__ = "discount_codes"
    code = sa.Column(sa.String(64), primary_key=True)        # upper case
    kind = sa.Column(sa.String(10), nullable=False)          # percent | fixed
    value = sa.Column(sa.BigInteger, nullable=False)
    min_total = sa.Column(sa.BigInteger, nullable=False, default=0)
    max_discount = sa.Column(sa.BigInteger)
    usage_limit = sa.Column(sa.Integer)
    used_count = sa.Column(sa.Integer, nullable=False, default=0)
    starts_at = sa.Column(UTCDateTime)
    expires_at = sa.Column(UTCDateTime)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    description_fa = sa.Column(sa.Text, nullable=False, default="")
    description_en = sa.Column(sa.Text, nullable=False, default="")


class FeedbackRow(Base):
    """Table `feedback`: CSAT and NPS answers."""

    __tablename__ = "feedback"
    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    kind = sa.Column(sa.String(8), nullable=False, index=True)   # csat | nps
    score = sa.Column(sa.Integer, nullable=False)
    customer_id = sa.Column(sa.String(64), index=True)
    comment = sa.Column(sa.Text, nullable=False, default="")
    order_id = sa.Column(sa.String(32))
    conversation_id = sa.Column(sa.String(200))
    channel = sa.Column(sa.String(32))
    created_at = sa.Column(UTCDateTime, nullable=False, default=_now, index=True)


class ReviewRow(Base):
    """Table `reviews`: product reviews customers left in a conversation."""

    __tablename__ = "reviews"
    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    customer_id = sa.Column(sa.String(64), nullable=False, index=True)
    sku = sa.Column(sa.String(64), nullable=False, index=True)
    rating = sa.Column(sa.Integer, nullable=False)
    text = sa.Column(sa.Text, nullable=False, default="")
    order_id = sa.Column(sa.String(32))
    created_at = sa.Column(UTCDateTime, nullable=False, default=_now)


class ReferralCodeRow(Base):
    """Table `referral_codes`: each customer's own code to share."""

    __tablename__ = "referral_codes"
    customer_id = sa.Column(sa.String(64), primary_key=True)
    code = sa.Column(sa.String(32), nullable=False, unique=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=_now)


class LoyaltyRow(Base):
    """Table `loyalty`: bonus points on top of those earned by delivered orders."""

    __tablename__ = "loyalty"
    customer_id = sa.Column(sa.String(64), primary_key=True)
    bonus_points = sa.Column(sa.Integer, nullable=False, default=0)   # on top of points from delivered orders
    updated_at = sa.Column(UTCDateTime, nullable=False, default=_now)


@register_migration("crm", 1)
def add_customer_timezone(conn: sa.engine.Connection) -> None:
    """Customer tables created before customers had a time zone get the (empty) `timezone` column."""
    existing = {c["name"] for c in sa.inspect(conn).get_columns("customers")}
    if "timezone" not in existing:
        conn.execute(sa.text("ALTER TABLE customers ADD COLUMN timezone VARCHAR(64)"))
