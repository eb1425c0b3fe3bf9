"""CSV import of customers, products and orders into the SQL CRM tables.

Every row is validated first; each bad value is reported with file, line,
column and reason, and nothing is written unless every file is clean. Then one
transaction writes everything: existing rows (same customer_id / sku /
order_id) are updated, new ones inserted, so importing again never duplicates.

Formats (docs/crm.md):

* customers.csv: customer_id,name,phone,email,language,created_at[,timezone]
* products.csv:  sku,name_fa,name_en,category,price,stock,warranty_months[,return_days]
* orders.csv:    order_id,customer_id,status,created_at,total,items,tracking_code,carrier
                 [,paid_at,shipped_at,delivered_at,shipping_address,delivery_time,discount_code,discount_amount]

Phones in any common Iranian form (0912…, +98912…, 0098912…, 98912…, with
spaces/dashes, Persian or Arabic digits) become E.164; numbers and dates may
use Persian digits; dates are ISO 8601 (`2025-01-31`, `2025-01-31T10:00:00Z`)
or Jalali (`1403/11/12`, `1403-11-12 10:00`).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import jdatetime
import sqlalchemy as sa

from bot import db, schema, settings
from bot.crm import base
from bot.crm.models import CustomerRow, OrderItemRow, OrderRow, ProductRow
from bot.crm.policy import ShopPolicy, load_policy, parse_datetime
from bot.text.identifiers import normalise_email, normalise_order_id, normalise_phone
from bot.text.persian import normalise, to_ascii_digits

PathLike = Union[str, Path]

CUSTOMER_COLUMNS = ["customer_id", "name", "phone", "email", "language", "created_at"]
CUSTOMER_OPTIONAL = ["timezone"]
PRODUCT_COLUMNS = ["sku", "name_fa", "name_en", "category", "price", "stock", "warranty_months"]
PRODUCT_OPTIONAL = ["return_days"]
ORDER_COLUMNS = ["order_id", "customer_id", "status", "created_at", "total", "items", "tracking_code", "carrier"]
ORDER_OPTIONAL = ["paid_at", "shipped_at", "delivered_at", "shipping_address", "delivery_time",
                  "discount_code", "discount_amount", "updated_at"]

_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_SKU = re.compile(r"^[A-Za-z0-9_.\-/]{1,64}$")
_INT = re.compile(r"^-?\d+$")


@dataclass
class ImportIssue:
    """One problem found in an imported CSV file, with its file, line and column, so the operator can fix
    it."""

    file: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: column {self.column}: {self.reason}"


@dataclass
class ImportReport:
    """The outcome of an import: its problems, or the rows created and updated per table."""

    errors: List[ImportIssue] = field(default_factory=list)
    created: Dict[str, int] = field(default_factory=dict)
    updated: Dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return f"{len(self.errors)} error(s); nothing imported"
        parts = [f"{kind}: {self.created.get(kind, 0)} new, {self.updated.get(kind, 0)} updated"
                 for kind in ("customers", "products", "orders") if kind in self.created]
        return "; ".join(parts) or "nothing to import"


class ImportFailed(Exception):
    """An import was refused because a file had problems; nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__("\n".join(str(e) for e in report.errors))


# --------------------------------------------------------------------------- parsing helpers


class _Rows:
    """Reads a CSV with its header; yields (line number, row dict); collects issues."""

    def __init__(self, path: Path, required: Sequence[str], optional: Sequence[str], issues: List[ImportIssue]) -> None:
        self.path, self.name, self.issues = path, str(path), issues
        self.required, self.optional = list(required), list(optional)

    def error(self, line: int, column: str, reason: str) -> None:
        self.issues.append(ImportIssue(self.name, line, column, reason))

    def read(self) -> List[Tuple[int, Dict[str, str]]]:
        try:
            handle = open(self.path, encoding="utf-8-sig", newline="")
        except OSError as error:
            self.error(0, "-", f"cannot read file: {error.strerror or error}")
            return []
        with handle:
            try:
                text = handle.read()
            except UnicodeDecodeError:
                self.error(0, "-", "file is not UTF-8 text")
                return []
        reader = csv.reader(text.splitlines(keepends=True))
        try:
            header = next(reader)
        except StopIteration:
            self.error(1, "-", "empty file (no header)")
            return []
        header = [h.strip().lower() for h in header]
        missing = [c for c in self.required if c not in header]
        for column in missing:
            self.error(1, column, "missing column in header")
        seen: Set[str] = set()
        for column in header:
            if column in seen:
                self.error(1, column, "column appears twice in header")
            seen.add(column)
        if missing:
            return []
        rows = []
        line = 1
        for record in reader:
            start = line + 1
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                self.error(start, "-", f"expected {len(header)} fields, found {len(record)}")
                continue
            rows.append((start, {h: v.strip() for h, v in zip(header, record)}))
        return rows


def _int(rows: _Rows, line: int, column: str, value: str, *, minimum: int = 0,
         required: bool = True) -> Optional[int]:
    text = to_ascii_digits(value).replace(",", "").replace("٬", "").replace("_", "").strip()
    if not text:
        if required:
            rows.error(line, column, "required")
        return None
    if not _INT.match(text):
        rows.error(line, column, f"not a whole number: {value!r}")
        return None
    number = int(text)
    if number < minimum:
        rows.error(line, column, f"must be at least {minimum}, got {number}")
        return None
    return number


def parse_date(value: str) -> dt.datetime:
    """ISO or Jalali (year < 1700) date/datetime to aware UTC (Jalali times are Tehran time)."""
    text = to_ascii_digits(value).strip()
    jalali = re.match(r"^(1[34]\d\d)[/\-](\d{1,2})[/\-](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$", text)
    if jalali:
        y, m, d, hh, mm, ss = (int(g) if g else 0 for g in jalali.groups())
        local = jdatetime.datetime(y, m, d, hh, mm, ss).togregorian()
        # zoneinfo, not a fixed +03:30: Iran kept summer time (+04:30) until 2022
        return local.replace(tzinfo=zoneinfo.ZoneInfo("Asia/Tehran")).astimezone(dt.timezone.utc)
    text = text.replace("/", "-")
    parsed = parse_datetime(text)
    assert parsed is not None
    return parsed


def _date(rows: _Rows, line: int, column: str, value: str, *, required: bool) -> Optional[dt.datetime]:
    if not value.strip():
        if required:
            rows.error(line, column, "required")
        return None
    try:
        return parse_date(value)
    except (ValueError, AssertionError):
        rows.error(line, column, f"not a date (use 2025-01-31, 2025-01-31T10:00:00Z or 1403/11/12): {value!r}")
        return None


def parse_items_field(value: str) -> Tuple[List[Tuple[str, int]], Optional[str]]:
    """`sku:qty;sku:qty` -> ([(sku, qty)], error)."""
    items: Dict[str, int] = {}
    text = to_ascii_digits(value).strip()
    if not text:
        return [], "required (sku:qty;sku:qty)"
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        sku, sep, qty = part.rpartition(":")
        sku, qty = sku.strip(), qty.strip()
        if not sep or not sku or not qty.isdigit() or int(qty) <= 0:
            return [], f"bad item {part!r} (use sku:qty with a positive quantity)"
        items[sku] = items.get(sku, 0) + int(qty)
    if not items:
        return [], "required (sku:qty;sku:qty)"
    return list(items.items()), None


# --------------------------------------------------------------------------- validation


def _validate_customers(path: Path, issues: List[ImportIssue]) -> List[Dict[str, Any]]:
    rows = _Rows(path, CUSTOMER_COLUMNS, CUSTOMER_OPTIONAL, issues)
    out, ids, phones = [], {}, {}
    for line, row in rows.read():
        before = len(issues)
        cid = row["customer_id"]
        if not cid:
            rows.error(line, "customer_id", "required")
        elif not _ID.match(cid):
            rows.error(line, "customer_id", f"only letters, digits, '.', '_' and '-' (max 64): {cid!r}")
        elif cid in ids:
            rows.error(line, "customer_id", f"duplicate of line {ids[cid]}")
        else:
            ids[cid] = line
        name = normalise(row["name"])
        if not name:
            rows.error(line, "name", "required")
        phone = None
        if row["phone"]:
            phone = normalise_phone(row["phone"])
            if phone is None:
                rows.error(line, "phone", f"not a mobile number: {row['phone']!r}")
            elif phone in phones:
                rows.error(line, "phone", f"same phone as line {phones[phone]} (one phone, one customer)")
            else:
                phones[phone] = line
        email = None
        if row["email"]:
            email = normalise_email(row["email"])
            if email is None:
                rows.error(line, "email", f"not an email address: {row['email']!r}")
        language = (row["language"] or "fa").strip().lower()
        if language in ("persian", "farsi", "فارسی"):
            language = "fa"
        elif language in ("english", "انگلیسی"):
            language = "en"
        if language not in ("fa", "en"):
            rows.error(line, "language", f"must be fa or en: {row['language']!r}")
        created = _date(rows, line, "created_at", row["created_at"], required=False)
        zone = _zone(rows, line, row["timezone"], cid) if "timezone" in row else None
        if len(issues) == before:
            out.append(dict(customer_id=cid, name=name, phone=phone, email=email, language=language,
                            created_at=created, _line=line,
                            **({"timezone": zone or None} if "timezone" in row else {})))
    return out


@functools.lru_cache(maxsize=1)
def _zone_names() -> Dict[str, str]:
    """Every IANA zone name zoneinfo knows, by its lower-case form (read once: it walks the zone files)."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _zone(rows: _Rows, line: int, value: str, customer_id: str) -> Optional[str]:
    """An IANA time zone zoneinfo knows (`Europe/Berlin`, any letter case), "" for none (the shop's)."""
    text = value.strip()
    if not text:
        return ""
    name = _zone_names().get(text.lower())
    try:
        if name is None or len(name) > 64:
            raise zoneinfo.ZoneInfoNotFoundError(text)
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        rows.error(line, "timezone", f"unknown time zone {value!r} for customer {customer_id!r} (an IANA name "
                                     "such as Asia/Tehran or Europe/Berlin; empty = the shop's)")
        return None
    return name


def _validate_products(path: Path, issues: List[ImportIssue]) -> List[Dict[str, Any]]:
    rows = _Rows(path, PRODUCT_COLUMNS, PRODUCT_OPTIONAL, issues)
    out, skus = [], {}
    for line, row in rows.read():
        before = len(issues)
        sku = row["sku"]
        if not sku:
            rows.error(line, "sku", "required")
        elif not _SKU.match(sku):
            rows.error(line, "sku", f"only letters, digits, '.', '_', '-', '/' (max 64): {sku!r}")
        elif sku.upper() in skus:
            rows.error(line, "sku", f"duplicate of line {skus[sku.upper()]}")
        else:
            skus[sku.upper()] = line
        for column in ("name_fa", "name_en", "category"):
            if not row[column]:
                rows.error(line, column, "required")
        price = _int(rows, line, "price", row["price"])
        stock = _int(rows, line, "stock", row["stock"])
        warranty = _int(rows, line, "warranty_months", row["warranty_months"])
        return_days = _int(rows, line, "return_days", row.get("return_days", ""), required=False)
        if len(issues) == before:
            out.append(dict(sku=sku.upper(), name_fa=normalise(row["name_fa"]), name_en=row["name_en"],
                            category=row["category"].strip().lower(), price=price, stock=stock,
                            warranty_months=warranty, return_days=return_days, _line=line))
    return out


def _validate_orders(path: Path, issues: List[ImportIssue], customer_ids: Set[str],
                     skus: Set[str]) -> List[Dict[str, Any]]:
    rows = _Rows(path, ORDER_COLUMNS, ORDER_OPTIONAL, issues)
    out, ids = [], {}
    for line, row in rows.read():
        before = len(issues)
        oid = normalise_order_id(row["order_id"]) if row["order_id"] else None
        if not row["order_id"]:
            rows.error(line, "order_id", "required")
        elif oid is None:
            rows.error(line, "order_id", f"must be 4-12 digits: {row['order_id']!r}")
        elif oid in ids:
            rows.error(line, "order_id", f"duplicate of line {ids[oid]}")
        else:
            ids[oid] = line
        cid = row["customer_id"]
        if not cid:
            rows.error(line, "customer_id", "required")
        elif cid not in customer_ids:
            rows.error(line, "customer_id", f"unknown customer {cid!r} (not in customers file or database)")
        status = row["status"].strip().lower()
        if status not in base.ORDER_STATUSES:
            rows.error(line, "status", f"must be one of {', '.join(base.ORDER_STATUSES)}: {row['status']!r}")
        created = _date(rows, line, "created_at", row["created_at"], required=True)
        total = _int(rows, line, "total", row["total"])
        items, problem = parse_items_field(row["items"])
        if problem:
            rows.error(line, "items", problem)
        for sku, _qty in items:
            if sku.upper() not in skus:
                rows.error(line, "items", f"unknown sku {sku!r} (not in products file or database)")
        extra = {c: _date(rows, line, c, row.get(c, ""), required=False)
                 for c in ("paid_at", "shipped_at", "delivered_at", "updated_at")}
        discount = _int(rows, line, "discount_amount", row.get("discount_amount", ""), required=False)
        if len(issues) == before:
            out.append(dict(order_id=oid, customer_id=cid, status=status, created_at=created, total=total,
                            items=[(s.upper(), q) for s, q in items], tracking_code=row["tracking_code"] or None,
                            carrier=normalise(row["carrier"]) or None,
                            shipping_address=normalise(row.get("shipping_address", "")) or None,
                            delivery_time=row.get("delivery_time") or None,
                            discount_code=(row.get("discount_code") or "").upper() or None,
                            discount_amount=discount or 0, _line=line, **extra))
    return out


# --------------------------------------------------------------------------- import


def import_files(customers: Optional[PathLike] = None, products: Optional[PathLike] = None,
                 orders: Optional[PathLike] = None, *, url: Optional[str] = None,
                 policy: Optional[ShopPolicy] = None, date_offset: dt.timedelta = dt.timedelta(0),
                 policy_codes: bool = False) -> ImportReport:
    """Validate then import (all or nothing). Returns the report; writes nothing if it has errors."""
    from bot.crm.sql import product_search_text  # avoid an import cycle at module load

    policy = policy or load_policy()
    report = ImportReport()
    engine = schema.engine(url)
    with engine.connect() as conn:
        known_customers = set(conn.execute(sa.select(CustomerRow.customer_id)).scalars())
        known_skus = {s.upper() for s in conn.execute(sa.select(ProductRow.sku)).scalars()}
        known_phones = dict(conn.execute(sa.select(CustomerRow.phone, CustomerRow.customer_id)
                                         .where(CustomerRow.phone.isnot(None))).all())

    customer_rows = _validate_customers(Path(customers), report.errors) if customers else []
    product_rows = _validate_products(Path(products), report.errors) if products else []
    for row in customer_rows:  # a phone already in the database for another customer
        owner = known_phones.get(row["phone"]) if row["phone"] else None
        if owner is not None and owner != row["customer_id"]:
            report.errors.append(ImportIssue(str(customers), row["_line"], "phone",
                                             f"phone already belongs to customer {owner}"))
    order_rows = []
    if orders:
        order_rows = _validate_orders(Path(orders), report.errors,
                                      known_customers | {r["customer_id"] for r in customer_rows},
                                      known_skus | {r["sku"] for r in product_rows})
    if report.errors:
        report.errors.sort(key=lambda e: (e.file, e.line))
        return report

    def shift(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
        return value + date_offset if value is not None else None

    now = base.utcnow()
    with db.session_scope(url) as s:
        if customers:
            created = updated = 0
            for r in customer_rows:
                row, is_new = _get_or_add(s, CustomerRow, customer_id=r["customer_id"])
                created, updated = created + is_new, updated + (not is_new)
                row.name, row.phone, row.email, row.language = r["name"], r["phone"], r["email"], r["language"]
                if "timezone" in r:  # a file without the column leaves the stored zone as it is
                    row.timezone = r["timezone"]
                row.created_at = shift(r["created_at"]) or row.created_at or now
                row.updated_at = now
            report.created["customers"], report.updated["customers"] = created, updated
            s.flush()
        if products:
            created = updated = 0
            for r in product_rows:
                row, is_new = _get_or_add(s, ProductRow, sku=r["sku"])
                created, updated = created + is_new, updated + (not is_new)
                for key in ("name_fa", "name_en", "category", "price", "stock", "warranty_months", "return_days"):
                    setattr(row, key, r[key])
                row.search_text = product_search_text(r["sku"], r["name_fa"], r["name_en"], r["category"], policy)
                row.updated_at = now
            report.created["products"], report.updated["products"] = created, updated
            s.flush()
        if orders:
            prices = dict(s.execute(sa.select(ProductRow.sku, ProductRow.price)).all())
            created = updated = 0
            for r in order_rows:
                row, is_new = _get_or_add(s, OrderRow, order_id=r["order_id"])
                created, updated = created + is_new, updated + (not is_new)
                if not is_new:  # the file's item list replaces the stored one
                    s.execute(sa.delete(OrderItemRow).where(OrderItemRow.order_id == r["order_id"]))
                for key in ("customer_id", "status", "total", "tracking_code", "carrier", "shipping_address",
                            "delivery_time", "discount_code", "discount_amount"):
                    setattr(row, key, r[key])
                for key in ("created_at", "paid_at", "shipped_at", "delivered_at"):
                    setattr(row, key, shift(r[key]))
                row.updated_at = shift(r["updated_at"]) or row.created_at
                s.flush()
                for position, (sku, qty) in enumerate(r["items"]):
                    s.add(OrderItemRow(order_id=r["order_id"], position=position, sku=sku, quantity=qty,
                                       unit_price=int(prices.get(sku, 0))))
            report.created["orders"], report.updated["orders"] = created, updated
        if policy_codes:
            _upsert_codes(s, policy)
    return report


def _get_or_add(session: Any, model: Any, **key: Any) -> Tuple[Any, bool]:
    """The row with this primary key, or a new one added to the session; and whether it is new.

    Re-importing a file updates rows in place, which is what makes import idempotent.
    """
    row = session.get(model, tuple(key.values())[0] if len(key) == 1 else tuple(key.values()))
    if row is not None:
        return row, False
    row = model(**key)
    session.add(row)
    return row, True


def _upsert_codes(session, policy: ShopPolicy) -> None:  # type: ignore[no-untyped-def]
    from bot.crm.models import DiscountCodeRow

    for code in policy.discount_codes():
        row, is_new = _get_or_add(session, DiscountCodeRow, code=code.code)
        if is_new:
            row.used_count = 0
        row.kind, row.value, row.min_total = code.kind, code.value, code.min_total
        row.max_discount, row.usage_limit = code.max_discount, code.usage_limit
        row.starts_at, row.expires_at, row.active = code.starts_at, code.expires_at, code.active
        row.description_fa, row.description_en = code.description_fa, code.description_en


def demo_date_offset(today: Optional[dt.date] = None) -> dt.timedelta:
    """Whole days from the demo shop's fixed reference date to today."""
    from bot.crm.demo_data import REFERENCE_DATE

    today = today or base.utcnow().date()
    return dt.timedelta(days=(today - REFERENCE_DATE.date()).days)


def seed_demo(url: Optional[str] = None, *, shift_to_today: bool = True) -> ImportReport:
    """Import demo_shop/ (and the policy's discount codes); dates moved to end today by default."""
    folder = settings.DEMO_SHOP_DIR
    report = import_files(folder / "customers.csv", folder / "products.csv", folder / "orders.csv", url=url,
                          date_offset=demo_date_offset() if shift_to_today else dt.timedelta(0),
                          policy_codes=True)
    if not report.ok:
        raise ImportFailed(report)
    return report


def seed_demo_if_empty(url: Optional[str] = None) -> bool:
    """Load the demo shop when the CRM has no customers; True if it did."""
    engine = schema.engine(url)
    with engine.connect() as conn:
        if conn.execute(sa.select(CustomerRow.customer_id).limit(1)).first() is not None:
            return False
    seed_demo(url)
    return True

