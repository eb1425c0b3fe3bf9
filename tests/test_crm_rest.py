"""Generic REST backend against a local shop service implementing docs/crm_rest_contract.md."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

import pytest

from bot.crm import base
from bot.crm.base import ActionNotAllowed, CartItem, CRMUnavailable, Order, Reason
from bot.crm.demo_data import REFERENCE_DATE
from bot.crm.importer import seed_demo
from bot.crm.rest import RestCRM, from_json, to_json
from bot.crm.sql import SQLCRM
from tests.fakes.shop_rest_server import FakeShopRest


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[FakeShopRest]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    seed_demo(url, shift_to_today=False)
    server = FakeShopRest(SQLCRM(url, clock=lambda: REFERENCE_DATE), token="t0ken")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def crm(shop: FakeShopRest) -> RestCRM:
    return RestCRM(shop.url, token="t0ken", timeout=1.0, retries=2, backoff=0.01)


def test_json_round_trip() -> None:
    order = Order("100001", "C001", "paid", REFERENCE_DATE, 10, [base.OrderItem("A", 1, 10)], delivered_at=None)
    data = to_json(order)
    assert data["created_at"] == "2025-06-01T12:00:00Z" and data["items"][0]["sku"] == "A"
    assert from_json(Order, data) == order
    assert from_json(Order, {**data, "unknown_field": 1}) == order


def test_lookups(crm: RestCRM) -> None:
    assert crm.find_customer_by_phone("+98 912 123 4567").customer_id == "C001"
    assert crm.find_customer_by_email("sara.ahmadi@example.com").customer_id == "C002"
    assert crm.get_customer("C404") is None
    order = crm.get_order("100004")
    assert order.status == "shipped" and order.created_at.tzinfo is not None and order.items[1].quantity == 2
    assert crm.get_order("999999") is None
    assert len(crm.list_orders("C001", limit=5)) == 5
    assert all(o.status == "delivered" for o in crm.list_orders("C001", status="delivered"))
    assert crm.get_product("MOB-SAM-A55").price == 28_900_000
    assert [p.sku for p in crm.search_products("سامسونگ A55")] == ["MOB-SAM-A55"]
    assert "mobile" in crm.list_categories()


def test_actions_and_refusals(crm: RestCRM) -> None:
    order = crm.create_order("C002", [CartItem("ACC-LOG-M", 1)], shipping_address="Shiraz")
    assert order.status == "pending_payment" and order.total == 1_150_000
    assert crm.change_order(order.order_id, delivery_time="evening").delivery_time == "evening"
    with pytest.raises(ActionNotAllowed) as error:
        crm.cancel_order("100004")
    assert error.value.reason == Reason.STATUS and error.value.status == "shipped"
    with pytest.raises(ActionNotAllowed) as error:
        crm.cancel_order("999999")
    assert error.value.reason == Reason.UNKNOWN_ORDER
    assert crm.cancel_order(order.order_id).status == "cancelled"
    with pytest.raises(ActionNotAllowed) as error:
        crm.create_return_request("100006")
    assert error.value.reason == Reason.RETURN_WINDOW_EXPIRED
    assert crm.create_return_request("100007", reason="x").reference.startswith("R-")
    check = crm.validate_discount_code("welcome10", 2_000_000)
    assert check.valid and check.discount_amount == 200_000 and isinstance(check.expires_at, dt.datetime)
    assert crm.validate_discount_code("YALDA1403", 2_000_000).reason == Reason.EXPIRED
    assert crm.validate_discount_code("", 1).reason == Reason.UNKNOWN_CODE
    with pytest.raises(ActionNotAllowed) as error:
        crm.apply_discount_code("100002", "WELCOME10")
    assert error.value.reason == Reason.STATUS


def test_advocacy_and_cart(crm: RestCRM) -> None:
    assert crm.record_feedback("nps", 9, customer_id="C001").id
    with pytest.raises(ActionNotAllowed):
        crm.record_feedback("csat", 9)
    assert crm.record_review("C001", "HOM-PHI-AF", 4).sku == "HOM-PHI-AF"
    code = crm.referral_code("C001")
    assert crm.referral_code("C001") == code
    with pytest.raises(ActionNotAllowed):
        crm.referral_code("C404")
    assert crm.loyalty("C001").level in ("bronze", "silver", "gold", "platinum")
    assert crm.loyalty("C404") is None
    ticket = crm.open_ticket("C001", "payment failed", category="payment")
    assert crm.get_ticket(ticket.reference).category == "payment"
    assert crm.add_to_cart("c-9", "ACC-LOG-M", 2).items == [CartItem("ACC-LOG-M", 2)]
    assert crm.remove_from_cart("c-9", "ACC-LOG-M").items == []
    crm.add_to_cart("c-9", "ACC-LOG-K")
    crm.clear_cart("c-9")
    assert crm.get_cart("c-9").items == []


def test_bad_token_is_unavailable(shop: FakeShopRest) -> None:
    with pytest.raises(CRMUnavailable, match="authentication"):
        RestCRM(shop.url, token="nope").get_order("100001")


def test_retry_then_outage(shop: FakeShopRest, crm: RestCRM) -> None:
    shop.fail_next(500, 503)
    assert crm.get_order("100001").status == "pending_payment"
    shop.fail_next(*[500] * 5)
    before = len(shop.requests)
    with pytest.raises(CRMUnavailable):
        crm.get_order("100001")
    assert len(shop.requests) - before == 3
    shop.failures.clear()
    shop.fail_next(500)
    before = len(shop.requests)
    with pytest.raises(CRMUnavailable):  # POST: no retry
        crm.open_ticket("C001", "x")
    assert len(shop.requests) - before == 1


def test_timeout_and_refused_connection(shop: FakeShopRest) -> None:
    slow = RestCRM(shop.url, token="t0ken", timeout=0.2, retries=1, backoff=0.01)
    shop.delay = 0.5
    with pytest.raises(CRMUnavailable, match="timeout"):
        slow.get_customer("C001")
    shop.delay = 0
    shop.stop()
    with pytest.raises(CRMUnavailable, match="connection"):
        slow.get_customer("C001")


@pytest.mark.parametrize("value", ["..", ".", "%2e%2e", "a/b", "a?b=1", "a#b", "../customers"])
def test_every_path_segment_is_encoded(shop: FakeShopRest, crm: RestCRM, value: str) -> None:
    """A product or order id typed by a customer stays one segment of its own resource:
    `..` cannot reach the API root, `/`, `?` and `#` cannot add paths or queries (#17 finding 4)."""
    before = len(shop.requests)
    assert crm.get_product(value) is None
    assert crm.get_order(value) is None
    paths = [path for _, path, _ in shop.requests[before:]]
    assert len(paths) == 2, paths
    for path, resource in zip(paths, ("products", "orders")):
        prefix, _, segment = path.rpartition(f"/{resource}/")
        assert segment and "/" not in segment and "?" not in segment and "#" not in segment, path
        assert segment not in ("..", "."), path
