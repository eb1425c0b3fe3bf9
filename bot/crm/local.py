"""Records Hamsafar keeps in its own database whatever the shop backend is.

Carts, tickets, return requests, feedback, referral codes and loyalty bonus
points: WooCommerce has no place for them, and the SQL backend stores them in
the same tables. `LocalStore` implements those `CRM` methods on top of the
backend's own `get_product` / `get_order` / `get_customer` / `list_orders`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bot import db
from bot.crm import base
from bot.crm.base import (
    ActionNotAllowed, Cart, CartItem, CRMUnavailable, Customer, Feedback, Loyalty, Order, Product, Reason,
    ReturnRequest, Ticket,
)
from bot.crm.models import (
    CartItemRow, FeedbackRow, LoyaltyRow, ReferralCodeRow, ReturnRequestRow, TicketRow,
)
from bot.crm.policy import ShopPolicy

REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_reference(prefix: str, length: int = 6) -> str:
    return prefix + "-" + "".join(secrets.choice(REF_ALPHABET) for _ in range(length))


def format_items(items: Iterable[CartItem]) -> str:
    return ";".join(f"{i.sku}:{i.quantity}" for i in items)


def parse_items(text: str) -> List[CartItem]:
    items = []
    for part in (text or "").split(";"):
        if part.strip():
            sku, _, qty = part.strip().rpartition(":")
            items.append(CartItem(sku.strip(), int(qty)))
    return items


def merge_items(items: Sequence[CartItem]) -> List[CartItem]:
    """Same sku once; positive integer quantities; at least one item."""
    merged: Dict[str, int] = {}
    for item in items:
        if not isinstance(item.quantity, int) or isinstance(item.quantity, bool) or item.quantity <= 0:
            raise ActionNotAllowed(Reason.INVALID, f"quantity of {item.sku} must be a positive integer",
                                   detail={"sku": item.sku, "quantity": item.quantity})
        merged[item.sku] = merged.get(item.sku, 0) + item.quantity
    if not merged:
        raise ActionNotAllowed(Reason.EMPTY, "no items")
    return [CartItem(sku, qty) for sku, qty in merged.items()]


def return_deadline(policy: ShopPolicy, order: Order, product: Optional[Product]) -> Tuple[int, Optional[dt.datetime]]:
    """(window days, deadline) for one product of a delivered order."""
    category = product.category if product else ""
    days = policy.return_days_for(category, product.return_days if product else None)
    delivered = order.delivered_at or order.shipped_at or order.created_at
    return days, (delivered + dt.timedelta(days=days) if delivered else None)


def check_return(policy: ShopPolicy, order: Order, items: Sequence[CartItem],
                 products: Dict[str, Optional[Product]], now: dt.datetime) -> Optional[dt.datetime]:
    """Raise ActionNotAllowed unless every item may be returned now; return the earliest deadline."""
    if order.status not in base.RETURNABLE_STATUSES:
        raise ActionNotAllowed(Reason.STATUS, f"order {order.order_id} is {order.status}; only delivered "
                               "orders can be returned", status=order.status)
    ordered = {i.sku: i.quantity for i in order.items}
    deadlines = []
    for item in items:
        if item.sku not in ordered or item.quantity > ordered[item.sku]:
            raise ActionNotAllowed(Reason.INVALID, f"{item.sku} x{item.quantity} is not in order {order.order_id}",
                                   detail={"sku": item.sku})
        days, deadline = return_deadline(policy, order, products.get(item.sku))
        if days <= 0:
            raise ActionNotAllowed(Reason.NOT_RETURNABLE, f"{item.sku} cannot be returned", detail={"sku": item.sku})
        if deadline is None or now > deadline:
            raise ActionNotAllowed(Reason.RETURN_WINDOW_EXPIRED,
                                   f"the {days}-day return window of {item.sku} ended on {deadline:%Y-%m-%d}",
                                   detail={"sku": item.sku, "deadline": deadline, "days": days})
        deadlines.append(deadline)
    return min(deadlines) if deadlines else None


def ticket_from_row(row: TicketRow) -> Ticket:
    return Ticket(row.reference, row.customer_id, row.subject, row.description, row.category,
                  row.order_id, row.status, row.channel, row.created_at)


def return_from_row(row: ReturnRequestRow) -> ReturnRequest:
    return ReturnRequest(row.reference, row.order_id, row.customer_id, parse_items(row.items),
                         row.reason, row.status, row.deadline, row.created_at)


class Guard:
    """`bot.db.session_scope` that turns database outages into CRMUnavailable."""

    def __init__(self, url: str) -> None:
        self._scope = db.session_scope(url)

    def __enter__(self) -> Session:
        try:
            return self._scope.__enter__()
        except (OperationalError, DBAPIError) as error:
            raise CRMUnavailable(f"database unavailable: {error.__class__.__name__}") from error

    def __exit__(self, kind, value, traceback):  # type: ignore[no-untyped-def]
        try:
            handled = self._scope.__exit__(kind, value, traceback)
        except IntegrityError:
            raise
        except (OperationalError, DBAPIError) as error:
            raise CRMUnavailable(f"database unavailable: {error.__class__.__name__}") from error
        if kind is not None and issubclass(kind, DBAPIError) and not issubclass(kind, IntegrityError):
            raise CRMUnavailable(f"database unavailable: {kind.__name__}") from value
        return handled


class LocalStore:
    """Mixin: the CRM methods stored in our database (see module docstring)."""

    local_url: str
    policy: ShopPolicy
    clock: Callable[[], dt.datetime]

    # provided by the backend
    def get_product(self, sku: str) -> Optional[Product]: raise NotImplementedError
    def get_order(self, order_id: str) -> Optional[Order]: raise NotImplementedError
    def get_customer(self, customer_id: str) -> Optional[Customer]: raise NotImplementedError
    def list_orders(self, customer_id: str, *, status: Optional[str] = None, limit: int = 20) -> List[Order]:
        raise NotImplementedError

    def _local(self) -> Guard:
        return Guard(self.local_url)

    # ------------------------------------------------------------------ carts
    def _cart(self, session: Session, owner: str) -> Cart:
        rows = list(session.execute(sa.select(CartItemRow).where(CartItemRow.owner == owner)
                                    .order_by(CartItemRow.added_at, CartItemRow.sku)).scalars())
        return Cart(owner, [CartItem(r.sku, r.quantity) for r in rows],
                    max((r.updated_at for r in rows), default=None))

    def get_cart(self, owner: str) -> Cart:
        with self._local() as s:
            return self._cart(s, owner)

    def add_to_cart(self, owner: str, sku: str, quantity: int = 1) -> Cart:
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise ActionNotAllowed(Reason.INVALID, "quantity must be a positive integer")
        product = self.get_product(sku)
        if product is None:
            raise ActionNotAllowed(Reason.UNKNOWN_PRODUCT, f"no product {sku}", detail={"sku": sku})
        with self._local() as s:
            row = s.get(CartItemRow, (owner, product.sku))
            wanted = quantity + (row.quantity if row else 0)
            if product.stock < wanted:
                raise ActionNotAllowed(Reason.OUT_OF_STOCK, f"only {product.stock} of {product.sku} left",
                                       detail={"sku": product.sku, "stock": product.stock})
            now = self.clock()
            if row is None:
                s.add(CartItemRow(owner=owner, sku=product.sku, quantity=wanted, added_at=now, updated_at=now))
            else:
                row.quantity, row.updated_at = wanted, now
            s.flush()
            return self._cart(s, owner)

    def remove_from_cart(self, owner: str, sku: str) -> Cart:
        with self._local() as s:
            s.execute(sa.delete(CartItemRow).where(CartItemRow.owner == owner,
                                                   CartItemRow.sku.in_([sku, (sku or "").strip().upper()])))
            return self._cart(s, owner)

    def clear_cart(self, owner: str) -> None:
        with self._local() as s:
            s.execute(sa.delete(CartItemRow).where(CartItemRow.owner == owner))

    # ------------------------------------------------------------------ returns
    def create_return_request(self, order_id: str, *, items: Optional[Sequence[CartItem]] = None,
                              reason: str = "") -> ReturnRequest:
        order = self.get_order(order_id)
        if order is None:
            raise ActionNotAllowed(Reason.UNKNOWN_ORDER, f"no order {order_id}")
        wanted = merge_items(items) if items else [CartItem(i.sku, i.quantity) for i in order.items]
        products = {i.sku: self.get_product(i.sku) for i in wanted}
        deadline = check_return(self.policy, order, wanted, products, self.clock())
        with self._local() as s:
            existing = s.execute(sa.select(ReturnRequestRow).where(
                ReturnRequestRow.order_id == order.order_id, ReturnRequestRow.items == format_items(wanted),
                ReturnRequestRow.status == "requested")).scalars().first()
            if existing is not None:  # asking again gets the same reference
                return return_from_row(existing)
            reference = new_reference("R")
            while s.get(ReturnRequestRow, reference) is not None:
                reference = new_reference("R")
            row = ReturnRequestRow(reference=reference, order_id=order.order_id, customer_id=order.customer_id,
                                   items=format_items(wanted), reason=reason or "", status="requested",
                                   deadline=deadline, created_at=self.clock())
            s.add(row)
            s.flush()
            return return_from_row(row)

    def get_return_request(self, reference: str) -> Optional[ReturnRequest]:
        with self._local() as s:
            row = s.get(ReturnRequestRow, (reference or "").strip().upper())
            return return_from_row(row) if row else None

    # ------------------------------------------------------------------ tickets
    def open_ticket(self, customer_id: Optional[str], subject: str, *, description: str = "",
                    category: str = "general", order_id: Optional[str] = None,
                    channel: Optional[str] = None) -> Ticket:
        with self._local() as s:
            reference = new_reference("T")
            while s.get(TicketRow, reference) is not None:
                reference = new_reference("T")
            row = TicketRow(reference=reference, customer_id=customer_id, subject=(subject or "-")[:300],
                            description=description or "", category=category or "general", order_id=order_id,
                            status="open", channel=channel, created_at=self.clock())
            s.add(row)
            s.flush()
            return ticket_from_row(row)

    def get_ticket(self, reference: str) -> Optional[Ticket]:
        with self._local() as s:
            row = s.get(TicketRow, (reference or "").strip().upper())
            return ticket_from_row(row) if row else None

    # ------------------------------------------------------------------ feedback
    def record_feedback(self, kind: str, score: int, *, customer_id: Optional[str] = None,
                        comment: str = "", order_id: Optional[str] = None,
                        conversation_id: Optional[str] = None, channel: Optional[str] = None) -> Feedback:
        base.check_feedback(kind, score)
        with self._local() as s:
            row = FeedbackRow(kind=kind, score=score, customer_id=customer_id, comment=comment or "",
                              order_id=order_id, conversation_id=conversation_id, channel=channel,
                              created_at=self.clock())
            s.add(row)
            s.flush()
            return Feedback(kind, score, customer_id, row.comment, order_id, conversation_id, channel,
                            row.created_at, row.id)

    # ------------------------------------------------------------------ referral and loyalty
    def referral_code(self, customer_id: str) -> str:
        customer_id = str(customer_id)
        with self._local() as s:
            row = s.get(ReferralCodeRow, customer_id)
            if row is not None:
                return row.code
        if self.get_customer(customer_id) is None:
            raise ActionNotAllowed(Reason.UNKNOWN_CUSTOMER, f"no customer {customer_id}")
        for _ in range(5):
            try:
                with self._local() as s:
                    row = s.get(ReferralCodeRow, customer_id)
                    if row is not None:
                        return row.code
                    code = "HMS" + "".join(secrets.choice(REF_ALPHABET) for _ in range(6))
                    s.add(ReferralCodeRow(customer_id=customer_id, code=code, created_at=self.clock()))
                    s.flush()
                    return code
            except IntegrityError:  # created concurrently, or a code collision: read again / retry
                continue
        raise CRMUnavailable("could not create a referral code")

    def customer_for_referral_code(self, code: str) -> Optional[str]:
        with self._local() as s:
            return s.execute(sa.select(ReferralCodeRow.customer_id).where(
                ReferralCodeRow.code == (code or "").strip().upper())).scalar_one_or_none()

    def _delivered_total(self, customer_id: str) -> int:
        return sum(o.total for o in self.list_orders(customer_id, status=base.DELIVERED, limit=1000))

    def _bonus_points(self, customer_id: str) -> int:
        with self._local() as s:
            return int(s.execute(sa.select(LoyaltyRow.bonus_points).where(
                LoyaltyRow.customer_id == str(customer_id))).scalar_one_or_none() or 0)

    def loyalty(self, customer_id: str) -> Optional[Loyalty]:
        if self.get_customer(str(customer_id)) is None:
            return None
        points = self._delivered_total(str(customer_id)) // self.policy.toman_per_point
        return self.policy.loyalty_for(str(customer_id), points + self._bonus_points(customer_id))

    def add_bonus_points(self, customer_id: str, points: int) -> Optional[Loyalty]:
        with self._local() as s:
            row = s.get(LoyaltyRow, str(customer_id))
            if row is None:
                row = LoyaltyRow(customer_id=str(customer_id), bonus_points=0)
                s.add(row)
            row.bonus_points = int(row.bonus_points or 0) + int(points)
            row.updated_at = self.clock()
        return self.loyalty(customer_id)
