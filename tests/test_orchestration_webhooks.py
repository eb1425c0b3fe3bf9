"""WooCommerce webhooks and REST backend events: signed, forged, replayed — on SQLite and PostgreSQL.

The WooCommerce side is the fake REST v3 shop of tests/fakes: the webhook body is
that shop's order record, as WooCommerce sends it, with the headers
WooCommerce's `WC_Webhook::deliver` sets (Source, Topic, Resource, Event,
Signature = base64 HMAC-SHA256 of the body, ID, Delivery-ID). The journeys then
read the same order through the WooCommerce backend.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

import pytest
import sqlalchemy as sa

from bot.crm.sql import SQLCRM
from bot.crm.woocommerce import WooCommerceCRM
from bot.orchestration.engine import holdout_of
from bot.orchestration.models import JourneyEvent
from bot.orchestration.webhooks import WebhookRejected, handle_rest_event, handle_woocommerce
from tests.fakes.sms_gateways import FakeSmsGateways
from tests.fakes.woocommerce_server import FakeWooCommerce
from tests.support.journeys import T0, World, customer_ids

SECRET = "wc-webhook-secret-0123456789"
EVENTS_SECRET = "rest-events-secret-9876543210"
HOUR, MIN = dt.timedelta(hours=1), dt.timedelta(minutes=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, sqlite_url, monkeypatch):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)
    monkeypatch.delenv("HAMSAFAR_DEMO_CODES", raising=False)
    return url


@pytest.fixture
def sms():
    with FakeSmsGateways() as fake:
        yield fake


@pytest.fixture
def shop():
    with FakeWooCommerce() as fake:
        yield fake


def woo_headers(body: bytes, topic: str, secret: str = SECRET, delivery: str = "", webhook_id: int = 7) -> dict:
    resource, event = topic.split(".")
    return {
        "User-Agent": "WooCommerce/9.8.0 Hookshot (WordPress/6.8)", "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example.ir/", "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode(),
        "X-WC-Webhook-ID": str(webhook_id), "X-WC-Webhook-Delivery-ID": delivery or uuid.uuid4().hex,
    }


def body_of(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()  # WooCommerce: wp_json_encode of the REST record


def events(world: World) -> list:
    table = JourneyEvent.__table__
    with world.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table.c.kind, table.c.source, table.c.order_id).order_by(table.c.id))]


def woo_world(database: str, sms: FakeSmsGateways, shop: FakeWooCommerce):  # type: ignore[no-untyped-def]
    world = World(database, sms)
    world.o._crm = WooCommerceCRM(shop.url, shop.key, shop.secret, local=SQLCRM(database), auth_mode="query")
    return world


def test_woocommerce_order_webhooks_valid_forged_and_replayed(database, sms, shop) -> None:
    world = woo_world(database, sms, shop)
    product = shop.add_product("AUD-JBL-T520", "هدفون جی‌بی‌ال T520", 2950000, "audio", name_en="JBL T520 headphones")
    customer = shop.add_customer("Sara", "Ahmadi", "sara@example.com", "09351234567", language="en")
    while holdout_of("abandoned_payment", str(customer), 0.1):  # a customer who gets the messages
        customer = shop.add_customer("Sara", "Ahmadi", "sara@example.com", "09351234567", language="en")
    created = T0.replace(tzinfo=None).isoformat()
    order_id = shop.add_order(customer, [(product, 1)], status="pending", created=created)
    record = shop.orders[order_id]
    record.update({"currency": "IRT", "payment_url": f"https://shop.example.ir/checkout/order-pay/{order_id}/?key=wc_order_x",
                   "billing": {"first_name": "Sara", "last_name": "Ahmadi", "phone": "09351234567",
                               "email": "sara@example.com"}})
    body = body_of(record)

    with pytest.raises(WebhookRejected) as forged:
        handle_woocommerce(world.o, woo_headers(body, "order.created", secret="guessed"), body, SECRET, now=T0)
    assert forged.value.status == 401 and events(world) == []
    tampered = body.replace(b'"status": "pending"', b'"status": "completed"')
    with pytest.raises(WebhookRejected):
        handle_woocommerce(world.o, woo_headers(body, "order.created"), tampered, SECRET, now=T0)
    assert events(world) == []

    headers = woo_headers(body, "order.created", delivery="d-1")
    outcome = handle_woocommerce(world.o, headers, body, SECRET, now=T0)
    assert (outcome.events, outcome.entered) == (2, 1)
    assert events(world) == [("order.created", "woocommerce", str(order_id)),
                             ("order.pending_payment", "woocommerce", str(order_id))]
    assert handle_woocommerce(world.o, headers, body, SECRET, now=T0 + MIN).duplicate  # same delivery again
    replay = handle_woocommerce(world.o, woo_headers(body, "order.created"), body, SECRET, now=T0 + MIN)
    assert replay.events == 0 and len(events(world)) == 2  # same body, new delivery id: nothing new

    world.run(T0 + HOUR)  # the reminder reads the order through the WooCommerce backend
    [text] = world.sms_to("+989351234567")
    assert text.startswith("Hi Sara, your order") and "2,950,000 Toman" in text
    assert f"/checkout/order-pay/{order_id}/?key=wc_order_x" in text

    record.update({"status": "processing", "date_paid_gmt": (T0 + 2 * HOUR).replace(tzinfo=None).isoformat(),
                   "date_modified_gmt": (T0 + 2 * HOUR).replace(tzinfo=None).isoformat()})
    paid = body_of(record)
    outcome = handle_woocommerce(world.o, woo_headers(paid, "order.updated"), paid, SECRET, now=T0 + 2 * HOUR)
    assert outcome.events == 2  # order.processing and order.paid
    entry = world.entry("abandoned_payment", str(customer))
    assert (entry["exit_reason"], entry["conversion_event"]) == ("goal", "order.paid")
    note = body_of({**record, "customer_note": "please ring twice"})
    assert handle_woocommerce(world.o, woo_headers(note, "order.updated"), note, SECRET, now=T0 + 3 * HOUR).events == 0


def test_woocommerce_ping_other_topics_and_bad_input(database, sms, shop) -> None:
    world = woo_world(database, sms, shop)
    ping = handle_woocommerce(world.o, {"Content-Type": "application/x-www-form-urlencoded"}, b"webhook_id=7", SECRET)
    assert ping.ping and events(world) == []
    coupon = body_of({"id": 5, "code": "x"})
    assert handle_woocommerce(world.o, woo_headers(coupon, "coupon.created"), coupon, SECRET).ignored
    broken = b"{not json"
    with pytest.raises(WebhookRejected) as bad:
        handle_woocommerce(world.o, woo_headers(broken, "order.updated"), broken, SECRET)
    assert (bad.value.status, bad.value.code) == (400, "malformed_json")
    with pytest.raises(WebhookRejected) as unset:
        handle_woocommerce(world.o, woo_headers(coupon, "order.updated"), coupon, None)
    assert unset.value.status == 503


def test_woocommerce_product_update_brings_back_in_stock_news(database, sms, shop) -> None:
    from bot.orchestration.events import record_stock_interest

    world = woo_world(database, sms, shop)
    [cid] = customer_ids("W", "back_in_stock", holdout=False)
    world.customer(cid)
    product = shop.add_product("CAM-XIA-C300", "دوربین شیائومی C300", 2100000, "camera", stock=0)
    record_stock_interest(cid, "CAM-XIA-C300", None, world.url, now=T0 - HOUR)
    out_of_stock = body_of(shop.products[product])
    assert handle_woocommerce(world.o, woo_headers(out_of_stock, "product.updated"), out_of_stock, SECRET, now=T0).ignored
    shop.products[product].update({"stock_quantity": 3, "stock_status": "instock", "date_modified_gmt": "2025-06-04T07:00:00"})
    restocked = body_of(shop.products[product])
    outcome = handle_woocommerce(world.o, woo_headers(restocked, "product.updated"), restocked, SECRET, now=T0)
    assert outcome.entered == 1 and world.entry("back_in_stock", cid)["subject"] == "CAM-XIA-C300"


def rest_headers(body: bytes, secret: str = EVENTS_SECRET, at: int = 1_749_020_400, event_id: str = "") -> dict:
    stamp = str(at)
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hamsafar-Timestamp": stamp, "X-Hamsafar-Signature": f"sha256={digest}",
            "X-Hamsafar-Event-Id": event_id or uuid.uuid4().hex}


def test_rest_backend_events_signed_stale_forged_and_replayed(database, sms) -> None:
    world = World(database, sms)
    [cid] = customer_ids("R", "shipping_updates", holdout=False)
    phone = world.customer(cid, "مریم کریمی")
    clock = 1_749_020_400  # the receiver's clock, Unix seconds
    order = {"order_id": "410001", "customer_id": cid, "status": "shipped", "total": 2950000,
             "created_at": "2025-06-03T08:00:00Z", "updated_at": "2025-06-04T06:30:00Z", "shipped_at": "2025-06-04T06:30:00Z",
             "tracking_code": "TPX-5521", "carrier": "تیپاکس", "items": [{"sku": "AUD-JBL-T520", "quantity": 1,
                                                                          "name_fa": "هدفون", "name_en": "Headphones"}]}
    body = json.dumps({"type": "order.updated", "occurred_at": "2025-06-04T06:30:00Z", "order": order}).encode()

    for headers, code in ((rest_headers(body, secret="wrong", at=clock), "invalid_signature"),
                          (rest_headers(body, at=clock - 600), "stale_timestamp"),
                          ({"X-Hamsafar-Event-Id": "x"}, "missing_signature")):
        with pytest.raises(WebhookRejected) as rejected:
            handle_rest_event(world.o, headers, body, EVENTS_SECRET, now=T0, clock=clock)
        assert (rejected.value.status, rejected.value.code) == (401, code)
    assert events(world) == []

    headers = rest_headers(body, at=clock, event_id="evt-1")
    outcome = handle_rest_event(world.o, headers, body, EVENTS_SECRET, now=T0, clock=clock)
    assert outcome.entered == 1 and events(world) == [("order.shipped", "rest", "410001")]
    assert handle_rest_event(world.o, headers, body, EVENTS_SECRET, now=T0, clock=clock + 5).duplicate
    world.run(T0 + MIN)
    [text] = world.sms_to(phone)
    assert "TPX-5521" in text and "تیپاکس" in text and "۴۱۰۰۰۱" in text

    unknown = json.dumps({"type": "order.exploded"}).encode()
    with pytest.raises(WebhookRejected) as bad:
        handle_rest_event(world.o, rest_headers(unknown, at=clock), unknown, EVENTS_SECRET, now=T0, clock=clock)
    assert bad.value.status == 422

    # A refused event is not remembered: sent again corrected, with the same event id, it is applied.
    order2 = dict(order, order_id="410002")
    broken = json.dumps({"type": "order.updated", "occurred_at": {"when": "yesterday"}, "order": order2}).encode()
    with pytest.raises(WebhookRejected) as refused:
        handle_rest_event(world.o, rest_headers(broken, at=clock, event_id="evt-2"), broken, EVENTS_SECRET, now=T0, clock=clock)
    assert (refused.value.status, refused.value.code) == (422, "invalid_occurred_at")
    fixed = json.dumps({"type": "order.updated", "occurred_at": "2025-06-04T06:30:00Z", "order": order2}).encode()
    outcome = handle_rest_event(world.o, rest_headers(fixed, at=clock, event_id="evt-2"), fixed, EVENTS_SECRET, now=T0, clock=clock)
    assert not outcome.duplicate and ("order.shipped", "rest", "410002") in events(world)


def test_rest_referral_used_converts_the_promoter(database, sms) -> None:
    from bot.orchestration.events import Emitter, Event

    world = World(database, sms)
    [cid] = customer_ids("RF", "referral_promoters", holdout=False)
    world.customer(cid)
    Emitter(world.o).emit(Event("feedback.nps", "nps-9", T0, customer_id=cid, data={"score": 9}), T0)
    clock = int(T0.timestamp())
    used = json.dumps({"type": "referral.used", "customer_id": cid, "occurred_at": (T0 + 3 * HOUR).isoformat(),
                       "data": {"friend_order_id": "500001"}}).encode()
    handle_rest_event(world.o, rest_headers(used, at=clock), used, EVENTS_SECRET, now=T0 + 3 * HOUR, clock=clock)
    entry = world.entry("referral_promoters", cid)
    assert entry["conversion_event"] == "referral.used" and entry["exit_reason"] == "goal"


def test_a_refused_or_failed_delivery_is_not_remembered_so_its_retry_counts(database, sms, shop, monkeypatch) -> None:
    """Only a delivery that was applied makes its id a duplicate: one refused (4xx) or failed (500) may come again."""
    from bot.orchestration import webhooks

    world = woo_world(database, sms, shop)
    [cid] = customer_ids("RT", "shipping_updates", holdout=False)
    world.customer(cid)
    clock = 1_749_020_400
    order = {"order_id": "420001", "customer_id": cid, "status": "shipped", "updated_at": "2025-06-04T06:30:00Z",
             "shipped_at": "2025-06-04T06:30:00Z", "tracking_code": "TPX-1", "carrier": "تیپاکس"}
    wrong = json.dumps({"type": "order.updated", "order": dict(order, status="sent-out")}).encode()
    with pytest.raises(WebhookRejected) as refused:
        handle_rest_event(world.o, rest_headers(wrong, at=clock, event_id="evt-7"), wrong, EVENTS_SECRET, now=T0, clock=clock)
    assert (refused.value.status, refused.value.code) == (422, "invalid_order")
    right = json.dumps({"type": "order.updated", "order": order}).encode()
    outcome = handle_rest_event(world.o, rest_headers(right, at=clock, event_id="evt-7"), right, EVENTS_SECRET, now=T0, clock=clock)
    assert not outcome.duplicate and outcome.entered == 1

    real_emit_all = webhooks._emit_all
    failures = []

    def database_down_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(1)
            raise sa.exc.OperationalError("INSERT …", {}, Exception("the database went away"))
        return real_emit_all(*args, **kwargs)

    monkeypatch.setattr(webhooks, "_emit_all", database_down_once)
    used = json.dumps({"type": "referral.used", "customer_id": cid, "occurred_at": "2025-06-04T06:40:00Z"}).encode()
    with pytest.raises(sa.exc.OperationalError):   # the server answers 500: the sender retries
        handle_rest_event(world.o, rest_headers(used, at=clock, event_id="evt-8"), used, EVENTS_SECRET, now=T0, clock=clock)
    retried = handle_rest_event(world.o, rest_headers(used, at=clock, event_id="evt-8"), used, EVENTS_SECRET, now=T0, clock=clock)
    assert not retried.duplicate and retried.events == 1 and ("referral.used", "rest", None) in events(world)
    assert handle_rest_event(world.o, rest_headers(used, at=clock, event_id="evt-8"), used, EVENTS_SECRET,
                             now=T0, clock=clock).duplicate

    product = shop.add_product("AUD-JBL-T520", "هدفون جی‌بی‌ال T520", 2950000, "audio")
    woo_id = shop.add_order(shop.add_customer("Sara", "Ahmadi", "sara@example.com", "09351234567"), [(product, 1)],
                            status="pending", created=T0.replace(tzinfo=None).isoformat())
    broken = body_of({**shop.orders[woo_id], "line_items": [1]})
    with pytest.raises(WebhookRejected) as bad:
        handle_woocommerce(world.o, woo_headers(broken, "order.created", delivery="d-9"), broken, SECRET, now=T0)
    assert (bad.value.status, bad.value.code) == (422, "invalid_record")
    fixed = body_of(shop.orders[woo_id])
    outcome = handle_woocommerce(world.o, woo_headers(fixed, "order.created", delivery="d-9"), fixed, SECRET, now=T0)
    assert not outcome.duplicate and ("order.pending_payment", "woocommerce", str(woo_id)) in events(world)


def test_the_customers_time_zone_travels_with_woocommerce_and_rest_orders() -> None:
    """WooCommerce: the order's `hamsafar_timezone` meta; REST: the Customer record's `timezone` (IANA names only)."""
    from bot.orchestration.webhooks import _rest_order, woo_order

    record = {"id": 7, "status": "pending", "billing": {"phone": "09351234567"}, "line_items": [],
              "meta_data": [{"key": "hamsafar_timezone", "value": "Europe/Berlin"}]}
    assert woo_order(record)["timezone"] == "Europe/Berlin"
    record["meta_data"] = [{"key": "hamsafar_timezone", "value": "Berlin time"}]
    assert woo_order(record)["timezone"] is None          # not a zone zoneinfo knows: the shop's is used
    rest = _rest_order({"order_id": "1", "status": "paid"}, {"timezone": "Asia/Dubai"}, [], T0)
    assert rest["timezone"] == "Asia/Dubai"
