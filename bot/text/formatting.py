"""Dates, money and order statuses as customers read them, in Persian and English.

Persian replies use the Jalali (Solar Hijri) calendar, Persian digits and the
Arabic thousands separator: «۱۱ خرداد ۱۴۰۴», «۲۸٬۹۰۰٬۰۰۰ تومان». English replies
use the Gregorian calendar and ASCII digits: "1 June 2025", "28,900,000 Toman".
Times are shown in Tehran time. The words (month and weekday names, «تومان», order
statuses) are the text catalogue's (bot.text.catalogue, `_words`); the rules are here.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Optional, Union

import jdatetime

from bot.text.catalogue import has, text as catalogue_text
from bot.text.persian import to_persian_digits

try:
    from zoneinfo import ZoneInfo

    TEHRAN: dt.tzinfo = ZoneInfo("Asia/Tehran")
except Exception:  # pragma: no cover - no tz database: Iran has had no DST since 2022
    TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30), "IRST")

PERSIAN_THOUSANDS = "\u066c"  # «٬»

JALALI_MONTHS = [catalogue_text(f"date.month.{month}", "fa") for month in range(1, 13)]
# Python weekday(): Monday=0 … Sunday=6
PERSIAN_WEEKDAYS = [catalogue_text(f"date.weekday.{day}", "fa") for day in range(7)]

Number = Union[int, float]


def format_number(value: Number, language: str = "fa") -> str:
    """Thousands-separated whole number: «۲۸٬۹۰۰٬۰۰۰» / "28,900,000"."""
    text = f"{int(round(value)):,}"
    if language == "fa":
        return to_persian_digits(text.replace(",", PERSIAN_THOUSANDS)).replace("-", "\u2212")
    return text


def format_list(items: Iterable[str], language: str = "fa") -> str:
    """Items joined with the language's comma («تهران، کرج» / "Tehran, Karaj")."""
    return ("، " if language == "fa" else ", ").join(items)


def format_toman(amount: Number, language: str = "fa") -> str:
    """«۲۸٬۹۰۰٬۰۰۰ تومان» / "28,900,000 Toman"."""
    return catalogue_text("money.toman", "fa" if language == "fa" else "en", amount=format_number(amount, language))


def to_tehran(value: dt.datetime) -> dt.datetime:
    """Aware Tehran time (naive input counts as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(TEHRAN)


def _as_date(value: Union[dt.datetime, dt.date]) -> dt.date:
    return to_tehran(value).date() if isinstance(value, dt.datetime) else value


def jalali(value: Union[dt.datetime, dt.date]) -> jdatetime.date:
    """The Jalali date of `value` (a datetime is taken in Tehran time)."""
    return jdatetime.date.fromgregorian(date=_as_date(value))


def format_jalali_numeric(value: Union[dt.datetime, dt.date], persian_digits: bool = True) -> str:
    """«۱۴۰۴/۰۳/۱۱» (or 1404/03/11)."""
    day = jalali(value)
    text = f"{day.year:04d}/{day.month:02d}/{day.day:02d}"
    return to_persian_digits(text) if persian_digits else text


def format_date(value: Optional[Union[dt.datetime, dt.date]], language: str = "fa", *,
                weekday: bool = False, time: bool = False) -> str:
    """«یکشنبه ۱۱ خرداد ۱۴۰۴ ساعت ۱۵:۳۰» / "Sunday 1 June 2025, 15:30" (parts optional)."""
    if value is None:
        return ""
    local_date = _as_date(value)
    clock = to_tehran(value).strftime("%H:%M") if time and isinstance(value, dt.datetime) else ""
    if language == "fa":
        day = jalali(local_date)
        text = f"{day.day} {JALALI_MONTHS[day.month - 1]} {day.year}"
        if weekday:
            text = f"{PERSIAN_WEEKDAYS[local_date.weekday()]} {text}"
        if clock:
            text = catalogue_text("date.at_clock", "fa", date=text, clock=clock)
        return to_persian_digits(text)
    text = f"{local_date.day} {local_date:%B %Y}"
    if weekday:
        text = f"{local_date:%A} {text}"
    if clock:
        text = catalogue_text("date.at_clock", "en", date=text, clock=clock)
    return text


def order_status_label(status: str, language: str = "fa") -> str:
    """The status as customers read it («ارسال‌شده» / "shipped"); an unknown status as stored."""
    key = f"order_status.{status}"
    return catalogue_text(key, "fa" if language == "fa" else "en") if has(key) else status
