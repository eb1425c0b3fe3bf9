"""Generate demo_shop/customers.csv and demo_shop/orders.csv, reproducibly.

    python -m bot.crm.demo_data            # rewrites the two files

A fixed random seed and a fixed reference date make the files identical on every
run, so tests can rely on them. `hamsafar crm seed-demo` moves all dates by the
whole days between REFERENCE_DATE and today, so the demo always looks recent.

Well-known demo customers (see docs/crm.md, "Try it"):

* C001 علی رضایی, 09121234567, Persian: one order in every status, incl. order
  100007 delivered 2 days before the reference date (returnable) and 100006
  delivered long ago (outside the return window).
* C002 Sara Ahmadi, 09351234567, English: orders shipped, delivered, pending payment.
* C003 مریم کریمی, 09191112233, Persian: a cancelled and a processing order.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bot import settings

REFERENCE_DATE = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
SEED = 14040311
N_CUSTOMERS = 64
N_ORDERS = 264
FIRST_ORDER = 100001

FA_FIRST = ["علی", "مریم", "رضا", "زهرا", "محمد", "فاطمه", "حسین", "نرگس", "امیر", "سارا", "مهدی", "لیلا",
            "سعید", "نگار", "حمید", "الهام", "کامران", "شیرین", "بهزاد", "پریسا", "آرش", "مهسا", "یاسر", "ستاره"]
FA_LAST = ["رضایی", "کریمی", "محمدی", "حسینی", "احمدی", "موسوی", "جعفری", "صادقی", "رحیمی", "قاسمی",
           "نوری", "طاهری", "کاظمی", "شریفی", "عباسی", "یزدانی", "تهرانی", "اصفهانی", "شیرازی", "فرهادی"]
EN_NAMES = ["Sara Ahmadi", "John Miller", "Dariush Karimi", "Emma Schmidt", "Neda Hosseini", "Ali Navid",
            "Laura Rossi", "Kaveh Tehrani", "Olivia Brown", "Reza Farahani", "Yuki Tanaka", "Mina Jafari",
            "Daniel Meyer", "Parisa Moradi", "Lucas Martin", "Shadi Rahimi"]
FA_TO_LATIN = {"علی": "ali", "مریم": "maryam", "رضا": "reza", "زهرا": "zahra", "محمد": "mohammad",
               "فاطمه": "fatemeh", "حسین": "hossein", "نرگس": "narges", "امیر": "amir", "سارا": "sara",
               "مهدی": "mahdi", "لیلا": "leila", "سعید": "saeed", "نگار": "negar", "حمید": "hamid",
               "الهام": "elham", "کامران": "kamran", "شیرین": "shirin", "بهزاد": "behzad", "پریسا": "parisa",
               "آرش": "arash", "مهسا": "mahsa", "یاسر": "yaser", "ستاره": "setareh", "رضایی": "rezaei",
               "کریمی": "karimi", "محمدی": "mohammadi", "حسینی": "hosseini", "احمدی": "ahmadi",
               "موسوی": "mousavi", "جعفری": "jafari", "صادقی": "sadeghi", "رحیمی": "rahimi", "قاسمی": "ghasemi",
               "نوری": "nouri", "طاهری": "taheri", "کاظمی": "kazemi", "شریفی": "sharifi", "عباسی": "abbasi",
               "یزدانی": "yazdani", "تهرانی": "tehrani", "اصفهانی": "esfahani", "شیرازی": "shirazi",
               "فرهادی": "farhadi"}
CITIES = [("تهران", "خیابان ولیعصر"), ("تهران", "خیابان شریعتی"), ("اصفهان", "خیابان چهارباغ"),
          ("شیراز", "خیابان زند"), ("مشهد", "بلوار وکیل‌آباد"), ("تبریز", "خیابان امام"), ("کرج", "گوهردشت"),
          ("رشت", "خیابان سعدی"), ("اهواز", "کیانپارس"), ("قم", "بلوار امین")]
CARRIERS = ["پست", "تیپاکس", "چاپار", "پیک همسفر"]
STATUSES = ["pending_payment", "paid", "processing", "shipped", "delivered", "cancelled", "returned"]

CUSTOMER_HEADER = ["customer_id", "name", "phone", "email", "language", "created_at"]
ORDER_HEADER = ["order_id", "customer_id", "status", "created_at", "total", "items", "tracking_code", "carrier",
                "paid_at", "shipped_at", "delivered_at", "shipping_address"]


def _iso(value: Optional[dt.datetime]) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _tracking(rng: random.Random, carrier: str) -> str:
    if carrier == "پست":
        return "".join(rng.choice("0123456789") for _ in range(24))
    if carrier == "تیپاکس":
        return "".join(rng.choice("0123456789") for _ in range(12))
    if carrier == "چاپار":
        return "CH" + "".join(rng.choice("0123456789") for _ in range(9))
    return "HMS-" + "".join(rng.choice("0123456789") for _ in range(6))


def load_products(path: Optional[Path] = None) -> List[Dict[str, str]]:
    with open(path or settings.DEMO_SHOP_DIR / "products.csv", encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def generate(products: List[Dict[str, str]]) -> Tuple[List[List[str]], List[List[str]]]:
    rng = random.Random(SEED)
    ref = REFERENCE_DATE
    customers: List[List[str]] = []
    fixed = [
        ("C001", "علی رضایی", "09121234567", "ali.rezaei@example.ir", "fa"),
        ("C002", "Sara Ahmadi", "+98 935 123 4567", "sara.ahmadi@example.com", "en"),
        ("C003", "مریم کریمی", "۰۹۱۹۱۱۱۲۲۳۳", "maryam.karimi@example.ir", "fa"),
    ]
    phones = {"9121234567", "9351234567", "9191112233"}
    for cid, name, phone, email, lang in fixed:
        created = ref - dt.timedelta(days=rng.randint(300, 500), minutes=rng.randint(0, 1440))
        customers.append([cid, name, phone, email, lang, _iso(created)])
    en_pool = [n for n in EN_NAMES if n != "Sara Ahmadi"]
    for index in range(4, N_CUSTOMERS + 1):
        cid = f"C{index:03d}"
        english = index % 4 == 0 and en_pool
        if english:
            name = en_pool.pop(0)
            latin = name.lower().replace(" ", ".")
            lang = "en"
        else:
            first, last = rng.choice(FA_FIRST), rng.choice(FA_LAST)
            name = f"{first} {last}"
            latin = f"{FA_TO_LATIN[first]}.{FA_TO_LATIN[last]}{index}"
            lang = "fa"
        while True:
            number = rng.choice(["912", "935", "919", "901", "990", "921", "936"]) + f"{rng.randint(0, 9999999):07d}"
            if number not in phones:
                phones.add(number)
                break
        form = index % 7
        if form == 1:
            phone = f"+98{number}"
        elif form == 2:
            phone = f"0{number[:3]} {number[3:6]} {number[6:]}"
        elif form == 3:
            phone = "0" + number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        else:
            phone = f"0{number}"
        email = "" if index % 9 == 0 else f"{latin}@example.{'com' if lang == 'en' else 'ir'}"
        created = ref - dt.timedelta(days=rng.randint(190, 720), minutes=rng.randint(0, 1440))
        customers.append([cid, name, phone, email, lang, _iso(created)])

    by_sku = {p["sku"]: p for p in products}
    skus = list(by_sku)
    orders: List[List[str]] = []

    def make(customer: str, status: str, age_days: float, items: List[Tuple[str, int]],
             delivered_days_ago: Optional[float] = None) -> None:
        created = ref - dt.timedelta(days=age_days)
        created = created.replace(second=0, microsecond=0)
        total = sum(int(by_sku[s]["price"]) * q for s, q in items)
        paid = shipped = delivered = None
        carrier = tracking = ""
        if status in ("paid", "processing", "shipped", "delivered", "returned"):
            paid = created + dt.timedelta(minutes=rng.randint(2, 90))
        if status in ("shipped", "delivered", "returned"):
            shipped = paid + dt.timedelta(hours=rng.randint(12, 60))  # type: ignore[operator]
            carrier = rng.choice(CARRIERS)
            tracking = _tracking(rng, carrier)
        if status in ("delivered", "returned"):
            if delivered_days_ago is not None:
                delivered = ref - dt.timedelta(days=delivered_days_ago)
            else:
                delivered = shipped + dt.timedelta(hours=rng.randint(20, 110))  # type: ignore[operator]
            delivered = min(delivered, ref - dt.timedelta(hours=1))
            shipped = min(shipped, delivered - dt.timedelta(hours=6))  # type: ignore[type-var]
            paid = min(paid, shipped - dt.timedelta(hours=1))  # type: ignore[type-var]
        city, street = rng.choice(CITIES)
        address = f"{city}، {street}، پلاک {rng.randint(1, 300)}، واحد {rng.randint(1, 20)}"
        order_id = str(FIRST_ORDER + len(orders))
        orders.append([order_id, customer, status, _iso(created), str(total),
                       ";".join(f"{s}:{q}" for s, q in items), tracking, carrier,
                       _iso(paid), _iso(shipped), _iso(delivered), address])

    # The well-known demo orders (ids 100001..100012).
    make("C001", "pending_payment", 0.2, [("MOB-SAM-A55", 1), ("ACC-CAS-A55", 1)])      # 100001
    make("C001", "paid", 0.8, [("AUD-JBL-T520", 1)])                                    # 100002
    make("C001", "processing", 1.5, [("LAP-ASU-VB15", 1)])                              # 100003
    make("C001", "shipped", 3.0, [("WCH-XIA-B8", 1), ("ACC-BAS-CB", 2)])                # 100004
    make("C001", "cancelled", 20.0, [("GAM-SNY-PS5", 1)])                               # 100005
    make("C001", "delivered", 60.0, [("HOM-PHI-AF", 1)], delivered_days_ago=55.0)       # 100006
    make("C001", "delivered", 6.0, [("AUD-XIA-BUD", 1), ("ACC-ANK-PB", 1)], delivered_days_ago=2.0)  # 100007
    make("C001", "returned", 40.0, [("CAM-XIA-C300", 1)], delivered_days_ago=36.0)      # 100008
    make("C002", "shipped", 2.0, [("MOB-APL-IP15", 1)])                                 # 100009
    make("C002", "delivered", 15.0, [("AUD-SNY-XM5", 1)], delivered_days_ago=11.0)      # 100010
    make("C002", "pending_payment", 0.1, [("ACC-LOG-K", 1), ("ACC-LOG-M", 1)])          # 100011
    make("C003", "cancelled", 9.0, [("HOM-XIA-RBT", 1)])                                # 100012
    make("C003", "processing", 1.0, [("HOM-DLG-CM", 1)])                                # 100013

    customer_ids = [c[0] for c in customers]
    weights = [3 if i < 10 else 1 for i in range(len(customer_ids))]
    while len(orders) < N_ORDERS:
        customer = rng.choices(customer_ids, weights)[0]
        age = rng.uniform(0.05, 7) if rng.random() < 0.15 else rng.uniform(0.05, 182)
        if age < 2:
            status = rng.choice(["pending_payment", "paid", "processing", "processing", "cancelled"])
        elif age < 7:
            status = rng.choice(["paid", "processing", "shipped", "shipped", "delivered", "cancelled"])
        else:
            status = rng.choices(["delivered", "cancelled", "returned", "shipped", "pending_payment"],
                                 [70, 12, 8, 3, 4])[0]
        count = rng.choices([1, 2, 3], [60, 30, 10])[0]
        chosen = rng.sample(skus, count)
        items = [(s, rng.randint(1, 3) if by_sku[s]["category"] == "accessory" else 1) for s in chosen]
        make(customer, status, age, items)
    return customers, orders


def write(folder: Optional[Path] = None) -> Tuple[Path, Path]:
    folder = Path(folder or settings.DEMO_SHOP_DIR)
    customers, orders = generate(load_products(settings.DEMO_SHOP_DIR / "products.csv"))
    customers_path, orders_path = folder / "customers.csv", folder / "orders.csv"
    for path, header, rows in ((customers_path, CUSTOMER_HEADER, customers), (orders_path, ORDER_HEADER, orders)):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    return customers_path, orders_path


if __name__ == "__main__":
    for written in write():
        print(f"wrote {written}")
