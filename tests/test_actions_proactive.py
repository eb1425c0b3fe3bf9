"""The customer's answer to a journey's proactive message (actions/proactive.py) continues it."""

from __future__ import annotations

from typing import Any, Dict

from actions.journey import ActionValidateSlotMappings
from tests.test_actions_support import make_tracker, run, slots_of

NPS_QUESTION = {"event": "bot", "text": "How likely are you to recommend us, 0-10?",
                "metadata": {"hamsafar_actor": "system", "hamsafar_journey": {
                    "journey": "nps_after_delivery", "step": "nps", "order_id": "100004",
                    "expects": {"goal": "give_feedback", "intents": ["give_feedback", "inform"], "feedback": "nps",
                                "slots": {"order_id": "100004"}}}}}
PAYMENT_REMINDER = {"event": "bot", "text": "Order 100245 is waiting for payment: https://shop.example.ir/pay/100245",
                    "metadata": {"hamsafar_journey": {
                        "journey": "abandoned_payment", "step": "reminder", "order_id": "100245",
                        "expects": {"goal": "pay", "intents": ["affirm", "ask_payment_methods", "payment_problem"],
                                    "slots": {"order_id": "100245"}}}}}


def after(message: Dict[str, Any], **parse: Any) -> Dict[str, Any]:
    return slots_of(run(ActionValidateSlotMappings(), make_tracker(events=[message], **parse))[0])


def test_a_score_after_the_nps_question_is_an_nps_answer() -> None:
    slots = after(NPS_QUESTION, intent="inform", text="۹", language="fa")
    assert slots["feedback_kind"] == "nps" and slots["rating"] == "9" and slots["last_order_id"] == "100004"
    assert slots["dialogue_move"] == "redo give_feedback" and slots["goal"] == "give_feedback"


def test_yes_after_the_payment_reminder_asks_how_to_pay_that_order() -> None:
    slots = after(PAYMENT_REMINDER, intent="affirm", text="yes, pay now", language="en")
    assert slots["dialogue_move"] == "redo ask_payment_methods"
    assert slots["order_id"] == "100245" and slots["last_order_id"] == "100245" and slots["goal"] == "pay"


def test_other_words_after_a_proactive_message_are_read_as_usual() -> None:
    slots = after(PAYMENT_REMINDER, intent="track_order", text="where is my other order?", language="en")
    assert slots.get("dialogue_move") is None and slots["goal"] == "track_order"
    assert slots["last_order_id"] == "100245"      # the order the reminder was about stays at hand


def test_a_message_after_an_ordinary_reply_is_not_a_survey_answer() -> None:
    ordinary = {"event": "bot", "text": "You're welcome!"}
    slots = after(ordinary, intent="inform", text="9", language="en")
    assert "feedback_kind" not in slots


CSAT_QUESTION = {"event": "bot", "text": "Your support request T-7K3M9Q is closed. From 1 to 5, how satisfied are you?",
                 "metadata": {"hamsafar_actor": "system", "hamsafar_journey": {
                     "journey": "csat_after_ticket", "step": "csat_question", "order_id": None,
                     "expects": {"goal": "give_feedback", "intents": ["give_feedback", "inform"], "feedback": "csat",
                                 "slots": {}}}}}
DISCOUNT_OFFER = {"event": "bot", "text": "Order 100245 is still waiting. Use code HAMRAH5 and pay here: …",
                  "metadata": {"hamsafar_journey": {
                      "journey": "abandoned_payment", "step": "discount_code", "order_id": "100245",
                      "expects": {"goal": "use_discount", "intents": ["affirm", "apply_discount_code"],
                                  "slots": {"order_id": "100245", "discount_code": "HAMRAH5"}}}}}


def test_a_low_score_after_the_nps_question_is_nps_not_csat() -> None:
    """Read alone, a 5 is a CSAT answer (actions/advocacy.feedback_kind); after the NPS question it is an NPS."""
    slots = after(NPS_QUESTION, intent="inform", text="5", language="en")
    assert (slots["feedback_kind"], slots["rating"]) == ("nps", "5")


def test_a_score_after_the_csat_question_is_csat() -> None:
    slots = after(CSAT_QUESTION, intent="inform", text="۴", language="fa")
    assert (slots["feedback_kind"], slots["rating"]) == ("csat", "4") and slots["dialogue_move"] == "redo give_feedback"
    assert "last_order_id" not in slots   # the ticket's survey is about no order


def test_yes_after_the_discount_offer_applies_that_code_to_that_order() -> None:
    slots = after(DISCOUNT_OFFER, intent="affirm", text="ok", language="en")
    assert slots["dialogue_move"] == "redo apply_discount_code"
    assert (slots["discount_code"], slots["order_id"], slots["last_order_id"]) == ("HAMRAH5", "100245", "100245")


# ----------------------------------------------------------------------------- "no" to a proactive message
def _reminder_entry(url: str, customer: str = "C501", order: str = "100245") -> int:
    """A real abandoned-payment entry (the database the action server uses), as the orchestrator makes it."""
    import datetime as dt

    from bot.orchestration.definition import load_book
    from bot.orchestration.engine import Orchestrator
    from bot.orchestration.events import Emitter, Event

    now = dt.datetime(2025, 6, 4, 6, 30, tzinfo=dt.timezone.utc)
    result = Emitter(Orchestrator(load_book(), url)).emit(
        Event("order.pending_payment", f"t:{order}", now, customer_id=customer, order_id=order,
              data={"status": "pending_payment"}), now)
    return result.entered[0]


def _entry(url: str, entry_id: int) -> Dict[str, Any]:
    import sqlalchemy as sa

    from bot.db import get_engine
    from bot.orchestration.engine import E

    with get_engine(url).connect() as conn:
        return dict(conn.execute(sa.select(E).where(E.c.id == entry_id)).mappings().one())


def _reminder_of(entry_id: int) -> Dict[str, Any]:
    meta = dict(PAYMENT_REMINDER["metadata"]["hamsafar_journey"], entry_id=entry_id, stage="decision")
    return dict(PAYMENT_REMINDER, metadata={"hamsafar_actor": "system", "hamsafar_journey": meta})


def test_no_thanks_to_the_payment_reminder_stops_that_journey_and_is_recorded(sqlite_url, monkeypatch) -> None:
    import sqlalchemy as sa

    from bot.db import get_engine
    from bot.touchpoints.models import Touchpoint

    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", sqlite_url)
    entry_id = _reminder_entry(sqlite_url)
    # a "no" with a request in it is that request, not a no to the reminder
    slots = after(_reminder_of(entry_id), intent="ask_payment_methods", text="no, can I pay by card?", language="en")
    assert slots.get("dialogue_move") != "redo deny" and slots["last_order_id"] == "100245"
    assert _entry(sqlite_url, entry_id)["status"] == "active"
    slots = after(_reminder_of(entry_id), intent="deny", text="نه ممنون", language="fa", sender="sms:+989121234567")
    assert slots["dialogue_move"] == "redo utter_journey_declined"   # "OK, I won't message you about this again"
    assert slots["journey_stage"] == "decision"           # the answer's touchpoint is a decision-stage turn
    entry = _entry(sqlite_url, entry_id)
    assert (entry["status"], entry["exit_reason"]) == ("exited", "declined")
    tp = Touchpoint.__table__
    with get_engine(sqlite_url).connect() as conn:
        recorded = conn.execute(sa.select(tp.c.actions).where(tp.c.journey == "abandoned_payment")
                                .order_by(tp.c.id)).scalars().all()
    assert recorded[-1] == ["journey_exited", "declined"]
    from bot.orchestration.definition import load_book
    from bot.orchestration.stats import journey_stats

    line = next(l for l in journey_stats(get_engine(sqlite_url), load_book()) if l["journey"] == "abandoned_payment")
    assert (line["declined"], line["exits"]) == (1, {"declined": 1})
    from bot.channels import consent

    assert not consent.is_opted_out("sms", "+989121234567")   # a no is not an opt-out of every message


def test_an_opt_out_word_answering_on_telegram_declines_and_opts_the_chat_out(sqlite_url, monkeypatch) -> None:
    from bot.channels import consent

    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", sqlite_url)
    entry_id = _reminder_entry(sqlite_url, "C502", "100246")
    slots = after(_reminder_of(entry_id), intent="cancel_order", text="لغو", language="fa", sender="tg:555001")
    # not "cancel the order": an opt-out word answers the message, and the opt-out is confirmed
    assert slots["dialogue_move"] == "redo utter_journey_opted_out"
    assert _entry(sqlite_url, entry_id)["exit_reason"] == "declined"
    assert consent.is_opted_out("telegram", "tg:555001")
    assert not consent.check_outbound("telegram", "555001", proactive=True)   # no proactive message on this chat
    assert consent.check_outbound("telegram", "555001", proactive=False)      # replies to the customer still go



def test_asking_to_stop_the_messages_opts_out_through_consent_and_is_confirmed(sqlite_url, monkeypatch) -> None:
    """"stop sending these" / «دیگه پیام نده» answering a proactive message is an opt-out (the one consent
    record), on SMS and in the widget alike; a plain no is not."""
    from bot.channels import consent

    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", sqlite_url)
    said = [("stop sending these", "en", "sms:+989121110001"), ("Please stop sending me these messages!", "en",
            "web:stopsession0001"), ("دیگه پیام نده", "fa", "sms:+989121110002"),
            ("لطفاً دیگه پیامک نفرستید", "fa", "tg:555002"), ("این پیام‌ها رو نفرستید", "fa", "bale:555003")]
    for i, (text, language, sender) in enumerate(said):
        entry_id = _reminder_entry(sqlite_url, f"C6{i:02d}", f"1006{i:02d}")
        slots = after(_reminder_of(entry_id), intent="stop", text=text, language=language, sender=sender)
        assert slots["dialogue_move"] == "redo utter_journey_opted_out", text
        assert _entry(sqlite_url, entry_id)["exit_reason"] == "declined", text
        channel = {"sms": "sms", "web": "web", "tg": "telegram", "bale": "bale"}[sender.split(":")[0]]
        assert consent.is_opted_out(channel, sender), text
        assert not consent.check_outbound(channel, sender, proactive=True), text
    entry_id = _reminder_entry(sqlite_url, "C699", "100699")
    slots = after(_reminder_of(entry_id), intent="deny", text="no thanks", language="en", sender="sms:+989121110009")
    assert slots["dialogue_move"] == "redo utter_journey_declined"
    assert not consent.is_opted_out("sms", "+989121110009")
    # SMS: the opted-out number gets nothing more, except the one confirmation of its opt-out
    assert not consent.check_outbound("sms", "+989121110001", kind="message")
    assert consent.check_outbound("sms", "+989121110001", kind="opt_out_confirmation")
    assert not consent.check_outbound("sms", "+989121110001", kind="opt_out_confirmation")
