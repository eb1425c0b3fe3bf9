"""A local shop service speaking docs/crm_rest_contract.md, for tests of `RestCRM`.

Real HTTP on 127.0.0.1 (thread); the data and rules come from an `SQLCRM` on a
test database, so the fake behaves like a real implementation of the contract.
Bearer-token auth (401 otherwise); fault injection as in the WooCommerce fake.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from bot.crm.base import ActionNotAllowed, CartItem
from bot.crm.rest import to_json
from bot.crm.sql import SQLCRM
from tests.fakes.woocommerce_server import JsonServer

Answer = Tuple[int, Any, Dict[str, str]]

NOT_FOUND: Answer = (404, {"error": "not_found"}, {})


def _items(body: Any) -> Any:
    if body is None:
        return None
    return [CartItem(i["sku"], i["quantity"]) for i in body]


class FakeShopRest(JsonServer):
    def __init__(self, crm: SQLCRM, token: str = "secret-token") -> None:
        super().__init__()
        self.crm, self.token = crm, token
        r = self.route
        r("GET", r"/customers", self._customers)
        r("GET", r"/customers/([^/]+)", lambda m, q, b, h: self._record(self.crm.get_customer(m.group(1))))
        r("GET", r"/customers/([^/]+)/orders", lambda m, q, b, h: self._list(
            self.crm.list_orders(m.group(1), status=q.get("status"), limit=int(q.get("limit", 20)))))
        r("GET", r"/customers/([^/]+)/referral-code", self._referral)
        r("GET", r"/customers/([^/]+)/loyalty", lambda m, q, b, h: self._record(self.crm.loyalty(m.group(1))))
        r("GET", r"/products", self._products)
        r("GET", r"/products/([^/]+)", lambda m, q, b, h: self._record(self.crm.get_product(m.group(1))))
        r("GET", r"/categories", lambda m, q, b, h: (200, {"items": self.crm.list_categories()}, {}))
        r("GET", r"/orders/(\d+)", lambda m, q, b, h: self._record(self.crm.get_order(m.group(1))))
        r("POST", r"/orders", lambda m, q, b, h: self._act(201, lambda: self.crm.create_order(
            b["customer_id"], _items(b["items"]), shipping_address=b.get("shipping_address"),
            delivery_time=b.get("delivery_time"), discount_code=b.get("discount_code"))))
        r("PATCH", r"/orders/(\d+)", lambda m, q, b, h: self._act(200, lambda: self.crm.change_order(
            m.group(1), shipping_address=b.get("shipping_address"), delivery_time=b.get("delivery_time"),
            items=_items(b.get("items")))))
        r("POST", r"/orders/(\d+)/cancel", lambda m, q, b, h: self._act(200, lambda: self.crm.cancel_order(
            m.group(1), reason=(b or {}).get("reason"))))
        r("POST", r"/orders/(\d+)/returns", lambda m, q, b, h: self._act(201, lambda: self.crm.create_return_request(
            m.group(1), items=_items(b.get("items")), reason=b.get("reason", ""))))
        r("POST", r"/orders/(\d+)/discount", lambda m, q, b, h: self._act(200, lambda: self.crm.apply_discount_code(
            m.group(1), b["code"])))
        r("GET", r"/carts/([^/]+)", lambda m, q, b, h: (200, to_json(self.crm.get_cart(m.group(1))), {}))
        r("POST", r"/carts/([^/]+)/items", lambda m, q, b, h: self._act(200, lambda: self.crm.add_to_cart(
            m.group(1), b["sku"], b.get("quantity", 1))))
        r("DELETE", r"/carts/([^/]+)/items/([^/]+)", lambda m, q, b, h: (
            200, to_json(self.crm.remove_from_cart(m.group(1), m.group(2))), {}))
        r("DELETE", r"/carts/([^/]+)", lambda m, q, b, h: (self.crm.clear_cart(m.group(1)), (204, None, {}))[1])
        r("POST", r"/tickets", lambda m, q, b, h: self._act(201, lambda: self.crm.open_ticket(
            b.get("customer_id"), b["subject"], description=b.get("description", ""),
            category=b.get("category") or "general", order_id=b.get("order_id"), channel=b.get("channel"))))
        r("GET", r"/tickets/([^/]+)", lambda m, q, b, h: self._record(self.crm.get_ticket(m.group(1))))
        r("GET", r"/discount-codes/([^/]+)/check", lambda m, q, b, h: (
            200, to_json(self.crm.validate_discount_code(m.group(1), int(q.get("total", 0)))), {}))
        r("POST", r"/feedback", lambda m, q, b, h: self._act(201, lambda: self.crm.record_feedback(
            b["kind"], b["score"], customer_id=b.get("customer_id"), comment=b.get("comment") or "",
            order_id=b.get("order_id"), conversation_id=b.get("conversation_id"), channel=b.get("channel"))))
        r("POST", r"/reviews", lambda m, q, b, h: self._act(201, lambda: self.crm.record_review(
            b["customer_id"], b["sku"], b["rating"], b.get("text") or "", order_id=b.get("order_id"))))

    def authorised(self, query: Dict[str, str], headers: Any) -> bool:
        return headers.get("Authorization") == f"Bearer {self.token}"

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _record(value: Any) -> Answer:
        return NOT_FOUND if value is None else (200, to_json(value), {})

    @staticmethod
    def _list(values: Any) -> Answer:
        return 200, {"items": to_json(list(values))}, {}

    @staticmethod
    def _act(status: int, fn: Any) -> Answer:
        try:
            return status, to_json(fn()), {}
        except ActionNotAllowed as error:
            code = 404 if error.reason == "unknown_order" else 409
            return code, {"error": "not_allowed" if code == 409 else "not_found", "reason": error.reason,
                          "status": error.status, "message": str(error), "detail": to_json(error.detail)}, {}

    def _customers(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        found = None
        if query.get("phone"):
            found = self.crm.find_customer_by_phone(query["phone"])
        elif query.get("email"):
            found = self.crm.find_customer_by_email(query["email"])
        return self._list([found] if found else [])

    def _products(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        limit = int(query.get("limit", 50))
        if query.get("q"):
            return self._list(self.crm.search_products(query["q"], category=query.get("category"), limit=limit))
        return self._list(self.crm.list_products(query.get("category"), in_stock_only=query.get("in_stock") == "true",
                                                 limit=limit))

    def _referral(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        try:
            return 200, {"code": self.crm.referral_code(match.group(1))}, {}
        except ActionNotAllowed:
            return NOT_FOUND
