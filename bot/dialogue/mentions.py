"""What a customer's message names besides products: a city, a day of the week, a way to pay.

"Do you ship to Tabriz?", «جمعه‌ها بازین؟», "can I pay with bitcoin?" ask for one fact of
the shop's policy; the answer should lead with it (actions/shop.py), not with every carrier,
the whole week's hours or every payment method. These readers take the normalised text
(`cues.canonical`); which cities, days and ways the shop serves is the policy's business
(bot.crm.policy), and the names said back to customers are in the text catalogue.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from bot.dialogue.cues import _FA, canonical

# The Iranian week, Saturday first (ids as shop_policy.yml's contact.opening_hours uses them).
WEEKDAYS: Tuple[str, ...] = ("saturday", "sunday", "monday", "tuesday", "wednesday", "thursday", "friday")

_WEEKDAY_WORDS: Dict[str, Tuple[str, ...]] = {
    "saturday": ("saturday", "saturdays", "sat", "shanbe", "شنبه"),
    "sunday": ("sunday", "sundays", "sun", "yekshanbe", "یکشنبه", "یک شنبه"),
    "monday": ("monday", "mondays", "mon", "doshanbe", "دوشنبه", "دو شنبه"),
    "tuesday": ("tuesday", "tuesdays", "tue", "tues", "seshanbe", "سه شنبه", "سشنبه"),
    "wednesday": ("wednesday", "wednesdays", "wed", "chaharshanbe", "چهارشنبه", "چهار شنبه"),
    "thursday": ("thursday", "thursdays", "thu", "thurs", "panjshanbe", "پنجشنبه", "پنج شنبه"),
    "friday": ("friday", "fridays", "fri", "jome", "jomee", "جمعه"),
}
# Days named relative to today: (words, days from today)
_RELATIVE_DAYS: Tuple[Tuple[Tuple[str, ...], int], ...] = (
    (("today", "tonight", "now", "right now", "emruz", "emrooz", "امروز", "امشب", "الان"), 0),
    (("tomorrow", "tmrw", "tmr", "farda", "فردا"), 1),
)

# Ways to pay customers ask about, by id. The ids the shop accepts are shop_policy.yml's
# payment_methods ids; the others (crypto, paypal, foreign cards) are ways it does not take.
# Longer phrases are tried first, so "card on delivery" is cash on delivery, not a bank card.
_PAYMENT_WORDS: Dict[str, Tuple[str, ...]] = {
    "cod": ("cash on delivery", "card on delivery", "pay on delivery", "payment on delivery", "on delivery",
            "at the door", "at delivery", "when it arrives", "when it's delivered", "when delivered",
            "cod", "cash", "pay in cash", "pardakht dar mahal", "dar mahal",
            "پرداخت در محل", "در محل", "موقع تحویل", "هنگام تحویل", "دم در", "نقدی", "پول نقد", "کارتخوان"),
    "installments": ("installments", "installment", "instalments", "instalment", "pay later", "buy now pay later",
                     "bnpl", "monthly payments", "snapppay", "snappay", "snapp pay", "snap pay", "digipay", "digi pay",
                     "aghsat", "ghesti", "qesti", "اقساط", "اقساطی", "قسطی", "قسط", "اسنپ پی", "اسنپ‌پی", "دیجی پی",
                     "دیجی‌پی"),
    "wallet": ("wallet", "kif pool", "کیف پول", "کیف‌پول"),
    "crypto": ("crypto", "cryptocurrency", "cryptocurrencies", "bitcoin", "btc", "tether", "usdt", "ethereum", "eth",
               "ارز دیجیتال", "رمزارز", "رمز ارز", "بیت کوین", "بیتکوین", "تتر", "اتریوم"),
    "paypal": ("paypal", "pay pal", "پی پال", "پی‌پال", "پیپال"),
    "foreign_card": ("visa", "mastercard", "master card", "credit card", "international card", "foreign card",
                     "ویزا", "مستر کارت", "مسترکارت", "کارت خارجی", "کارت اعتباری", "ویزا کارت"),
    "card_to_card": ("card to card", "card-to-card", "bank transfer", "wire transfer", "کارت به کارت", "واریز به حساب",
                     "شماره کارت بدید", "شماره حساب"),
    "card": ("bank card", "debit card", "shetab", "online payment", "pay online", "online gateway", "card",
             "کارت بانکی", "شتاب", "درگاه", "پرداخت آنلاین", "آنلاین", "کارت"),
}


def _phrase_pattern(phrases: Iterable[str]) -> "re.Pattern[str]":
    """Whole-word alternatives, longest first; a Persian word may take «ها», «م» or «ی» («جمعه‌ها», «تهرونم», «شیرازی»)."""
    ordered = sorted({canonical(p) for p in phrases}, key=len, reverse=True)
    alternatives = "|".join(re.escape(p) for p in ordered)
    return re.compile(rf"(?<![\w{_FA}])(?:{alternatives})(?:[ ]?ها|م|ی)?(?![\w{_FA}])")


_WEEKDAY_PATTERNS = {day: _phrase_pattern(words) for day, words in _WEEKDAY_WORDS.items()}
_RELATIVE_PATTERNS = [(_phrase_pattern(words), offset) for words, offset in _RELATIVE_DAYS]
_PAYMENT_PATTERNS = [(way, _phrase_pattern(words)) for way, words in _PAYMENT_WORDS.items()]


def _first_match(text: str, candidates: Sequence[Tuple[str, "re.Pattern[str]"]]) -> Optional[str]:
    """The candidate whose pattern matches the longest stretch of `text` (the earliest on a tie)."""
    best: Optional[Tuple[int, int, str]] = None
    for name, pattern in candidates:
        for found in pattern.finditer(text):
            key = (-(found.end() - found.start()), found.start(), name)
            if best is None or key < best:
                best = key
    return best[2] if best else None


def weekday_named(text: str, today: Optional[dt.date] = None) -> Optional[Tuple[str, int]]:
    """(weekday id, days from today or -1 for "every such day") of the day a message asks about.

    "are you open on friday?" → ("friday", -1); "what time do you close today?" on a Tuesday →
    ("tuesday", 0); «فردا بازین؟» → tomorrow's weekday and 1. None when no day is named."""
    clean = canonical(text)
    named = _first_match(clean, list(_WEEKDAY_PATTERNS.items()))
    if named:
        return named, -1
    if today is None:
        return None
    for pattern, offset in _RELATIVE_PATTERNS:
        if pattern.search(clean):
            # date.weekday(): Monday 0 … Sunday 6; the Iranian week starts on Saturday (5)
            return WEEKDAYS[((today + dt.timedelta(days=offset)).weekday() + 2) % 7], offset
    return None


def payment_way_named(text: str) -> Optional[str]:
    """The way to pay a message asks about ("cod", "installments", "crypto", …), or None."""
    return _first_match(canonical(text), _PAYMENT_PATTERNS)


def city_named(text: str, cities: Dict[str, Sequence[str]]) -> Optional[str]:
    """The city (an id of `cities`: id → the names customers write) a message names, or None."""
    return _first_match(canonical(text), _city_patterns(tuple((city, tuple(names)) for city, names in cities.items())))


@functools.lru_cache(maxsize=4)
def _city_patterns(cities: Tuple[Tuple[str, Tuple[str, ...]], ...]) -> List[Tuple[str, "re.Pattern[str]"]]:
    """The cities' patterns, built once per list of cities (every customer message is read for one)."""
    return [(city, _phrase_pattern(names)) for city, names in cities if names]


def python_weekday(weekday: str) -> int:
    """`date.weekday()`'s number of a weekday id (Monday 0), as the text catalogue's day names use."""
    return (WEEKDAYS.index(weekday) + 5) % 7
