"""A city, a day of the week and a way to pay read from customers' words (bot.dialogue.mentions)."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import pytest

from bot.crm.policy import load_policy
from bot.dialogue import mentions

TUESDAY = dt.date(2026, 12, 8)
CITIES = load_policy().city_names()


@pytest.mark.parametrize("text, expected", [
    ("are you open on friday?", ("friday", -1)), ("جمعه‌ها بازین؟", ("friday", -1)), ("جمعه ها بازید", ("friday", -1)),
    ("سه‌شنبه ساعت چند باز هستین", ("tuesday", -1)), ("سه شنبه", ("tuesday", -1)), ("یکشنبه بازین", ("sunday", -1)),
    ("open on sat?", ("saturday", -1)), ("پنج شنبه تا کی بازین", ("thursday", -1)),
    ("what time do you close today?", ("tuesday", 0)), ("are you open now", ("tuesday", 0)),
    ("فردا بازین؟", ("wednesday", 1)), ("open tomorrow?", ("wednesday", 1)),
    ("what are your opening hours", None), ("ساعت کاری", None),
])
def test_the_day_asked_about(text: str, expected: Optional[tuple]) -> None:
    assert mentions.weekday_named(text, today=TUESDAY) == expected


def test_a_relative_day_needs_today() -> None:
    assert mentions.weekday_named("are you open today?") is None


@pytest.mark.parametrize("text, expected", [
    ("what about crypto?", "crypto"), ("با بیت کوین میشه خرید کرد؟", "crypto"), ("با تتر میشه؟", "crypto"),
    ("can i pay cash on delivery in shiraz?", "cod"), ("card on delivery?", "cod"), ("پرداخت در محل دارین", "cod"),
    ("can i pay by card", "card"), ("کارت به کارت میشه؟", "card_to_card"), ("do you take visa", "foreign_card"),
    ("credit card ok?", "foreign_card"), ("قسطی دارین", "installments"), ("snapp pay?", "installments"),
    ("paypal?", "paypal"), ("کیف پول", "wallet"), ("how much is the a55", None), ("cardigan", None),
])
def test_the_way_to_pay_asked_about(text: str, expected: Optional[str]) -> None:
    assert mentions.payment_way_named(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("how long does shipping to tabriz take?", "tabriz"), ("ارسال به تبریز", "tabriz"), ("تهرونم", "tehran"),
    ("do you ship to kish island", "kish"), ("i live in Bandar Abbas", "bandar_abbas"), ("بندر عباس", "bandar_abbas"),
    ("کرمانشاه", "kermanshah"), ("kerman", "kerman"), ("خرم آباد", "khorramabad"), ("شیرازی هستم", "shiraz"),
    ("how much is shipping", None), ("karajj", None), ("the sari dress", "sari"),
])
def test_the_city_named(text: str, expected: Optional[str]) -> None:
    assert mentions.city_named(text, CITIES) == expected


def test_weekday_ids_map_to_python_weekdays() -> None:
    assert [mentions.python_weekday(day) for day in mentions.WEEKDAYS] == [5, 6, 0, 1, 2, 3, 4]
    assert dt.date(2026, 12, 11).weekday() == mentions.python_weekday("friday")
