"""SQL backend of the CRM (SQLAlchemy; SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bot import db, schema
from bot.crm import base
from bot.crm.base import (
    CRM, ActionNotAllowed, CartItem, CRMUnavailable, Customer, DiscountCheck, DiscountCode, Order, OrderItem,
    Product, Reason, Review,
)
from bot.crm.local import Guard, LocalStore
from bot.crm.local import merge_items as _merge
from bot.crm.models import CustomerRow, DiscountCodeRow, OrderItemRow, OrderRow, ProductRow, ReviewRow
from bot.crm.policy import ShopPolicy, load_policy
from bot.text.identifiers import normalise_email, normalise_phone
from bot.text.persian import ZWNJ, normalise

FIRST_ORDER_ID = 100001


def search_key(text: str) -> str:
    """Form used for product search: Persian-normalised, lower case, ZWNJ as space."""
    return " ".join(normalise(text or "").replace(ZWNJ, " ").lower().split())


def product_search_text(sku: str, name_fa: str, name_en: str, category: str, policy: ShopPolicy) -> str:
    parts = [sku, name_fa, name_en, category] + policy.category_words(category)
    return " | ".join(search_key(p) for p in parts if p)


def _customer(row: CustomerRow) -> Customer:
    return Customer(row.customer_id, row.name, row.phone, row.email, row.language, row.created_at, row.timezone)


def _product(row: ProductRow) -> Product:
    return Product(row.sku, row.name_fa, row.name_en, row.category, int(row.price), int(row.stock),
                   int(row.warranty_months), row.return_days)


def _discount(row: DiscountCodeRow) -> DiscountCode:
    return DiscountCode(row.code, row.kind, int(row.value), int(row.min_total),
                        None if row.max_discount is None else int(row.max_discount), row.usage_limit,
                        row.used_count, row.starts_at, row.expires_at, bool(row.active),
                        row.description_fa, row.description_en)


def discount_amount(code: DiscountCode, total: int) -> int:
    if code.kind == "percent":
        amount = total * code.value // 100
        if code.max_discount is not None:
            amount = min(amount, code.max_discount)
    else:
        amount = code.value
    return max(0, min(amount, total))


def check_discount(code: Optional[DiscountCode], raw_code: str, total: int, now: dt.datetime) -> DiscountCheck:
    """The shared discount rules (also used by the WooCommerce backend)."""
    key = (raw_code or "").strip().upper()
    if code is None:
        return DiscountCheck(key, False, Reason.UNKNOWN_CODE, 0, total)
    check = DiscountCheck(code.code, False, None, 0, total, code.min_total, code.expires_at)
    if not code.active:
        check.reason = Reason.INACTIVE
    elif code.starts_at is not None and now < code.starts_at:
        check.reason = Reason.NOT_STARTED
    elif code.expires_at is not None and now >= code.expires_at:
        check.reason = Reason.EXPIRED
    elif code.usage_limit is not None and code.used_count >= code.usage_limit:
        check.reason = Reason.USAGE_LIMIT
    elif total < code.min_total:
        check.reason = Reason.MIN_TOTAL
    else:
        check.valid = True
        check.discount_amount = discount_amount(code, total)
        check.new_total = total - check.discount_amount
    return check


class SQLCRM(LocalStore, CRM):
    """The CRM in our own database (tables documented in docs/crm.md)."""

    def __init__(self, url: Optional[str] = None, *, policy: Optional[ShopPolicy] = None,
                 clock: Callable[[], dt.datetime] = base.utcnow, create_tables: bool = True) -> None:
        self.url = self.local_url = url or db.settings.database_url()
        self.policy = policy or load_policy()
        self.clock = clock
        if create_tables:
            try:
                schema.engine(self.url)
            except (OperationalError, DBAPIError) as error:
                raise CRMUnavailable(f"database unavailable: {error.__class__.__name__}") from error

    # ------------------------------------------------------------------ plumbing
    def _session(self):  # type: ignore[no-untyped-def]
        return Guard(self.url)

    def _order(self, session: Session, row: OrderRow) -> Order:
        items = session.execute(
            sa.select(OrderItemRow, ProductRow).join(ProductRow, ProductRow.sku == OrderItemRow.sku, isouter=True)
            .where(OrderItemRow.order_id == row.order_id).order_by(OrderItemRow.position, OrderItemRow.id)
        ).all()
        return Order(
            order_id=row.order_id, customer_id=row.customer_id, status=row.status, created_at=row.created_at,
            total=int(row.total),
            items=[OrderItem(i.sku, i.quantity, int(i.unit_price), p.name_fa if p else "", p.name_en if p else "")
                   for i, p in items],
            tracking_code=row.tracking_code, carrier=row.carrier, updated_at=row.updated_at,
            paid_at=row.paid_at, shipped_at=row.shipped_at, delivered_at=row.delivered_at,
            shipping_address=row.shipping_address, delivery_time=row.delivery_time,
            discount_code=row.discount_code, discount_amount=int(row.discount_amount or 0),
            cancel_reason=row.cancel_reason,
        )

    def _order_row(self, session: Session, order_id: str, lock: bool = False) -> OrderRow:
        query = sa.select(OrderRow).where(OrderRow.order_id == str(order_id))
        if lock:
            query = query.with_for_update()
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            raise ActionNotAllowed(Reason.UNKNOWN_ORDER, f"no order {order_id}")
        return row

    def _priced_items(self, session: Session, items: Sequence[CartItem]) -> List[Tuple[CartItem, ProductRow]]:
        priced = []
        for item in _merge(items):
            product = session.get(ProductRow, item.sku)
            if product is None:
                raise ActionNotAllowed(Reason.UNKNOWN_PRODUCT, f"no product {item.sku}", detail={"sku": item.sku})
            priced.append((item, product))
        return priced

    # ------------------------------------------------------------------ customers
    def get_customer(self, customer_id: str) -> Optional[Customer]:
        with self._session() as s:
            row = s.get(CustomerRow, str(customer_id))
            return _customer(row) if row else None

    def find_customer_by_phone(self, phone: str) -> Optional[Customer]:
        e164 = normalise_phone(phone or "")
        if not e164:
            return None
        with self._session() as s:
            row = s.execute(sa.select(CustomerRow).where(CustomerRow.phone == e164)
                            .order_by(CustomerRow.created_at, CustomerRow.customer_id).limit(1)).scalar_one_or_none()
            return _customer(row) if row else None

    def find_customer_by_email(self, email: str) -> Optional[Customer]:
        address = normalise_email(email or "")
        if not address:
            return None
        with self._session() as s:
            row = s.execute(sa.select(CustomerRow).where(CustomerRow.email == address)
                            .order_by(CustomerRow.created_at, CustomerRow.customer_id).limit(1)).scalar_one_or_none()
            return _customer(row) if row else None

    # ------------------------------------------------------------------ products
    def list_products(self, category: Optional[str] = None, *, in_stock_only: bool = False,
                      limit: int = 50) -> List[Product]:
        query = sa.select(ProductRow)
        if category:
            query = query.where(ProductRow.category == category)
        if in_stock_only:
            query = query.where(ProductRow.stock > 0)
        with self._session() as s:
            rows = s.execute(query.order_by(ProductRow.category, ProductRow.price, ProductRow.sku).limit(limit)).scalars()
            return [_product(r) for r in rows]

    def search_products(self, text: str, *, category: Optional[str] = None, limit: int = 10) -> List[Product]:
        key = search_key(text)
        if not key:
            return self.list_products(category, limit=limit)
        with self._session() as s:
            exact = s.get(ProductRow, (text or "").strip().upper())
            if exact is not None and (not category or exact.category == category):
                return [_product(exact)]
            query = sa.select(ProductRow)
            if category:
                query = query.where(ProductRow.category == category)
            words = [w for w in key.split() if len(w) > 1] or key.split()
            # Every word somewhere in the product's text ...
            every = sa.and_(*[ProductRow.search_text.contains(w, autoescape=True) for w in words])
            rows = list(s.execute(query.where(every).order_by(ProductRow.price, ProductRow.sku).limit(limit)).scalars())
            if rows:
                return [_product(r) for r in rows]
            # ... else the products matching the most words.
            condition = sa.or_(*[ProductRow.search_text.contains(w, autoescape=True) for w in words])
            candidates = list(s.execute(query.where(condition)).scalars())
            scored = sorted(
                candidates,
                key=lambda r: (-sum(w in r.search_text for w in words), r.price, r.sku),
            )
            best = sum(w in scored[0].search_text for w in words) if scored else 0
            return [_product(r) for r in scored if sum(w in r.search_text for w in words) == best][:limit]

    def get_product(self, sku: str) -> Optional[Product]:
        with self._session() as s:
            row = s.get(ProductRow, (sku or "").strip().upper()) or s.get(ProductRow, (sku or "").strip())
            return _product(row) if row else None

    def get_products(self, skus: Sequence[str]) -> List[Product]:
        """`get_product` of each SKU in one query (the same lookups: upper-cased first, then as given)."""
        keys = [((sku or "").strip().upper(), (sku or "").strip()) for sku in skus]
        if not keys:
            return []
        with self._session() as s:
            wanted = {key for pair in keys for key in pair}
            rows = {row.sku: row for row in s.execute(sa.select(ProductRow).where(ProductRow.sku.in_(wanted))).scalars()}
            found = [rows.get(upper) or rows.get(given) for upper, given in keys]
            return [_product(row) for row in found if row is not None]

    def list_categories(self) -> List[str]:
        with self._session() as s:
            return list(s.execute(sa.select(ProductRow.category).distinct().order_by(ProductRow.category)).scalars())

    # ------------------------------------------------------------------ orders
    def get_order(self, order_id: str) -> Optional[Order]:
        with self._session() as s:
            row = s.get(OrderRow, str(order_id))
            return self._order(s, row) if row else None

    def list_orders(self, customer_id: str, *, status: Optional[str] = None, limit: int = 20) -> List[Order]:
        query = sa.select(OrderRow).where(OrderRow.customer_id == str(customer_id))
        if status:
            query = query.where(OrderRow.status == status)
        with self._session() as s:
            rows = s.execute(query.order_by(OrderRow.created_at.desc(), OrderRow.order_id.desc()).limit(limit)).scalars()
            return [self._order(s, r) for r in rows]

    def _next_order_id(self, session: Session) -> str:
        ids = session.execute(sa.select(OrderRow.order_id)).scalars()
        highest = max((int(i) for i in ids if i.isdigit()), default=FIRST_ORDER_ID - 1)
        return str(max(highest + 1, FIRST_ORDER_ID))

    def create_order(self, customer_id: str, items: Sequence[CartItem], *,
                     shipping_address: Optional[str] = None, delivery_time: Optional[str] = None,
                     discount_code: Optional[str] = None) -> Order:
        for attempt in range(5):
            try:
                with self._session() as s:
                    if s.get(CustomerRow, str(customer_id)) is None:
                        raise ActionNotAllowed(Reason.UNKNOWN_CUSTOMER, f"no customer {customer_id}")
                    priced = self._priced_items(s, items)
                    for item, product in priced:
                        if product.stock < item.quantity:
                            raise ActionNotAllowed(Reason.OUT_OF_STOCK, f"only {product.stock} of {product.sku} left",
                                                   detail={"sku": product.sku, "stock": product.stock})
                    subtotal = sum(int(p.price) * i.quantity for i, p in priced)
                    now = self.clock()
                    code_row, amount = None, 0
                    if discount_code:
                        code_row, amount = self._use_code(s, discount_code, subtotal, now)
                    order_id = self._next_order_id(s)
                    s.add(OrderRow(order_id=order_id, customer_id=str(customer_id), status=base.PENDING_PAYMENT,
                                   created_at=now, updated_at=now, total=subtotal - amount,
                                   shipping_address=shipping_address, delivery_time=delivery_time,
                                   discount_code=code_row.code if code_row else None, discount_amount=amount))
                    s.flush()
                    for position, (item, product) in enumerate(priced):
                        s.add(OrderItemRow(order_id=order_id, position=position, sku=product.sku,
                                           quantity=item.quantity, unit_price=int(product.price)))
                        product.stock = product.stock - item.quantity
                    s.flush()
                    return self._order(s, s.get(OrderRow, order_id))
            except IntegrityError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def change_order(self, order_id: str, *, shipping_address: Optional[str] = None,
                     delivery_time: Optional[str] = None, items: Optional[Sequence[CartItem]] = None) -> Order:
        with self._session() as s:
            row = self._order_row(s, order_id, lock=True)
            current = self._order(s, row)
            base.check_change(current, address_or_time=bool(shipping_address or delivery_time), items=items is not None)
            now = self.clock()
            if shipping_address:
                row.shipping_address = shipping_address
            if delivery_time:
                row.delivery_time = delivery_time
            if items is not None:
                priced = self._priced_items(s, items)
                old = {i.sku: i.quantity for i in current.items}
                for item, product in priced:
                    available = product.stock + old.get(product.sku, 0)
                    if available < item.quantity:
                        raise ActionNotAllowed(Reason.OUT_OF_STOCK, f"only {available} of {product.sku} left",
                                               detail={"sku": product.sku, "stock": available})
                self._restock(s, current.items)
                s.execute(sa.delete(OrderItemRow).where(OrderItemRow.order_id == row.order_id))
                subtotal = 0
                for position, (item, product) in enumerate(priced):
                    s.add(OrderItemRow(order_id=row.order_id, position=position, sku=product.sku,
                                       quantity=item.quantity, unit_price=int(product.price)))
                    product.stock = product.stock - item.quantity
                    subtotal += int(product.price) * item.quantity
                amount = 0
                if row.discount_code:
                    code = s.get(DiscountCodeRow, row.discount_code)
                    if code is not None and subtotal >= code.min_total:
                        amount = discount_amount(_discount(code), subtotal)
                    else:  # the code no longer applies to the new items: give the use back
                        if code is not None:
                            code.used_count = max(0, code.used_count - 1)
                        row.discount_code = None
                row.discount_amount = amount
                row.total = subtotal - amount
            row.updated_at = now
            s.flush()
            return self._order(s, row)

    def _restock(self, session: Session, items: Sequence[OrderItem]) -> None:
        for item in items:
            product = session.get(ProductRow, item.sku)
            if product is not None:
                product.stock = product.stock + item.quantity

    def cancel_order(self, order_id: str, *, reason: Optional[str] = None) -> Order:
        with self._session() as s:
            row = self._order_row(s, order_id, lock=True)
            current = self._order(s, row)
            base.check_cancel(current)
            self._restock(s, current.items)
            if row.discount_code:
                code = s.get(DiscountCodeRow, row.discount_code)
                if code is not None:
                    code.used_count = max(0, code.used_count - 1)
            row.status = base.CANCELLED
            row.cancel_reason = reason
            row.updated_at = self.clock()
            s.flush()
            return self._order(s, row)

    # ------------------------------------------------------------------ discounts
    def get_discount_code(self, code: str) -> Optional[DiscountCode]:
        with self._session() as s:
            row = s.get(DiscountCodeRow, (code or "").strip().upper())
            return _discount(row) if row else None

    def validate_discount_code(self, code: str, total: int) -> DiscountCheck:
        return check_discount(self.get_discount_code(code), code, int(total), self.clock())

    def _use_code(self, session: Session, code: str, total: int, now: dt.datetime) -> Tuple[DiscountCodeRow, int]:
        row = session.get(DiscountCodeRow, (code or "").strip().upper())
        check = check_discount(_discount(row) if row else None, code, total, now)
        if not check.valid:
            raise ActionNotAllowed(check.reason or Reason.INVALID, f"discount code {code}: {check.reason}",
                                   detail={"min_total": check.min_total, "expires_at": check.expires_at})
        # Count the use atomically so a usage limit holds under concurrency.
        result = session.execute(
            sa.update(DiscountCodeRow).where(DiscountCodeRow.code == row.code)
            .where(sa.or_(DiscountCodeRow.usage_limit.is_(None), DiscountCodeRow.used_count < DiscountCodeRow.usage_limit))
            .values(used_count=DiscountCodeRow.used_count + 1).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise ActionNotAllowed(Reason.USAGE_LIMIT, f"discount code {code} is used up")
        session.refresh(row)
        return row, check.discount_amount

    def apply_discount_code(self, order_id: str, code: str) -> Order:
        with self._session() as s:
            row = self._order_row(s, order_id, lock=True)
            if row.status != base.PENDING_PAYMENT:
                raise ActionNotAllowed(Reason.STATUS, f"order {row.order_id} is {row.status}; a discount code "
                                       "applies only before payment", status=row.status)
            key = (code or "").strip().upper()
            if row.discount_code == key:
                return self._order(s, row)
            subtotal = int(row.total) + int(row.discount_amount or 0)
            code_row, amount = self._use_code(s, key, subtotal, self.clock())
            if row.discount_code:  # replacing a code gives the old one its use back
                old = s.get(DiscountCodeRow, row.discount_code)
                if old is not None:
                    old.used_count = max(0, old.used_count - 1)
            row.discount_code, row.discount_amount = code_row.code, amount
            row.total = subtotal - amount
            row.updated_at = self.clock()
            s.flush()
            return self._order(s, row)

    def upsert_discount_codes(self, codes: Iterable[DiscountCode]) -> int:
        """Create or update codes (the use count of existing codes is kept)."""
        count = 0
        with self._session() as s:
            for code in codes:
                row = s.get(DiscountCodeRow, code.code) or DiscountCodeRow(code=code.code, used_count=code.used_count)
                row.kind, row.value, row.min_total = code.kind, code.value, code.min_total
                row.max_discount, row.usage_limit = code.max_discount, code.usage_limit
                row.starts_at, row.expires_at, row.active = code.starts_at, code.expires_at, code.active
                row.description_fa, row.description_en = code.description_fa, code.description_en
                s.add(row)
                count += 1
        return count

    # ------------------------------------------------------------------ advocacy
    def record_review(self, customer_id: str, sku: str, rating: int, text: str = "", *,
                      order_id: Optional[str] = None) -> Review:
        base.check_rating(rating)
        with self._session() as s:
            product = s.get(ProductRow, (sku or "").strip().upper()) or s.get(ProductRow, sku)
            if product is None:
                raise ActionNotAllowed(Reason.UNKNOWN_PRODUCT, f"no product {sku}", detail={"sku": sku})
            row = ReviewRow(customer_id=customer_id, sku=product.sku, rating=rating, text=text or "",
                            order_id=order_id, created_at=self.clock())
            s.add(row)
            s.flush()
            return Review(customer_id, product.sku, rating, row.text, order_id, row.created_at, row.id)

    def _delivered_total(self, customer_id: str) -> int:
        with self._session() as s:
            return int(s.execute(sa.select(sa.func.coalesce(sa.func.sum(OrderRow.total), 0)).where(
                OrderRow.customer_id == str(customer_id), OrderRow.status == base.DELIVERED)).scalar_one())
