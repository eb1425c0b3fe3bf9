"""Advocacy goals: feedback (CSAT 1–5 / NPS 0–10), product reviews, referral code, club points."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.crm.base import ActionNotAllowed

from actions.common import (
    Outcome, digits, get_crm, guarded, known_customer, number, policy, policy_text, product_name,
    reply_language, say,
)
from actions.forms import parse_score
from actions.products import find_products
from actions.orders import customer_or_refuse

_NPS_WORDS = re.compile(r"recommend|nps|توصیه|پیشنهاد می|معرفی می|از ۰|از 0|0 تا 10|۰ تا ۱۰|out of 10|/10|از 10|از ۱۰",
                        re.IGNORECASE)


def feedback_kind(score: int, message: str) -> str:
    """nps for 0 or 6–10, or when the customer speaks of recommending / a 0–10 scale; else csat (1–5)."""
    if score == 0 or score > 5 or _NPS_WORDS.search(message or ""):
        return "nps"
    return "csat"


class ActionRecordFeedback(Action):
    """Stores the customer's CSAT/NPS answer in the CRM, so the shop can measure how the conversation went."""

    def name(self) -> Text:
        return "action_record_feedback"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        score = parse_score(tracker.get_slot("rating"))
        comment = str(tracker.get_slot("feedback_comment") or "")
        if score is None:
            say(dispatcher, "rating_invalid", language, low=digits(0, language), high=digits(10, language))
            return Outcome.failed()
        # the survey asked decides (a journey's CSAT or NPS question: actions/proactive.py)
        kind = tracker.get_slot("feedback_kind") or feedback_kind(score, comment)
        try:
            get_crm().record_feedback(kind, score, customer_id=known_customer(tracker), comment=comment,
                                      order_id=tracker.get_slot("last_order_id") if tracker.get_slot("feedback_kind")
                                      else None, conversation_id=tracker.sender_id,
                                      channel=tracker.get_latest_input_channel() or None)
        except ActionNotAllowed:
            say(dispatcher, "rating_invalid", language, low=digits(0 if kind == "nps" else 1, language),
                high=digits(10 if kind == "nps" else 5, language))
            return Outcome.failed()
        low = score <= (6 if kind == "nps" else 2)
        say(dispatcher, "feedback_thanks_low" if low else "feedback_thanks", language)
        return Outcome.completed(*([SlotSet("feedback_kind", None)] if tracker.get_slot("feedback_kind") else []))


class ActionLeaveReview(Action):
    """Records a verified customer's product review in the CRM (only for a product they ordered)."""

    def name(self) -> Text:
        return "action_leave_review"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        customer_id = customer_or_refuse(dispatcher, tracker, language)
        if not customer_id:
            return Outcome.failed()
        found = find_products(str(tracker.get_slot("product") or ""), limit=1)
        rating = parse_score(tracker.get_slot("rating"))
        if not found or rating is None:
            say(dispatcher, "review_failed", language)
            return Outcome.failed()
        try:
            get_crm().record_review(customer_id, found[0].sku, rating, str(tracker.get_slot("review_text") or ""))
        except ActionNotAllowed:
            say(dispatcher, "review_failed", language)
            return Outcome.failed()
        say(dispatcher, "review_thanks", language, product=product_name(found[0], language))
        return Outcome.completed()


class ActionReferralCode(Action):
    """The customer's one stable referral code (the CRM keeps it) and the reward."""

    def name(self) -> Text:
        return "action_referral_code"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        customer_id = customer_or_refuse(dispatcher, tracker, language)
        if not customer_id:
            return Outcome.failed()
        code = get_crm().referral_code(customer_id)
        say(dispatcher, "referral_code", language, code=code,
            reward=policy_text((policy().get("referral") or {}).get("reward"), language))
        return Outcome.completed()


def level_title(level: str, language: str) -> str:
    for entry in (policy().get("loyalty") or {}).get("levels") or []:
        if entry.get("name") == level:
            return policy_text(entry.get("title"), language) or level
    return level


class ActionLoyaltyPoints(Action):
    """Tells a verified customer their loyalty points and what the next level needs."""

    def name(self) -> Text:
        return "action_loyalty_points"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        customer_id = customer_or_refuse(dispatcher, tracker, language)
        if not customer_id:
            return Outcome.failed()
        loyalty = get_crm().loyalty(customer_id)
        if loyalty is None:
            say(dispatcher, "loyalty_none", language)
            return Outcome.failed()
        say(dispatcher, "loyalty", language, points=number(loyalty.points, language),
            level=level_title(loyalty.level, language),
            how=policy_text((policy().get("loyalty") or {}).get("text"), language))
        if loyalty.next_level:
            say(dispatcher, "loyalty_next", language, points=number(loyalty.points_to_next, language),
                level=level_title(loyalty.next_level, language))
        return Outcome.completed()
