"""WooCommerce REST API v3 backend (`/wp-json/wc/v3/...`) through httpx.

Mapping (docs/crm.md, "WooCommerce"):

* customers: `customer_id` is the WooCommerce customer id; phone is
  `billing.phone`; language from the `hamsafar_language` meta (default fa).
* products: `sku`; `name` is the Persian name, the English name comes from the
  `name_en` meta (else `name`); category is the first category's slug;
  `warranty_months` and `return_days` metas; `stock_quantity`.
* orders: statuses pending/failed -> pending_payment, on-hold -> paid,
  processing -> processing, shipped (the common "wc-shipped" plugin status) ->
  shipped, completed -> delivered, cancelled -> cancelled, refunded -> returned.
  Tracking from the `_tracking_number`/`tracking_code` metas, carrier from
  `_tracking_provider`/`carrier`, delivery date from `delivered_at` meta or
  `date_completed_gmt`.
* coupons: `code`, `discount_type` (percent / fixed_cart), `amount`,
  `minimum_amount`, `maximum_amount`, `usage_limit`, `usage_count`, `date_expires_gmt`.
* reviews: POST `/products/reviews`.
* carts, tickets, return requests, feedback, referral codes and loyalty bonus
  points are kept in our own database (`LocalStore`).

Authentication: consumer key/secret as HTTP Basic over https, or as the
`consumer_key`/`consumer_secret` query string (the only way over plain http,
e.g. a shop behind a TLS-terminating proxy, and for the local test server).
Prices: a store in Rial (`currency="IRR"`) is divided by 10; Toman (IRT) is used as is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import httpx

from bot.crm import base
from bot.crm.base import (
    CRM, ActionNotAllowed, CartItem, CRMError, CRMUnavailable, Customer, DiscountCheck, DiscountCode, Order,
    OrderItem, Product, Reason, Review,
)
from bot.crm.http import HttpClient
from bot.crm.local import LocalStore, merge_items
from bot.crm.policy import ShopPolicy, load_policy, parse_datetime
from bot.crm.sql import check_discount, search_key
from bot.text.identifiers import normalise_email, normalise_phone

STATUS_FROM_WOO = {
    "pending": base.PENDING_PAYMENT, "failed": base.PENDING_PAYMENT, "checkout-draft": base.PENDING_PAYMENT,
    "on-hold": base.PAID, "processing": base.PROCESSING, "shipped": base.SHIPPED,
    "completed": base.DELIVERED, "cancelled": base.CANCELLED, "refunded": base.RETURNED,
}
STATUS_TO_WOO = {
    base.PENDING_PAYMENT: "pending", base.PAID: "on-hold", base.PROCESSING: "processing",
    base.SHIPPED: "shipped", base.DELIVERED: "completed", base.CANCELLED: "cancelled", base.RETURNED: "refunded",
}
PER_PAGE = 100
# Results read of one phone search (one request): a number matches a handful of logins or orders.
PHONE_SEARCH_RESULTS = 20


def _phone_search_term(e164: str) -> str:
    """What to search for: the last ten digits (`+989121234567` -> `9121234567`), which appear
    inside the number however the shop stored it (`0912…`, `+98912…`, `98912…`) unless it is
    spaced or dashed (WooCommerce matches the stored text)."""
    return e164.lstrip("+")[-10:]


def _meta(record: Dict[str, Any], *keys: str) -> Optional[str]:
    for entry in record.get("meta_data") or []:
        if entry.get("key") in keys and entry.get("value") not in (None, ""):
            return str(entry["value"])
    return None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        return default


def _gmt(value: Any) -> Optional[dt.datetime]:
    """WooCommerce `*_gmt` fields are UTC without a zone."""
    return parse_datetime(value) if value else None


class WooCommerceCRM(LocalStore, CRM):
    """The CRM of a WooCommerce shop: customers, products and orders from its REST API; what WooCommerce
    does not keep (tickets, carts, feedback) in our database."""

    def __init__(self, url: str, consumer_key: str, consumer_secret: str, *, local: Any = None,
                 local_url: Optional[str] = None, policy: Optional[ShopPolicy] = None,
                 timeout: float = 5.0, retries: int = 2, backoff: float = 0.25, auth_mode: Optional[str] = None,
                 currency: str = "IRT", transport: Optional[httpx.BaseTransport] = None,
                 clock: Callable[[], dt.datetime] = base.utcnow) -> None:
        if local is not None:
            self.local_url = local.url
        else:
            from bot import schema, settings

            self.local_url = local_url or settings.database_url()
            schema.engine(self.local_url)
        self.policy = policy or load_policy()
        self.clock = clock
        self.divisor = 10 if currency.upper() == "IRR" else 1
        mode = auth_mode or ("basic" if url.lower().startswith("https://") else "query")
        auth = httpx.BasicAuth(consumer_key, consumer_secret) if mode == "basic" else None
        params = {"consumer_key": consumer_key, "consumer_secret": consumer_secret} if mode == "query" else None
        self.http = HttpClient(url.rstrip("/") + "/wp-json/wc/v3", timeout=timeout, retries=retries,
                               backoff=backoff, auth=auth, params=params, transport=transport, name="WooCommerce")
        self._category_ids: Dict[str, int] = {}
        self._product_ids: Dict[str, int] = {}

    # ------------------------------------------------------------------ HTTP
    def _get(self, path: str, **params: Any) -> Any:
        response = self.http.request("GET", path, params=params)
        if response.status_code == 404:
            return None
        return self._json(response)

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                body = response.json()
                message = body.get("message") or body.get("code") or response.text
            except ValueError:
                message = response.text[:200]
            if response.status_code == 404:
                raise ActionNotAllowed(Reason.UNKNOWN_ORDER, str(message))
            raise CRMError(f"WooCommerce error HTTP {response.status_code}: {message}")
        try:
            return response.json()
        except ValueError as error:
            raise CRMUnavailable("WooCommerce returned something that is not JSON") from error

    def _pages(self, path: str, limit: Optional[int] = None, **params: Any) -> Iterator[Dict[str, Any]]:
        """Every record of a listing, following X-WP-TotalPages."""
        page, count = 1, 0
        per_page = min(PER_PAGE, limit) if limit else PER_PAGE
        while True:
            response = self.http.request("GET", path, params={**params, "page": page, "per_page": per_page})
            records = self._json(response) or []
            for record in records:
                yield record
                count += 1
                if limit and count >= limit:
                    return
            total_pages = _int(response.headers.get("X-WP-TotalPages"), 1)
            if page >= total_pages or not records:
                return
            page += 1

    # ------------------------------------------------------------------ mapping
    def _customer(self, record: Dict[str, Any]) -> Customer:
        billing = record.get("billing") or {}
        name = " ".join(p for p in (record.get("first_name"), record.get("last_name")) if p) or \
            " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p) or \
            record.get("username") or ""
        language = (_meta(record, "hamsafar_language", "language") or "fa").lower()
        return Customer(str(record["id"]), name, normalise_phone(billing.get("phone") or ""),
                        normalise_email(record.get("email") or billing.get("email") or ""),
                        language if language in ("fa", "en") else "fa", _gmt(record.get("date_created_gmt")))

    def _product(self, record: Dict[str, Any]) -> Product:
        categories = record.get("categories") or []
        sku = record.get("sku") or str(record["id"])
        self._product_ids[sku.upper()] = int(record["id"])
        return_days = _meta(record, "return_days")
        stock = record.get("stock_quantity")
        if stock is None:
            stock = 1 if record.get("stock_status", "instock") == "instock" else 0
        return Product(
            sku=sku, name_fa=record.get("name") or sku, name_en=_meta(record, "name_en") or record.get("name") or sku,
            category=(categories[0].get("slug") if categories else "") or "",
            price=_int(record.get("price") or record.get("regular_price")) // self.divisor, stock=_int(stock),
            warranty_months=_int(_meta(record, "warranty_months")),
            return_days=_int(return_days) if return_days is not None else None,
        )

    def _order(self, record: Dict[str, Any]) -> Order:
        items = []
        for line in record.get("line_items") or []:
            quantity = _int(line.get("quantity"))
            if quantity <= 0:
                continue
            items.append(OrderItem(sku=line.get("sku") or str(line.get("product_id")), quantity=quantity,
                                   unit_price=_int(line.get("price")) // self.divisor,
                                   name_fa=line.get("name") or "", name_en=_meta(line, "name_en") or line.get("name") or ""))
        shipping = record.get("shipping") or {}
        address = ", ".join(p for p in (shipping.get("address_1"), shipping.get("address_2"), shipping.get("city")) if p)
        coupons = record.get("coupon_lines") or []
        status = STATUS_FROM_WOO.get(record.get("status", ""), record.get("status", ""))
        delivered = _gmt(_meta(record, "delivered_at")) or (
            _gmt(record.get("date_completed_gmt")) if status in (base.DELIVERED, base.RETURNED) else None)
        return Order(
            order_id=str(record["id"]), customer_id=str(record.get("customer_id") or ""), status=status,
            created_at=_gmt(record.get("date_created_gmt")) or self.clock(),
            total=_int(record.get("total")) // self.divisor, items=items,
            tracking_code=_meta(record, "_tracking_number", "tracking_code", "tracking_number"),
            carrier=_meta(record, "_tracking_provider", "carrier", "tracking_provider"),
            updated_at=_gmt(record.get("date_modified_gmt")), paid_at=_gmt(record.get("date_paid_gmt")),
            shipped_at=_gmt(_meta(record, "shipped_at")), delivered_at=delivered,
            shipping_address=address or None, delivery_time=_meta(record, "delivery_time"),
            discount_code=(coupons[0].get("code") or "").upper() if coupons else None,
            discount_amount=_int(record.get("discount_total")) // self.divisor,
            cancel_reason=_meta(record, "cancel_reason"),
        )

    def _coupon(self, record: Dict[str, Any]) -> DiscountCode:
        kind = "percent" if record.get("discount_type") == "percent" else "fixed"
        value = _int(record.get("amount"))
        cap = _meta(record, "max_discount")
        return DiscountCode(
            code=(record.get("code") or "").upper(), kind=kind,
            value=value if kind == "percent" else value // self.divisor,
            min_total=_int(record.get("minimum_amount")) // self.divisor,
            max_discount=_int(cap) // self.divisor if cap else None,
            usage_limit=record.get("usage_limit"), used_count=_int(record.get("usage_count")),
            expires_at=_gmt(record.get("date_expires_gmt")), active=record.get("status", "publish") == "publish",
            description_fa=record.get("description") or "", description_en=_meta(record, "description_en") or "",
        )

    # ------------------------------------------------------------------ customers
    def get_customer(self, customer_id: str) -> Optional[Customer]:
        if not str(customer_id).isdigit():
            return None
        record = self._get(f"/customers/{customer_id}")
        return self._customer(record) if record else None

    def find_customer_by_phone(self, phone: str) -> Optional[Customer]:
        """The customer with this phone, in at most three requests whatever the shop's size.

        WooCommerce cannot filter customers by billing phone, and reading every customer
        page per unknown number let anyone who types phone numbers make the bot page
        through the whole customer list (issue 17, finding 9). Two documented searches
        instead, one page each: `/customers?search=` (WordPress user search: a number is
        matched inside the login, where shops that sign customers in by mobile keep it)
        and `/orders?search=` (matched inside the billing and shipping fields, phone
        included), whose newest order names the customer. A customer with neither such a
        login nor an order is not found by phone (docs/limits.md)."""
        e164 = normalise_phone(phone or "")
        if not e164:
            return None
        term = _phone_search_term(e164)
        for record in self._pages("/customers", limit=PHONE_SEARCH_RESULTS, search=term, role="all"):
            if e164 in (normalise_phone((record.get("billing") or {}).get("phone") or ""),
                        normalise_phone(record.get("username") or "")):
                return self._customer(record)
        for order in self._pages("/orders", limit=PHONE_SEARCH_RESULTS, search=term, orderby="date", order="desc"):
            customer_id = _int(order.get("customer_id"))
            if customer_id and normalise_phone((order.get("billing") or {}).get("phone") or "") == e164:
                customer = self.get_customer(str(customer_id))
                if customer is not None and customer.phone == e164:
                    return customer
                return None   # the account's phone has changed since: the number is no longer theirs
        return None

    def find_customer_by_email(self, email: str) -> Optional[Customer]:
        address = normalise_email(email or "")
        if not address:
            return None
        for record in self._pages("/customers", limit=1, email=address, role="all"):
            return self._customer(record)
        return None

    # ------------------------------------------------------------------ products
    def _category_id(self, slug: str) -> Optional[int]:
        if slug not in self._category_ids:
            for record in self._pages("/products/categories", slug=slug):
                self._category_ids[record["slug"]] = int(record["id"])
        return self._category_ids.get(slug)

    def list_products(self, category: Optional[str] = None, *, in_stock_only: bool = False,
                      limit: int = 50) -> List[Product]:
        params: Dict[str, Any] = {"status": "publish"}
        if category:
            category_id = self._category_id(category)
            if category_id is None:
                return []
            params["category"] = category_id
        if in_stock_only:
            params["stock_status"] = "instock"
        return [self._product(r) for r in self._pages("/products", limit=limit, **params)]

    def search_products(self, text: str, *, category: Optional[str] = None, limit: int = 10) -> List[Product]:
        key = (text or "").strip()
        if not key:
            return self.list_products(category, limit=limit)
        exact = self.get_product(key) if " " not in key else None
        if exact is not None and (not category or exact.category == category):
            return [exact]
        params: Dict[str, Any] = {"status": "publish", "search": key}
        if category:
            category_id = self._category_id(category)
            if category_id is None:
                return []
            params["category"] = category_id
        found = [self._product(r) for r in self._pages("/products", limit=limit, **params)]
        if found:
            return found
        # WooCommerce search is literal; fall back to our normalised matching over the catalogue.
        words = [w for w in search_key(key).split() if len(w) > 1]
        candidates = self.list_products(category, limit=1000)
        scored = [(sum(w in search_key(f"{p.sku} {p.name_fa} {p.name_en} {p.category}") for w in words), p)
                  for p in candidates]
        best = max((s for s, _ in scored), default=0)
        return [p for s, p in scored if best and s == best][:limit]

    def get_product(self, sku: str) -> Optional[Product]:
        sku = (sku or "").strip()
        if not sku:
            return None
        for record in self._pages("/products", limit=1, sku=sku):
            return self._product(record)
        return None

    def list_categories(self) -> List[str]:
        return [r["slug"] for r in self._pages("/products/categories") if r.get("count", 1)]

    # ------------------------------------------------------------------ orders
    def get_order(self, order_id: str) -> Optional[Order]:
        if not str(order_id).isdigit():
            return None
        record = self._get(f"/orders/{order_id}")
        return self._order(record) if record else None

    def list_orders(self, customer_id: str, *, status: Optional[str] = None, limit: int = 20) -> List[Order]:
        if not str(customer_id).isdigit():
            return []
        params: Dict[str, Any] = {"customer": customer_id, "orderby": "date", "order": "desc"}
        if status:
            params["status"] = ",".join(k for k, v in STATUS_FROM_WOO.items() if v == status) \
                if status == base.PENDING_PAYMENT else STATUS_TO_WOO.get(status, status)
        return [self._order(r) for r in self._pages("/orders", limit=limit, **params)]

    def _line_items(self, items: Sequence[CartItem]) -> List[Dict[str, Any]]:
        lines = []
        for item in merge_items(items):
            product = self.get_product(item.sku)
            if product is None:
                raise ActionNotAllowed(Reason.UNKNOWN_PRODUCT, f"no product {item.sku}", detail={"sku": item.sku})
            if product.stock < item.quantity:
                raise ActionNotAllowed(Reason.OUT_OF_STOCK, f"only {product.stock} of {product.sku} left",
                                       detail={"sku": product.sku, "stock": product.stock})
            lines.append({"product_id": self._product_ids[product.sku.upper()], "quantity": item.quantity})
        return lines

    def _write(self, method: str, path: str, body: Dict[str, Any]) -> Order:
        response = self.http.request(method, path, json=body)
        if response.status_code == 400:
            try:
                message = response.json().get("message", "")
            except ValueError:
                message = response.text[:200]
            raise ActionNotAllowed(Reason.INVALID, f"WooCommerce refused: {message}")
        return self._order(self._json(response))

    def create_order(self, customer_id: str, items: Sequence[CartItem], *,
                     shipping_address: Optional[str] = None, delivery_time: Optional[str] = None,
                     discount_code: Optional[str] = None) -> Order:
        customer = self.get_customer(customer_id)
        if customer is None:
            raise ActionNotAllowed(Reason.UNKNOWN_CUSTOMER, f"no customer {customer_id}")
        body: Dict[str, Any] = {"customer_id": int(customer_id), "status": "pending", "set_paid": False,
                                "line_items": self._line_items(items)}
        if shipping_address:
            body["shipping"] = {"address_1": shipping_address}
        if delivery_time:
            body["meta_data"] = [{"key": "delivery_time", "value": delivery_time}]
        if discount_code:
            subtotal = sum(self.get_product(i.sku).price * i.quantity for i in merge_items(items))  # type: ignore[union-attr]
            check = self.validate_discount_code(discount_code, subtotal)
            if not check.valid:
                raise ActionNotAllowed(check.reason or Reason.INVALID, f"discount code {discount_code}: {check.reason}")
            body["coupon_lines"] = [{"code": check.code.lower()}]
        return self._write("POST", "/orders", body)  # POST: never retried

    def change_order(self, order_id: str, *, shipping_address: Optional[str] = None,
                     delivery_time: Optional[str] = None, items: Optional[Sequence[CartItem]] = None) -> Order:
        record = self._get(f"/orders/{order_id}") if str(order_id).isdigit() else None
        if record is None:
            raise ActionNotAllowed(Reason.UNKNOWN_ORDER, f"no order {order_id}")
        base.check_change(self._order(record), address_or_time=bool(shipping_address or delivery_time),
                          items=items is not None)
        body: Dict[str, Any] = {}
        if shipping_address:
            body["shipping"] = {"address_1": shipping_address, "address_2": "", "city": ""}
        if delivery_time:
            body["meta_data"] = [{"key": "delivery_time", "value": delivery_time}]
        if items is not None:
            new_lines = self._line_items(items)
            # WooCommerce removes a line item when its quantity is set to 0.
            body["line_items"] = [{"id": line["id"], "quantity": 0} for line in record.get("line_items") or []] + new_lines
        return self._write("PUT", f"/orders/{order_id}", body)

    def cancel_order(self, order_id: str, *, reason: Optional[str] = None) -> Order:
        order = self.get_order(order_id)
        if order is None:
            raise ActionNotAllowed(Reason.UNKNOWN_ORDER, f"no order {order_id}")
        base.check_cancel(order)
        body: Dict[str, Any] = {"status": "cancelled"}
        if reason:
            body["meta_data"] = [{"key": "cancel_reason", "value": reason}]
        return self._write("PUT", f"/orders/{order_id}", body)

    # ------------------------------------------------------------------ discounts
    def get_discount_code(self, code: str) -> Optional[DiscountCode]:
        key = (code or "").strip()
        if not key:
            return None
        for record in self._pages("/coupons", limit=5, code=key.lower()):
            if (record.get("code") or "").upper() == key.upper():
                return self._coupon(record)
        return None

    def validate_discount_code(self, code: str, total: int) -> DiscountCheck:
        return check_discount(self.get_discount_code(code), code, int(total), self.clock())

    def apply_discount_code(self, order_id: str, code: str) -> Order:
        order = self.get_order(order_id)
        if order is None:
            raise ActionNotAllowed(Reason.UNKNOWN_ORDER, f"no order {order_id}")
        if order.status != base.PENDING_PAYMENT:
            raise ActionNotAllowed(Reason.STATUS, f"order {order_id} is {order.status}", status=order.status)
        if order.discount_code == (code or "").strip().upper():
            return order
        check = self.validate_discount_code(code, order.total + order.discount_amount)
        if not check.valid:
            raise ActionNotAllowed(check.reason or Reason.INVALID, f"discount code {code}: {check.reason}",
                                   detail={"min_total": check.min_total, "expires_at": check.expires_at})
        return self._write("PUT", f"/orders/{order_id}", {"coupon_lines": [{"code": check.code.lower()}]})

    # ------------------------------------------------------------------ reviews
    def record_review(self, customer_id: str, sku: str, rating: int, text: str = "", *,
                      order_id: Optional[str] = None) -> Review:
        base.check_rating(rating)
        product = self.get_product(sku)
        if product is None:
            raise ActionNotAllowed(Reason.UNKNOWN_PRODUCT, f"no product {sku}", detail={"sku": sku})
        customer = self.get_customer(customer_id)
        body = {"product_id": self._product_ids[product.sku.upper()], "review": text or "-", "rating": rating,
                "reviewer": customer.name if customer else "customer",
                "reviewer_email": (customer.email if customer and customer.email else "noreply@example.com")}
        response = self.http.request("POST", "/products/reviews", json=body)
        record = self._json(response)
        return Review(str(customer_id), product.sku, rating, text or "", order_id,
                      _gmt(record.get("date_created_gmt")) or self.clock(), _int(record.get("id")) or None)

    def close(self) -> None:
        self.http.close()
