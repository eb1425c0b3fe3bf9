"""Policy answers that lead with the fact asked: a city's carriers, a way to pay, a day's hours
(actions/shop.py with shop_policy.yml's cities, only_in and opening_hours)."""

from __future__ import annotations

from actions import shop as shop_actions
from tests.test_actions_support import make_tracker, run, slots_of, texts


def answer(action, text: str, intent: str, language: str = "en") -> str:  # type: ignore[no-untyped-def]
    events, messages = run(action, make_tracker({"language": language}, intent=intent, text=text, language=language))
    assert slots_of(events) == {"goal_status": "completed"}
    return texts(messages)


def test_shipping_to_a_city_lists_the_carriers_that_go_there() -> None:
    reply = answer(shop_actions.ActionShippingInfo(), "how long does shipping to tabriz take?", "ask_shipping")
    assert reply.startswith("Shipping to Tabriz:") and "Tipax" in reply and "Chapar" in reply
    assert "• Hamsafar courier" not in reply and "Shipping is free on orders over 5,000,000 Toman." in reply
    assert reply.rstrip().endswith("Hamsafar courier: Tehran only")
    tehran = answer(shop_actions.ActionShippingInfo(), "ارسال به تهرون چقدر طول میکشه", "ask_shipping", "fa")
    assert tehran.startswith("ارسال به تهران:") and "پیک همسفر" in tehran and "۶۰٬۰۰۰ تومان" in tehran


def test_shipping_without_a_city_is_the_whole_policy() -> None:
    reply = answer(shop_actions.ActionShippingInfo(), "how much is shipping?", "ask_shipping")
    assert "We ship with" in reply and "Hamsafar courier" in reply and "Shipping to" not in reply


def test_a_way_the_shop_does_not_take_is_a_plain_no_with_the_ways_it_takes() -> None:
    reply = answer(shop_actions.ActionPaymentMethods(), "can i pay with bitcoin?", "ask_payment_methods")
    assert reply.startswith("Sorry, we don't accept cryptocurrency.") and "Shetab bank card" in reply
    persian = answer(shop_actions.ActionPaymentMethods(), "با پی پال میشه پرداخت کرد؟", "ask_payment_methods", "fa")
    assert persian.startswith("متأسفانه پرداخت با پی‌پال نداریم.") and "کیف پول همسفر" in persian


def test_cash_on_delivery_outside_tehran_says_where_it_is_and_what_the_city_has() -> None:
    reply = answer(shop_actions.ActionPaymentMethods(), "can i pay cash on delivery in shiraz?", "ask_payment_methods")
    assert reply.startswith("Sorry, Cash/card on delivery is not available in Shiraz (Tehran only). In Shiraz you can pay with:")
    assert "on delivery (" not in reply and "Installments" in reply
    persian = answer(shop_actions.ActionPaymentMethods(), "تو شیراز پرداخت در محل دارین؟", "ask_payment_methods", "fa")
    assert persian.startswith("متأسفانه پرداخت در محل در شیراز نداریم (فقط تهران).") and "(فقط تهران،" not in persian


def test_a_way_the_shop_takes_is_a_yes() -> None:
    reply = answer(shop_actions.ActionPaymentMethods(), "cash on delivery in tehran?", "ask_payment_methods")
    assert reply.startswith("Yes: Cash/card on delivery (Tehran only, up to 20,000,000 Toman)")
    assert "All the ways you can pay:" in reply and "Hamsafar wallet" in reply
    assert answer(shop_actions.ActionPaymentMethods(), "قسطی دارین؟", "ask_payment_methods", "fa").startswith(
        "بله: خرید اقساطی")


def test_the_ways_to_pay_in_a_city() -> None:
    reply = answer(shop_actions.ActionPaymentMethods(), "how can I pay in mashhad", "ask_payment_methods")
    assert reply.startswith("In Mashhad you can pay with:") and "on delivery" not in reply


def test_a_day_asked_about_comes_before_the_contact_details() -> None:
    friday = answer(shop_actions.ActionShopInfo(), "are you open on friday?", "ask_contact_info")
    assert friday.startswith("On Fridays we're closed.") and "021-91001234" in friday
    thursday = answer(shop_actions.ActionShopInfo(), "پنجشنبه ها تا کی بازین؟", "ask_contact_info", "fa")
    assert thursday.startswith("پنجشنبه\u200cها ساعت ۹:۰۰–۱۳:۰۰ باز هستیم.")
    plain = answer(shop_actions.ActionShopInfo(), "what is your phone number", "ask_contact_info")
    assert plain.startswith("📞 Phone:")
