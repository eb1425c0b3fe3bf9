"""Each shipped journey end to end, on SQLite and PostgreSQL.

The shop changes its CRM rows (SQL), the orchestrator runs at chosen times
(what `hamsafar journeys run-due --now` does) and the messages really go out:
SMS through the Kavenegar protocol to a fake gateway on 127.0.0.1, Telegram to
a fake Bot API, web messages into the widget's history. Time starts on
Wednesday 4 June 2025, 10:00 in Tehran (T0).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
from zoneinfo import ZoneInfo
import sqlalchemy as sa

from bot.orchestration.engine import holdout_of
from bot.touchpoints.privacy import conversation_ref
from tests.fakes.sms_gateways import FakeSmsGateways
from tests.fakes.telegram_api import FakeTelegram
from tests.support.journeys import T0, TELEGRAM_TOKEN, World, actions, customer_ids, in_window, tehran

MIN, HOUR, DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, sqlite_url, monkeypatch):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)  # consent, web history and the SMS log use it too
    monkeypatch.delenv("HAMSAFAR_DEMO_CODES", raising=False)
    return url


@pytest.fixture
def sms():
    with FakeSmsGateways() as fake:
        yield fake


@pytest.fixture
def world(database, sms) -> World:
    return World(database, sms)


# ----------------------------------------------------------------------------- abandoned payment
def test_abandoned_payment_link_after_an_hour_code_after_a_day_and_exit_when_paid(world: World) -> None:
    ali, sara = customer_ids("AP", "abandoned_payment", holdout=False, count=2)
    ali_phone = world.customer(ali, "علی رضایی")
    sara_phone = world.customer(sara, "Sara Ahmadi", language="en")
    ali_order = world.order(ali, "pending_payment", T0, total=2_500_000)
    sara_order = world.order(sara, "pending_payment", T0, total=3_500_000)

    world.run(T0 + MIN)  # the scanner sees the new orders: both enter, nothing is due yet
    assert [e["status"] for e in world.entries("abandoned_payment")] == ["active", "active"]
    world.run(T0 + 59 * MIN)
    assert world.sms.delivered == []

    world.run(T0 + HOUR)
    [ali_text] = world.sms_to(ali_phone)
    assert f"سفارش {ali_order.translate(str.maketrans('0123456789', '۰۱۲۳۴۵۶۷۸۹'))}" in ali_text
    assert "۲٬۵۰۰٬۰۰۰ تومان" in ali_text and f"https://shop.example.ir/pay/{ali_order}" in ali_text
    assert ali_text.startswith("علی عزیز")
    [sara_text] = world.sms_to(sara_phone)
    assert sara_text.startswith("Hi Sara") and f"order {sara_order} (3,500,000 Toman)" in sara_text

    world.set_order(sara_order, status="paid", paid_at=T0 + 2 * HOUR)  # the shop's back office records the payment
    world.run(T0 + 2 * HOUR + MIN)
    paid = world.entry("abandoned_payment", sara)
    assert (paid["status"], paid["exit_reason"]) == ("exited", "goal")
    assert paid["converted_at"] == T0 + 2 * HOUR

    world.run(T0 + DAY)  # Thursday 10:00: the code for the unpaid order only
    ali_texts = world.sms_to(ali_phone)
    assert len(ali_texts) == 2 and "HAMRAH5" in ali_texts[1] and "۵٪ تخفیف" in ali_texts[1]
    assert len(world.sms_to(sara_phone)) == 1
    assert world.entry("abandoned_payment", ali)["status"] == "completed"

    world.run(T0 + DAY)  # again at the same time: nothing twice
    world.run(T0 + 2 * DAY)
    assert len(world.sms.delivered) == 3
    assert all(in_window(t) for t in world.sent_times())
    assert actions(world.touchpoints("abandoned_payment", ali)) == [
        (("journey_entered", "treated"), None, "journey"),
        (("journey_message",), "payment_link", "sms"),
        (("journey_message",), "discount_code", "sms"),
        (("journey_exited", "completed"), None, "journey"),
    ]
    assert actions(world.touchpoints("abandoned_payment", sara)) == [
        (("journey_entered", "treated"), None, "journey"),
        (("journey_message",), "payment_link", "sms"),
        (("journey_converted", "order.paid"), None, "journey"),
        (("journey_exited", "goal"), None, "journey"),
    ]
    message = world.touchpoints("abandoned_payment", ali)[1]
    assert message["actor"] == "system" and message["conversation_id"] == conversation_ref(f"sms:{ali_phone}")


def test_holdout_customer_enters_is_never_messaged_and_converts(world: World) -> None:
    [held] = customer_ids("HO", "abandoned_payment", holdout=True)
    phone = world.customer(held)
    order = world.order(held, "pending_payment", T0)
    for moment in (T0 + MIN, T0 + HOUR, T0 + DAY):
        world.run(moment)
    assert world.sms_to(phone) == []
    entry = world.entry("abandoned_payment", held)
    assert entry["holdout"] and entry["status"] == "completed" and entry["messages_sent"] == 0
    assert [(m["step"], m["status"]) for m in world.messages("abandoned_payment")] == [
        ("payment_link", "held_out"), ("discount_code", "held_out")]
    world.set_order(order, status="paid", paid_at=T0 + 30 * HOUR)
    world.run(T0 + 30 * HOUR + MIN)
    assert world.entry("abandoned_payment", held)["converted_at"] == T0 + 30 * HOUR
    from bot.orchestration.stats import journey_stats

    line = next(l for l in journey_stats(world.engine, world.book, now=T0 + 5 * DAY) if l["journey"] == "abandoned_payment")
    assert (line["holdout"], line["holdout_conversion"], line["messaged"]) == (1, 1.0, 0)


# ----------------------------------------------------------------------------- shipping updates
def test_shipping_updates_respect_quiet_hours_then_follow_the_delivery(world: World) -> None:
    [cid] = customer_ids("SH", "shipping_updates", holdout=False)
    phone = world.customer(cid, "مریم کریمی")
    shipped_at = tehran(2025, 6, 4, 22, 30)  # Wednesday night
    order = world.order(cid, "shipped", shipped_at - DAY, paid_at=shipped_at - DAY, shipped_at=shipped_at,
                        tracking_code="CH990590816", carrier="چاپار")
    world.run(shipped_at + MIN)
    entry = world.entry("shipping_updates", cid)
    assert world.sms_to(phone) == [] and entry["due_at"] == tehran(2025, 6, 5, 9, 0)  # Thursday 09:00
    world.run(tehran(2025, 6, 5, 8, 59))
    assert world.sms_to(phone) == []
    world.run(tehran(2025, 6, 5, 9, 0))
    [shipped] = world.sms_to(phone)
    assert "CH990590816" in shipped and "چاپار" in shipped and shipped.startswith("مریم عزیز")

    delivered_at = tehran(2025, 6, 5, 15, 0)
    world.set_order(order, status="delivered", delivered_at=delivered_at)
    world.run(delivered_at + MIN)
    texts = world.sms_to(phone)
    assert any("تحویل شد" in t for t in texts)  # the delivered note (not held back by the cap: a service message)
    assert world.entry("shipping_updates", cid)["status"] == "completed"
    assert all(in_window(t) for t in world.sent_times())


# ----------------------------------------------------------------------------- onboarding
def test_onboarding_day0_and_day3_and_the_review_ends_it(world: World) -> None:
    reader, reviewer = customer_ids("ON", "onboarding", holdout=False, count=2)
    reader_phone, reviewer_phone = world.customer(reader, "Reza Karimi", language="en"), world.customer(reviewer)
    for cid in (reader, reviewer):
        world.order(cid, "delivered", T0 - 3 * DAY, delivered_at=T0, sku="HOM-LG-TV43")
    world.run(T0 + MIN)
    assert ["Getting started with your Sony headphones: https://shop.example.ir/guide/HOM-LG-TV43 — ask us anything about using it."] \
        == world.sms_to(reader_phone)
    assert len(world.sms_to(reviewer_phone)) == 1
    world.review(reviewer, "HOM-LG-TV43", T0 + DAY)
    world.run(T0 + DAY + MIN)
    reviewed = world.entry("onboarding", reviewer)
    assert (reviewed["exit_reason"], reviewed["conversion_event"]) == ("goal", "review.written")
    world.run(T0 + 3 * DAY)  # Saturday 10:00, day 3
    assert len(world.sms_to(reader_phone)) == 2 and "more tips" in world.sms_to(reader_phone)[1]
    assert len(world.sms_to(reviewer_phone)) == 1


# ----------------------------------------------------------------------------- CSAT on the web
def test_csat_after_a_closed_ticket_goes_to_the_online_web_visitor(world: World) -> None:
    from bot.channels.web import history

    [cid] = customer_ids("CS", "csat_after_ticket", holdout=False, share=0.0)
    phone = world.customer(cid)
    world.link(cid, "web:sessionabcdefghij0001")
    world.ticket("T-7K3M9Q", cid, "open", T0 - DAY)
    world.run(T0)  # seen open: nothing
    world.ticket("T-7K3M9Q", cid, "closed", T0)
    world.run(T0 + MIN)
    assert world.entry("csat_after_ticket", cid)["status"] == "active"
    world.web_visit("sessionabcdefghij0001", T0 + 50 * MIN)  # the customer is on the shop's site
    world.run(T0 + HOUR + MIN)
    [question] = [m for m in history("sessionabcdefghij0001") if m["sender"] == "bot"]
    assert "T-7K3M9Q" in question["text"] and "۱ تا ۵" in question["text"]
    assert [b["payload"] for b in question["buttons"]] == [f'/give_feedback{{"rating": "{n}"}}' for n in range(1, 6)]
    assert world.sms_to(phone) == []
    assert actions(world.touchpoints("csat_after_ticket"))[1] == (("journey_message",), "csat_question", "web")
    world.feedback(cid, "csat", 5, T0 + 2 * HOUR)
    world.run(T0 + 2 * HOUR + MIN)
    assert world.entry("csat_after_ticket", cid)["conversion_event"] == "feedback.csat"


# ----------------------------------------------------------------------------- NPS and referral
def test_nps_a_week_after_delivery_then_a_referral_code_for_promoters_only(world: World) -> None:
    promoter, critic, surveyed = customer_ids("NP", "referral_promoters", holdout=False, count=3)
    phones = {cid: world.customer(cid) for cid in (promoter, critic, surveyed)}
    for cid in phones:
        world.order(cid, "delivered", T0 - 2 * DAY, delivered_at=T0)
    world.feedback(surveyed, "nps", 8, T0 - 10 * DAY)  # asked 10 days ago: not again
    world.run(T0 + MIN)      # onboarding, day 0
    world.run(T0 + 3 * DAY)  # onboarding, day 3
    world.run(T0 + 7 * DAY)  # next Wednesday 10:00: the NPS question (third message in 7 days: within the cap)
    nps = [t for t in world.sms_to(phones[promoter]) if "۰ تا ۱۰" in t]
    assert len(nps) == 1
    assert any("۰ تا ۱۰" in t for t in world.sms_to(phones[critic]))
    assert not any("۰ تا ۱۰" in t for t in world.sms_to(phones[surveyed]))
    assert world.entry("nps_after_delivery", surveyed)["exit_reason"] == "condition"

    answered = T0 + 7 * DAY + HOUR
    world.feedback(promoter, "nps", 10, answered)
    world.feedback(critic, "nps", 5, answered)
    world.run(answered + MIN)
    assert world.entry("nps_after_delivery", promoter)["conversion_event"] == "feedback.nps"
    assert world.entries("referral_promoters", critic) == []
    referral = world.entry("referral_promoters", promoter)
    world.run(answered + 11 * MIN)  # the code is due, but the NPS question went out today: at most one a day
    assert world.entry("referral_promoters", promoter)["due_at"] == tehran(2025, 6, 12, 9, 0)
    world.run(tehran(2025, 6, 12, 9, 0))
    code = world.crm.referral_code(promoter)
    assert any(f"کد معرف شما: {code}" in t for t in world.sms_to(phones[promoter]))
    assert referral["context"]["score"] == 10


# ----------------------------------------------------------------------------- back in stock
def test_back_in_stock_tells_only_who_asked(world: World) -> None:
    from bot.orchestration.events import record_stock_interest

    asked, other = customer_ids("BS", "back_in_stock", holdout=False, count=2)
    asked_phone, other_phone = world.customer(asked, "Nima", language="en"), world.customer(other)
    world.product("CAM-XIA-C300", stock=0, name_en="Xiaomi C300 camera", name_fa="دوربین شیائومی C300")
    assert record_stock_interest(asked, "CAM-XIA-C300", "tg:1", world.url, now=T0 - DAY)
    assert not record_stock_interest(asked, "CAM-XIA-C300", "tg:1", world.url, now=T0 - DAY)  # once
    world.run(T0)
    assert world.entries("back_in_stock") == []
    world.set_stock("CAM-XIA-C300", 4)
    world.run(T0 + HOUR)
    assert world.sms_to(asked_phone) == [
        "The Xiaomi C300 camera you asked about is back in stock: https://shop.example.ir/product/CAM-XIA-C300"]
    assert world.sms_to(other_phone) == []
    world.run(T0 + 2 * HOUR)
    assert len(world.entries("back_in_stock")) == 1  # the interest was used up
    world.order(asked, "paid", T0 + DAY, sku="CAM-XIA-C300", paid_at=T0 + DAY)   # the goal: an order within 7 days
    world.run(T0 + DAY + MIN)
    entry = world.entry("back_in_stock", asked)
    assert (entry["status"], entry["conversion_event"], entry["converted_at"]) == ("completed", "order.created", T0 + DAY)


# ----------------------------------------------------------------------------- win-back
def test_win_back_after_90_days_then_converts_on_a_new_order(world: World) -> None:
    lapsed, recent = customer_ids("WB", "win_back", holdout=False, count=2)
    lapsed_phone, recent_phone = world.customer(lapsed, "Sara Ahmadi", language="en"), world.customer(recent)
    world.order(lapsed, "delivered", T0 - 95 * DAY, delivered_at=T0 - 92 * DAY)
    world.order(recent, "delivered", T0 - 20 * DAY, delivered_at=T0 - 17 * DAY)
    world.run(tehran(2025, 6, 4, 9, 30))
    entry = world.entry("win_back", lapsed)
    assert entry["due_at"] == tehran(2025, 6, 4, 11, 0) and world.entries("win_back", recent) == []
    world.run(tehran(2025, 6, 4, 11, 0))
    [text] = world.sms_to(lapsed_phone)
    assert text.startswith("Hi Sara, we miss you!") and "HAMRAH5" in text
    world.order(lapsed, "pending_payment", tehran(2025, 6, 6, 12, 0))
    world.run(tehran(2025, 6, 6, 12, 5))
    assert world.entry("win_back", lapsed)["conversion_event"] == "order.created"


# ----------------------------------------------------------------------------- caps, consent, channels
def test_frequency_cap_moves_a_second_message_to_the_next_day(world: World) -> None:
    [cid] = [c for c in customer_ids("FC", "abandoned_payment", holdout=False, count=20)
             if not holdout_of("onboarding", c, 0.1)][:1]
    phone = world.customer(cid)
    world.order(cid, "delivered", T0 - 3 * DAY, delivered_at=T0)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)   # onboarding day 0 goes out
    world.run(T0 + HOUR)  # the payment reminder is due, but one message a day
    assert len(world.sms_to(phone)) == 1
    assert world.entry("abandoned_payment", cid)["due_at"] == tehran(2025, 6, 5, 9, 0)
    world.run(tehran(2025, 6, 5, 9, 0))
    assert len(world.sms_to(phone)) == 2 and "پرداخت" in world.sms_to(phone)[1]


def test_frequency_cap_per_week_holds_a_fourth_message_until_a_week_after_the_first(world: World) -> None:
    """Three reminders on three days (Wednesday, Thursday, Saturday: Friday is off) fill the week's cap of
    three; Sunday's waits until 7 × 24 h after the first one, then goes out."""
    [cid] = customer_ids("WK", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    for count, day in enumerate((0, 1, 3), start=1):
        at = T0 + day * DAY
        order = world.order(cid, "pending_payment", at)
        world.run(at + MIN)
        world.run(at + HOUR)
        assert len(world.sms_to(phone)) == count
        world.set_order(order, status="paid", paid_at=at + 2 * HOUR)   # paid: no 24-hour code
        world.run(at + 2 * HOUR + MIN)
    sunday = T0 + 4 * DAY
    world.order(cid, "pending_payment", sunday)
    world.run(sunday + MIN)
    world.run(sunday + HOUR)
    assert len(world.sms_to(phone)) == 3
    fourth = world.entries("abandoned_payment", cid)[-1]
    assert (fourth["status"], fourth["due_at"]) == ("active", T0 + HOUR + 7 * DAY)
    world.run(T0 + HOUR + 7 * DAY - MIN)
    assert len(world.sms_to(phone)) == 3
    world.run(T0 + HOUR + 7 * DAY)
    assert len(world.sms_to(phone)) == 4


def test_if_conditions_on_the_order_language_score_and_stage(world: World) -> None:
    """An `if:` step's conditions read the CRM's order, the entry's language and score, and the customer's
    journey stage from the touchpoints (the shipped journeys use only some of them)."""
    from bot.touchpoints.store import insert_rows

    [cid] = customer_ids("IF", "abandoned_payment", holdout=False)
    world.customer(cid, "Sara Ahmadi", language="en")
    order = world.order(cid, "pending_payment", T0, total=2_500_000)
    entry = {"id": 0, "customer_id": cid, "order_id": order, "language": "en", "context": {"score": 9},
             "subject": None}

    def check(**checks) -> bool:
        return world.o.check(entry, checks, T0)

    assert check(order_status=["pending_payment"], min_total=2_000_000, max_total=3_000_000, language="en",
                 min_score=9)
    assert not check(order_status=["paid", "shipped"]) and not check(min_total=3_000_000)
    assert not check(max_total=2_000_000) and not check(language="fa") and not check(max_score=6)
    assert not check(stage=["decision"])                        # no touchpoint of theirs has a stage yet
    insert_rows(world.engine, [
        {"event_id": "if-1", "occurred_at": (T0 - HOUR).replace(tzinfo=None), "customer_id": cid,
         "conversation_id": "tg:5151", "channel": "telegram", "actor": "customer", "journey_stage": "consideration"},
        {"event_id": "if-2", "occurred_at": (T0 - MIN).replace(tzinfo=None), "customer_id": cid,
         "conversation_id": "tg:5151", "channel": "telegram", "actor": "customer", "journey_stage": "decision"},
    ])
    assert check(stage=["decision", "purchase"]) and not check(stage=["consideration"])   # the latest stage


def test_order_dates_are_jalali_and_amounts_toman_in_persian(world: World) -> None:
    """`{order_date}` and `{delivered_date}` (placeholders the shop may use; no shipped text does yet) are
    Jalali dates with Persian digits in Persian, Gregorian in English; `{total}` is in Toman."""
    from bot.orchestration.templates import Subject, Values, fill

    [cid] = customer_ids("JD", "abandoned_payment", holdout=False)
    world.customer(cid)
    order = world.order(cid, "delivered", T0, total=2_500_000, delivered_at=T0 + 2 * DAY)
    text = "{order_date} | {delivered_date} | {total}"
    values = {lang: Values(Subject(cid, order), lang, world.crm, world.book.settings) for lang in ("fa", "en")}
    assert fill(text, values["fa"].get) == "۱۴ خرداد ۱۴۰۴ | ۱۶ خرداد ۱۴۰۴ | ۲٬۵۰۰٬۰۰۰ تومان"
    assert fill(text, values["en"].get) == "4 June 2025 | 6 June 2025 | 2,500,000 Toman"


def test_an_opted_out_number_gets_nothing(world: World) -> None:
    from bot.channels import consent

    [cid] = customer_ids("OO", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    consent.opt_out("sms", phone)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    world.run(T0 + HOUR)
    assert world.sms.delivered == []
    entry = world.entry("abandoned_payment", cid)
    assert (entry["status"], entry["exit_reason"]) == ("exited", "opted_out")
    assert actions(world.touchpoints("abandoned_payment", cid))[-1] == (("journey_exited", "opted_out"), None, "journey")


def test_telegram_first_then_sms_when_telegram_fails(database: str, sms: FakeSmsGateways) -> None:
    with FakeTelegram(TELEGRAM_TOKEN) as telegram:
        world = World(database, sms, telegram)
        [cid] = customer_ids("TG", "shipping_updates", holdout=False)
        phone = world.customer(cid)
        world.link(cid, "tg:777001")
        first = world.order(cid, "shipped", T0 - DAY, shipped_at=T0, tracking_code="TR-1", carrier="تیپاکس")
        world.run(T0 + MIN)
        [sent] = telegram.sent()
        assert str(sent["chat_id"]) == "777001" and "TR-1" in sent["text"]
        assert world.sms_to(phone) == []
        telegram.fail_next("sendMessage", 400, "Bad Request: chat not found")
        world.order(cid, "shipped", T0 - DAY, shipped_at=T0 + HOUR, tracking_code="TR-2", carrier="تیپاکس")
        world.run(T0 + HOUR + MIN)
        assert "TR-2" in telegram.sent()[-1]["text"]  # tried first, refused by the Bot API
        [fallback] = world.sms_to(phone)
        assert "TR-2" in fallback
        channels = [(m["step"], m["channel"], m["status"]) for m in world.messages("shipping_updates")]
        assert channels == [("shipped", "telegram", "sent"), ("shipped", "sms", "sent")]
        assert first


def test_the_message_is_written_into_the_conversation_for_the_answer(database: str, sms: FakeSmsGateways) -> None:
    import asyncio

    from bot.orchestration.delivery import StoreConversationLog
    from bot.touchpoints.tracker_store import StreamingSQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered, SessionStarted

    from bot import settings

    log = StoreConversationLog(database)
    world = World(database, sms, conversation_log=log)
    [cid] = customer_ids("CV", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    order = world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    world.run(T0 + HOUR)
    assert len(world.sms_to(phone)) == 1
    store = StreamingSQLTrackerStore(Domain.load(str(settings.PROJECT_ROOT / "domain.yml")), host=database)
    full = list(asyncio.run(store.retrieve_full_tracker(f"sms:{phone}")).events)
    assert [type(e).__name__ for e in full][-4:] == ["ActionExecuted", "SessionStarted", "ActionExecuted", "BotUttered"]
    # what Rasa loads for the customer's next message: the open session, with the message in it
    events = list(asyncio.run(store.retrieve(f"sms:{phone}")).events)
    assert isinstance(events[0], SessionStarted)
    uttered = [e for e in events if isinstance(e, BotUttered)]
    assert len(uttered) == 1 and uttered[0].text == world.sms_to(phone)[0]
    journey = uttered[0].metadata["hamsafar_journey"]
    assert journey["journey"] == "abandoned_payment" and journey["step"] == "payment_link"
    assert journey["order_id"] == order and journey["expects"]["goal"] == "pay"
    assert journey["expects"]["slots"] == {"order_id": order}
    assert "ask_payment_methods" in journey["expects"]["intents"]
    buttons = uttered[0].data["buttons"]
    assert buttons[0]["url"].endswith(f"/pay/{order}") and buttons[1]["payload"] == "/ask_payment_methods"


def test_a_send_interrupted_by_a_crash_is_not_sent_twice(world: World) -> None:
    """A runner dies after the gateway took the SMS but before recording it; the next runner finds it sent in
    the SMS log (keyed by the journey message) and records it, without sending it again."""
    import asyncio

    from bot.orchestration import delivery
    from tests.support.journeys import Outputs

    [cid] = customer_ids("CR", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    world.o.lease = dt.timedelta(minutes=10)   # long: a loaded machine must not expire it early
    token, ids = world.o.claim(T0 + HOUR)
    plan = world.o.advance(ids[0], token, T0 + HOUR)
    assert plan is not None and plan.targets[0].channel == "sms"
    assert world.o.attempting(plan, plan.targets[0])

    async def send_then_die() -> None:
        outputs = Outputs(world.sms.url, None)
        await delivery.deliver(plan.targets, outputs, plan.text, plan.buttons, plan.idempotency_key)
        await outputs.aclose()

    asyncio.run(send_then_die())  # … and the process is gone: nothing recorded, the lease still held
    assert len(world.sms_to(phone)) == 1
    world.run(T0 + HOUR + 2 * MIN)  # lease not expired: nobody touches it
    assert world.entry("abandoned_payment", cid)["lease_owner"] == token
    from bot.orchestration.models import JourneyEntry

    with world.engine.begin() as conn:   # the (real-time) lease runs out
        conn.execute(sa.update(JourneyEntry.__table__).where(JourneyEntry.__table__.c.lease_owner == token)
                     .values(lease_until=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=1)))
    world.run(T0 + HOUR + 2 * MIN)  # taken over: the SMS log has it sent, so it is recorded sent, not resent
    assert len(world.sms_to(phone)) == 1
    [message] = world.messages("abandoned_payment")
    assert (message["status"], message["channel"]) == ("sent", "sms")
    assert world.entry("abandoned_payment", cid)["messages_sent"] == 1


def test_a_human_in_the_conversation_ends_the_journey(world: World) -> None:
    from bot.handoff.models import Handoff

    [cid] = customer_ids("HU", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.link(cid, "tg:55501")
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)
    with world.engine.begin() as conn:
        conn.execute(Handoff.__table__.insert().values(conversation_id="tg:55501", customer_id=cid, status="active",
                                                       language="fa"))
    world.run(T0 + HOUR)
    assert world.sms_to(phone) == []
    assert world.entry("abandoned_payment", cid)["exit_reason"] == "handoff"


def test_a_higher_priority_journey_takes_over_in_its_group(world: World) -> None:
    from bot.orchestration.events import Emitter, Event

    [cid] = [c for c in customer_ids("GR", "referral_promoters", holdout=False, count=30)
             if not holdout_of("abandoned_payment", c, 0.1)][:1]
    world.customer(cid)
    emitter = Emitter(world.o)
    emitter.emit(Event("feedback.nps", "nps-1", T0, customer_id=cid, data={"score": 10}), T0)
    assert world.entry("referral_promoters", cid)["status"] == "active"   # offers group, priority 40
    world.order(cid, "pending_payment", T0)
    world.run(T0 + MIN)                                                   # abandoned payment: offers, priority 90
    assert world.entry("referral_promoters", cid)["exit_reason"] == "superseded"
    assert world.entry("abandoned_payment", cid)["status"] == "active"
    # and a lower one does not enter while the higher one is active
    result = emitter.emit(Event("feedback.nps", "nps-2", T0 + MIN, customer_id=cid, data={"score": 9}), T0 + MIN)
    assert result.entered == [] and result.skipped == {"lower_priority": 1}


def test_dry_run_and_now_through_the_cli(world: World, capsys, monkeypatch) -> None:
    """`hamsafar journeys run-due --now … --dry-run` changes nothing; without --dry-run the demo prints the SMS."""
    from bot.cli import main

    [cid] = customer_ids("CL", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    world.order(cid, "pending_payment", T0)
    assert main(["journeys", "run-due", "--now", (T0 + MIN).isoformat(), "--database-url", world.url]) == 0
    capsys.readouterr()
    assert main(["journeys", "run-due", "--now", (T0 + HOUR).isoformat(), "--dry-run", "--database-url", world.url]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"abandoned_payment {cid}: send payment_link", out), out
    assert world.messages() == [] and world.entry("abandoned_payment", cid)["step"] == 0
    monkeypatch.setenv("HAMSAFAR_DEMO_CODES", "log")  # scripts/run.sh without an SMS gateway
    assert main(["journeys", "run-due", "--now", "2025-06-04T11:00:00+03:30", "--database-url", world.url]) == 0
    out = capsys.readouterr().out
    assert f"[hamsafar demo] SMS to {phone}: " in out and "messages sent: 1 (sms 1)" in out
    assert world.messages()[0]["status"] == "sent"


def test_crm_import_of_a_status_change_starts_the_journey(world: World, tmp_path, capsys) -> None:
    """`hamsafar crm import` reports the journey events its changes caused; the runner then sends."""
    from bot.cli import main
    from bot.orchestration.engine import utcnow

    [cid] = customer_ids("IM", "shipping_updates", holdout=False)
    phone = world.customer(cid, "Sara Ahmadi", language="en")
    now = utcnow().replace(microsecond=0)
    order = world.order(cid, "paid", now - 2 * DAY, paid_at=now - 2 * DAY)
    world.run(now)  # the scanner has seen the order as paid
    stamp = (now - HOUR).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = (now - 2 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,status,created_at,total,items,tracking_code,carrier,shipped_at\n"
                      f"{order},{cid},shipped,{created},2500000,AUD-SNY-XM5:1,TPX-777,تیپاکس,{stamp}\n", encoding="utf-8")
    assert main(["crm", "import", "--orders", str(orders), "--database-url", world.url]) == 0
    assert "journey events: order.shipped 1" in capsys.readouterr().out
    entry = world.entry("shipping_updates", cid)
    assert entry["status"] == "active" and entry["anchor_at"] == now - HOUR
    # the import entered the journey at its own (later) clock: run once that moment may send
    world.run(world.o.window.next_allowed(max(utcnow(), entry["due_at"])))
    [text] = world.sms_to(phone)
    assert "TPX-777" in text and text.startswith("Hi Sara")


def test_the_last_sms_conversation_is_texted_at_its_phone_never_at_its_reference(sqlite_url: str) -> None:
    """Touchpoints name an SMS conversation `sms:ref-…`: `last` texts the CRM phone it stands for."""
    from bot.schema import init_db
    from bot.orchestration.delivery import Target, customer_targets
    from bot.touchpoints.store import insert_rows

    phone, now = "+989121234567", dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc)
    engine = init_db(sqlite_url)
    insert_rows(engine, [{"event_id": "ref-1", "occurred_at": dt.datetime(2025, 6, 1, 11), "customer_id": "C-REF",
                          "conversation_id": conversation_ref(f"sms:{phone}"), "channel": "sms", "actor": "customer"}])
    with engine.connect() as conn:
        assert customer_targets(conn, "C-REF", phone, ["last"], now, 30) == [Target("sms", f"sms:{phone}")]
        assert customer_targets(conn, "C-REF", "09121234567", ["last"], now, 30) == [Target("sms", "sms:09121234567")]
        assert customer_targets(conn, "C-REF", "+989351112233", ["last"], now, 30) == []  # not the number it stands for
        assert customer_targets(conn, "C-REF", None, ["last", "sms"], now, 30) == []
        assert customer_targets(conn, "C-REF", "+989351112233", ["last", "sms"], now, 30) == \
            [Target("sms", "sms:+989351112233")]


def test_the_last_web_conversation_is_messaged_in_the_widget_never_at_its_reference(sqlite_url: str) -> None:
    """Touchpoints name a widget conversation `web:ref-…`: `last` finds the customer's online widget."""
    from bot.channels.models import WebMessage
    from bot.schema import init_db
    from bot.identity.models import VerifiedIdentity
    from bot.orchestration.delivery import Target, customer_targets
    from bot.touchpoints.store import insert_rows

    now = dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc)
    engine = init_db(sqlite_url)
    with engine.begin() as conn:
        conn.execute(VerifiedIdentity.__table__.insert(), [
            {"channel": "conversation", "external_id": "web:w.key-of-ana", "customer_id": "C-WEB",
             "method": "web_signature", "verified_at": now - dt.timedelta(minutes=20)}])
        conn.execute(WebMessage.__table__.insert(), [
            {"session_id": "w.key-of-ana", "seq": 1, "sender": "customer", "text": "hi",
             "created_at": (now - dt.timedelta(minutes=5)).replace(tzinfo=None)}])
    insert_rows(engine, [{"event_id": "ref-w1", "occurred_at": dt.datetime(2025, 6, 1, 11, 55), "customer_id": "C-WEB",
                          "conversation_id": conversation_ref("web:w.key-of-ana"), "channel": "web", "actor": "customer"}])
    with engine.connect() as conn:
        assert customer_targets(conn, "C-WEB", None, ["last"], now, 30) == [Target("web", "web:w.key-of-ana")]
        assert customer_targets(conn, "C-WEB", None, ["last"], now + dt.timedelta(hours=2), 30) == []  # gone offline


# ----------------------------------------------------------------------------- the answer, a goal abandoned
def test_the_nps_answer_is_recorded_as_nps_and_converts_the_journey(database: str, sms: FakeSmsGateways) -> None:
    """The NPS question goes into the SMS conversation; «۵» after it is an NPS of 5 (not a CSAT 5), for that order.

    The message is read back from the tracker store the runner wrote it into, the customer's
    answer goes through the actions the dialogue runs (slot mapping, then `action_record_feedback`
    on the same SQL CRM), and the scanner turns the feedback row into the journey's conversion."""
    import asyncio

    from actions import advocacy, common
    from actions.journey import ActionValidateSlotMappings
    from bot.crm.models import FeedbackRow
    from bot.orchestration.delivery import StoreConversationLog
    from bot.touchpoints.tracker_store import StreamingSQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered
    from tests.test_actions_support import make_tracker, run, slots_of

    from bot import settings

    world = World(database, sms, conversation_log=StoreConversationLog(database))
    [cid] = [c for c in customer_ids("NA", "onboarding", holdout=True, count=40)
             if not holdout_of("referral_promoters", c, 0.1)][:1]   # onboarding sends nothing: only the survey
    phone = world.customer(cid)
    order = world.order(cid, "delivered", T0 - 2 * DAY, delivered_at=T0)
    world.run(T0 + MIN)
    world.run(T0 + 7 * DAY)
    [question] = world.sms_to(phone)
    assert "۰ تا ۱۰" in question
    store = StreamingSQLTrackerStore(Domain.load(str(settings.PROJECT_ROOT / "domain.yml")), host=database)
    said = [e for e in asyncio.run(store.retrieve(f"sms:{phone}")).events if isinstance(e, BotUttered)]
    assert said[-1].text == question

    answer = make_tracker(events=[said[-1].as_dict()], intent="inform", text="۵", language="fa",
                          sender=f"sms:{phone}", slots={"customer_id": cid})
    slots = slots_of(run(ActionValidateSlotMappings(), answer)[0])
    assert (slots["feedback_kind"], slots["rating"], slots["last_order_id"]) == ("nps", "5", order)
    assert slots["dialogue_move"] == "redo give_feedback"

    common.set_crm(world.crm)
    try:
        recorded = make_tracker({"customer_id": cid, "language": "fa", "rating": "5", "feedback_kind": "nps",
                                 "last_order_id": order}, sender=f"sms:{phone}", intent="inform", text="۵")
        assert slots_of(run(advocacy.ActionRecordFeedback(), recorded)[0])["goal_status"] == "completed"
    finally:
        common.set_crm(None)
    answered = T0 + 7 * DAY + HOUR
    table = FeedbackRow.__table__
    with world.engine.begin() as conn:  # the CRM stamps the row with the real clock; the journeys run on T0's
        [row] = conn.execute(sa.select(table).where(table.c.customer_id == cid)).mappings().all()
        conn.execute(table.update().where(table.c.id == row["id"]).values(created_at=answered))
    assert (row["kind"], row["score"], row["order_id"]) == ("nps", 5, order)
    world.run(answered + MIN)
    entry = world.entry("nps_after_delivery", cid)
    assert (entry["conversion_event"], entry["converted_at"]) == ("feedback.nps", answered)
    assert world.entries("referral_promoters", cid) == []   # a 5 is no promoter


def test_a_goal_abandoned_in_a_conversation_is_an_event_once(world: World) -> None:
    """The touchpoints' `goal_abandoned` rows of identified customers become `goal.abandoned` (a trigger a shop may use)."""
    from bot.orchestration.models import JourneyEvent
    from bot.touchpoints.store import insert_rows

    [cid] = customer_ids("GA", "abandoned_payment", holdout=False)
    world.customer(cid)
    insert_rows(world.engine, [
        {"event_id": "ga-1", "occurred_at": (T0 - MIN).replace(tzinfo=None), "customer_id": cid, "conversation_id": "tg:4242",
         "channel": "telegram", "actor": "system", "actions": ["goal_abandoned"], "goal": "place_order",
         "goal_status": "abandoned"},
        {"event_id": "ga-2", "occurred_at": (T0 - MIN).replace(tzinfo=None), "customer_id": None, "conversation_id": "web:anon",
         "channel": "web", "actor": "system", "actions": ["goal_abandoned"], "goal": "place_order",
         "goal_status": "abandoned"},   # an anonymous visitor: nobody to message
        {"event_id": "ga-3", "occurred_at": (T0 - MIN).replace(tzinfo=None), "customer_id": cid, "conversation_id": "tg:4242",
         "channel": "telegram", "actor": "system", "actions": ["goal_completed"], "goal": "track_order",
         "goal_status": "completed"},
    ])
    world.run(T0)
    world.run(T0 + MIN)
    table = JourneyEvent.__table__
    with world.engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(sa.select(table.c.kind, table.c.customer_id, table.c.subject)
                                                 .where(table.c.kind == "goal.abandoned"))]
    assert found == [("goal.abandoned", cid, "place_order")]


# ----------------------------------------------------------------------------- the customer's clock, while:, Bale
def run_with(world: World, now: dt.datetime, outputs_for, scan: bool = True):
    """One runner pass with outputs built on its own loop (`outputs_for()`); `scan=False` is a
    shop whose events never arrive (a lost webhook): only what the runner itself asks the CRM."""
    import asyncio

    from bot.orchestration.runner import JourneyRunner

    async def go():
        outputs = outputs_for()
        try:
            return await JourneyRunner(world.o, outputs, world.log, scan=scan).run_due(now)
        finally:
            await outputs.aclose()

    return asyncio.run(go())


def test_quiet_hours_follow_the_customers_own_time_zone(world: World) -> None:
    """The shop's REST backend says a customer lives in Berlin: 09:30 in Tehran is 07:00 there (too early),
    and 21:30 in Tehran is 20:00 there (still fine). Wednesday 4 June 2025; Berlin is UTC+2, Tehran UTC+3:30."""
    from bot.orchestration.events import Emitter, Event

    early, late, home = customer_ids("TZ", "abandoned_payment", holdout=False, count=3)
    phones = {cid: world.customer(cid, "Anna Weber", language="en") for cid in (early, late)}
    phones[home] = world.customer(home)
    morning, evening = tehran(2025, 6, 4, 8, 30), tehran(2025, 6, 4, 20, 0)
    orders = {early: world.order(early, "pending_payment", morning), home: world.order(home, "pending_payment", morning),
              late: world.order(late, "pending_payment", evening)}
    for cid in (early, late):   # an order event carrying the customer's time zone (REST customer record `timezone`)
        Emitter(world.o).emit(Event("order.pending_payment", f"rest:tz:{cid}", morning, source="rest", customer_id=cid,
                                    order_id=orders[cid], data={"status": "pending_payment", "timezone": "Europe/Berlin"}),
                              morning)
    world.run(morning + MIN)
    world.run(morning + HOUR)                      # 09:30 Tehran: the Tehran customer only
    assert len(world.sms_to(phones[home])) == 1 and world.sms_to(phones[early]) == []
    assert world.entry("abandoned_payment", early)["due_at"] == tehran(2025, 6, 4, 10, 30)   # 09:00 in Berlin
    world.run(tehran(2025, 6, 4, 10, 30))
    assert len(world.sms_to(phones[early])) == 1 and world.sms_to(phones[early])[0].startswith("Hi Anna")
    world.run(evening + MIN)
    world.run(evening + HOUR + MIN)                # 21:01 Tehran, 19:31 Berlin: within the Berlin customer's window
    assert len(world.sms_to(phones[late])) == 1
    assert world.o.zone_of({"customer_key": home, "context": {"timezone": "Mars/Olympus_Mons"}}) == "Asia/Tehran"


def test_quiet_hours_follow_the_time_zone_on_the_sql_crm_customer(world: World) -> None:
    """The SQL CRM's customer record carries the zone (`customers.timezone`; empty: the shop's, Tehran).
    Both order at 15:00 Tehran on Wednesday 4 June 2025; the reminder is due at 16:00 Tehran, which is
    21:30 in Tokyo (UTC+9): the Tokyo customer's waits for 09:00 Tokyo, 03:30 Thursday in Tehran."""
    tokyo, home = customer_ids("TK", "abandoned_payment", holdout=False, count=2)
    phones = {tokyo: world.customer(tokyo, "Kenji Sato", language="en", timezone="Asia/Tokyo"),
              home: world.customer(home)}
    ordered = tehran(2025, 6, 4, 15, 0)
    for cid in (tokyo, home):
        world.order(cid, "pending_payment", ordered)
    world.run(ordered + MIN)
    world.run(ordered + HOUR)                          # 16:00 Tehran: the Tehran customer only
    assert len(world.sms_to(phones[home])) == 1 and world.sms_to(phones[tokyo]) == []
    waiting = world.entry("abandoned_payment", tokyo)
    assert waiting["due_at"] == dt.datetime(2025, 6, 5, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert waiting["due_at"] == tehran(2025, 6, 5, 3, 30)
    world.run(tehran(2025, 6, 5, 3, 29))
    assert world.sms_to(phones[tokyo]) == []
    world.run(tehran(2025, 6, 5, 3, 30))               # quiet in Tehran, 09:00 in Tokyo: sent
    [text] = world.sms_to(phones[tokyo])
    assert text.startswith("Hi Kenji")
    assert world.o.zone_of({"customer_key": home, "customer_id": home}) == "Asia/Tehran"   # empty: the shop's


def test_an_order_placed_meanwhile_stops_the_abandoned_order_journey_before_its_next_step(world: World) -> None:
    """`while: {no_order_since_entry: true}` is asked of the CRM before every step: the customer ordered
    after the first reminder and the order's event never came (scan off) — no second message, a conversion."""
    from bot.touchpoints.store import insert_rows
    from tests.support.journeys import Outputs

    buyer, other = customer_ids("AO", "abandoned_order", holdout=False, count=2)
    phones = {cid: world.customer(cid, "Sara Ahmadi", language="en") for cid in (buyer, other)}
    insert_rows(world.engine, [
        {"event_id": f"ao-{cid}", "occurred_at": (T0 - MIN).replace(tzinfo=None), "customer_id": cid,
         "conversation_id": f"sms:{phones[cid]}", "channel": "sms", "actor": "system", "actions": ["goal_abandoned"],
         "goal": "place_order", "goal_status": "abandoned"} for cid in (buyer, other)])
    world.run(T0)                                  # both enter: an order abandoned in a chat
    assert {e["customer_key"] for e in world.entries("abandoned_order")} == {buyer, other}
    world.run(T0 + 2 * HOUR)
    assert all(len(world.sms_to(p)) == 1 for p in phones.values())
    assert "not finished" in world.sms_to(phones[buyer])[0]
    world.order(buyer, "processing", T0 + 5 * HOUR)   # ordered on the website; no event reaches the journeys
    outputs = lambda: Outputs(world.sms.url, None)  # noqa: E731
    run_with(world, T0 + DAY, outputs, scan=False)
    assert len(world.sms_to(phones[buyer])) == 1 and len(world.sms_to(phones[other])) == 2
    assert "HAMRAH5" in world.sms_to(phones[other])[1]
    ended = world.entry("abandoned_order", buyer)
    assert (ended["status"], ended["exit_reason"], ended["conversion_event"]) == ("exited", "goal", "order.created")


def test_a_bale_chat_is_a_journey_channel_with_sms_as_its_fallback(database: str, sms: FakeSmsGateways) -> None:
    from bot.channels.bale import BaleOutput
    from tests.fakes.telegram_api import FakeBale
    from tests.support.journeys import Outputs

    token = "5000001:bale-journeys-test-token"
    with FakeBale(token) as bale:
        world = World(database, sms)
        [cid] = customer_ids("BA", "shipping_updates", holdout=False)
        phone = world.customer(cid)
        world.link(cid, "bale:880001")             # the customer shared their contact in Bale

        def outputs() -> Outputs:
            built = Outputs(sms.url, None)
            built.outputs["bale"] = BaleOutput(token, base_url=bale.base_url, max_attempts=1)
            built.aclose = lambda: _close(built, "bale")
            return built

        world.order(cid, "shipped", T0 - DAY, shipped_at=T0, tracking_code="BL-1", carrier="پست")
        run_with(world, T0 + MIN, outputs)
        [sent] = bale.sent()
        assert str(sent["chat_id"]) == "880001" and "BL-1" in sent["text"] and world.sms_to(phone) == []
        bale.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        world.order(cid, "shipped", T0 - DAY, shipped_at=T0 + HOUR, tracking_code="BL-2", carrier="پست")
        run_with(world, T0 + HOUR + MIN, outputs)
        [fallback] = world.sms_to(phone)
        assert "BL-2" in fallback
        assert [(m["channel"], m["status"]) for m in world.messages("shipping_updates")] == [("bale", "sent"), ("sms", "sent")]
        assert actions(world.touchpoints("shipping_updates"))[1] == (("journey_message",), "shipped", "bale")


async def _close(outputs, chat: str) -> None:
    await outputs.outputs[chat].close()
    await outputs.outputs["sms"].gateway.aclose()


# ----------------------------------------------------------------------------- the CLI
def test_journeys_list_preview_and_stats_through_the_cli(world: World, capsys) -> None:
    """`hamsafar journeys list`, `preview NAME --customer ID` (each message as it would be sent) and `stats`."""
    from bot.cli import main

    assert main(["journeys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "9 journeys" in listing and "09:00–21:00 Asia/Tehran, days off fri; cap 1/day, 3/week" in listing
    for name in ("abandoned_payment", "abandoned_order", "shipping_updates", "onboarding", "csat_after_ticket",
                 "nps_after_delivery", "referral_promoters", "back_in_stock", "win_back"):
        assert f"\n{name} — " in listing
    assert "trigger: feedback.nps where min_score=9" in listing
    assert "trigger: goal.abandoned where goal=place_order" in listing
    assert "while:   no_order_since_entry=True (checked before every step)" in listing

    [cid] = customer_ids("PV", "abandoned_payment", holdout=False)
    phone = world.customer(cid)
    order = world.order(cid, "pending_payment", T0, total=2_500_000)
    at = tehran(2025, 6, 4, 20, 30).isoformat()   # Wednesday 20:30: the reminder falls at 21:30, after the window
    assert main(["journeys", "preview", "abandoned_payment", "--customer", cid, "--at", at,
                 "--database-url", world.url]) == 0
    preview = capsys.readouterr().out
    assert f"channel: sms (sms:{phone})" in preview and "messaged" in preview
    persian_order = order.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert re.search(r"SEND payment_link at Thursday 5 June 2025, 09:00 .*\(moved by quiet hours\)", preview), preview
    assert f"سفارش {persian_order}" in preview and "۲٬۵۰۰٬۰۰۰ تومان" in preview and f"/pay/{order}" in preview
    # 24 h after the order is Thursday 20:30, but the reminder went that day (one a day) and Friday is off
    assert re.search(r"SEND discount_code at Saturday 7 June 2025, 09:00 .*\(moved by the frequency cap\)", preview), preview
    assert "HAMRAH5" in preview and world.messages() == [] and world.entries() == []   # nothing sent or written

    shipped = world.order(cid, "shipped", T0 - DAY, shipped_at=T0, tracking_code="TPX-42", carrier="تیپاکس")
    assert main(["journeys", "preview", "shipping_updates", "--customer", cid, "--order", shipped, "--at", T0.isoformat(),
                 "--database-url", world.url]) == 0
    preview = capsys.readouterr().out
    assert re.search(r"SEND shipped at Wednesday 4 June 2025, 10:00", preview) and "TPX-42" in preview
    # the delivered note goes when the parcel arrives, not when the wait would time out (the journey exits then)
    assert "SEND delivered when order.delivered happens (within 21d), in the sending window" in preview, preview
    assert "25 June" not in preview

    world.run(T0 + MIN)
    world.run(T0 + HOUR)
    assert main(["journeys", "stats", "--format", "json", "--database-url", world.url]) == 0
    lines = {line["journey"]: line for line in json.loads(capsys.readouterr().out)["journeys"]}
    assert (lines["abandoned_payment"]["entered"], lines["abandoned_payment"]["messages"]) == (1, 1)
    assert lines["shipping_updates"]["messages"] == 1 and lines["abandoned_payment"]["by_channel"]["sms"]["messages"] == 1
    assert main(["journeys", "stats", "--database-url", world.url]) == 0
    assert "abandoned_payment by channel — sms: 1 entered, 1 sent" in capsys.readouterr().out
