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
