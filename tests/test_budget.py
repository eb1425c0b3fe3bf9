"""Budget words ("under 30 million", «زیر ۳۰ میلیون», «یه گوشی ۱۵ تومنی») read as a price ceiling in Toman."""

from __future__ import annotations

import pytest

from actions.budget import discussed_products, price_ceiling


@pytest.mark.parametrize("message, toman", [
    ("what laptops do you have under 30 million toman", 30_000_000),
    ("below 25m", 25_000_000),
    ("up to 20 million toman", 20_000_000),
    ("my budget is 40 million", 40_000_000),
    ("I have only 10 million", 10_000_000),
    ("anything under 5,000,000 toman?", 5_000_000),
    ("less than 2.5 million", 2_500_000),
    ("something under 500k", 500_000),
    ("زیر ۳۰ میلیون چی دارین؟", 30_000_000),
    ("زير ٢٠ ميليون چي داريد", 20_000_000),          # Arabic letters and digits
    ("کمتر از ۲۰ میلیون", 20_000_000),
    ("تا ۲۵ میلیون تومن", 25_000_000),
    ("بودجه‌م ۴۰ میلیونه", 40_000_000),
    ("۳۰ میلیون دارم", 30_000_000),
    ("یه گوشی ۱۵ تومنی میخوام", 15_000_000),
    ("گوشی ۲۰ میلیونی چی دارین", 20_000_000),
    ("زیر ۲/۵ میلیون", 2_500_000),
    ("از ۵ میلیون ارزونتر چی دارین", 5_000_000),
    ("هدفون از ۳ میلیون کمتر دارین؟", 3_000_000),
    ("budget is like 35 million toman max, what would you recommend?", 35_000_000),
    ("around 35m tops", 35_000_000),
    ("salam, ye hedfon khoob mikham zire 5 milion", 5_000_000),
    ("۲۵ میلیون نهایتا", 25_000_000),
])
def test_a_budget_is_read_in_toman(message: str, toman: int) -> None:
    assert price_ceiling(message) == toman


@pytest.mark.parametrize("message", ["do you have the ps5", "۳ تا میخوام", "how much is the galaxy s24",
                                     "سفارش ۱۰۰۲۴۶ کجاست", "anything cheaper?"])
def test_no_budget_in_other_messages(message: str) -> None:
    assert price_ceiling(message) is None


def test_the_products_talked_about_last_are_the_newest_slot() -> None:
    events = [{"event": "slot", "name": "product", "value": "MOB-SAM-S24"},
              {"event": "slot", "name": "shown_products", "value": ["LAP-LEN-IP3", "LAP-ASU-VB15"]},
              {"event": "user", "text": "hi"},
              {"event": "slot", "name": "product", "value": None}]
    assert discussed_products(events) == ("LAP-LEN-IP3", "LAP-ASU-VB15")
    events.append({"event": "slot", "name": "product", "value": "AUD-SAM-BUD"})
    assert discussed_products(events) == ("AUD-SAM-BUD",)
    assert discussed_products([]) == ()
