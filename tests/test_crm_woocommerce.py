"""WooCommerce backend against a local fake WooCommerce REST v3 server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Iterator

import pytest

from bot.crm.base import ActionNotAllowed, CartItem, CRMUnavailable, Reason
from bot.crm.woocommerce import WooCommerceCRM
from bot.identity.verification import Verifier
from tests.fakes.woocommerce_server import FakeWooCommerce

NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def woo() -> Iterator[FakeWooCommerce]:
    fake = FakeWooCommerce("ck_live", "cs_live")
    fake.phone = fake.add_product("MOB-SAM-A55", "گوشی سامسونگ گلکسی A55", 28_900_000, "mobile",
                                  name_en="Samsung Galaxy A55 phone", stock=3)
    fake.case = fake.add_product("ACC-CAS-A55", "قاب گوشی A55", 250_000, "accessory", stock=50)
    fake.empty = fake.add_product("MOB-XIA-P6", "گوشی شیائومی پوکو X6", 19_900_000, "mobile", stock=0)
    for i in range(120):  # more customers than one page
        fake.add_customer(f"نام{i}", "مشتری", f"user{i}@example.com", f"0935{i:07d}")
    fake.ali = fake.add_customer("علی", "رضایی", "ali@example.ir", "09121234567")
    fake.sara = fake.add_customer("Sara", "Ahmadi", "sara@example.com", "+989351230000", language="en")
    fake.delivered = fake.add_order(fake.ali, [(fake.phone, 1)], "completed", created="2025-05-25T10:00:00",
                                    completed="2025-05-30T10:00:00", tracking="123456789012345678901234",
                                    carrier="پست")
    fake.shipped = fake.add_order(fake.ali, [(fake.case, 2)], "shipped", created="2025-05-31T09:00:00",
                                  tracking="CH123456789", carrier="چاپار")
    fake.processing = fake.add_order(fake.ali, [(fake.case, 1)], "processing", created="2025-05-31T11:00:00")
    fake.other = fake.add_order(fake.sara, [(fake.case, 1)], "on-hold", created="2025-05-20T11:00:00")
    for i in range(30):
        fake.add_order(fake.sara, [(fake.case, 1)], "completed", created=f"2025-04-{1 + i % 28:02d}T08:00:00",
                       completed="2025-04-29T08:00:00")
    fake.add_coupon("welcome10", "percent", 10, minimum_amount=1_000_000)
    fake.add_coupon("once", "fixed_cart", 100_000, usage_limit=1, usage_count=1)
    fake.add_coupon("old", "percent", 20, date_expires_gmt="2024-12-22T20:30:00")
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def crm(woo: FakeWooCommerce, tmp_path) -> WooCommerceCRM:  # type: ignore[no-untyped-def]
    return WooCommerceCRM(woo.url, "ck_live", "cs_live", local_url=f"sqlite:///{tmp_path / 'local.db'}",
                          timeout=1.0, retries=2, backoff=0.01, clock=lambda: NOW)


def test_auth_by_query_string_over_http_and_basic_when_asked(woo: FakeWooCommerce, crm: WooCommerceCRM, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert crm.get_customer(str(woo.ali)).name == "علی رضایی"
    assert woo.requests[-1][2]["consumer_key"] == "ck_live"
    basic = WooCommerceCRM(woo.url, "ck_live", "cs_live", local_url=f"sqlite:///{tmp_path / 'b.db'}", auth_mode="basic")
    assert basic.get_product("MOB-SAM-A55").price == 28_900_000
    assert "consumer_key" not in woo.requests[-1][2]


def test_wrong_credentials_are_crm_unavailable(woo: FakeWooCommerce, tmp_path) -> None:  # type: ignore[no-untyped-def]
    crm = WooCommerceCRM(woo.url, "ck_live", "wrong", local_url=f"sqlite:///{tmp_path / 'l.db'}", retries=2)
    before = len(woo.requests)
    with pytest.raises(CRMUnavailable, match="authentication"):
        crm.get_order(str(woo.delivered))
    assert len(woo.requests) == before + 1  # an auth failure is not retried


def test_customer_by_phone_uses_woocommerce_search_not_a_scan(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    """Issue 17 finding 9: a phone lookup costs a bounded number of requests however many customers
    the shop has; never a read of every customer page."""
    def lookups() -> list:
        return [(p.rsplit("/", 1)[-1], q) for m, p, q in woo.requests if "/customers" in p or "/orders" in p]

    # Ali's number is on his orders' billing (WooCommerce's order search finds it) in another format.
    customer = crm.find_customer_by_phone("۰۹۱۲۱۲۳۴۵۶۷")
    assert customer is not None and customer.customer_id == str(woo.ali) and customer.phone == "+989121234567"
    made = lookups()
    assert len(made) <= 3
    assert all(q.get("page") in (None, "1") for _, q in made)
    assert made[0][1]["search"] == made[1][1]["search"] == "9121234567"

    # A shop that signs customers in by mobile keeps the number as the login: found by customer search.
    mobile_login = woo.add_customer("Reza", "Karimi", "reza@example.com", "+989127654321", username="09127654321")
    woo.requests.clear()
    assert crm.find_customer_by_phone("0912 765 4321").customer_id == str(mobile_login)
    assert len(lookups()) == 1

    # 2,000 customers more: an unknown number still costs two requests, one page each.
    for i in range(2000):
        woo.add_customer(f"x{i}", "y", f"bulk{i}@example.com", f"0936{i:07d}")
    woo.requests.clear()
    assert crm.find_customer_by_phone("09000000000") is None
    made = lookups()
    assert [path for path, _ in made] == ["customers", "orders"]
    assert all(q["page"] == "1" and int(q["per_page"]) <= 100 and q["search"] == "9000000000" for _, q in made)

    # A number someone else's order was placed with once, whose account now has another phone: not theirs.
    woo.customers[woo.sara]["billing"]["phone"] = "+989350000000"
    assert crm.find_customer_by_phone("+989351230000") is None
    assert crm.find_customer_by_email("SARA@example.com").language == "en"


def test_fake_woocommerce_searches_like_woocommerce(woo: FakeWooCommerce) -> None:
    """The fake follows WordPress's user search and WooCommerce's order search (see its docstring)."""
    import httpx

    def search(path: str, term: str) -> list:
        response = httpx.get(f"{woo.url}/wp-json/wc/v3/{path}", params={"search": term, "per_page": 100,
                                                                         "consumer_key": "ck_live", "consumer_secret": "cs_live"})
        return [r["id"] for r in response.json()]

    assert search("customers", "ali@example") == [woo.ali]           # "@": the email
    assert search("customers", "9121234567") == []                   # digits: the login, never billing.phone
    assert search("customers", str(woo.ali)) == [woo.ali]            # ...or the id itself
    assert search("customers", "علی رضایی") == [woo.ali]              # words: the display name too
    assert set(search("orders", "9121234567")) == {woo.delivered, woo.shipped, woo.processing}  # billing phone
    spaced = woo.add_customer("Mina", "Navabi", "mina@example.com", "0912 555 0000")
    woo.add_order(spaced, [(woo.case, 1)])
    assert search("orders", "9125550000") == []                      # the stored text is "0912 555 0000"
    assert len(search("orders", "0912 555")) == 1


def test_products(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    product = crm.get_product("mob-sam-a55")
    assert (product.name_fa, product.name_en, product.category, product.stock) == \
        ("گوشی سامسونگ گلکسی A55", "Samsung Galaxy A55 phone", "mobile", 3)
    assert {p.sku for p in crm.list_products("mobile")} == {"MOB-SAM-A55", "MOB-XIA-P6"}
    assert [p.sku for p in crm.list_products("mobile", in_stock_only=True)] == ["MOB-SAM-A55"]
    assert [p.sku for p in crm.search_products("سامسونگ")] == ["MOB-SAM-A55"]
    assert [p.sku for p in crm.search_products("Galaxy phone")] == ["MOB-SAM-A55"]  # our fallback matching
    assert crm.list_products("nope") == []
    assert set(crm.list_categories()) == {"mobile", "accessory"}


def test_orders_and_status_mapping(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    delivered = crm.get_order(str(woo.delivered))
    assert delivered.status == "delivered" and delivered.carrier == "پست"
    assert delivered.delivered_at == dt.datetime(2025, 5, 30, 10, tzinfo=dt.timezone.utc)
    assert delivered.items[0].sku == "MOB-SAM-A55" and delivered.total == 28_900_000
    assert crm.get_order(str(woo.shipped)).status == "shipped"
    assert crm.get_order(str(woo.other)).status == "paid"
    assert crm.get_order("999999") is None and crm.get_order("abc") is None
    mine = crm.list_orders(str(woo.ali))
    assert [o.order_id for o in mine] == [str(woo.processing), str(woo.shipped), str(woo.delivered)]
    assert len(crm.list_orders(str(woo.sara), limit=25)) == 25
    many = crm.list_orders(str(woo.sara), status="delivered", limit=1000)
    assert len(many) == 30  # across pages


def test_create_change_cancel(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    order = crm.create_order(str(woo.ali), [CartItem("ACC-CAS-A55", 2)], shipping_address="تهران", discount_code=None)
    assert order.status == "pending_payment" and order.total == 500_000
    assert woo.orders[int(order.order_id)]["status"] == "pending"
    changed = crm.change_order(order.order_id, items=[CartItem("MOB-SAM-A55", 1)], shipping_address="کرج")
    assert [(i.sku, i.quantity) for i in changed.items] == [("MOB-SAM-A55", 1)] and changed.total == 28_900_000
    assert changed.shipping_address == "کرج"
    assert crm.apply_discount_code(order.order_id, "WELCOME10").total == 26_010_000
    cancelled = crm.cancel_order(order.order_id, reason="no longer needed")
    assert cancelled.status == "cancelled" and woo.orders[int(order.order_id)]["status"] == "cancelled"
    with pytest.raises(ActionNotAllowed) as error:
        crm.cancel_order(str(woo.shipped))
    assert error.value.reason == Reason.STATUS and error.value.status == "shipped"
    with pytest.raises(ActionNotAllowed) as error:
        crm.change_order(str(woo.delivered), delivery_time="عصر")
    assert error.value.reason == Reason.STATUS
    with pytest.raises(ActionNotAllowed) as error:
        crm.create_order(str(woo.ali), [CartItem("MOB-XIA-P6", 1)])
    assert error.value.reason == Reason.OUT_OF_STOCK


def test_coupons(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    assert crm.validate_discount_code("welcome10", 2_000_000).discount_amount == 200_000
    assert crm.validate_discount_code("welcome10", 900_000).reason == Reason.MIN_TOTAL
    assert crm.validate_discount_code("ONCE", 900_000).reason == Reason.USAGE_LIMIT
    assert crm.validate_discount_code("old", 900_000).reason == Reason.EXPIRED
    assert crm.validate_discount_code("nothing", 900_000).reason == Reason.UNKNOWN_CODE


def test_local_records_returns_tickets_referral_loyalty_cart(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    request = crm.create_return_request(str(woo.delivered), reason="broken")  # delivered 2 days before NOW
    assert request.reference.startswith("R-") and request.customer_id == str(woo.ali)
    with pytest.raises(ActionNotAllowed) as error:
        crm.create_return_request(str(woo.shipped))
    assert error.value.reason == Reason.STATUS
    assert crm.open_ticket(str(woo.ali), "help").reference.startswith("T-")
    code = crm.referral_code(str(woo.ali))
    assert crm.referral_code(str(woo.ali)) == code
    assert crm.loyalty(str(woo.ali)).points == 28_900_000 // 10_000
    assert crm.add_to_cart("conv", "MOB-SAM-A55").items == [CartItem("MOB-SAM-A55", 1)]
    review = crm.record_review(str(woo.ali), "MOB-SAM-A55", 5, "عالی")
    assert review.id and woo.reviews[-1]["rating"] == 5


def test_5xx_is_retried_then_succeeds(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    woo.fail_next(503, 500)
    assert crm.get_order(str(woo.delivered)).status == "delivered"


def test_5xx_outage_is_crm_unavailable_after_bounded_retries(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    woo.fail_next(*[500] * 10)
    before = len(woo.requests)
    with pytest.raises(CRMUnavailable):
        crm.get_order(str(woo.delivered))
    assert len(woo.requests) - before == 3  # 1 + 2 retries


def test_post_is_not_retried(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    crm.get_product("ACC-CAS-A55")  # warm the sku -> id cache
    orders_before = len(woo.orders)
    posts_before = sum(1 for m, p, q in woo.requests if m == "POST")
    # the POST itself fails with 502: exactly one POST was sent, and the caller learns the shop is unavailable
    original = crm.http.request

    def request(method, path, **kwargs):  # type: ignore[no-untyped-def]
        if method == "POST":
            woo.fail_next(502)
        return original(method, path, **kwargs)

    crm.http.request = request  # type: ignore[assignment]
    with pytest.raises(CRMUnavailable):
        crm.create_order(str(woo.ali), [CartItem("ACC-CAS-A55", 1)])
    assert sum(1 for m, p, q in woo.requests if m == "POST") == posts_before + 1
    assert len(woo.orders) == orders_before


def test_timeout_is_crm_unavailable(woo: FakeWooCommerce, tmp_path) -> None:  # type: ignore[no-untyped-def]
    crm = WooCommerceCRM(woo.url, "ck_live", "cs_live", local_url=f"sqlite:///{tmp_path / 't.db'}",
                         timeout=0.2, retries=1, backoff=0.01)
    woo.delay = 0.6
    started = time.monotonic()
    with pytest.raises(CRMUnavailable, match="timeout"):
        crm.get_order(str(woo.delivered))
    assert time.monotonic() - started < 3


def test_server_gone_is_crm_unavailable(woo: FakeWooCommerce, crm: WooCommerceCRM) -> None:
    woo.stop()
    with pytest.raises(CRMUnavailable):
        crm.get_order("1")


def test_order_for_customer_with_woocommerce(woo: FakeWooCommerce, crm: WooCommerceCRM, tmp_path) -> None:  # type: ignore[no-untyped-def]
    verifier = Verifier(crm, url=crm.local_url)
    assert verifier.order_for_customer(str(woo.delivered), str(woo.ali)).status == "delivered"
    assert verifier.order_for_customer(str(woo.other), str(woo.ali)) is None
    assert verifier.order_for_customer("999999", str(woo.ali)) is None
