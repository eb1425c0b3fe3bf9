"""Jalali dates, Toman amounts, status labels and phone numbers as replies show them."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.text.formatting import (
    format_date, format_jalali_numeric, format_number, format_toman, jalali, order_status_label, to_tehran,
)
from bot.text.identifiers import national_phone, normalise_phone

UTC = dt.timezone.utc


@pytest.mark.parametrize("amount,fa,en", [
    (28_900_000, "۲۸٬۹۰۰٬۰۰۰ تومان", "28,900,000 Toman"),
    (0, "۰ تومان", "0 Toman"),
    (950, "۹۵۰ تومان", "950 Toman"),
    (1_000, "۱٬۰۰۰ تومان", "1,000 Toman"),
])
def test_toman(amount: int, fa: str, en: str) -> None:
    assert format_toman(amount) == fa
    assert format_toman(amount, "en") == en


def test_number_rounding() -> None:
    assert format_number(1234.6, "en") == "1,235"
    assert format_number(1234567) == "۱٬۲۳۴٬۵۶۷"


def test_jalali_dates_in_tehran_time() -> None:
    # 20:30 UTC on 20 March 2025 is midnight in Tehran: already 1 Farvardin 1404
    assert format_date(dt.datetime(2025, 3, 20, 20, 30, tzinfo=UTC)) == "۱ فروردین ۱۴۰۴"
    assert format_date(dt.datetime(2025, 3, 20, 20, 29, tzinfo=UTC)) == "۳۰ اسفند ۱۴۰۳"
    assert jalali(dt.date(2025, 6, 1)).month == 3
    assert format_date(dt.datetime(2025, 6, 1, 12, tzinfo=UTC), weekday=True, time=True) == \
        "یکشنبه ۱۱ خرداد ۱۴۰۴ ساعت ۱۵:۳۰"
    assert format_date(dt.date(2024, 12, 21)) == "۱ دی ۱۴۰۳"
    assert format_jalali_numeric(dt.date(2025, 3, 21)) == "۱۴۰۴/۰۱/۰۱"
    assert format_jalali_numeric(dt.date(2025, 3, 21), persian_digits=False) == "1404/01/01"
    assert format_date(None) == ""


def test_english_dates_are_gregorian() -> None:
    value = dt.datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert format_date(value, "en") == "1 June 2025"
    assert format_date(value, "en", weekday=True, time=True) == "Sunday 1 June 2025, 15:30"


def test_naive_datetimes_count_as_utc() -> None:
    assert to_tehran(dt.datetime(2025, 1, 1, 0, 0)).hour == 3


def test_status_labels() -> None:
    assert order_status_label("shipped") == "ارسال‌شده"
    assert order_status_label("pending_payment", "en") == "awaiting payment"
    assert order_status_label("weird") == "weird"


@pytest.mark.parametrize("typed,shown", [
    ("۰۹۱۲ ۱۲۳ ۴۵۶۷", "09121234567"),
    ("+98 912 123 4567", "09121234567"),
    ("00989121234567", "09121234567"),
    ("+447911123456", "+447911123456"),   # a foreign number stays in E.164
])
def test_phone_shown_as_customers_write_it(typed: str, shown: str) -> None:
    assert national_phone(normalise_phone(typed) or "") == shown
