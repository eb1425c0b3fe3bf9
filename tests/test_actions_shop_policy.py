"""Policy answers that lead with the fact asked: a city's carriers, a way to pay, a day's hours
(actions/shop.py with shop_policy.yml's cities, only_in and opening_hours)."""

from __future__ import annotations

from actions import shop as shop_actions
from tests.test_actions_support import make_tracker, run, shop, slots_of, texts  # noqa: F401  (fixture)


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


def test_a_price_for_several_says_the_total(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(shop_actions.ActionProductPrice(), make_tracker(
        {"language": "en", "product": "ACC-BAS-CB"}, intent="ask_price", text="how much for 3 of them?", language="en",
        entities=[{"entity": "quantity", "value": "3"}]))
    assert "3 of them: 1,170,000 Toman" in texts(messages)


def test_the_warranty_right_after_a_comparison_is_each_ones(shop) -> None:  # type: ignore[no-untyped-def]
    compared = ["WCH-SAM-GW6", "WCH-APL-SE"]
    events = [{"event": "slot", "name": "last_request", "value": "compare_products"}]
    _, messages = run(shop_actions.ActionWarrantyPolicy(), make_tracker(
        {"language": "en", "shown_products": compared, "last_request": "ask_warranty"}, intent="ask_warranty",
        text="and the warranty?", language="en", events=events))
    reply = texts(messages)
    assert "Galaxy Watch 6 smartwatch: 12 months" in reply and "Apple Watch SE smartwatch: 12 months" in reply
    assert "phones 18 months" not in reply


def test_an_out_of_stock_product_asked_when_back_gets_an_honest_answer(shop) -> None:  # type: ignore[no-untyped-def]
    _, messages = run(shop_actions.ActionProductDetails(), make_tracker(
        {"language": "fa", "product": "MOB-XIA-P6"}, intent="ask_product_details", text="کی موجود میشه؟ خبرم کنید"))
    assert "نمی‌دانم گوشی شیائومی پوکو X6 کی دوباره موجود می‌شود" in texts(messages)
    _, messages = run(shop_actions.ActionProductDetails(), make_tracker(
        {"language": "en", "product": "GAM-SNY-PS5"}, intent="ask_product_details", language="en",
        text="does the ps5 come with a controller"))
    assert "I don't have that detail here" in texts(messages)


def test_the_referral_and_club_programmes_are_told_before_the_number_is_asked() -> None:
    from actions import forms

    _, messages = run(forms.AskPhoneNumber(), make_tracker({"language": "fa"}, intent="ask_referral",
                                                           text="اگه معرفی کنم چیزی گیرم میاد؟", active_loop="referral_form"))
    assert "۵۰۰ امتیاز" in texts(messages) and "شماره موبایل" in texts(messages)
    _, messages = run(forms.AskPhoneNumber(), make_tracker({"language": "en"}, intent="ask_loyalty_points", language="en",
                                                           text="what are the club levels?", active_loop="loyalty_form"))
    assert "Bronze (0), Silver (2,000), Gold (10,000), Platinum (30,000)" in texts(messages)
    asked_before = [{"event": "active_loop", "name": "loyalty_form"}, {"event": "action", "name": "action_ask_phone_number"}]
    _, messages = run(forms.AskPhoneNumber(), make_tracker({"language": "en"}, intent="inform", language="en",
                                                           text="hmm", active_loop="loyalty_form", events=asked_before))
    assert "club" not in texts(messages).lower()


def test_a_products_warranty_comes_with_its_own_return_window(shop) -> None:  # type: ignore[no-untyped-def]
    _, messages = run(shop_actions.ActionWarrantyPolicy(), make_tracker(
        {"language": "en"}, intent="ask_warranty", text="and for a washing machine?", language="en",
        entities=[{"entity": "product", "value": "HOM-LG-WM"}]))
    assert "can be returned within 10 days of delivery" in texts(messages)
    _, messages = run(shop_actions.ActionWarrantyPolicy(), make_tracker(
        {"language": "fa"}, intent="ask_warranty", text="گارانتی ایرپاد", entities=[{"entity": "product", "value": "AUD-APL-APP"}]))
    assert "تا ۷ روز پس از تحویل قابل مرجوع" in texts(messages)


def test_shipping_with_a_product_talked_about_and_a_total_asked_adds_them_up(shop) -> None:  # type: ignore[no-untyped-def]
    reply = texts(run(shop_actions.ActionShippingInfo(), make_tracker(
        {"language": "fa", "product": "HOM-PAR-KT"}, intent="ask_shipping", text="با ارسال به اصفهان جمعا چقدر میشه؟"))[1])
    assert reply.startswith("ارسال به اصفهان:") and "پست پیشتاز: ۳ تا ۵ روز کاری — ۸۵٬۰۰۰ تومان (جمعاً ۱٬۷۳۵٬۰۰۰ تومان)" in reply
    free = texts(run(shop_actions.ActionShippingInfo(), make_tracker(
        {"language": "en", "product": "HOM-LG-WM"}, intent="ask_shipping", language="en",
        text="do i get free delivery on it, how much in total?"))[1])
    assert "Tipax: 2–3 working days — 0 Toman (total 41," in free
    plain = texts(run(shop_actions.ActionShippingInfo(), make_tracker(
        {"language": "en", "product": "HOM-LG-WM"}, intent="ask_shipping", language="en", text="how much is shipping"))[1])
    assert "total" not in plain


def test_shipping_abroad_is_a_plain_no() -> None:
    reply = answer(shop_actions.ActionShippingInfo(), "خارج از کشور چی؟ مثلا دبی", "ask_shipping", "fa")
    assert reply.startswith("فعلاً فقط داخل ایران ارسال داریم")
