"""How the action server reads a turn (actions/turns.py) before the dialogue decides on it:
the products and places a message means, with the conversation so far."""

from __future__ import annotations

from actions.turns import read_turn
from bot.journey import load_journey
from tests.test_actions_support import DOMAIN, make_tracker, shop  # noqa: F401  (fixture)

A55_CASE, A55 = "ACC-CAS-A55", "MOB-SAM-A55"


def product_read(tracker) -> object:  # type: ignore[no-untyped-def]
    _, events = read_turn(tracker, DOMAIN, load_journey())
    return next((e["value"] for e in events if e.get("event") == "slot" and e.get("name") == "product"), None)


def test_the_device_one_after_its_accessory_is_the_accessory(shop) -> None:  # type: ignore[no-untyped-def]
    a55 = [{"entity": "product", "value": A55}]
    after_case = make_tracker({"language": "en", "product": A55_CASE}, intent="ask_price", language="en",
                              text="the a55 one, how much?", entities=a55)
    assert product_read(after_case) == A55_CASE
    after_cases_shown = make_tracker({"language": "en", "shown_products": [A55_CASE]}, intent="ask_price",
                                     language="en", text="ok what about for the a55?", entities=a55)
    assert product_read(after_cases_shown) == A55_CASE
    # the device itself when the words name it plainly
    plain = make_tracker({"language": "en", "product": A55_CASE}, intent="ask_price", language="en",
                         text="how much is the a55 phone", entities=a55)
    assert product_read(plain) != A55_CASE


def test_the_price_form_takes_the_accessory_meant(shop) -> None:  # type: ignore[no-untyped-def]
    from actions import forms
    from tests.test_actions_support import run, slots_of

    tracker = make_tracker({"language": "en", "requested_slot": "product"}, intent="ask_price", language="en",
                           text="the a55 one, how much?", entities=[{"entity": "product", "value": A55}],
                           events=[{"event": "slot", "name": "product", "value": A55_CASE}],
                           fresh={"product": A55}, active_loop="product_price_form")
    events, _ = run(forms.ValidateProductPriceForm(), tracker)
    assert slots_of(events)["product"] == A55_CASE


def test_a_city_and_a_way_to_pay_are_read_from_the_shops_words(shop) -> None:  # type: ignore[no-untyped-def]
    tracker = make_tracker({"language": "en", "last_request": "ask_payment_methods"}, intent="ask_about_company",
                           language="en", text="what about crypto?")
    move, _ = read_turn(tracker, DOMAIN, load_journey())
    assert move.encode() == "redo ask_payment_methods"
    tracker = make_tracker({"language": "fa", "last_request": "ask_shipping"}, intent="out_of_scope", text="مشهد چی؟")
    move, _ = read_turn(tracker, DOMAIN, load_journey())
    assert move.encode() == "redo ask_shipping"


def test_how_are_you_after_a_hello_is_answered_as_small_talk() -> None:
    from actions.greeting import ActionGreet
    from tests.test_actions_support import run, texts

    hello = [{"event": "user", "text": "سلام"}, {"event": "bot", "text": "سلام!"}]
    _, messages = run(ActionGreet(), make_tracker({"language": "fa"}, intent="greet", text="خوبی؟", events=hello))
    assert texts(messages).startswith("ممنون، خوبم!")
    _, messages = run(ActionGreet(), make_tracker({"language": "en"}, intent="greet", text="hi again", language="en",
                                                  events=hello))
    assert "I'm well" not in texts(messages)
