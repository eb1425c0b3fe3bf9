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
