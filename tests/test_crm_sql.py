"""Business rules of the CRM on the SQL backend (SQLite files; PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from bot.crm import base
from bot.crm.base import ActionNotAllowed, CartItem, CRMUnavailable, Reason
from bot.crm.demo_data import REFERENCE_DATE
from bot.crm.importer import seed_demo
from bot.crm.policy import ShopPolicy, load_policy
from bot.crm.sql import SQLCRM

NOW = REFERENCE_DATE


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def crm(db_url, clock) -> SQLCRM:  # type: ignore[no-untyped-def]
    seed_demo(db_url, shift_to_today=False)
    return SQLCRM(db_url, clock=clock)


# ----------------------------------------------------------------------------- lookups


def test_find_customer_by_phone_in_any_form(crm: SQLCRM) -> None:
    for form in ("09121234567", "+989121234567", "00989121234567", "۰۹۱۲ ۱۲۳ ۴۵۶۷", "0912-123-4567"):
        customer = crm.find_customer_by_phone(form)
        assert customer is not None and customer.customer_id == "C001", form
    assert crm.find_customer_by_phone("09999999999") is None
    assert crm.find_customer_by_phone("not a phone") is None
    # C002's CSV phone is "+98 935 123 4567", C003's is in Persian digits
    assert crm.find_customer_by_phone("09351234567").customer_id == "C002"
    assert crm.find_customer_by_phone("09191112233").customer_id == "C003"


def test_get_products_is_get_product_of_each_in_one_query(crm: SQLCRM) -> None:
    import sqlalchemy as sa

    from bot import schema

    skus = ["LAP-DEL-V15", "nope", " lap-len-ip3 ", "MOB-SAM-A55", "LAP-DEL-V15", ""]
    one_by_one = [p for p in (crm.get_product(sku) for sku in skus) if p is not None]
    assert [p.sku for p in one_by_one] == ["LAP-DEL-V15", "LAP-LEN-IP3", "MOB-SAM-A55", "LAP-DEL-V15"]
    statements = []

    def count(*args, **kwargs):  # type: ignore[no-untyped-def]
        statements.append(args[2])

    engine = schema.engine(crm.url)
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        together = crm.get_products(skus)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert together == one_by_one
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert crm.get_products([]) == [] and crm.get_products(["nope"]) == []


def test_find_customer_by_email_and_id(crm: SQLCRM) -> None:
    assert crm.find_customer_by_email("Sara.Ahmadi@Example.com").customer_id == "C002"
    assert crm.get_customer("C002").language == "en"
    assert crm.get_customer("C999") is None


def test_a_customer_carries_a_time_zone_and_an_older_table_gains_the_column(crm: SQLCRM, db_url: str) -> None:
    """`customers.timezone` (empty: the shop's zone, Asia/Tehran); migration `crm` 1 adds the column to a
    customers table of an older release, keeping its rows."""
    import sqlalchemy as sa

    from bot.crm.models import CustomerRow
    from bot.db import get_engine
    from bot.schema import init_db

    assert crm.get_customer("C001").timezone is None
    engine = get_engine(db_url)
    table = CustomerRow.__table__
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.customer_id == "C002").values(timezone="Europe/Berlin"))
    assert crm.get_customer("C002").timezone == "Europe/Berlin"
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE customers DROP COLUMN timezone"))
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE module = 'crm' AND version = 1"))
    init_db(db_url)
    with engine.connect() as conn:
        assert "timezone" in {c["name"] for c in sa.inspect(conn).get_columns("customers")}
    assert crm.get_customer("C002").timezone is None and crm.get_customer("C002").name == "Sara Ahmadi"


def test_products_by_category_text_and_sku(crm: SQLCRM) -> None:
    mobiles = crm.list_products("mobile")
    assert mobiles and all(p.category == "mobile" for p in mobiles)
    assert [p.sku for p in crm.search_products("mob-sam-a55")] == ["MOB-SAM-A55"]
    assert {p.sku for p in crm.search_products("گوشی سامسونگ")} == {"MOB-SAM-A55", "MOB-SAM-S24"}
    # Arabic kaf/yeh, no ZWNJ: still the laptops
    laptops = crm.search_products("لپتاپ")
    assert laptops and all(p.category == "laptop" for p in laptops)
    assert all(p.category == "laptop" for p in crm.search_products("لپ تاپ لنوو"))
    assert {p.sku for p in crm.search_products("لپ تاپ لنوو")} == {"LAP-LEN-IP3", "LAP-LEN-LGN"}
    assert crm.search_products("Sony headphones")[0].sku == "AUD-SNY-XM5"
    assert crm.search_products("زیردریایی") == []
    assert all(p.stock > 0 for p in crm.list_products(in_stock_only=True))
    assert "gaming" in crm.list_categories()


def test_orders_of_customer_newest_first(crm: SQLCRM) -> None:
    orders = crm.list_orders("C001")
    assert len(orders) >= 8
    assert [o.created_at for o in orders] == sorted((o.created_at for o in orders), reverse=True)
    assert {o.status for o in orders} >= set(base.ORDER_STATUSES)
    shipped = crm.get_order("100004")
    assert shipped.status == "shipped" and shipped.tracking_code and shipped.carrier
    assert [i.sku for i in shipped.items] == ["WCH-XIA-B8", "ACC-BAS-CB"] and shipped.items[1].quantity == 2
    assert crm.list_orders("C001", status="cancelled")[0].status == "cancelled"
    assert crm.get_order("999999") is None


# ----------------------------------------------------------------------------- create / change / cancel


def test_create_order_is_pending_payment_with_catalogue_prices_and_reserves_stock(crm: SQLCRM) -> None:
    stock = crm.get_product("ACC-LOG-M").stock
    order = crm.create_order("C002", [CartItem("ACC-LOG-M", 2), CartItem("ACC-BAS-CB", 1)],
                             shipping_address="Tehran")
    assert order.status == base.PENDING_PAYMENT
    assert int(order.order_id) > 100264
    assert order.total == 2 * 1150000 + 390000
    assert crm.get_product("ACC-LOG-M").stock == stock - 2
    assert crm.get_order(order.order_id).customer_id == "C002"


@pytest.mark.parametrize("items,reason", [
    ([], Reason.EMPTY),
    ([CartItem("NOPE", 1)], Reason.UNKNOWN_PRODUCT),
    ([CartItem("ACC-LOG-M", 0)], Reason.INVALID),
    ([CartItem("MOB-XIA-P6", 1)], Reason.OUT_OF_STOCK),  # stock 0 in products.csv
])
def test_create_order_refusals(crm: SQLCRM, items, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActionNotAllowed) as error:
        crm.create_order("C001", items)
    assert error.value.reason == reason


def test_create_order_for_unknown_customer(crm: SQLCRM) -> None:
    with pytest.raises(ActionNotAllowed) as error:
        crm.create_order("C999", [CartItem("ACC-LOG-M", 1)])
    assert error.value.reason == Reason.UNKNOWN_CUSTOMER


CANCEL_EXPECTED = {"pending_payment": True, "paid": True, "processing": True, "shipped": False,
                   "delivered": False, "cancelled": False, "returned": False}
C001_ORDER_BY_STATUS = {"pending_payment": "100001", "paid": "100002", "processing": "100003", "shipped": "100004",
                        "cancelled": "100005", "delivered": "100007", "returned": "100008"}


@pytest.mark.parametrize("status", base.ORDER_STATUSES)
def test_cancel_only_before_shipping(crm: SQLCRM, status: str) -> None:
    order_id = C001_ORDER_BY_STATUS[status]
    assert crm.get_order(order_id).status == status
    if CANCEL_EXPECTED[status]:
        cancelled = crm.cancel_order(order_id, reason="changed my mind")
        assert cancelled.status == "cancelled" and cancelled.cancel_reason == "changed my mind"
        assert crm.get_order(order_id).status == "cancelled"
    else:
        with pytest.raises(ActionNotAllowed) as error:
            crm.cancel_order(order_id)
        assert error.value.reason == Reason.STATUS and error.value.status == status
        assert crm.get_order(order_id).status == status


def test_cancel_gives_stock_back(crm: SQLCRM) -> None:
    before = crm.get_product("HOM-DLG-CM").stock
    order = crm.create_order("C003", [CartItem("HOM-DLG-CM", 1)])
    assert crm.get_product("HOM-DLG-CM").stock == before - 1
    crm.cancel_order(order.order_id)
    assert crm.get_product("HOM-DLG-CM").stock == before


@pytest.mark.parametrize("status", base.ORDER_STATUSES)
def test_change_address_only_before_shipping_items_only_before_payment(crm: SQLCRM, status: str) -> None:
    order_id = C001_ORDER_BY_STATUS[status]
    if status in ("pending_payment", "paid", "processing"):
        changed = crm.change_order(order_id, shipping_address="اصفهان، خیابان چهارباغ", delivery_time="صبح")
        assert changed.shipping_address == "اصفهان، خیابان چهارباغ" and changed.delivery_time == "صبح"
    else:
        with pytest.raises(ActionNotAllowed) as error:
            crm.change_order(order_id, shipping_address="x")
        assert error.value.reason == Reason.STATUS and error.value.status == status
    if status == "pending_payment":
        changed = crm.change_order(order_id, items=[CartItem("ACC-CAS-A55", 3)])
        assert [(i.sku, i.quantity) for i in changed.items] == [("ACC-CAS-A55", 3)] and changed.total == 750000
    else:
        with pytest.raises(ActionNotAllowed) as error:
            crm.change_order(order_id, items=[CartItem("ACC-CAS-A55", 1)])
        assert error.value.reason == Reason.STATUS


def test_change_with_nothing_and_unknown_order(crm: SQLCRM) -> None:
    with pytest.raises(ActionNotAllowed) as error:
        crm.change_order("100001")
    assert error.value.reason == Reason.EMPTY
    with pytest.raises(ActionNotAllowed) as error:
        crm.cancel_order("999999")
    assert error.value.reason == Reason.UNKNOWN_ORDER


# ----------------------------------------------------------------------------- returns


def test_return_inside_window_gets_a_reference_and_is_idempotent(crm: SQLCRM) -> None:
    request = crm.create_return_request("100007", reason="خراب است")  # delivered 2 days ago, 7-day window
    assert request.reference.startswith("R-") and request.status == "requested"
    assert request.deadline == crm.get_order("100007").delivered_at + dt.timedelta(days=7)
    assert crm.create_return_request("100007", reason="again").reference == request.reference
    partial = crm.create_return_request("100007", items=[CartItem("ACC-ANK-PB", 1)])
    assert partial.reference != request.reference and partial.items == [CartItem("ACC-ANK-PB", 1)]


def test_return_window_counts_from_delivery_and_ends(crm: SQLCRM, clock: Clock) -> None:
    delivered = crm.get_order("100007").delivered_at
    clock.now = delivered + dt.timedelta(days=7, seconds=1)
    with pytest.raises(ActionNotAllowed) as error:
        crm.create_return_request("100007")
    assert error.value.reason == Reason.RETURN_WINDOW_EXPIRED
    assert error.value.detail["days"] == 7
    clock.now = delivered + dt.timedelta(days=6, hours=23)
    assert crm.create_return_request("100007").reference


def test_return_window_per_category_and_not_returnable(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    seed_demo(db_url, shift_to_today=False)
    raw = dict(load_policy().raw)
    raw["returns"] = {"window_days": 7, "by_category": {"home": 10}, "non_returnable_categories": ["audio"]}
    crm = SQLCRM(db_url, clock=clock, policy=ShopPolicy(raw))
    order = crm.get_order("100006")  # C001, HOM-PHI-AF (home), delivered 55 days ago
    clock.now = order.delivered_at + dt.timedelta(days=9)
    assert crm.create_return_request("100006").deadline == order.delivered_at + dt.timedelta(days=10)
    with pytest.raises(ActionNotAllowed) as error:  # 100007 has audio earbuds
        crm.create_return_request("100007", items=[CartItem("AUD-XIA-BUD", 1)])
    assert error.value.reason == Reason.NOT_RETURNABLE


@pytest.mark.parametrize("order_id", ["100001", "100002", "100003", "100004", "100005", "100008"])
def test_return_only_for_delivered_orders(crm: SQLCRM, order_id: str) -> None:
    with pytest.raises(ActionNotAllowed) as error:
        crm.create_return_request(order_id)
    assert error.value.reason == Reason.STATUS


def test_return_of_items_not_in_the_order(crm: SQLCRM) -> None:
    with pytest.raises(ActionNotAllowed) as error:
        crm.create_return_request("100007", items=[CartItem("ACC-ANK-PB", 2)])
    assert error.value.reason == Reason.INVALID


# ----------------------------------------------------------------------------- discounts


def test_discount_rules(crm: SQLCRM, clock: Clock) -> None:
    ok = crm.validate_discount_code(" welcome10 ", 3_000_000)
    assert ok.valid and ok.discount_amount == 300_000 and ok.new_total == 2_700_000
    capped = crm.validate_discount_code("WELCOME10", 9_000_000)
    assert capped.discount_amount == 500_000  # max_discount
    assert crm.validate_discount_code("WELCOME10", 999_999).reason == Reason.MIN_TOTAL
    assert crm.validate_discount_code("YALDA1403", 5_000_000).reason == Reason.EXPIRED
    assert crm.validate_discount_code("NOSUCHCODE", 5_000_000).reason == Reason.UNKNOWN_CODE
    fixed = crm.validate_discount_code("TAKHFIF200", 3_000_000)
    assert fixed.valid and fixed.discount_amount == 200_000
    clock.now = dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc)
    assert crm.validate_discount_code("WELCOME10", 3_000_000).reason == Reason.EXPIRED


def test_discount_usage_limit(crm: SQLCRM) -> None:
    first = crm.create_order("C001", [CartItem("GAM-SNY-PS5", 1), CartItem("ACC-LOG-K", 1)])  # 40.85M >= 40M
    applied = crm.apply_discount_code(first.order_id, "vip50")
    assert applied.discount_code == "VIP50" and applied.total == first.total - 5_000_000
    assert crm.apply_discount_code(first.order_id, "VIP50").total == applied.total  # same code again: no-op
    second = crm.create_order("C002", [CartItem("GAM-SNY-PS5", 1), CartItem("ACC-LOG-K", 1)])
    assert crm.validate_discount_code("VIP50", second.total).reason == Reason.USAGE_LIMIT
    with pytest.raises(ActionNotAllowed) as error:
        crm.apply_discount_code(second.order_id, "VIP50")
    assert error.value.reason == Reason.USAGE_LIMIT
    crm.cancel_order(first.order_id)  # cancelling gives the use back
    assert crm.apply_discount_code(second.order_id, "VIP50").discount_amount == 5_000_000


def test_discount_only_on_pending_payment_and_min_total(crm: SQLCRM) -> None:
    with pytest.raises(ActionNotAllowed) as error:
        crm.apply_discount_code("100002", "WELCOME10")  # paid
    assert error.value.reason == Reason.STATUS
    small = crm.create_order("C001", [CartItem("ACC-CAS-A55", 1)])
    with pytest.raises(ActionNotAllowed) as error:
        crm.apply_discount_code(small.order_id, "WELCOME10")
    assert error.value.reason == Reason.MIN_TOTAL and error.value.detail["min_total"] == 1_000_000
    with pytest.raises(ActionNotAllowed) as error:
        crm.create_order("C001", [CartItem("ACC-CAS-A55", 1)], discount_code="YALDA1403")
    assert error.value.reason == Reason.EXPIRED


def test_discount_usage_limit_holds_under_concurrency(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    seed_demo(db_url, shift_to_today=False)
    crm = SQLCRM(db_url, clock=clock)
    orders = [crm.create_order("C001", [CartItem("GAM-SNY-PS5", 1), CartItem("ACC-LOG-K", 1)]).order_id
              for _ in range(4)]
    results = []

    def apply(order_id: str) -> None:
        try:
            crm.apply_discount_code(order_id, "VIP50")
            results.append("ok")
        except ActionNotAllowed as error:
            results.append(error.reason)
        except Exception as error:  # sqlite "database is locked" would count as a failure too
            results.append(repr(error))

    threads = [threading.Thread(target=apply, args=(o,)) for o in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 1, results
    assert crm.get_discount_code("VIP50").used_count == 1


# ----------------------------------------------------------------------------- carts, tickets, advocacy


def test_cart(crm: SQLCRM) -> None:
    crm.add_to_cart("conv-1", "acc-log-m")
    cart = crm.add_to_cart("conv-1", "ACC-LOG-M", 2)
    assert cart.items == [CartItem("ACC-LOG-M", 3)]
    crm.add_to_cart("conv-1", "ACC-BAS-CB")
    assert [i.sku for i in crm.remove_from_cart("conv-1", "ACC-LOG-M").items] == ["ACC-BAS-CB"]
    with pytest.raises(ActionNotAllowed) as error:
        crm.add_to_cart("conv-1", "MOB-XIA-P6")
    assert error.value.reason == Reason.OUT_OF_STOCK
    order = crm.create_order("C001", crm.get_cart("conv-1").items)
    assert order.total == 390000
    crm.clear_cart("conv-1")
    assert crm.get_cart("conv-1").items == []


def test_ticket_reference(crm: SQLCRM) -> None:
    ticket = crm.open_ticket("C001", "گوشی روشن نمی‌شود", description="...", category="problem",
                             order_id="100007", channel="telegram")
    assert ticket.reference.startswith("T-") and ticket.status == "open"
    again = crm.get_ticket(ticket.reference.lower())
    assert again is not None and again.order_id == "100007" and again.category == "problem"
    assert crm.open_ticket(None, "anonymous").reference != ticket.reference


@pytest.mark.parametrize("kind,score,ok", [("csat", 1, True), ("csat", 5, True), ("csat", 0, False),
                                           ("csat", 6, False), ("nps", 0, True), ("nps", 10, True),
                                           ("nps", 11, False), ("nps", -1, False), ("stars", 3, False)])
def test_feedback_ranges(crm: SQLCRM, kind: str, score: int, ok: bool) -> None:
    if ok:
        feedback = crm.record_feedback(kind, score, customer_id="C001", conversation_id="c1", channel="web")
        assert feedback.id and feedback.score == score
    else:
        with pytest.raises(ActionNotAllowed) as error:
            crm.record_feedback(kind, score)
        assert error.value.reason == Reason.INVALID


def test_review(crm: SQLCRM) -> None:
    review = crm.record_review("C001", "hom-phi-af", 5, "عالی", order_id="100006")
    assert review.sku == "HOM-PHI-AF" and review.id
    with pytest.raises(ActionNotAllowed):
        crm.record_review("C001", "HOM-PHI-AF", 6)
    with pytest.raises(ActionNotAllowed):
        crm.record_review("C001", "NOPE", 4)


def test_referral_code_is_stable_and_unique(crm: SQLCRM, db_url) -> None:  # type: ignore[no-untyped-def]
    code = crm.referral_code("C001")
    assert code == crm.referral_code("C001") == SQLCRM(db_url).referral_code("C001")
    assert code.startswith("HMS") and len(code) == 9
    assert crm.referral_code("C002") != code
    assert crm.customer_for_referral_code(code) == "C001"
    with pytest.raises(ActionNotAllowed):
        crm.referral_code("C999")


def test_loyalty_points_and_level(crm: SQLCRM) -> None:
    delivered = sum(o.total for o in crm.list_orders("C002", status="delivered", limit=1000))
    loyalty = crm.loyalty("C002")
    assert loyalty.points == delivered // 10_000
    policy = load_policy()
    expected = [name for name, minimum in policy.levels if loyalty.points >= minimum][-1]
    assert loyalty.level == expected
    after = crm.add_bonus_points("C002", 500)
    assert after.points == loyalty.points + 500
    assert crm.loyalty("C999") is None
    assert policy.loyalty_for("x", 0).level == "bronze" and policy.loyalty_for("x", 2000).level == "silver"
    assert policy.loyalty_for("x", 1999).points_to_next == 1


def test_database_down_is_crm_unavailable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CRMUnavailable):
        SQLCRM("postgresql://nobody@127.0.0.1:1/none")
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    crm = SQLCRM(url)
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # the file is now a directory: every query fails
    from bot.db import dispose_engines

    dispose_engines()
    with pytest.raises(CRMUnavailable):
        crm.get_order("100001")
