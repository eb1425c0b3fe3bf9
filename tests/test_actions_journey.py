"""Conversation-state actions: language, journey stage, goal, switch_language, fallback."""

from __future__ import annotations

import pytest

from actions.common import set_verifier
from actions.fallback import ActionAskRephraseWithSuggestions
from actions.journey import ActionSwitchLanguage, ActionValidateSlotMappings, requested_language
from tests.test_actions_support import make_tracker, run, shop, slots_of, texts  # noqa: F401  (fixture)


class NobodyVerified:
    def customer_for(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


@pytest.fixture(autouse=True)
def no_identity_store():  # type: ignore[no-untyped-def]
    """Tests that do not use the `shop` fixture never touch a database."""
    set_verifier(NobodyVerified())
    yield
    set_verifier(None)


def test_language_stage_and_goal_follow_the_parse() -> None:
    tracker = make_tracker(intent="track_order", language="en", stage="retention", text="where is my order")
    events, _ = run(ActionValidateSlotMappings(), tracker)
    assert slots_of(events) == {"language": "en", "goal": "track_order", "goal_status": "started",
                                "journey_stage": "retention", "last_request": "track_order"}


def test_new_goal_abandons_the_goal_in_progress_first() -> None:
    tracker = make_tracker({"goal": "track_order", "goal_status": "started", "journey_stage": "retention",
                            "language": "fa", "rating": "4"},
                           intent="ask_price", language="fa", stage="consideration")
    events, _ = run(ActionValidateSlotMappings(), tracker)
    sequence = [(e["name"], e["value"]) for e in events]
    assert sequence.index(("goal_status", "abandoned")) < sequence.index(("goal", "know_price")) \
        < sequence.index(("goal_status", "started"))
    assert ("rating", None) in sequence          # the old goal's answers are not reused
    assert ("journey_stage", "consideration") in sequence


def test_completed_goal_is_not_abandoned_by_the_next_one() -> None:
    tracker = make_tracker({"goal": "track_order", "goal_status": "completed"}, intent="cancel_order",
                           stage="retention")
    assert ("goal_status", "abandoned") not in [(e["name"], e["value"])
                                                for e in run(ActionValidateSlotMappings(), tracker)[0]]


def test_general_intent_keeps_the_stage_and_stop_abandons() -> None:
    tracker = make_tracker({"goal": "return_item", "goal_status": "started", "journey_stage": "retention",
                            "language": "fa"}, intent="stop", stage=None)
    assert slots_of(run(ActionValidateSlotMappings(), tracker)[0]) == {"goal_status": "abandoned"}


def test_preferred_language_wins_over_detection_and_fallbacks_reset() -> None:
    tracker = make_tracker({"preferred_language": "en", "language": "en", "fallback_count": 2},
                           intent="greet", language="fa")
    assert slots_of(run(ActionValidateSlotMappings(), tracker)[0]) == {"fallback_count": 0}


def test_switch_language() -> None:
    assert requested_language("English please", "en", "fa") == "en"
    assert requested_language("انگلیسی بلد نیستم، فارسی بگو", "fa", "en") == "fa"
    assert requested_language("زبان رو عوض کن", "fa", "fa") == "en"
    events, messages = run(ActionSwitchLanguage(), make_tracker({"language": "fa"}, intent="switch_language",
                                                                text="can you speak English?", language="en"))
    assert slots_of(events) == {"preferred_language": "en", "language": "en"}
    assert "English" in texts(messages)


def test_fallback_offers_likeliest_intents_as_buttons_in_the_reply_language() -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "track_order", "confidence": 0.3},
               {"name": "inform", "confidence": 0.1}, {"name": "return_item", "confidence": 0.1},
               {"name": "ask_price", "confidence": 0.05}, {"name": "ask_shipping", "confidence": 0.05}]
    tracker = make_tracker({"language": "fa", "fallback_count": 1}, intent="nlu_fallback", ranking=ranking)
    events, messages = run(ActionAskRephraseWithSuggestions(), tracker)
    assert slots_of(events) == {"fallback_count": 2}
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == ["/track_order", "/return_item", "/ask_price"]
    assert messages[0]["buttons"][0]["title"] == "پیگیری سفارش"


def test_an_order_is_not_placed_for_a_product_of_an_earlier_goal() -> None:
    tracker = make_tracker({"goal": "know_price", "goal_status": "completed", "product": "MOB-SAM-A55"},
                           intent="place_order", stage="decision")
    assert ("product", None) in [(e["name"], e["value"]) for e in run(ActionValidateSlotMappings(), tracker)[0]]
    tracker = make_tracker({"goal": "know_price", "goal_status": "completed", "product": "MOB-SAM-A55"},
                           intent="ask_product_details", stage="consideration")
    assert "product" not in slots_of(run(ActionValidateSlotMappings(), tracker)[0])


def test_an_answer_to_a_form_question_does_not_open_another_goal() -> None:
    tracker = make_tracker({"goal": "return_item", "goal_status": "started", "requested_slot": "return_reason"},
                           intent="report_problem", stage="retention", text="it doesn't fit",
                           active_loop="return_form", fresh={"return_reason": "it doesn't fit"})
    assert "goal" not in slots_of(run(ActionValidateSlotMappings(), tracker)[0])


def test_one_time_code_digits_do_not_overwrite_the_order_number() -> None:
    tracker = make_tracker({"goal": "cancel_order", "goal_status": "started", "requested_slot": "otp_code"},
                           intent="inform", text="482917", active_loop="cancel_order_form",
                           events=[{"event": "slot", "name": "order_id", "value": "100003"}],
                           fresh={"order_id": "482917", "otp_code": "482917"})
    assert slots_of(run(ActionValidateSlotMappings(), tracker)[0])["order_id"] == "100003"


def test_a_bare_number_keeps_the_conversations_language() -> None:
    tracker = make_tracker({"language": "en"}, intent="inform", text="+98 935 123 4567", language="fa")
    assert "language" not in slots_of(run(ActionValidateSlotMappings(), tracker)[0])
    tracker = make_tracker({"language": "en"}, intent="greet", text="سلام", language="fa")
    assert slots_of(run(ActionValidateSlotMappings(), tracker)[0])["language"] == "fa"


def test_a_code_typed_alone_keeps_the_conversations_language() -> None:
    for code in ("SPRING15", "A55", "ali@example.ir", " WELCOME10 "):
        tracker = make_tracker({"language": "fa"}, intent="inform", text=code, language="en")
        assert "language" not in slots_of(run(ActionValidateSlotMappings(), tracker)[0]), code
    tracker = make_tracker({"language": "fa"}, intent="apply_discount_code", text="apply SPRING15", language="en")
    assert slots_of(run(ActionValidateSlotMappings(), tracker)[0])["language"] == "en"


def test_channel_verification_sets_customer_id(shop) -> None:  # type: ignore[no-untyped-def]
    shop.verifier._remember("C003", "telegram_contact", "conv-1", "telegram", "777")
    tracker = make_tracker(intent="inform", text="/inform", fresh={"phone_number": "+989191112233"})
    assert slots_of(run(ActionValidateSlotMappings(), tracker)[0])["customer_id"] == "C003"
