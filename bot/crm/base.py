"""The CRM interface: what Hamsafar's actions may ask of a shop's back office.

One abstract class, `CRM`, with three implementations chosen by configuration
(`bot.crm.factory.get_crm`): SQL (`bot.crm.sql`), WooCommerce REST v3
(`bot.crm.woocommerce`) and a generic JSON REST service (`bot.crm.rest`).

Conventions shared by every backend:

* Ids are strings: customer ids like ``"C001"``, order ids like ``"100001"``
  (normalise user input with ``bot.text.identifiers`` first), products by ``sku``.
* Money is an integer number of Toman.
* Datetimes are timezone-aware UTC.
* "Not found" is ``None`` (or an empty list), never an exception.
* A business rule that forbids an action raises `ActionNotAllowed` with a
  machine-readable ``reason`` (see `Reason`) so the bot can explain *why*.
* A backend that cannot be reached (connection error, timeout, 5xx after the
  bounded retries, bad credentials) raises `CRMUnavailable`; actions answer
  "try again later" / hand off instead of crashing.

The status rules (which states allow cancel / change / return) are module
functions here so every backend applies exactly the same ones.
"""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

# --------------------------------------------------------------------------- statuses

PENDING_PAYMENT = "pending_payment"
PAID = "paid"
PROCESSING = "processing"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"
RETURNED = "returned"

ORDER_STATUSES: Tuple[str, ...] = (
    PENDING_PAYMENT, PAID, PROCESSING, SHIPPED, DELIVERED, CANCELLED, RETURNED,
)

#: States in which a customer may cancel an order.
CANCELLABLE_STATUSES = frozenset({PENDING_PAYMENT, PAID, PROCESSING})
#: States in which the delivery address or delivery time may still change.
ADDRESS_CHANGE_STATUSES = frozenset({PENDING_PAYMENT, PAID, PROCESSING})
#: States in which the items may change (the total changes, so only before payment).
ITEMS_CHANGE_STATUSES = frozenset({PENDING_PAYMENT})
#: States from which a return may be requested.
RETURNABLE_STATUSES = frozenset({DELIVERED})
#: States of an order still on its way to the customer: "my order" means the newest of these.
OPEN_STATUSES = frozenset({PENDING_PAYMENT, PAID, PROCESSING, SHIPPED})

FEEDBACK_KINDS = ("csat", "nps")  # csat: 1..5, nps: 0..10


class Reason:
    """Values of `ActionNotAllowed.reason` (stable strings, used in bot replies)."""

    STATUS = "status"                       # the order's status forbids it (see .status)
    RETURN_WINDOW_EXPIRED = "return_window_expired"
    NOT_RETURNABLE = "not_returnable"       # product/category policy: no returns
    OUT_OF_STOCK = "out_of_stock"
    UNKNOWN_PRODUCT = "unknown_product"
    UNKNOWN_CUSTOMER = "unknown_customer"
    UNKNOWN_ORDER = "unknown_order"
    EMPTY = "empty"                         # no items / nothing to change
    INVALID = "invalid"                     # malformed input (quantity, score, ...)
    # discount codes
    UNKNOWN_CODE = "unknown_code"
    EXPIRED = "expired"
    NOT_STARTED = "not_started"
    USAGE_LIMIT = "usage_limit"
    MIN_TOTAL = "min_total"
    INACTIVE = "inactive"


# --------------------------------------------------------------------------- errors


class CRMError(Exception):
    """Base class of every error raised by a CRM backend."""


class CRMUnavailable(CRMError):
    """The backend cannot be reached or keeps failing; try again later."""


class ActionNotAllowed(CRMError):
    """A business rule forbids the requested action.

    ``reason`` is one of `Reason`; ``status`` is the order's current status when
    the reason is the status; ``detail`` carries extra facts (deadline, minimum
    total, sku, ...) for the reply.
    """

    def __init__(self, reason: str, message: str = "", *, status: Optional[str] = None,
                 detail: Optional[Dict[str, object]] = None) -> None:
        self.reason = reason
        self.status = status
        self.detail = dict(detail or {})
        super().__init__(message or reason)


# --------------------------------------------------------------------------- records


@dataclass
class Customer:
    """A shop customer as every CRM backend returns them."""

    customer_id: str
    name: str
    phone: Optional[str] = None          # E.164
    email: Optional[str] = None          # lower case
    language: str = "fa"                 # fa | en
    created_at: Optional[dt.datetime] = None
    timezone: Optional[str] = None       # IANA zone when the backend knows it (SQL CRM); else the shop's


@dataclass
class Product:
    """A product of the catalogue as every CRM backend returns it (prices in Toman)."""

    sku: str
    name_fa: str
    name_en: str
    category: str
    price: int                           # Toman
    stock: int = 0
    warranty_months: int = 0
    return_days: Optional[int] = None    # None: the shop policy's window for the category

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    def name(self, language: str = "fa") -> str:
        return self.name_en if language == "en" else self.name_fa


@dataclass
class CartItem:
    """One line of a cart or of a return request: a SKU and how many."""

    sku: str
    quantity: int = 1


@dataclass
class OrderItem:
    """One line of an order, with the price paid at the time."""

    sku: str
    quantity: int
    unit_price: int = 0                  # Toman, at the time of the order
    name_fa: str = ""
    name_en: str = ""

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.quantity


@dataclass
class Order:
    """An order as every CRM backend returns it, so actions need not know the backend."""

    order_id: str
    customer_id: str
    status: str
    created_at: dt.datetime
    total: int                           # Toman, after discount
    items: List[OrderItem] = field(default_factory=list)
    tracking_code: Optional[str] = None
    carrier: Optional[str] = None
    updated_at: Optional[dt.datetime] = None
    paid_at: Optional[dt.datetime] = None
    shipped_at: Optional[dt.datetime] = None
    delivered_at: Optional[dt.datetime] = None
    shipping_address: Optional[str] = None
    delivery_time: Optional[str] = None  # free text slot, e.g. "1403-05-12 10-14"
    discount_code: Optional[str] = None
    discount_amount: int = 0
    cancel_reason: Optional[str] = None

    @property
    def can_cancel(self) -> bool:
        return self.status in CANCELLABLE_STATUSES

    @property
    def can_change_address(self) -> bool:
        """The delivery address or time may still change (see `check_change`)."""
        return self.status in ADDRESS_CHANGE_STATUSES


@dataclass
class Cart:
    """The products a customer (or an unverified conversation) put aside."""

    owner: str                           # customer id or conversation id
    items: List[CartItem] = field(default_factory=list)
    updated_at: Optional[dt.datetime] = None


@dataclass
class Ticket:
    """A support ticket the bot opened; its reference is what the customer is told."""

    reference: str                       # e.g. "T-7K3M9Q", shown to the customer
    customer_id: Optional[str]
    subject: str
    description: str = ""
    category: str = "general"            # general | problem | payment | complaint | usage
    order_id: Optional[str] = None
    status: str = "open"                 # open | pending | closed
    channel: Optional[str] = None
    created_at: Optional[dt.datetime] = None


@dataclass
class ReturnRequest:
    """A customer's request to return items of an order, within the return window."""

    reference: str                       # e.g. "R-4D8F2A"
    order_id: str
    customer_id: str
    items: List[CartItem] = field(default_factory=list)
    reason: str = ""
    status: str = "requested"            # requested | approved | rejected | received | refunded
    deadline: Optional[dt.datetime] = None  # end of the return window that applied
    created_at: Optional[dt.datetime] = None


@dataclass
class DiscountCode:
    """A discount code and its rules (kind, minimum, cap, validity, usage limit)."""

    code: str                            # upper case
    kind: str                            # percent | fixed
    value: int                           # percent (1..100) or Toman
    min_total: int = 0
    max_discount: Optional[int] = None   # cap in Toman for percent codes
    usage_limit: Optional[int] = None    # None: unlimited
    used_count: int = 0
    starts_at: Optional[dt.datetime] = None
    expires_at: Optional[dt.datetime] = None
    active: bool = True
    description_fa: str = ""
    description_en: str = ""


@dataclass
class DiscountCheck:
    """Result of `CRM.validate_discount_code`: valid, or the reason it is not."""

    code: str
    valid: bool
    reason: Optional[str] = None         # a `Reason` discount value when not valid
    discount_amount: int = 0             # Toman off `total`
    new_total: int = 0
    min_total: int = 0
    expires_at: Optional[dt.datetime] = None


@dataclass
class Feedback:
    """A CSAT or NPS answer given in a conversation or to a proactive message."""

    kind: str                            # csat (1..5) | nps (0..10)
    score: int
    customer_id: Optional[str] = None
    comment: str = ""
    order_id: Optional[str] = None
    conversation_id: Optional[str] = None
    channel: Optional[str] = None
    created_at: Optional[dt.datetime] = None
    id: Optional[int] = None


@dataclass
class Review:
    """A customer's rating and text for a product they ordered."""

    customer_id: str
    sku: str
    rating: int                          # 1..5
    text: str = ""
    order_id: Optional[str] = None
    created_at: Optional[dt.datetime] = None
    id: Optional[int] = None


@dataclass
class Loyalty:
    """A customer's loyalty points and level, and how far the next level is."""

    customer_id: str
    points: int
    level: str                           # bronze | silver | gold | platinum
    next_level: Optional[str] = None
    points_to_next: int = 0


# --------------------------------------------------------------------------- the interface


class CRM(abc.ABC):
    """Everything the assistant reads from or asks of the shop.

    Methods that look something up return ``None`` / ``[]`` when it does not
    exist. Methods that act raise `ActionNotAllowed` when a rule forbids it and
    `CRMUnavailable` when the backend is down. Callers must check ownership
    (``order.customer_id``) themselves, or use
    ``bot.identity.verification.order_for_customer``.
    """

    # customers
    @abc.abstractmethod
    def get_customer(self, customer_id: str) -> Optional[Customer]: ...

    @abc.abstractmethod
    def find_customer_by_phone(self, phone: str) -> Optional[Customer]:
        """`phone` in any common form; compared in E.164."""

    @abc.abstractmethod
    def find_customer_by_email(self, email: str) -> Optional[Customer]: ...

    # products
    @abc.abstractmethod
    def list_products(self, category: Optional[str] = None, *, in_stock_only: bool = False,
                      limit: int = 50) -> List[Product]: ...

    @abc.abstractmethod
    def search_products(self, text: str, *, category: Optional[str] = None,
                        limit: int = 10) -> List[Product]:
        """Products whose fa/en name, sku or category matches `text` (Persian normalised)."""

    @abc.abstractmethod
    def get_product(self, sku: str) -> Optional[Product]: ...

    def get_products(self, skus: Sequence[str]) -> List[Product]:
        """`get_product` of each SKU, in order, leaving out the unknown ones. A backend that can
        fetch several at once says so (the SQL one: one query instead of one per product, for
        the products just shown that every message is compared with)."""
        return [p for p in (self.get_product(sku) for sku in skus) if p is not None]

    @abc.abstractmethod
    def list_categories(self) -> List[str]: ...

    # orders
    @abc.abstractmethod
    def get_order(self, order_id: str) -> Optional[Order]: ...

    @abc.abstractmethod
    def list_orders(self, customer_id: str, *, status: Optional[str] = None,
                    limit: int = 20) -> List[Order]:
        """The customer's orders, newest first."""

    @abc.abstractmethod
    def create_order(self, customer_id: str, items: Sequence[CartItem], *,
                     shipping_address: Optional[str] = None,
                     delivery_time: Optional[str] = None,
                     discount_code: Optional[str] = None) -> Order:
        """A new order in status ``pending_payment``; prices from the catalogue.

        Raises ActionNotAllowed (EMPTY, UNKNOWN_PRODUCT, OUT_OF_STOCK,
        UNKNOWN_CUSTOMER, INVALID, or a discount reason).
        """

    @abc.abstractmethod
    def change_order(self, order_id: str, *, shipping_address: Optional[str] = None,
                     delivery_time: Optional[str] = None,
                     items: Optional[Sequence[CartItem]] = None) -> Order:
        """Change address/time (pending_payment, paid, processing) or items
        (pending_payment only); otherwise ActionNotAllowed(STATUS, status=...)."""

    @abc.abstractmethod
    def cancel_order(self, order_id: str, *, reason: Optional[str] = None) -> Order:
        """Cancel (pending_payment, paid, processing only); otherwise ActionNotAllowed(STATUS)."""

    # carts
    @abc.abstractmethod
    def get_cart(self, owner: str) -> Cart: ...

    @abc.abstractmethod
    def add_to_cart(self, owner: str, sku: str, quantity: int = 1) -> Cart: ...

    @abc.abstractmethod
    def remove_from_cart(self, owner: str, sku: str) -> Cart: ...

    @abc.abstractmethod
    def clear_cart(self, owner: str) -> None: ...

    # after-sales
    @abc.abstractmethod
    def create_return_request(self, order_id: str, *, items: Optional[Sequence[CartItem]] = None,
                              reason: str = "") -> ReturnRequest:
        """Only for delivered orders inside the return window (from the delivery
        date, per product/category policy); otherwise ActionNotAllowed(STATUS,
        RETURN_WINDOW_EXPIRED, NOT_RETURNABLE). `items` None means the whole order."""

    @abc.abstractmethod
    def open_ticket(self, customer_id: Optional[str], subject: str, *, description: str = "",
                    category: str = "general", order_id: Optional[str] = None,
                    channel: Optional[str] = None) -> Ticket: ...

    @abc.abstractmethod
    def get_ticket(self, reference: str) -> Optional[Ticket]: ...

    # discounts
    @abc.abstractmethod
    def validate_discount_code(self, code: str, total: int) -> DiscountCheck:
        """Never raises for a bad code: returns ``valid=False`` with the reason."""

    @abc.abstractmethod
    def apply_discount_code(self, order_id: str, code: str) -> Order:
        """Apply to a ``pending_payment`` order and count one use; ActionNotAllowed
        with the discount reason, or STATUS."""

    # advocacy
    @abc.abstractmethod
    def record_feedback(self, kind: str, score: int, *, customer_id: Optional[str] = None,
                        comment: str = "", order_id: Optional[str] = None,
                        conversation_id: Optional[str] = None,
                        channel: Optional[str] = None) -> Feedback:
        """CSAT 1..5 or NPS 0..10; ActionNotAllowed(INVALID) otherwise."""

    @abc.abstractmethod
    def record_review(self, customer_id: str, sku: str, rating: int, text: str = "", *,
                      order_id: Optional[str] = None) -> Review: ...

    @abc.abstractmethod
    def referral_code(self, customer_id: str) -> str:
        """The customer's one stable referral code (same value on every call)."""

    @abc.abstractmethod
    def loyalty(self, customer_id: str) -> Optional[Loyalty]: ...

    # lifecycle
    def ping(self) -> bool:
        """True when the backend answers; never raises."""
        try:
            self.list_categories()
            return True
        except CRMError:
            return False

    def close(self) -> None:
        """Release connections."""


# --------------------------------------------------------------------------- shared rules


def check_cancel(order: Order) -> None:
    if order.status not in CANCELLABLE_STATUSES:
        raise ActionNotAllowed(Reason.STATUS, f"order {order.order_id} is {order.status}; "
                               "only pending_payment, paid or processing orders can be cancelled",
                               status=order.status)


def check_change(order: Order, *, address_or_time: bool, items: bool) -> None:
    if not address_or_time and not items:
        raise ActionNotAllowed(Reason.EMPTY, "nothing to change")
    if address_or_time and order.status not in ADDRESS_CHANGE_STATUSES:
        raise ActionNotAllowed(Reason.STATUS, f"order {order.order_id} is {order.status}; the address "
                               "or delivery time can change only before shipping", status=order.status)
    if items and order.status not in ITEMS_CHANGE_STATUSES:
        raise ActionNotAllowed(Reason.STATUS, f"order {order.order_id} is {order.status}; items can "
                               "change only before payment", status=order.status)


def check_feedback(kind: str, score: int) -> None:
    if kind not in FEEDBACK_KINDS:
        raise ActionNotAllowed(Reason.INVALID, f"feedback kind must be csat or nps, not {kind!r}")
    low, high = (1, 5) if kind == "csat" else (0, 10)
    if not isinstance(score, int) or isinstance(score, bool) or not low <= score <= high:
        raise ActionNotAllowed(Reason.INVALID, f"{kind} score must be {low}..{high}", detail={"score": score})


def check_rating(rating: int) -> None:
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ActionNotAllowed(Reason.INVALID, "rating must be 1..5", detail={"rating": rating})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
