"""Goal actions and form validation against a real SQLite CRM seeded with the demo shop."""

from __future__ import annotations

import datetime as dt
import re

from actions import advocacy, forms, orders, shop as shop_actions
from actions.common import set_crm
from bot.crm.base import CRMUnavailable
from tests.test_actions_support import (  # noqa: F401  (fixture)
    DOMAIN, PERSIAN_DIGITS, make_tracker, run, shop, slots_of, texts,
)

C001_PHONE = "09121234567"


def verified(**slots):  # type: ignore[no-untyped-def]
    return {"customer_id": "C001", "language": "fa", **slots}


# --------------------------------------------------------------------------- verification form


def test_sms_code_verification_inside_an_order_form(shop) -> None:  # type: ignore[no-untyped-def]
    validate = forms.ValidateTrackOrderForm()
    tracker = make_tracker({"requested_slot": "phone_number"}, intent="inform", text=C001_PHONE,
                           entities=[{"entity": "phone_number", "value": "+989121234567"}],
                           fresh={"phone_number": "+989121234567"}, active_loop="track_order_form")
    events, messages = run(validate, tracker)
    assert slots_of(events)["phone_number"] == "+989121234567"
    assert slots_of(events)["otp_code"] is None          # Rasa asks for the code next (domain order)
    assert shop.sms.sent and shop.sms.sent[0][0] == "+989121234567"
    assert "پیامک" in texts(messages) and "(۰۹۱۲۱۲۳۴۵۶۷)" in texts(messages)  # as Iranians write it

    code = shop.sms.last_code()
    wrong = "000000" if code != "000000" else "111111"
    tracker = make_tracker({"requested_slot": "otp_code", "phone_number": "+989121234567", "otp_code": wrong},
                           intent="inform", text=wrong, active_loop="track_order_form",
                           fresh={"otp_code": wrong})
    events, messages = run(validate, tracker)
    assert slots_of(events)["otp_code"] is None and "customer_id" not in slots_of(events)
    assert "۴" in texts(messages)               # four tries left, in Persian digits

    persian_code = code.translate(str.maketrans("0123456789", PERSIAN_DIGITS))
    tracker = make_tracker({"requested_slot": "otp_code", "phone_number": "+989121234567",
                            "otp_code": persian_code}, intent="inform", text=persian_code,
                           active_loop="track_order_form",
                           fresh={"otp_code": persian_code})
    events, _ = run(validate, tracker)
    result = slots_of(events)
    assert result["customer_id"] == "C001" and result["otp_code"] == "ok"
    assert result["requested_slot"] == "order_id"   # verification done: ask for the order


def test_verified_customer_is_not_asked_to_verify_again(shop) -> None:  # type: ignore[no-untyped-def]
    tracker = make_tracker(verified(), intent="track_order", active_loop="track_order_form",
                           fresh={"order_id": "100004"})
    events, _ = run(forms.ValidateTrackOrderForm(), tracker)
    assert slots_of(events)["requested_slot"] is None


def test_channel_verification_is_picked_up(shop) -> None:  # type: ignore[no-untyped-def]
    shop.verifier._remember("C002", "web_signature", "conv-1")
    tracker = make_tracker({"language": "en"}, intent="ask_referral", active_loop="referral_form")
    events, _ = run(forms.ValidateReferralForm(), tracker)
    assert slots_of(events)["customer_id"] == "C002"


def test_otp_digits_are_not_taken_for_an_order_number(shop) -> None:  # type: ignore[no-untyped-def]
    tracker = make_tracker({"requested_slot": "otp_code", "order_id": "123456"}, intent="inform",
                           text="123456", active_loop="track_order_form",
                           events=[{"event": "slot", "name": "order_id", "value": "100004"}],
                           fresh={"order_id": "123456"})
    events, _ = run(forms.ValidateTrackOrderForm(), tracker)
    assert slots_of(events)["order_id"] == "100004"


def test_someone_elses_order_gets_the_same_answer_as_a_missing_one(shop) -> None:  # type: ignore[no-untyped-def]
    def answer(order_id: str) -> str:
        tracker = make_tracker(verified(order_id=order_id, requested_slot="order_id"), intent="inform",
                               active_loop="track_order_form",
                               fresh={"order_id": order_id})
        events, messages = run(forms.ValidateTrackOrderForm(), tracker)
        assert slots_of(events)["order_id"] is None
        return texts(messages).replace(order_id.translate(str.maketrans("0123456789", PERSIAN_DIGITS)), "#")

    assert answer("100009") == answer("999999")    # 100009 belongs to C002
    events, messages = run(orders.ActionTrackOrder(), make_tracker(verified(order_id="100009"), intent="inform"))
    assert slots_of(events) == {"goal_status": "failed"}


# --------------------------------------------------------------------------- order goals


def test_track_order_in_persian_with_tracking_code(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(orders.ActionTrackOrder(), make_tracker(verified(order_id="100004"), intent="inform"))
    reply = texts(messages)
    assert slots_of(events) == {"goal_status": "completed"}
    assert "۱۰۰۰۰۴" in reply and "ارسال‌شده" in reply and "CH990590816" in reply and "تومان" in reply
    assert not any(ch.isdigit() and ch.isascii() for ch in reply.replace("CH990590816", ""))


def test_unverified_customer_gets_no_order(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(orders.ActionTrackOrder(), make_tracker({"language": "en", "order_id": "100004"}))
    assert slots_of(events) == {"goal_status": "failed"} and "verifying" in texts(messages)


def test_place_order_creates_pending_payment_order_with_payment_link(shop) -> None:  # type: ignore[no-untyped-def]
    tracker = make_tracker({"customer_id": "C002", "language": "en", "product": "MOB-SAM-A55", "quantity": "2"})
    events, messages = run(orders.ActionPlaceOrder(), tracker)
    order_id = slots_of(events)["last_order_id"]
    order = shop.crm.get_order(order_id)
    assert order.status == "pending_payment" and order.customer_id == "C002" and order.items[0].quantity == 2
    assert f"https://shop.example.ir/pay/{order_id}" in texts(messages)
    assert slots_of(events)["goal_status"] == "completed"


def test_out_of_stock_product_cannot_be_ordered(shop) -> None:  # type: ignore[no-untyped-def]
    tracker = make_tracker({"customer_id": "C002", "language": "en", "product": "MOB-XIA-P6"})
    events, messages = run(orders.ActionPlaceOrder(), tracker)
    assert slots_of(events) == {"goal_status": "failed"} and "stock" in texts(messages)
    # nor asked for before the customer is verified: no number is taken for what cannot be ordered
    events, messages = run(orders.ActionPlaceOrder(), make_tracker({"language": "en", "product": "MOB-XIA-P6"}))
    assert slots_of(events) == {"goal_status": "failed"}
    assert "Poco X6 phone is out of stock" in texts(messages) and "verif" not in texts(messages)


def test_discount_code_applies_to_the_pending_order(shop) -> None:  # type: ignore[no-untyped-def]
    tracker = make_tracker(verified(discount_code="WELCOME10", last_order_id="100001"))
    events, messages = run(orders.ActionApplyDiscount(), tracker)
    assert slots_of(events) == {"goal_status": "completed"}
    assert shop.crm.get_order("100001").discount_code == "WELCOME10"
    events, messages = run(orders.ActionApplyDiscount(), make_tracker({"language": "en", "discount_code": "YALDA1403"}))
    assert slots_of(events) == {"goal_status": "failed"} and "expired" in texts(messages)


def test_cancel_needs_a_cancellable_status(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(orders.ActionCancelOrder(), make_tracker(verified(order_id="100002", confirm_cancel=True)))
    assert slots_of(events) == {"goal_status": "completed"} and shop.crm.get_order("100002").status == "cancelled"
    events, messages = run(orders.ActionCancelOrder(), make_tracker(verified(order_id="100004", confirm_cancel=True)))
    assert slots_of(events) == {"goal_status": "failed"} and "ارسال‌شده" in texts(messages)
    events, _ = run(orders.ActionCancelOrder(), make_tracker(verified(order_id="100003", confirm_cancel=False)))
    assert slots_of(events) == {"goal_status": "abandoned"} and shop.crm.get_order("100003").status == "processing"


def test_change_order_address_and_time(shop) -> None:  # type: ignore[no-untyped-def]
    events, _ = run(orders.ActionChangeOrder(), make_tracker(verified(order_id="100003",
                                                                      change_request="تهران، خیابان آزادی، پلاک ۱۲")))
    assert slots_of(events) == {"goal_status": "completed"}
    assert "آزادی" in shop.crm.get_order("100003").shipping_address
    events, _ = run(orders.ActionChangeOrder(), make_tracker(verified(order_id="100003",
                                                                      change_request="فردا عصر ساعت ۵")))
    assert shop.crm.get_order("100003").delivery_time == "فردا عصر ساعت ۵"


def test_return_window(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(orders.ActionReturnItem(), make_tracker(verified(order_id="100007", return_reason="broken")))
    assert slots_of(events) == {"goal_status": "completed"} and "R-" in texts(messages)
    events, messages = run(orders.ActionReturnItem(), make_tracker(verified(order_id="100006", return_reason="x")))
    assert slots_of(events) == {"goal_status": "failed"} and "مهلت مرجوعی" in texts(messages)


def test_problem_and_payment_problem_open_tickets(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(orders.ActionReportProblem(),
                           make_tracker({"language": "en", "problem_description": "screen arrived cracked"}))
    reference = texts(messages).split("reference ")[1].split(".")[0]
    assert shop.crm.get_ticket(reference).category == "problem"
    # an unknown customer is told how to follow it up, not promised a call nobody can make
    assert "call 021-91001234 with this reference" in texts(messages) and "contact you" not in texts(messages)
    _, messages = run(orders.ActionReportProblem(), make_tracker(verified(problem_description="صفحه خط افتاده")))
    assert "با شما تماس می‌گیرند" in texts(messages)
    events, messages = run(orders.ActionPaymentProblem(),
                           make_tracker(verified(problem_description="پول کم شد ولی سفارش ثبت نشد")))
    assert slots_of(events) == {"goal_status": "completed"} and "شماره پیگیری" in texts(messages)


# --------------------------------------------------------------------------- advocacy


def test_feedback_csat_and_nps(shop) -> None:  # type: ignore[no-untyped-def]
    assert advocacy.feedback_kind(4, "خوب بود") == "csat"
    assert advocacy.feedback_kind(9, "") == "nps"
    assert advocacy.feedback_kind(3, "how likely to recommend: 3 out of 10") == "nps"
    events, _ = run(advocacy.ActionRecordFeedback(), make_tracker({"language": "fa", "rating": "5"}))
    assert slots_of(events) == {"goal_status": "completed"}
    events, _ = run(advocacy.ActionRecordFeedback(), make_tracker({"language": "fa", "rating": "11"}))
    assert slots_of(events) == {"goal_status": "failed"}


def test_review_referral_and_loyalty(shop) -> None:  # type: ignore[no-untyped-def]
    events, _ = run(advocacy.ActionLeaveReview(), make_tracker(verified(product="MOB-SAM-A55", rating="5",
                                                                        review_text="عالی")))
    assert slots_of(events) == {"goal_status": "completed"}
    _, first = run(advocacy.ActionReferralCode(), make_tracker(verified()))
    _, second = run(advocacy.ActionReferralCode(), make_tracker(verified(language="en")))
    code = texts(first).split(": ")[1].split("\n")[0]
    assert code.startswith("HMS") and code in texts(second)
    events, messages = run(advocacy.ActionLoyaltyPoints(), make_tracker(verified()))
    assert slots_of(events) == {"goal_status": "completed"} and "امتیاز" in texts(messages)
    assert not any(ch.isdigit() and ch.isascii() for ch in texts(messages))


# --------------------------------------------------------------------------- catalogue and policy


def test_browse_products_answers_with_buttons(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(shop_actions.ActionBrowseProducts(),
                           make_tracker({"language": "en"}, intent="browse_products", text="show me your laptops"))
    buttons = messages[0]["buttons"]
    assert buttons and all(b["payload"].startswith('/ask_product_details{"product":"LAP-') for b in buttons)
    assert slots_of(events) == {"goal_status": "completed",   # what was shown, for "the cheaper one"
                                "shown_products": [b["payload"].split('"')[3] for b in buttons]}
    events, messages = run(shop_actions.ActionBrowseProducts(),
                           make_tracker({"language": "fa"}, intent="browse_products", text="چی دارید؟"))
    assert events == [] and messages[0]["buttons"][0]["payload"].startswith("/browse_products")


def test_price_details_compare_and_policies_in_persian(shop) -> None:  # type: ignore[no-untyped-def]
    _, messages = run(shop_actions.ActionProductPrice(), make_tracker({"language": "fa", "product": "MOB-SAM-A55"}))
    assert "۲۸٬۹۰۰٬۰۰۰ تومان" in texts(messages)
    _, messages = run(shop_actions.ActionCompareProducts(),
                      make_tracker({"language": "en", "products": ["MOB-SAM-A55", "MOB-SAM-S24"]}))
    assert "Cheaper: Samsung Galaxy A55" in texts(messages)
    for action in (shop_actions.ActionShippingInfo(), shop_actions.ActionWarrantyPolicy(),
                   shop_actions.ActionPaymentMethods(), shop_actions.ActionShowPromotions(),
                   shop_actions.ActionShopInfo(), shop_actions.ActionUsageHelp()):
        events, messages = run(action, make_tracker({"language": "fa"}, intent="ask_contact_info"))
        assert slots_of(events) == {"goal_status": "completed"}, action.name()
        assert texts(messages).strip()
    _, messages = run(shop_actions.ActionShopInfo(), make_tracker({"language": "fa"}, intent="ask_contact_info"))
    assert "۰۲۱-۹۱۰۰۱۲۳۴" in texts(messages)


# --------------------------------------------------------------------------- CRM outage


class DownCRM:
    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise CRMUnavailable("down")
        return fail


def test_crm_outage_apologises_in_the_customers_language(shop) -> None:  # type: ignore[no-untyped-def]
    set_crm(DownCRM())  # type: ignore[arg-type]
    shop.verifier._crm = DownCRM()
    for action, slots in ((orders.ActionTrackOrder(), verified(order_id="100004", language="en")),
                          (orders.ActionPlaceOrder(), verified(product="MOB-SAM-A55")),
                          (advocacy.ActionReferralCode(), verified()),
                          (shop_actions.ActionBrowseProducts(), {"language": "en"})):
        events, messages = run(action, make_tracker(slots, text="laptops"))
        assert slots_of(events) == {"goal_status": "failed"}, action.name()
        assert ("try again" in texts(messages)) if slots["language"] == "en" else ("دوباره" in texts(messages))
    events, messages = run(forms.ValidateProductPriceForm(),
                           make_tracker({"language": "fa", "product": "A55", "requested_slot": "product"},
                                        active_loop="product_price_form",
                                        fresh={"product": "A55"}))
    assert slots_of(events)["requested_slot"] is None and "دوباره" in texts(messages)


def test_dates_are_jalali_in_persian(shop) -> None:  # type: ignore[no-untyped-def]
    from actions.common import date

    assert date(dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc), "fa") == "۱۱ خرداد ۱۴۰۴"
    assert DOMAIN["slots"]["language"]["values"] == ["fa", "en"]


def test_review_offers_the_products_the_customer_received(shop) -> None:  # type: ignore[no-untyped-def]
    _, messages = run(forms.AskProduct(), make_tracker(verified(), intent="leave_review", active_loop="review_form"))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads and all(p.startswith('/inform{"product":') for p in payloads)


# --------------------------------------------------------------------------- personalisation


def test_my_order_is_told_apart_from_an_order() -> None:
    def means(text: str, order_id: str = "") -> bool:
        entities = [{"entity": "order_id", "value": order_id}] if order_id else []
        return forms.means_my_order({"text": text, "entities": entities})

    for text in ("سفارشم کجاست؟", "میخوام سفارشمو پیگیری کنم", "سفارش‌ام نرسیده", "سفارش من رو لغو کن",
                 "where is my order?", "cancel my last order please", "My order hasn't arrived"):
        assert means(text), text
    for text in ("where are my orders", "I want to track an order", "سفارش‌هام رو نشون بده", "سفارش ۱۰۰۰۰۴ کجاست",
                 "لغو سفارش"):
        assert not means(text), text
    assert not means("where is my order 100004", "100004")


def test_verified_customers_my_order_is_their_latest_open_order(shop) -> None:  # type: ignore[no-untyped-def]
    tracker = make_tracker(verified(), intent="track_order", text="سفارشم کجاست؟", active_loop="track_order_form")
    events, messages = run(forms.ValidateTrackOrderForm(), tracker)
    newest_open = next(o for o in shop.crm.list_orders("C001") if o.status in
                       ("pending_payment", "paid", "processing", "shipped"))
    assert slots_of(events)["order_id"] == newest_open.order_id and slots_of(events)["requested_slot"] is None
    assert "۱۰۰۰۰۱" in texts(messages)
    # "an order" is a question: the number is asked, with the customer's orders as buttons
    tracker = make_tracker(verified(), intent="track_order", text="میخوام یه سفارش رو پیگیری کنم",
                           active_loop="track_order_form")
    events, _ = run(forms.ValidateTrackOrderForm(), tracker)
    assert slots_of(events)["requested_slot"] == "order_id"
    # cancelling "my order": the latest open one, confirmed first
    tracker = make_tracker(verified(language="en"), intent="cancel_order", text="cancel my order",
                           active_loop="cancel_order_form")
    events, _ = run(forms.ValidateCancelOrderForm(), tracker)
    assert slots_of(events)["order_id"] == newest_open.order_id
    assert slots_of(events)["requested_slot"] == "confirm_cancel"


def test_a_shipped_order_is_refused_before_asking_what_to_change(shop) -> None:  # type: ignore[no-untyped-def]
    tracker = make_tracker(verified(requested_slot="order_id"), intent="inform", text="100004",
                           active_loop="change_order_form", fresh={"order_id": "100004"})
    events, _ = run(forms.ValidateChangeOrderForm(), tracker)
    assert slots_of(events)["requested_slot"] is None          # nothing more to ask
    events, messages = run(orders.ActionChangeOrder(),
                           make_tracker(verified(order_id="100004", change_request="")))
    assert slots_of(events) == {"goal_status": "failed"} and "ارسال‌شده" in texts(messages)
    assert shop.crm.get_order("100004").status == "shipped"


def test_payment_problem_tells_the_payment_state(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(orders.ActionPaymentProblem(), make_tracker(verified(), intent="payment_problem",
                                                                       text="پول کم شد ولی سفارش ثبت نشد"))
    assert "۱۰۰۰۰۱" in texts(messages) and "در انتظار پرداخت" in texts(messages) and "/pay/100001" in texts(messages)
    reference = texts(messages).split("شماره پیگیری: ")[1].split(".")[0]
    assert shop.crm.get_ticket(reference).order_id == "100001"
    # the order named with the complaint (paid): when the payment reached the shop
    events, messages = run(orders.ActionPaymentProblem(), make_tracker(
        verified(language="en"), intent="payment_problem", text="I was charged twice for order 100002",
        entities=[{"entity": "order_id", "value": "100002"}]))
    assert "We received the payment" in texts(messages) and "100002" in texts(messages)
    # someone else's order named: no state told, the ticket is not linked to it
    events, messages = run(orders.ActionPaymentProblem(), make_tracker(
        verified(language="en"), intent="payment_problem", text="payment for order 100009 failed",
        entities=[{"entity": "order_id", "value": "100009"}]))
    reference = re.search(r"T-[A-Z0-9]+", texts(messages)).group(0)  # type: ignore[union-attr]
    assert "100009" not in texts(messages) and shop.crm.get_ticket(reference).order_id is None


def test_carrier_is_named_in_the_reply_language(shop) -> None:  # type: ignore[no-untyped-def]
    assert orders.carrier_name("چاپار", "en") == "Chapar"
    assert orders.carrier_name("پیک همسفر", "en") == "Hamsafar courier"
    assert orders.carrier_name("چاپار", "fa") == "چاپار"
    assert orders.carrier_name("DHL", "en") == "DHL"


def test_known_customer_is_greeted_by_name_in_their_saved_language(shop) -> None:  # type: ignore[no-untyped-def]
    from actions.greeting import ActionGreet

    events, messages = run(ActionGreet(), make_tracker({"customer_id": "C002", "language": "fa"}, text="سلام"))
    assert texts(messages).startswith("Hi Sara,") and slots_of(events) == {"language": "en"}
    _, messages = run(ActionGreet(), make_tracker({"customer_id": "C001", "language": "en"}, text="hello"))
    assert "علی رضایی" in texts(messages)
    # an explicit language switch wins over the saved language
    _, messages = run(ActionGreet(), make_tracker({"customer_id": "C001", "preferred_language": "en"}))
    assert texts(messages).startswith("Hi علی,") or "welcome back" in texts(messages)
    # unknown customer, or a CRM that is down: the ordinary greeting
    _, messages = run(ActionGreet(), make_tracker({"language": "fa"}))
    assert messages == [{**messages[0], "response": "utter_greet"}]
    set_crm(DownCRM())  # type: ignore[arg-type]
    _, messages = run(ActionGreet(), make_tracker({"customer_id": "C001", "language": "fa"}))
    assert messages[0]["response"] == "utter_greet"


def test_the_cheapest_of_a_kind_is_named_with_the_others_by_price(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(shop_actions.ActionBrowseProducts(),
                           make_tracker({"language": "en"}, intent="browse_products",
                                        text="what's the cheapest phone you have?"))
    assert "Nokia 105" in texts(messages) and "1,450,000 Toman" in texts(messages)
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert titles[0].startswith("Nokia 105") and len(titles) > 1
    assert slots_of(events)["goal_status"] == "completed"


def test_a_kind_is_every_product_of_it_not_only_those_whose_name_says_it(shop) -> None:  # type: ignore[no-untyped-def]
    """"what phones have you got" lists the iPhone too (its name does not say "phone"); "the gaming
    stuff" is the Gaming category, not the laptop named "gaming"; "headphones" are not all audio."""
    from actions.products import products_hinted

    phones = {p.sku for p in products_hinted("what phones have you got", limit=50)}
    assert "MOB-APL-IP15" in phones and {p.category for p in products_hinted("what phones have you got")} == {"mobile"}
    assert {p.category for p in products_hinted("show me the gaming stuff")} == {"gaming"}
    assert {p.sku for p in products_hinted("headphones")} == {"AUD-JBL-T520", "AUD-SNY-XM5"}


def test_an_accessory_for_a_device_is_one_that_fits_it(shop) -> None:  # type: ignore[no-untyped-def]
    """The shop's only case is the Galaxy A55's: offered for the A55, not for the iPhone 15 (whose
    name is no product asked about); an accessory the shop does not sell is a plain no."""
    def browse(text: str, language: str):  # type: ignore[no-untyped-def]
        return run(shop_actions.ActionBrowseProducts(),
                   make_tracker({"language": language}, intent="browse_products", text=text))

    _, messages = browse("do you have a case for my galaxy a55?", "en")
    assert "Galaxy A55 phone case" in texts(messages) and "250,000 Toman" in texts(messages)
    events, messages = browse("برای آیفون ۱۵ قاب دارین؟", "fa")
    assert "قاب مناسب گوشی آیفون ۱۵ نداریم" in texts(messages)
    assert [b["title"].split(" — ")[0] for b in messages[0]["buttons"]] == ["قاب گوشی A55"]
    assert slots_of(events)["shown_products"] == ["ACC-CAS-A55"]
    _, messages = browse("any screen protector for my iphone 15?", "en")
    assert "no screen protector for the iPhone 15" in texts(messages) and "79,000,000" not in texts(messages)
    _, messages = browse("a charger for the galaxy s24?", "en")
    assert "Samsung 25W wall charger" in texts(messages) and "52,500,000" not in texts(messages)


def test_a_bug_in_an_action_is_an_apology_and_a_failed_goal(shop, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("a bug")

    monkeypatch.setattr(shop_actions, "price_ceiling", broken)
    events, messages = run(shop_actions.ActionBrowseProducts(),
                           make_tracker({"language": "en", "goal": "find_product", "goal_status": "started"},
                                        intent="browse_products", text="tablets under 10 million?"))
    assert "something went wrong" in texts(messages)
    assert slots_of(events)["goal_status"] == "failed"


def test_a_product_without_warranty_says_so_never_zero_months() -> None:
    from actions.shop import warranty_of
    from bot.crm.base import Product

    case = Product(sku="ACC-CAS-A55", name_fa="قاب گوشی A55", name_en="Galaxy A55 phone case", category="accessory",
                   price=250000, stock=80, warranty_months=0)
    phone = Product(sku="MOB-SAM-A55", name_fa="گلکسی A55", name_en="Galaxy A55", category="mobile",
                    price=28900000, stock=14, warranty_months=18)
    assert warranty_of(case, "en") == "no warranty" and warranty_of(case, "fa") == "بدون گارانتی"
    assert warranty_of(case, "en", in_a_sentence=False) == "none"
    assert warranty_of(phone, "en") == "18 months' warranty" and warranty_of(phone, "fa", in_a_sentence=False) == "۱۸ ماه"


# --------------------------------------------------------------------------- a code given while ordering

SPRING = [{"entity": "discount_code", "value": "SPRING15"}]


def test_a_code_given_while_ordering_is_checked_for_that_order_and_used_when_it_is_placed(shop) -> None:  # type: ignore[no-untyped-def]
    # C001 has an older order awaiting payment: the code must not go to it
    older = [o for o in shop.crm.list_orders("C001", status="pending_payment", limit=5)]
    slots = verified(language="en", product="AUD-SNY-XM5", phone_number="+989121234567")
    events, messages = run(orders.ActionApplyDiscount(), make_tracker(
        slots, intent="apply_discount_code", text="can i use SPRING15 on this?", entities=SPRING,
        active_loop="place_order_form"))
    assert slots_of(events) == {"order_discount_code": "SPRING15"}   # no goal ended: the order goes on
    assert "Code SPRING15 will be taken off this order: 3,000,000 Toman off, so 18,500,000 Toman to pay." in texts(messages)
    assert all(shop.crm.get_order(o.order_id).discount_code != "SPRING15" for o in older)
    # the confirmation says the total with the code, and the order is placed with it
    _, asked = run(forms.AskConfirmOrder(), make_tracker({**slots, "order_discount_code": "SPRING15"}))
    assert "18,500,000 Toman (with code SPRING15)" in texts(asked)
    events, messages = run(orders.ActionPlaceOrder(), make_tracker({**slots, "order_discount_code": "SPRING15"}))
    placed = shop.crm.get_order(slots_of(events)["last_order_id"])
    assert placed.discount_code == "SPRING15" and placed.total == 18_500_000
    assert slots_of(events)["order_discount_code"] is None


def test_a_code_that_does_not_hold_for_the_order_is_said_and_not_kept(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(orders.ActionApplyDiscount(), make_tracker(
        verified(language="en", product="ACC-BAS-CB"), intent="apply_discount_code", text="use SPRING15",
        entities=SPRING, active_loop="place_order_form"))
    assert slots_of(events) == {"order_discount_code": None} and "2,000,000" in texts(messages)
    events, messages = run(orders.ActionApplyDiscount(), make_tracker(
        verified(language="en", product="AUD-SNY-XM5"), intent="apply_discount_code", text="i have a discount code",
        active_loop="place_order_form"))
    assert events == [] and "Type the discount code" in texts(messages)


def test_an_order_whose_code_stopped_holding_is_placed_without_it(shop) -> None:  # type: ignore[no-untyped-def]
    events, messages = run(orders.ActionPlaceOrder(), make_tracker(
        verified(language="en", product="AUD-SNY-XM5", order_discount_code="YALDA1403")))
    placed = shop.crm.get_order(slots_of(events)["last_order_id"])
    assert placed.discount_code is None and placed.total == 21_500_000
    assert "Code YALDA1403 could not be used on this order" in texts(messages)


def test_an_order_described_instead_of_numbered(shop) -> None:  # type: ignore[no-untyped-def]
    def picked(text: str) -> object:
        tracker = make_tracker(verified(order_id=text, requested_slot="order_id"), intent="inform", text=text,
                               active_loop="track_order_form", fresh={"order_id": text})
        events, _ = run(forms.ValidateTrackOrderForm(), tracker)
        return slots_of(events)["order_id"]

    recent = shop.crm.list_orders("C001", limit=5)
    delivered = next(o.order_id for o in recent if o.status == "delivered")
    assert picked("اون آخری که تحویل گرفتم") == delivered
    assert picked("the latest one") == recent[0].order_id
    assert picked("the one I haven't paid for") == next(o.order_id for o in recent if o.status == "pending_payment")
    assert picked("the blue one") is None   # nothing an order is told by: the number is asked again


def test_send_it_again_after_the_code_did_not_come_sends_a_new_code_to_the_same_number(shop) -> None:  # type: ignore[no-untyped-def]
    before = [{"event": "user", "text": C001_PHONE}, {"event": "slot", "name": "phone_number", "value": "+989121234567"},
              {"event": "user", "text": "کد نیومد که"}, {"event": "slot", "name": "phone_number", "value": None}]
    tracker = make_tracker({"requested_slot": "phone_number"}, intent="inform", text="یه بار دیگه بفرست",
                           events=before, fresh={"phone_number": "یه بار دیگه بفرست"}, active_loop="track_order_form")
    events, _ = run(forms.ValidateTrackOrderForm(), tracker)
    assert slots_of(events)["phone_number"] == "+989121234567"
    assert shop.sms.sent and shop.sms.sent[-1][0] == "+989121234567"
    # with no number given before, the number is asked for
    tracker = make_tracker({"requested_slot": "phone_number"}, intent="inform", text="resend it",
                           fresh={"phone_number": "resend it"}, active_loop="track_order_form")
    events, _ = run(forms.ValidateTrackOrderForm(), tracker)
    assert slots_of(events)["phone_number"] is None


def test_the_order_number_typed_at_its_cancel_confirmation_asks_again_without_a_complaint(shop) -> None:  # type: ignore[no-untyped-def]
    def confirmed(text: str) -> tuple:
        tracker = make_tracker(verified(order_id="100001", requested_slot="confirm_cancel", confirm_cancel=text),
                               intent="inform", text=text, active_loop="cancel_order_form",
                               fresh={"confirm_cancel": text})
        events, messages = run(forms.ValidateCancelOrderForm(), tracker)
        return slots_of(events)["confirm_cancel"], texts(messages)

    assert confirmed("۱۰۰۰۰۱") == (None, "")   # that order: the question again, nothing cancelled on a number
    assert confirmed("100002")[1]              # another number is no answer: "yes or no?"


def test_an_order_number_answering_which_product_to_review_gives_that_orders_products(shop) -> None:  # type: ignore[no-untyped-def]
    def validated(text: str) -> tuple:
        tracker = make_tracker(verified(requested_slot="product", product=text), intent="inform", text=text,
                               active_loop="review_form", fresh={"product": text})
        events, messages = run(forms.ValidateReviewForm(), tracker)
        return slots_of(events), texts(messages)

    one = shop.crm.get_order("100007")   # C001's delivered order of the Redmi Buds and the Anker power bank
    slots, reply = validated("100007")
    assert slots["product"] is None and slots["shown_products"] == [item.sku for item in one.items]
    slots, reply = validated("100009")   # C002's order: nothing of it is offered, the product is asked again
    assert slots == {"product": None, "requested_slot": "product"} and "100009" in reply
