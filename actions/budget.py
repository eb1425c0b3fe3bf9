"""What a customer's budget words mean: "under 30 million", «زیر ۳۰ میلیون», «یه گوشی ۱۵ تومنی».

A shop assistant asked "what do you have under 30 million?" right after showing laptops
shows the laptops under 30 million; asked "anything cheaper?" after a price, shows the
same kind of product for less. This module reads the limit from the words and the kind
of product from the conversation; `ActionBrowseProducts` does the showing.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional, Tuple

from bot.text.persian import normalise

_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+(?:[./٫]\d+)?)"
_MILLION = r"(?:million|milion|milyon|melyon|melion|mil|mln|m|میلیون|میلیونی|میل|ملیون|تومنی)"   # «۳۰ تومنی» is slang for 30 million
_THOUSAND = r"(?:thousand|k|هزار)"
_UNIT = rf"(?:\s*({_MILLION}|{_THOUSAND}))?"
_CURRENCY = r"(?:\s*(?:toman|tomans|tomen|tmn|تومان|تومن|تومنی))?"

# A price ceiling: "under 30 million", "below 25m", "up to 20 million toman", "max 15m", "budget is 40 million",
# «زیر ۳۰ میلیون», «کمتر از ۲۰ میلیون», «تا ۲۵ میلیون», «حداکثر ۱۵ میلیون», «بودجه‌م ۴۰ میلیونه», «۳۰ تومنی».
_CEILING = re.compile(
    rf"(?:under|below|less than|cheaper than|up to|upto|max(?:imum)?|at most|no more than|within|"
    rf"budget(?:'?s| is| of)?(?: like| about| around| roughly| approx(?:imately)?)?|"
    rf"zire|zir|kamtar az|ta saghfe|haddaxar|hadaksar|"
    rf"زیر|کمتر از|ارزون ?تر از|ارزان ?تر از|تا سقف|تا|حداکثر|نهایتا|نهایتاً|بودجه ?(?:ام|م|ی)?(?: حدود| در حد)?)"
    rf"\s*{_NUMBER}{_UNIT}{_CURRENCY}",
    re.IGNORECASE,
)
# «۳۰ میلیون دارم», "I have 20 million": a budget stated as an amount the customer has.
_AMOUNT_HELD = re.compile(rf"{_NUMBER}\s*({_MILLION}){_CURRENCY}\s*(?:دارم|بیشتر ندارم|پول دارم|budget)", re.IGNORECASE)
# «از ۱۰ میلیون ارزون‌تر», «از ۲۰ میلیون کمتر»: Persian puts the amount first.
_CEILING_AFTER = re.compile(rf"از\s*{_NUMBER}{_UNIT}{_CURRENCY}\s*(?:ارزون ?تر|ارزان ?تر|کمتر|پایین ?تر)")
# «یه گوشی ۱۵ میلیونی», "a 20 million phone": the kind of product at that price.
_PRICED_KIND = re.compile(rf"{_NUMBER}\s*(میلیونی|تومنی)", re.IGNORECASE)
# "35 million max", "30m tops", «۲۵ میلیون نهایتا»: the ceiling said after the amount.
_CEILING_WORD_AFTER = re.compile(rf"{_NUMBER}\s*({_MILLION}){_CURRENCY}\s*(?:max(?:imum)?|tops|at most|or less|"
                                 rf"حداکثر|نهایتا|نهایتاً|سقفش|بیشتر نه)\b", re.IGNORECASE)
_HAVE_AMOUNT = re.compile(rf"(?:i have|i've got|i got|my budget'?s?)\s*(?:only\s+|just\s+)?{_NUMBER}{_UNIT}", re.IGNORECASE)


def _amount(number: str, unit: Optional[str]) -> Optional[int]:
    grouped = re.fullmatch(r"\d{1,3}(,\d{3})+", number)
    value = float(number.replace(",", "")) if grouped else float(re.sub(r"[/٫]", ".", number))
    unit = (unit or "").lower()
    if re.fullmatch(_THOUSAND, unit):
        return int(value * 1_000)
    if unit or value < 1_000:   # shop prices are millions of Toman: "under 30" means 30 million
        return int(value * 1_000_000)
    return int(value)


def price_ceiling(message: str) -> Optional[int]:
    """The most a customer wants to pay, in Toman, if the message says so; else None."""
    clean = normalise(message).replace("\u200c", " ")
    for pattern in (_CEILING, _CEILING_AFTER, _CEILING_WORD_AFTER, _AMOUNT_HELD, _HAVE_AMOUNT, _PRICED_KIND):
        match = pattern.search(clean)
        if match:
            return _amount(match.group(1), match.group(2))
    return None


def discussed_products(events: Iterable[Any]) -> Tuple[str, ...]:
    """The product(s) last talked about, newest first: the `product` slot or the products last shown,
    whichever was set most recently (events are the tracker's, oldest first)."""
    for event in reversed(list(events)):
        if event.get("event") != "slot" or not event.get("value"):
            continue
        if event.get("name") == "product":
            return (str(event["value"]),)
        if event.get("name") == "shown_products":
            return tuple(str(v) for v in event["value"])
    return ()
