"""The words that bot.text.formatting and the journey templates put around values.

The rules (Persian digits, the Jalali calendar, thousands separators, Tehran time) stay in
bot.text.formatting; only the words are here. `date.month.<1-12>` are the Jalali months (the
English names are their usual transliteration, for a future English Jalali date);
`date.weekday.<0-6>` follow Python's `weekday()` (Monday is 0).
"""

from typing import Dict

_JALALI_MONTHS = (
    ("فروردین", "Farvardin"), ("اردیبهشت", "Ordibehesht"), ("خرداد", "Khordad"), ("تیر", "Tir"),
    ("مرداد", "Mordad"), ("شهریور", "Shahrivar"), ("مهر", "Mehr"), ("آبان", "Aban"), ("آذر", "Azar"),
    ("دی", "Dey"), ("بهمن", "Bahman"), ("اسفند", "Esfand"),
)
_WEEKDAYS = (
    ("دوشنبه", "Monday"), ("سه‌شنبه", "Tuesday"), ("چهارشنبه", "Wednesday"), ("پنجشنبه", "Thursday"),
    ("جمعه", "Friday"), ("شنبه", "Saturday"), ("یکشنبه", "Sunday"),
)

TEXTS: Dict[str, Dict[str, str]] = {
    # ------------------------------------------------------------------ money and dates
    "money.toman": {"fa": "{amount} تومان", "en": "{amount} Toman"},
    "date.at_clock": {"fa": "{date} ساعت {clock}", "en": "{date}, {clock}"},
    **{f"date.month.{number}": {"fa": fa, "en": en} for number, (fa, en) in enumerate(_JALALI_MONTHS, start=1)},
    **{f"date.weekday.{number}": {"fa": fa, "en": en} for number, (fa, en) in enumerate(_WEEKDAYS)},
    # ------------------------------------------------------------------ order statuses (bot.crm.base.ORDER_STATUSES)
    "order_status.pending_payment": {"fa": "در انتظار پرداخت", "en": "awaiting payment"},
    "order_status.paid": {"fa": "پرداخت‌شده", "en": "paid"},
    "order_status.processing": {"fa": "در حال آماده‌سازی", "en": "being prepared"},
    "order_status.shipped": {"fa": "ارسال‌شده", "en": "shipped"},
    "order_status.delivered": {"fa": "تحویل‌شده", "en": "delivered"},
    "order_status.cancelled": {"fa": "لغوشده", "en": "cancelled"},
    "order_status.returned": {"fa": "مرجوع‌شده", "en": "returned"},
    # ------------------------------------------------------------------ lists and names in journey messages
    "list.separator": {"fa": "، ", "en": ", "},
    # {first_name} / {name} of a journey template when the CRM knows no name (bot.orchestration.templates).
    "journey.fallback_name": {"fa": "مشتری", "en": "there"},
}
