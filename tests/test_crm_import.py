"""CSV import: per-row validation with file/line/column, all-or-nothing, re-import, phone forms, demo data."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import settings
from bot.crm import base
from bot.crm.demo_data import REFERENCE_DATE, generate, load_products
from bot.crm.importer import demo_date_offset, import_files, parse_date, seed_demo, seed_demo_if_empty
from bot.crm.sql import SQLCRM
from bot.db import get_engine

PRODUCTS = "sku,name_fa,name_en,category,price,stock,warranty_months\n" \
           "P-1,گوشی تست,Test phone,mobile,1000000,5,18\n" \
           "P-2,کابل,Cable,accessory,۲۵۰٬۰۰۰,10,0\n"
CUSTOMERS = "customer_id,name,phone,email,language,created_at\n" \
            "K1,علی,09121234567,ali@example.ir,fa,2025-01-01\n" \
            "K2,Sara,+98 935 123 4567,SARA@example.com,en,2025-01-02T10:00:00Z\n"
ORDERS = "order_id,customer_id,status,created_at,total,items,tracking_code,carrier\n" \
         "200001,K1,delivered,2025-02-01,1250000,P-1:1;P-2:1,123456789012,تیپاکس\n" \
         "200002,K2,pending_payment,1403/11/20,250000,P-2:1,,\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    return request.getfixturevalue("fresh_postgres_url")


def counts(url: str) -> dict:
    with get_engine(url).connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("customers", "products", "orders", "order_items")}


def test_clean_import_and_reimport_updates(tmp_path: Path, db_url: str) -> None:
    files = (write(tmp_path, "c.csv", CUSTOMERS), write(tmp_path, "p.csv", PRODUCTS), write(tmp_path, "o.csv", ORDERS))
    report = import_files(*files, url=db_url)
    assert report.ok, report.errors
    assert report.created == {"customers": 2, "products": 2, "orders": 2}
    assert counts(db_url) == {"customers": 2, "products": 2, "orders": 2, "order_items": 3}
    crm = SQLCRM(db_url)
    assert crm.get_customer("K2").phone == "+989351234567" and crm.get_customer("K2").email == "sara@example.com"
    assert crm.get_product("P-2").price == 250000
    jalali = crm.get_order("200002").created_at
    assert jalali.date() == dt.date(2025, 2, 7)  # 1403/11/20 (Tehran midnight = previous day 20:30 UTC)
    # again, with a changed name and a changed order: updated, not duplicated
    write(tmp_path, "c.csv", CUSTOMERS.replace("K1,علی,", "K1,علی رضایی,"))
    write(tmp_path, "o.csv", ORDERS.replace("200002,K2,pending_payment", "200002,K2,paid").replace("P-2:1,,", "P-2:2,,"))
    again = import_files(*files, url=db_url)
    assert again.ok and again.created == {"customers": 0, "products": 0, "orders": 0}
    assert again.updated == {"customers": 2, "products": 2, "orders": 2}
    assert counts(db_url) == {"customers": 2, "products": 2, "orders": 2, "order_items": 3}
    assert crm.get_customer("K1").name == "علی رضایی"
    order = crm.get_order("200002")
    assert order.status == "paid" and order.items[0].quantity == 2


@pytest.mark.parametrize("raw", ["09121234567", "9121234567", "+989121234567", "00989121234567", "989121234567",
                                 "0912 123 4567", "0912-123-4567", "(0912) 123 4567", "۰۹۱۲۱۲۳۴۵۶۷",
                                 "٠٩١٢١٢٣٤٥٦٧", "+98 (912) 123-45-67"])
def test_phone_forms_are_normalised(tmp_path: Path, raw: str) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    text = f'customer_id,name,phone,email,language,created_at\nK1,علی,"{raw}",,fa,\n'
    report = import_files(write(tmp_path, "c.csv", text), url=url)
    assert report.ok, report.errors
    assert SQLCRM(url).get_customer("K1").phone == "+989121234567"


def test_every_bad_row_is_reported_with_file_line_column_and_nothing_is_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    customers = write(tmp_path, "customers.csv", CUSTOMERS + "K3,,12345,not-an-email,de,yesterday\n"
                      "K1,دوباره,09120000000,,fa,\n" "K4,زهرا,۰۹۱۲۱۲۳۴۵۶۷,,fa,\n")
    products = write(tmp_path, "products.csv", PRODUCTS + "P-3,,X,home,-5,two,12\n")
    orders = write(tmp_path, "orders.csv", ORDERS + "12,K9,lost,2025-13-01,abc,P-1:0;ZZZ:1,,\n"
                   "200001,K1,paid,2025-02-01,100,P-1,,\n")
    report = import_files(customers, products, orders, url=url)
    assert not report.ok
    found = {(Path(e.file).name, e.line, e.column) for e in report.errors}
    expected = {
        ("customers.csv", 4, "name"), ("customers.csv", 4, "phone"), ("customers.csv", 4, "email"),
        ("customers.csv", 4, "language"), ("customers.csv", 4, "created_at"),
        ("customers.csv", 5, "customer_id"),            # duplicate of line 2
        ("customers.csv", 6, "phone"),                  # same phone as line 2 (Persian digits)
        ("products.csv", 4, "name_fa"), ("products.csv", 4, "price"), ("products.csv", 4, "stock"),
        ("orders.csv", 4, "order_id"), ("orders.csv", 4, "customer_id"), ("orders.csv", 4, "status"),
        ("orders.csv", 4, "created_at"), ("orders.csv", 4, "total"), ("orders.csv", 4, "items"),
        ("orders.csv", 5, "order_id"),                  # duplicate of line 2
        ("orders.csv", 5, "items"),                     # "P-1" without a quantity
    }
    assert expected <= found, sorted(found - expected) + sorted(expected - found)
    messages = "\n".join(str(e) for e in report.errors)
    assert "customers.csv:5: column customer_id: duplicate of line 2" in messages
    assert "unknown customer 'K9'" in messages
    # all or nothing: the good rows were not imported either
    assert counts(url) == {"customers": 0, "products": 0, "orders": 0, "order_items": 0}


def test_missing_columns_and_wrong_field_count(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cols.db'}"
    customers = write(tmp_path, "c.csv", "customer_id,name,email\nK1,x,a@b.co\n")
    products = write(tmp_path, "p.csv", PRODUCTS + "P-9,a,b,c,1,2\n")
    report = import_files(customers, products, url=url)
    found = {(Path(e.file).name, e.line, e.column) for e in report.errors}
    assert {("c.csv", 1, "phone"), ("c.csv", 1, "language"), ("c.csv", 1, "created_at"), ("p.csv", 4, "-")} <= found
    assert counts(url)["products"] == 0


def test_orders_may_refer_to_rows_already_in_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    assert import_files(write(tmp_path, "c.csv", CUSTOMERS), write(tmp_path, "p.csv", PRODUCTS), url=url).ok
    report = import_files(orders=write(tmp_path, "o.csv", ORDERS), url=url)
    assert report.ok, report.errors
    # and a phone that already belongs to another customer in the database is refused
    clash = write(tmp_path, "c2.csv", "customer_id,name,phone,email,language,created_at\nK7,x,09121234567,,fa,\n")
    bad = import_files(clash, url=url)
    assert [(e.line, e.column) for e in bad.errors] == [(2, "phone")] and "K1" in bad.errors[0].reason


def test_parse_date_forms() -> None:
    assert parse_date("2025-01-31") == dt.datetime(2025, 1, 31, tzinfo=dt.timezone.utc)
    assert parse_date("2025-01-31T10:00:00Z") == dt.datetime(2025, 1, 31, 10, tzinfo=dt.timezone.utc)
    assert parse_date("2025-01-31 13:30:00+03:30") == dt.datetime(2025, 1, 31, 10, tzinfo=dt.timezone.utc)
    assert parse_date("۱۴۰۴/۰۱/۰۱") == dt.datetime(2025, 3, 20, 20, 30, tzinfo=dt.timezone.utc)
    # Tehran's clock of the day, by zoneinfo: summer time (+04:30) until 2022, none since
    assert parse_date("1400/04/01 10:00") == dt.datetime(2021, 6, 22, 5, 30, tzinfo=dt.timezone.utc)
    assert parse_date("1403/04/01 10:00") == dt.datetime(2024, 6, 21, 6, 30, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError):
        parse_date("31/01/2025")


def test_cli_import_reports_errors_and_exit_code(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    bad = write(tmp_path, "customers.csv", CUSTOMERS + "K3,x,123,,fa,\n")
    run = subprocess.run([sys.executable, "-c", "from bot.crm.cli import register; import argparse, sys;"
                          "p=argparse.ArgumentParser(); register(p.add_subparsers()); a=p.parse_args(sys.argv[1:]);"
                          "sys.exit(a.func(a))", "crm", "import", "--customers", str(bad), "--database-url", url],
                         capture_output=True, text=True, cwd=settings.PROJECT_ROOT)
    assert run.returncode == 1
    assert f"{bad}:4: column phone: not a mobile number" in run.stderr
    zones = write(tmp_path, "zones.csv", "customer_id,name,phone,email,language,created_at,timezone\n"
                                         "K1,علی,09121234567,,fa,,Asia/Tehrn\n")
    run = subprocess.run([sys.executable, "-c", "from bot.crm.cli import register; import argparse, sys;"
                          "p=argparse.ArgumentParser(); register(p.add_subparsers()); a=p.parse_args(sys.argv[1:]);"
                          "sys.exit(a.func(a))", "crm", "import", "--customers", str(zones), "--database-url", url],
                         capture_output=True, text=True, cwd=settings.PROJECT_ROOT)
    assert run.returncode == 1
    assert f"{zones}:2: column timezone: unknown time zone 'Asia/Tehrn' for customer 'K1'" in run.stderr
    good = write(tmp_path, "good.csv", CUSTOMERS)
    run = subprocess.run([sys.executable, "-c", "from bot.crm.cli import register; import argparse, sys;"
                          "p=argparse.ArgumentParser(); register(p.add_subparsers()); a=p.parse_args(sys.argv[1:]);"
                          "sys.exit(a.func(a))", "crm", "import", "--customers", str(good), "--database-url", url],
                         capture_output=True, text=True, cwd=settings.PROJECT_ROOT)
    assert run.returncode == 0, run.stderr
    assert "customers: 2 new" in run.stdout


def test_customer_time_zones_are_read_validated_and_kept(tmp_path: Path, db_url: str) -> None:
    """An optional `timezone` column: IANA names checked with zoneinfo (any letter case, stored as zoneinfo
    spells them), empty = the shop's; an unknown zone names its file, line and customer; a file without
    the column leaves the zones already stored."""
    zones = "customer_id,name,phone,email,language,created_at,timezone\n" \
            "K1,علی,09121234567,,fa,2025-01-01,\n" \
            "K2,Sara,+98 935 123 4567,,en,2025-01-02,europe/berlin\n"
    report = import_files(write(tmp_path, "zones.csv", zones), url=db_url)
    assert report.ok, report.errors
    crm = SQLCRM(db_url)
    assert crm.get_customer("K1").timezone is None and crm.get_customer("K2").timezone == "Europe/Berlin"

    assert import_files(write(tmp_path, "plain.csv", CUSTOMERS), url=db_url).ok   # no timezone column
    assert SQLCRM(db_url).get_customer("K2").timezone == "Europe/Berlin"

    bad = write(tmp_path, "bad.csv", zones.replace("europe/berlin", "Mars/Olympus")
                + "K3,Reza,09351112233,,fa,,Tehran\nK4,Mina,09351112244,,fa,,../../etc/passwd\n")
    report = import_files(bad, url=db_url)
    assert [(e.line, e.column) for e in report.errors] == [(3, "timezone"), (4, "timezone"), (5, "timezone")]
    assert str(report.errors[0]).startswith(f"{bad}:3: column timezone: unknown time zone 'Mars/Olympus' "
                                            "for customer 'K2' (an IANA name such as Asia/Tehran")
    assert SQLCRM(db_url).get_customer("K2").timezone == "Europe/Berlin"   # nothing written
    assert counts(db_url)["customers"] == 2


# ----------------------------------------------------------------------------- demo shop


def test_demo_files_are_reproducible_and_match_the_generator() -> None:
    customers, orders = generate(load_products())
    with open(settings.DEMO_SHOP_DIR / "customers.csv", encoding="utf-8") as handle:
        assert list(csv.reader(handle))[1:] == customers
    with open(settings.DEMO_SHOP_DIR / "orders.csv", encoding="utf-8") as handle:
        assert list(csv.reader(handle))[1:] == orders
    assert generate(load_products()) == (customers, orders)


def test_demo_shop_content() -> None:
    customers, orders = generate(load_products())
    assert len(customers) >= 60 and {c[4] for c in customers} == {"fa", "en"}
    assert len(orders) >= 250
    statuses = [o[2] for o in orders]
    assert set(statuses) == set(base.ORDER_STATUSES)
    assert all(statuses.count(s) >= 5 for s in base.ORDER_STATUSES)
    assert [o[0] for o in orders] == [str(100001 + i) for i in range(len(orders))]
    for order in orders:
        created = dt.datetime.fromisoformat(order[3].replace("Z", "+00:00"))
        assert REFERENCE_DATE - dt.timedelta(days=190) < created <= REFERENCE_DATE
        if order[2] in ("shipped", "delivered"):
            assert order[6] and order[7] in ("پست", "تیپاکس", "چاپار", "پیک همسفر")
    c001 = {o[2] for o in orders if o[1] == "C001"}
    assert c001 == set(base.ORDER_STATUSES)


def test_seed_demo_if_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert seed_demo_if_empty(url) is True
    assert seed_demo_if_empty(url) is False
    assert counts(url)["orders"] >= 250
    crm = SQLCRM(url)
    order = crm.get_order("100007")  # delivered two days before the reference date, moved to today
    assert order.delivered_at.date() == (base.utcnow() - dt.timedelta(days=2)).date() or \
        abs((base.utcnow() - order.delivered_at) - dt.timedelta(days=2)) < dt.timedelta(days=1, hours=1)
    assert crm.create_return_request("100007").reference  # so the demo's return really works today
    assert crm.validate_discount_code("WELCOME10", 2_000_000).valid
    assert demo_date_offset(REFERENCE_DATE.date()) == dt.timedelta(0)


def test_seed_demo_keeps_use_counts_of_discount_codes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'codes.db'}"
    seed_demo(url, shift_to_today=False)
    crm = SQLCRM(url, clock=lambda: REFERENCE_DATE)
    order = crm.create_order("C001", [base.CartItem("GAM-SNY-PS5", 1), base.CartItem("ACC-LOG-K", 1)])
    crm.apply_discount_code(order.order_id, "VIP50")
    seed_demo(url, shift_to_today=False)
    assert crm.get_discount_code("VIP50").used_count == 1
