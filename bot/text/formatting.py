"""Dates, money and order statuses as customers read them, in Persian and English.

Persian replies use the Jalali (Solar Hijri) calendar, Persian digits and the
Arabic thousands separator: «۱۱ خرداد ۱۴۰۴», «۲۸٬۹۰۰٬۰۰۰ تومان». English replies
use the Gregorian calendar and ASCII digits: "1 June 2025", "28,900,000 Toman".
Times are shown in Tehran time.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional, Union

import jdatetime

from bot.text.persian import to_persian_digits

try:
    from zoneinfo import ZoneInfo

    TEHRAN: dt.tzinfo = ZoneInfo("Asia/Tehran")
except Exception:  # pragma: no cover - no tz database: Iran has had no DST since 2022
    TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30), "IRST")

PERSIAN_THOUSANDS = "\u066c"  # «٬»

JALALI_MONTHS = ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
                 "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"]
# Python weekday(): Monday=0 … Sunday=6
PERSIAN_WEEKDAYS = ["دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه"]

ORDER_STATUS_LABELS = {
    "pending_payment": {"fa": "در انتظار پرداخت", "en": "awaiting payment"},
    "paid": {"fa": "پرداخت‌شده", "en": "paid"},
    "processing": {"fa": "در حال آماده‌سازی", "en": "being prepared"},
    "shipped": {"fa": "ارسال‌شده", "en": "shipped"},
    "delivered": {"fa": "تحویل‌شده", "en": "delivered"},
    "cancelled": {"fa": "لغوشده", "en": "cancelled"},
    "returned": {"fa": "مرجوع‌شده", "en": "returned"},
}

Number = Union[int, float]


def format_number(value: Number, language: str = "fa") -> str:
    """Thousands-separated whole number: «۲۸٬۹۰۰٬۰۰۰» / "28,900,000"."""
    text = f"{int(round(value)):,}"
    if language == "fa":
        return to_persian_digits(text.replace(",", PERSIAN_THOUSANDS)).replace("-", "\u2212")
    return text


def format_toman(amount: Number, language: str = "fa") -> str:
    """«۲۸٬۹۰۰٬۰۰۰ تومان» / "28,900,000 Toman"."""
    return f"{format_number(amount, language)} {'تومان' if language == 'fa' else 'Toman'}"


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
            text += f" ساعت {clock}"
        return to_persian_digits(text)
    text = f"{local_date.day} {local_date:%B %Y}"
    if weekday:
        text = f"{local_date:%A} {text}"
    if clock:
        text += f", {clock}"
    return text


def order_status_label(status: str, language: str = "fa") -> str:
    labels = ORDER_STATUS_LABELS.get(status)
    return labels["fa" if language == "fa" else "en"] if labels else status
