"""A local fake of the WooCommerce REST API v3 (`/wp-json/wc/v3`), for tests.

A real HTTP server on 127.0.0.1 in a background thread that speaks the parts
of the documented protocol Hamsafar uses: consumer key/secret by HTTP Basic or
query string (401 otherwise), `page`/`per_page` pagination with `X-WP-Total`
and `X-WP-TotalPages`, products (filters sku, search, category, stock_status),
product categories (slug), customers (email, role, and `search` the way WordPress's
user search does it: a term with "@" inside the email, an all-digit term inside the
login or equal to the id, any other term inside the login, email, URL, nicename or
display name — never the billing fields), orders (customer, status, and `search`
inside the billing and shipping fields — phone included — and the line items' names,
as WooCommerce's order search does; create, update line items / status / shipping /
meta / coupons), coupons (code) and product reviews. Matching is on the stored text,
case-insensitive: a phone stored as "0912 123 4567" does not contain "9121234567".

Fault injection: `fail_next(500, 503)` answers the next requests with those
statuses; `delay` seconds before every answer (timeouts); `requests` logs
(method, path, query) of everything received.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

Route = Tuple[str, "re.Pattern[str]", Callable[..., Tuple[int, Any, Dict[str, str]]]]


class JsonServer:
    """Threaded HTTP server dispatching to `routes`: (method, regex, fn(match, query, body, headers))."""

    prefix = ""

    def __init__(self) -> None:
        self.routes: List[Route] = []
        self.requests: List[Tuple[str, str, Dict[str, str]]] = []
        self.failures: List[int] = []
        self.delay = 0.0
        self.lock = threading.RLock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    def route(self, method: str, pattern: str, fn: Callable[..., Tuple[int, Any, Dict[str, str]]]) -> None:
        self.routes.append((method, re.compile("^" + self.prefix + pattern + "$"), fn))

    def fail_next(self, *statuses: int) -> None:
        with self.lock:
            self.failures.extend(statuses)

    def authorised(self, query: Dict[str, str], headers: Any) -> bool:
        return True

    def start(self) -> str:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with outer.lock:
                    outer.requests.append((self.command, parts.path, query))
                    failure = outer.failures.pop(0) if outer.failures else None
                if outer.delay:
                    time.sleep(outer.delay)
                if failure is not None:
                    return self._send(failure, {"code": "internal_server_error", "message": "injected failure"}, {})
                if not outer.authorised(query, self.headers):
                    return self._send(401, {"code": "woocommerce_rest_cannot_view",
                                            "message": "Sorry, you cannot list resources.", "data": {"status": 401}}, {})
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    return self._send(400, {"code": "rest_invalid_json", "message": "Invalid JSON body"}, {})
                for method, pattern, fn in outer.routes:
                    match = pattern.match(parts.path)
                    if match and method == self.command:
                        with outer.lock:
                            status, payload, headers = fn(match, query, body, self.headers)
                        return self._send(status, payload, headers)
                self._send(404, {"code": "rest_no_route", "message": "No route was found"}, {})

            def _send(self, status: int, payload: Any, headers: Dict[str, str]) -> None:
                data = b"" if status == 204 else json.dumps(payload, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "JsonServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def paginate(records: List[Dict[str, Any]], query: Dict[str, str]) -> Tuple[int, Any, Dict[str, str]]:
    try:
        page = int(query.get("page", 1))
        per_page = int(query.get("per_page", 10))
    except ValueError:
        return 400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): page"}, {}
    if per_page < 1 or per_page > 100 or page < 1:
        return 400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page"}, {}
    total = len(records)
    pages = max(1, math.ceil(total / per_page)) if total else 0
    chunk = records[(page - 1) * per_page: page * per_page]
    return 200, chunk, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}


def _user_search_matches(user: Dict[str, Any], term: str) -> bool:
    """WordPress's user search (WP_User_Query, wrapped in `*…*` by WooCommerce's customers endpoint):
    the columns depend on the term, the match is anywhere in the column."""
    needle = term.strip("*").lower()
    if "@" in needle:
        columns = [user["email"]]
    elif needle.isdigit():
        columns = [user["username"]]
        if str(user["id"]) == needle:
            return True
    else:
        display_name = f"{user['first_name']} {user['last_name']}".strip()
        columns = [user["username"], user["email"], user.get("url", ""), user["username"], display_name]
    return any(needle in (column or "").lower() for column in columns)


def _order_search_texts(order: Dict[str, Any]) -> List[str]:
    """What WooCommerce's order search looks in: the billing and shipping fields and the items' names."""
    texts = [str(v) for part in ("billing", "shipping") for v in (order.get(part) or {}).values() if v]
    return texts + [line.get("name") or "" for line in order.get("line_items") or []]


def _now() -> str:
    return dt.datetime.utcnow().replace(microsecond=0).isoformat()


class FakeWooCommerce(JsonServer):
    prefix = "/wp-json/wc/v3"

    def __init__(self, consumer_key: str = "ck_test", consumer_secret: str = "cs_test") -> None:
        super().__init__()
        self.key, self.secret = consumer_key, consumer_secret
        self.customers: Dict[int, Dict[str, Any]] = {}
        self.products: Dict[int, Dict[str, Any]] = {}
        self.categories: Dict[int, Dict[str, Any]] = {}
        self.orders: Dict[int, Dict[str, Any]] = {}
        self.coupons: Dict[int, Dict[str, Any]] = {}
        self.reviews: List[Dict[str, Any]] = []
        self._ids = 1000
        self.route("GET", r"/products", self._list_products)
        self.route("GET", r"/products/categories", self._list_categories)
        self.route("POST", r"/products/reviews", self._create_review)
        self.route("GET", r"/products/(\d+)", lambda m, q, b, h: self._one(self.products, m))
        self.route("GET", r"/customers", self._list_customers)
        self.route("GET", r"/customers/(\d+)", lambda m, q, b, h: self._one(self.customers, m, "customer"))
        self.route("GET", r"/orders", self._list_orders)
        self.route("POST", r"/orders", self._create_order)
        self.route("GET", r"/orders/(\d+)", lambda m, q, b, h: self._one(self.orders, m, "shop_order"))
        self.route("PUT", r"/orders/(\d+)", self._update_order)
        self.route("GET", r"/coupons", self._list_coupons)

    # ------------------------------------------------------------------ auth
    def authorised(self, query: Dict[str, str], headers: Any) -> bool:
        if query.get("consumer_key") == self.key and query.get("consumer_secret") == self.secret:
            return True
        header = headers.get("Authorization") or ""
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return user == self.key and password == self.secret
        return False

    # ------------------------------------------------------------------ seeding
    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def add_category(self, slug: str, name: str = "") -> int:
        for cid, record in self.categories.items():
            if record["slug"] == slug:
                return cid
        cid = self.next_id()
        self.categories[cid] = {"id": cid, "slug": slug, "name": name or slug, "count": 0}
        return cid

    def add_product(self, sku: str, name: str, price: int, category: str, stock: int = 5, name_en: str = "",
                    warranty_months: int = 12) -> int:
        cid = self.add_category(category)
        self.categories[cid]["count"] += 1
        pid = self.next_id()
        self.products[pid] = {
            "id": pid, "sku": sku, "name": name, "status": "publish", "price": str(price), "regular_price": str(price),
            "stock_quantity": stock, "stock_status": "instock" if stock > 0 else "outofstock",
            "categories": [{"id": cid, "slug": category, "name": category}],
            "meta_data": [{"id": 1, "key": "name_en", "value": name_en or name},
                          {"id": 2, "key": "warranty_months", "value": str(warranty_months)}],
        }
        return pid

    def add_customer(self, first: str, last: str, email: str, phone: str, language: str = "fa",
                     username: Optional[str] = None) -> int:
        cid = self.next_id()
        self.customers[cid] = {
            "id": cid, "email": email, "first_name": first, "last_name": last,
            "username": username or email.split("@")[0],
            "role": "customer", "date_created_gmt": "2024-05-01T10:00:00",
            "billing": {"first_name": first, "last_name": last, "phone": phone, "email": email},
            "shipping": {}, "meta_data": [{"id": 1, "key": "hamsafar_language", "value": language}],
        }
        return cid

    def add_coupon(self, code: str, discount_type: str, amount: int, *, minimum_amount: int = 0,
                   usage_limit: Optional[int] = None, usage_count: int = 0, date_expires_gmt: Optional[str] = None) -> int:
        cid = self.next_id()
        self.coupons[cid] = {"id": cid, "code": code.lower(), "discount_type": discount_type, "amount": f"{amount}.00",
                             "minimum_amount": f"{minimum_amount}.00", "maximum_amount": "0.00",
                             "usage_limit": usage_limit, "usage_count": usage_count, "status": "publish",
                             "date_expires_gmt": date_expires_gmt, "meta_data": []}
        return cid

    def add_order(self, customer_id: int, items: List[Tuple[int, int]], status: str = "processing", *,
                  created: str = "2025-05-20T10:00:00", completed: Optional[str] = None,
                  tracking: Optional[str] = None, carrier: Optional[str] = None) -> int:
        oid = self.next_id()
        order = {"id": oid, "customer_id": customer_id, "status": status, "date_created_gmt": created,
                 "date_modified_gmt": created, "date_paid_gmt": created if status != "pending" else None,
                 "date_completed_gmt": completed, "shipping": {"address_1": "تهران، خیابان آزادی", "city": ""},
                 "billing": dict((self.customers.get(customer_id) or {}).get("billing") or {}),
                 "line_items": [], "coupon_lines": [], "meta_data": [], "discount_total": "0", "total": "0"}
        if tracking:
            order["meta_data"].append({"id": 1, "key": "_tracking_number", "value": tracking})
        if carrier:
            order["meta_data"].append({"id": 2, "key": "_tracking_provider", "value": carrier})
        self._set_lines(order, [{"product_id": p, "quantity": q} for p, q in items])
        self.orders[oid] = order
        return oid

    # ------------------------------------------------------------------ helpers
    def _one(self, table: Dict[int, Dict[str, Any]], match: "re.Match[str]", kind: str = "product"):  # type: ignore[no-untyped-def]
        record = table.get(int(match.group(1)))
        if record is None:
            return 404, {"code": f"woocommerce_rest_{kind}_invalid_id", "message": "Invalid ID.",
                         "data": {"status": 404}}, {}
        return 200, record, {}

    def _set_lines(self, order: Dict[str, Any], lines: List[Dict[str, Any]]) -> Optional[str]:
        current = {line["id"]: line for line in order["line_items"]}
        for line in lines:
            if "id" in line:
                if line["id"] in current:
                    if int(line.get("quantity", 1)) == 0:
                        del current[line["id"]]
                    else:
                        current[line["id"]]["quantity"] = int(line["quantity"])
                continue
            product = self.products.get(int(line.get("product_id", 0)))
            if product is None:
                return f"Invalid product ID {line.get('product_id')}"
            lid = self.next_id()
            current[lid] = {"id": lid, "product_id": product["id"], "sku": product["sku"], "name": product["name"],
                            "quantity": int(line.get("quantity", 1)), "price": float(product["price"]), "meta_data": []}
        order["line_items"] = list(current.values())
        self._recalculate(order)
        return None

    def _recalculate(self, order: Dict[str, Any]) -> None:
        subtotal = sum(int(l["price"]) * l["quantity"] for l in order["line_items"])
        discount = 0
        for line in order.get("coupon_lines") or []:
            coupon = next((c for c in self.coupons.values() if c["code"] == line["code"].lower()), None)
            if coupon:
                amount = int(float(coupon["amount"]))
                discount += subtotal * amount // 100 if coupon["discount_type"] == "percent" else min(amount, subtotal)
        order["discount_total"] = str(discount)
        order["total"] = str(subtotal - discount)

    # ------------------------------------------------------------------ routes
    def _list_products(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        records = sorted(self.products.values(), key=lambda p: p["id"])
        if "sku" in query:
            records = [p for p in records if p["sku"].lower() == query["sku"].lower()]
        if query.get("search"):
            term = query["search"].lower()
            records = [p for p in records if term in p["name"].lower() or term in p["sku"].lower()]
        if query.get("category"):
            records = [p for p in records if any(str(c["id"]) == query["category"] for c in p["categories"])]
        if query.get("stock_status"):
            records = [p for p in records if p["stock_status"] == query["stock_status"]]
        return paginate(records, query)

    def _list_categories(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        records = sorted(self.categories.values(), key=lambda c: c["id"])
        if query.get("slug"):
            records = [c for c in records if c["slug"] == query["slug"]]
        return paginate(records, query)

    def _list_customers(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        records = sorted(self.customers.values(), key=lambda c: c["id"])
        if query.get("email"):
            records = [c for c in records if c["email"].lower() == query["email"].lower()]
        if query.get("search"):
            records = [c for c in records if _user_search_matches(c, query["search"])]
        return paginate(records, query)

    def _list_orders(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        records = list(self.orders.values())
        if query.get("customer"):
            records = [o for o in records if str(o["customer_id"]) == query["customer"]]
        if query.get("status"):
            wanted = set(query["status"].split(","))
            records = [o for o in records if o["status"] in wanted]
        if query.get("search"):
            term = query["search"].lower()
            records = [o for o in records if any(term in text.lower() for text in _order_search_texts(o))]
        records.sort(key=lambda o: (o["date_created_gmt"], o["id"]), reverse=query.get("order", "desc") == "desc")
        return paginate(records, query)

    def _list_coupons(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        records = sorted(self.coupons.values(), key=lambda c: c["id"])
        if query.get("code"):
            records = [c for c in records if c["code"] == query["code"].lower()]
        return paginate(records, query)

    def _create_order(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        body = body or {}
        oid = self.next_id()
        customer = self.customers.get(int(body.get("customer_id") or 0)) or {}
        order = {"id": oid, "customer_id": int(body.get("customer_id") or 0), "status": body.get("status", "pending"),
                 "billing": dict(body.get("billing") or customer.get("billing") or {}),
                 "date_created_gmt": _now(), "date_modified_gmt": _now(), "date_paid_gmt": None,
                 "date_completed_gmt": None, "shipping": dict(body.get("shipping") or {}), "line_items": [],
                 "coupon_lines": [{"code": c["code"]} for c in body.get("coupon_lines") or []],
                 "meta_data": list(body.get("meta_data") or []), "discount_total": "0", "total": "0"}
        problem = self._set_lines(order, body.get("line_items") or [])
        if problem:
            return 400, {"code": "woocommerce_rest_invalid_product_id", "message": problem}, {}
        self.orders[oid] = order
        return 201, order, {}

    def _update_order(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        order = self.orders.get(int(match.group(1)))
        if order is None:
            return 404, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}, {}
        body = body or {}
        if "status" in body:
            order["status"] = body["status"]
        if "shipping" in body:
            order["shipping"].update(body["shipping"])
        for entry in body.get("meta_data") or []:
            order["meta_data"] = [m for m in order["meta_data"] if m["key"] != entry["key"]] + [entry]
        if "coupon_lines" in body:
            order["coupon_lines"] = [{"code": c["code"]} for c in body["coupon_lines"]]
        if "line_items" in body:
            problem = self._set_lines(order, body["line_items"])
            if problem:
                return 400, {"code": "woocommerce_rest_invalid_product_id", "message": problem}, {}
        self._recalculate(order)
        order["date_modified_gmt"] = _now()
        return 200, order, {}

    def _create_review(self, match, query, body, headers):  # type: ignore[no-untyped-def]
        body = body or {}
        if int(body.get("product_id", 0)) not in self.products:
            return 400, {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid product ID."}, {}
        review = {"id": self.next_id(), "date_created_gmt": _now(), "status": "hold", **body}
        self.reviews.append(review)
        return 201, review, {}
