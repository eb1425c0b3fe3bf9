"""Generic REST backend: any shop service implementing docs/crm_rest_contract.md.

Records travel as JSON objects whose keys are the dataclass fields of
`bot.crm.base` (datetimes as ISO 8601 UTC strings). 404 means "not found"
(`None`); 409/422 with `{"error": "not_allowed", "reason": ...}` becomes
`ActionNotAllowed`; 401/403, timeouts, connection errors and 5xx after the
bounded retries become `CRMUnavailable`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Dict, List, Optional, Sequence, Type, TypeVar, Union, get_args, get_origin, get_type_hints
from urllib.parse import quote

import httpx

from bot.crm import base
from bot.crm.base import (
    CRM, ActionNotAllowed, Cart, CartItem, CRMError, CRMUnavailable, Customer, DiscountCheck, Feedback, Loyalty,
    Order, Product, Reason, ReturnRequest, Review, Ticket,
)
from bot.crm.http import HttpClient
from bot.crm.policy import parse_datetime

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """Dataclasses, lists and datetimes to JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def _convert(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(kind)
    if origin is Union:
        options = [a for a in get_args(kind) if a is not type(None)]
        return _convert(options[0], value) if options else value
    if origin in (list, List):
        (inner,) = get_args(kind) or (Any,)
        return [_convert(inner, v) for v in value]
    if dataclasses.is_dataclass(kind):
        return from_json(kind, value)
    if kind is dt.datetime:
        return parse_datetime(value)
    if kind is int and not isinstance(value, bool):
        return int(value)
    return value


def from_json(cls: Type[T], data: Dict[str, Any]) -> T:
    """A dataclass from a JSON object; unknown keys are ignored, missing ones take defaults."""
    if not isinstance(data, dict):
        raise CRMError(f"expected a JSON object for {cls.__name__}")
    hints = get_type_hints(cls)
    values = {f.name: _convert(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)  # type: ignore[arg-type]
              if f.name in data}
    try:
        return cls(**values)
    except TypeError as error:
        raise CRMError(f"bad {cls.__name__} record: {error}") from error


class RestCRM(CRM):
    """The CRM of a shop that offers our small REST contract (docs/crm.md) instead of a database or
    WooCommerce."""

    def __init__(self, url: str, *, token: Optional[str] = None, timeout: float = 5.0, retries: int = 2,
                 backoff: float = 0.25, transport: Optional[httpx.BaseTransport] = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self.http = HttpClient(url, timeout=timeout, retries=retries, backoff=backoff, headers=headers,
                               transport=transport, name="Shop REST")

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, *, params: Optional[Dict[str, Any]] = None, json: Any = None,
              missing_ok: bool = True) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        response = self.http.request(method, path, params=params or None, json=json)
        if response.status_code == 404 and missing_ok:
            return None
        try:
            body = response.json() if response.content else None
        except ValueError as error:
            raise CRMUnavailable(f"shop REST service answered {response.status_code} without JSON") from error
        if response.status_code in (404, 409, 422) or (response.status_code == 400 and isinstance(body, dict)
                                                        and body.get("error") == "not_allowed"):
            body = body if isinstance(body, dict) else {}
            raise ActionNotAllowed(body.get("reason") or (Reason.UNKNOWN_ORDER if response.status_code == 404
                                                          else Reason.INVALID),
                                   body.get("message") or "", status=body.get("status"),
                                   detail=body.get("detail") or {})
        if response.status_code >= 400:
            raise CRMError(f"shop REST service error HTTP {response.status_code}: {str(body)[:200]}")
        return body

    @staticmethod
    def _seg(value: str) -> str:
        """One path segment, every reserved character encoded; a segment of dots only
        ("..", ".") is encoded too, or URL normalisation would climb out of the resource."""
        text = str(value)
        encoded = quote(text, safe="")
        return encoded.replace(".", "%2E") if text and set(text) <= {"."} else encoded

    def _one(self, cls: Type[T], path: str, **params: Any) -> Optional[T]:
        body = self._call("GET", path, params=params)
        return from_json(cls, body) if body is not None else None

    def _many(self, cls: Type[T], path: str, **params: Any) -> List[T]:
        body = self._call("GET", path, params=params)
        items = body.get("items", []) if isinstance(body, dict) else (body or [])
        return [from_json(cls, item) for item in items]

    # ------------------------------------------------------------------ customers
    def get_customer(self, customer_id: str) -> Optional[Customer]:
        return self._one(Customer, f"/customers/{self._seg(customer_id)}")

    def find_customer_by_phone(self, phone: str) -> Optional[Customer]:
        from bot.text.identifiers import normalise_phone

        e164 = normalise_phone(phone or "")
        found = self._many(Customer, "/customers", phone=e164) if e164 else []
        return found[0] if found else None

    def find_customer_by_email(self, email: str) -> Optional[Customer]:
        from bot.text.identifiers import normalise_email

        address = normalise_email(email or "")
        found = self._many(Customer, "/customers", email=address) if address else []
        return found[0] if found else None

    # ------------------------------------------------------------------ products
    def list_products(self, category: Optional[str] = None, *, in_stock_only: bool = False,
                      limit: int = 50) -> List[Product]:
        return self._many(Product, "/products", category=category, in_stock="true" if in_stock_only else None,
                          limit=limit)

    def search_products(self, text: str, *, category: Optional[str] = None, limit: int = 10) -> List[Product]:
        return self._many(Product, "/products", q=text, category=category, limit=limit)

    def get_product(self, sku: str) -> Optional[Product]:
        return self._one(Product, f"/products/{self._seg(sku)}") if sku else None

    def list_categories(self) -> List[str]:
        body = self._call("GET", "/categories")
        return list(body.get("items", []) if isinstance(body, dict) else body or [])

    # ------------------------------------------------------------------ orders
    def get_order(self, order_id: str) -> Optional[Order]:
        return self._one(Order, f"/orders/{self._seg(order_id)}")

    def list_orders(self, customer_id: str, *, status: Optional[str] = None, limit: int = 20) -> List[Order]:
        return self._many(Order, f"/customers/{self._seg(customer_id)}/orders", status=status, limit=limit)

    def create_order(self, customer_id: str, items: Sequence[CartItem], *, shipping_address: Optional[str] = None,
                     delivery_time: Optional[str] = None, discount_code: Optional[str] = None) -> Order:
        body = {"customer_id": customer_id, "items": to_json(list(items)), "shipping_address": shipping_address,
                "delivery_time": delivery_time, "discount_code": discount_code}
        return from_json(Order, self._call("POST", "/orders", json=body, missing_ok=False))

    def change_order(self, order_id: str, *, shipping_address: Optional[str] = None,
                     delivery_time: Optional[str] = None, items: Optional[Sequence[CartItem]] = None) -> Order:
        body: Dict[str, Any] = {k: v for k, v in (("shipping_address", shipping_address),
                                                  ("delivery_time", delivery_time)) if v}
        if items is not None:
            body["items"] = to_json(list(items))
        return from_json(Order, self._call("PATCH", f"/orders/{self._seg(order_id)}", json=body, missing_ok=False))

    def cancel_order(self, order_id: str, *, reason: Optional[str] = None) -> Order:
        return from_json(Order, self._call("POST", f"/orders/{self._seg(order_id)}/cancel",
                                           json={"reason": reason}, missing_ok=False))

    # ------------------------------------------------------------------ carts
    def get_cart(self, owner: str) -> Cart:
        return self._one(Cart, f"/carts/{self._seg(owner)}") or Cart(owner)

    def add_to_cart(self, owner: str, sku: str, quantity: int = 1) -> Cart:
        return from_json(Cart, self._call("POST", f"/carts/{self._seg(owner)}/items",
                                          json={"sku": sku, "quantity": quantity}, missing_ok=False))

    def remove_from_cart(self, owner: str, sku: str) -> Cart:
        body = self._call("DELETE", f"/carts/{self._seg(owner)}/items/{self._seg(sku)}")
        return from_json(Cart, body) if body else Cart(owner)

    def clear_cart(self, owner: str) -> None:
        self._call("DELETE", f"/carts/{self._seg(owner)}")

    # ------------------------------------------------------------------ after-sales
    def create_return_request(self, order_id: str, *, items: Optional[Sequence[CartItem]] = None,
                              reason: str = "") -> ReturnRequest:
        body = {"items": to_json(list(items)) if items else None, "reason": reason}
        return from_json(ReturnRequest, self._call("POST", f"/orders/{self._seg(order_id)}/returns", json=body,
                                                   missing_ok=False))

    def open_ticket(self, customer_id: Optional[str], subject: str, *, description: str = "",
                    category: str = "general", order_id: Optional[str] = None,
                    channel: Optional[str] = None) -> Ticket:
        body = {"customer_id": customer_id, "subject": subject, "description": description, "category": category,
                "order_id": order_id, "channel": channel}
        return from_json(Ticket, self._call("POST", "/tickets", json=body, missing_ok=False))

    def get_ticket(self, reference: str) -> Optional[Ticket]:
        return self._one(Ticket, f"/tickets/{self._seg(reference)}")

    # ------------------------------------------------------------------ discounts
    def validate_discount_code(self, code: str, total: int) -> DiscountCheck:
        body = self._call("GET", f"/discount-codes/{self._seg((code or '').strip().upper() or '-')}/check",
                          params={"total": int(total)})
        if body is None:
            return DiscountCheck((code or "").strip().upper(), False, Reason.UNKNOWN_CODE, 0, int(total))
        return from_json(DiscountCheck, body)

    def apply_discount_code(self, order_id: str, code: str) -> Order:
        return from_json(Order, self._call("POST", f"/orders/{self._seg(order_id)}/discount",
                                           json={"code": code}, missing_ok=False))

    # ------------------------------------------------------------------ advocacy
    def record_feedback(self, kind: str, score: int, *, customer_id: Optional[str] = None, comment: str = "",
                        order_id: Optional[str] = None, conversation_id: Optional[str] = None,
                        channel: Optional[str] = None) -> Feedback:
        base.check_feedback(kind, score)
        body = {"kind": kind, "score": score, "customer_id": customer_id, "comment": comment, "order_id": order_id,
                "conversation_id": conversation_id, "channel": channel}
        return from_json(Feedback, self._call("POST", "/feedback", json=body, missing_ok=False))

    def record_review(self, customer_id: str, sku: str, rating: int, text: str = "", *,
                      order_id: Optional[str] = None) -> Review:
        base.check_rating(rating)
        body = {"customer_id": customer_id, "sku": sku, "rating": rating, "text": text, "order_id": order_id}
        return from_json(Review, self._call("POST", "/reviews", json=body, missing_ok=False))

    def referral_code(self, customer_id: str) -> str:
        body = self._call("GET", f"/customers/{self._seg(customer_id)}/referral-code")
        if not body:
            raise ActionNotAllowed(Reason.UNKNOWN_CUSTOMER, f"no customer {customer_id}")
        return str(body["code"])

    def loyalty(self, customer_id: str) -> Optional[Loyalty]:
        return self._one(Loyalty, f"/customers/{self._seg(customer_id)}/loyalty")

    def close(self) -> None:
        self.http.close()
