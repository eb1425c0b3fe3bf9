"""Form validation (`validate_<form>`) and form questions (`action_ask_<slot>`).

Verification is part of every order-related form: their required slots start
with `phone_number` and `otp_code`. `required_slots` drops both as soon as the
customer is known (slot `customer_id`, or a verification a channel stored for
this conversation: Telegram contact, signed web identity), so a verified
customer is never asked. `validate_phone_number` sends the one-time code with
bot.identity; `validate_otp_code` checks it and sets `customer_id` — the only
place besides channel verifications where it is set. When verification gives
up (too many tries, code limit) `verification_status` becomes `failed`, the
form ends and the goal action answers that the customer could not be verified.
"""

from __future__ import annotations

import abc
import functools
import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from bot.crm.base import CRMError, CRMUnavailable, Product
from bot.dialogue import cues
from bot.text.formatting import format_list
from bot.text.identifiers import national_phone, normalise_order_id, normalise_phone
from bot.text.persian import normalise, to_ascii_digits

from actions.products import accessory_meant, chosen_product, find_products, products_hinted
from actions.common import (
    RESUMED, button, digits, names_an_order, entity_values, get_crm, get_verifier, goal_message, known_customer, latest_open_order, latest_text,
    number, policy, policy_text, previous_slot_value, product_name, recent_slot_values, reply_language, say, text,
    toman,
)

logger = logging.getLogger(__name__)

VERIFICATION_SLOTS = ("phone_number", "otp_code")
VERIFIED_MARK = "ok"           # what otp_code holds once checked (never the code itself)
ABORTED = ("failed", "aborted")

# "my order" (singular, no number): the customer's latest open order, not a question.
# «سفارشم / سفارشمو / سفارش‌ام / سفارش من»; "my order", "my last order" — not "my orders".
MY_ORDER = re.compile(r"\bmy\s+(?:last\s+|latest\s+|recent\s+|current\s+)?order\b(?!s)|"
                      r"سفارش\u200c?(?:م|مو|مرو|ام|امو|امرو)(?![\u0620-\u065f\u066e-\u06d3\u06d5\u06fa-\u06ff])|سفارش\s+(?:من|خودم)(?![\u0620-\u065f\u066e-\u06d3\u06d5\u06fa-\u06ff])",
                      re.IGNORECASE)
ORDER_GOAL_INTENTS = {"track_order_form": "track_order", "change_order_form": "change_order",
                      "cancel_order_form": "cancel_order"}


def means_my_order(message: Dict[str, Any]) -> bool:
    """The goal's message speaks of "my order" without giving an order number."""
    if any(e.get("entity") == "order_id" for e in message.get("entities") or []):
        return False
    return bool(MY_ORDER.search(normalise(str(message.get("text") or ""))))


# --------------------------------------------------------------------------- products


def product_buttons(products: List[Product], language: str) -> List[Dict[str, str]]:
    return [button(product_name(p, language), "inform", {"product": p.sku}) for p in products]


def parse_score(value: Any) -> Optional[int]:
    match = re.search(r"\d{1,2}", to_ascii_digits(str(value or "")))
    return int(match.group(0)) if match else None


# --------------------------------------------------------------------------- validation


def given(validate: Any) -> Any:
    """Decorator for `validate_<slot>`: a slot the turn cleared (None, empty) is nothing to
    validate — no "not found" or "invalid" for a value the customer never gave."""
    slot = validate.__name__[len("validate_"):]

    @functools.wraps(validate)
    def wrapper(self: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return {slot: None}
        return validate(self, value, *args, **kwargs)
    return wrapper



class HamsafarFormValidation(FormValidationAction, abc.ABC):
    """Validation shared by every form (each form is a subclass naming itself)."""

    @abc.abstractmethod
    def name(self) -> Text: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        events: List[EventType] = self._resume_goal(tracker)
        if not tracker.get_slot("customer_id"):
            customer_id = known_customer(tracker)
            if customer_id:
                events.append(SlotSet("customer_id", customer_id))
                tracker.slots["customer_id"] = customer_id
        return events + await super().run(dispatcher, tracker, domain)

    @staticmethod
    def _resume_goal(tracker: Tracker) -> List[EventType]:
        """The form runs again after a side question (not right after a customer message):
        the goal the side question suspended is in progress again."""
        suspended = tracker.get_slot("suspended_goal")
        if not suspended or tracker.latest_action_name == "action_listen":
            return []
        events = [SlotSet("goal", suspended), SlotSet("goal_status", RESUMED), SlotSet("suspended_goal", None)]
        tracker.slots.update({"goal": suspended, "goal_status": RESUMED, "suspended_goal": None})
        return events

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: Dict[Text, Any]) -> List[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        return events + self._my_latest_open_order(dispatcher, tracker, events)

    def _my_latest_open_order(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              events: List[EventType]) -> List[EventType]:
        """"Where is my order?" from a verified customer: their latest open order, without
        asking for its number (asked only when they have none, or said no "my")."""
        intent = ORDER_GOAL_INTENTS.get(self.form_name())
        changed = {e.get("name"): e.get("value") for e in events if e.get("event") == "slot"}
        slots = {**tracker.slots, **changed}
        if (intent is None or slots.get("order_id") or slots.get("requested_slot") == "order_id"
                or not slots.get("customer_id")
                or slots.get("verification_status") in ABORTED
                or not means_my_order(goal_message(tracker, (intent,)))):
            return []
        try:
            order = latest_open_order(str(slots["customer_id"]))
        except CRMError:
            return []   # ask for the number as usual
        if order is None:
            return []
        language = reply_language(tracker)
        say(dispatcher, "latest_open_order", language, order_id=digits(order.order_id, language))
        return [SlotSet(slot, value) for slot, value in self._checked_order(order).items()]

    def _checked_order(self, order: Any) -> Dict[str, Any]:
        """The slots for an order the customer owns; an order the goal cannot act on goes
        straight to the goal action, which says why (no questions first)."""
        if self.form_name() == "cancel_order_form" and not order.can_cancel:
            return {"order_id": order.order_id, "confirm_cancel": True}
        if self.form_name() == "change_order_form" and not order.can_change_address:
            return {"order_id": order.order_id, "change_request": "", "confirm_change": True}
        return {"order_id": order.order_id}

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: Dict[Text, Any]) -> List[Text]:
        if tracker.slots.get("verification_status") in ABORTED:
            return []
        if self.form_name() == "place_order_form" and self._out_of_stock(tracker.slots.get("product")):
            return []   # no number asked for what cannot be ordered: the goal action says so
        if tracker.slots.get("customer_id"):
            return [slot for slot in domain_slots if slot not in VERIFICATION_SLOTS]
        return list(domain_slots)

    @staticmethod
    def _out_of_stock(sku: Any) -> bool:
        if not sku:
            return False
        try:
            product = get_crm().get_product(str(sku))
        except CRMError:
            return False
        return product is not None and not product.in_stock

    def _abort(self, dispatcher: CollectingDispatcher, language: str) -> Dict[str, Any]:
        say(dispatcher, "crm_unavailable", language)
        return {"verification_status": "aborted"}

    # ---------------------------------------------------------------- verification
    @given
    def validate_phone_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: Dict[Text, Any]) -> Dict[str, Any]:
        language = reply_language(tracker)
        phone = normalise_phone(str(value or ""))
        if phone is None and re.fullmatch(r"\d{6}", re.sub(r"\D", "", to_ascii_digits(str(value or "")))):
            # the code of an SMS that came late, typed after "it didn't arrive, type your number again"
            late = get_verifier().check_code(tracker.sender_id, str(value or ""))
            if late.ok:
                say(dispatcher, "verified", language)
                return {"phone_number": VERIFIED_MARK, "otp_code": VERIFIED_MARK,
                        "customer_id": late.customer_id, "verification_status": "verified"}
        if phone is None and names_an_order(tracker):
            return {"phone_number": None}   # «ببخشید شماره سفارشم ۱۰۰۱۴۲ هست»: the order number, corrected
        if phone is None and cues.code_did_not_arrive(str(value or "")):
            # «یه بار دیگه بفرست» after "type your number again": a new code to the number given before
            given = [found for v in reversed(recent_slot_values(tracker, "phone_number", limit=3))
                     if (found := normalise_phone(str(v)))]
            phone = given[0] if given else None
        if phone is None and not re.search(r"\d", to_ascii_digits(str(value or ""))):
            # words, not a wrong number ("ugh, I just want to know where my package is"): no "invalid"
            say(dispatcher, "phone_needed", language)
            return {"phone_number": None}
        if phone is None:
            say(dispatcher, "phone_invalid", language)
            return {"phone_number": None}
        if previous_slot_value(tracker, "phone_number") == phone and tracker.get_slot("otp_code") is None \
                and get_verifier().has_open_code(tracker.sender_id, phone):
            # the customer left one goal at the code question for another that needs the same
            # verification ("forget the order, how many points do I have?"): the code already sent
            return {"phone_number": phone, "otp_code": None}
        try:
            result = get_verifier().request_code(tracker.sender_id, phone, language=language)
        except CRMUnavailable:
            return {"phone_number": None, **self._abort(dispatcher, language)}
        except CRMError:   # no SMS gateway configured
            logger.exception("one-time code not sent")
            say(dispatcher, "code_send_failed", language)
            return {"phone_number": None, "verification_status": "failed"}
        if result.status == "sent":
            say(dispatcher, "code_sent", language, phone=digits(national_phone(phone), language))
            return {"phone_number": phone, "otp_code": None}
        if result.status == "rate_limited":
            minutes = max(1, int((result.retry_after.total_seconds() + 59) // 60)) if result.retry_after else 60
            say(dispatcher, "code_rate_limited", language, minutes=digits(minutes, language))
            return {"phone_number": None, "verification_status": "failed"}
        if result.status == "invalid_phone":
            say(dispatcher, "phone_invalid", language)
            return {"phone_number": None}
        say(dispatcher, "code_send_failed", language)
        return {"phone_number": None, "verification_status": "failed"}

    @given
    def validate_otp_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: Dict[Text, Any]) -> Dict[str, Any]:
        language = reply_language(tracker)
        if value == VERIFIED_MARK:
            return {"otp_code": VERIFIED_MARK}
        if not cues.looks_like_a_code(str(value)):
            # words (maybe about the code: «کد ۶ رقمی کجاست؟»), not a code: no attempt used
            if cues.code_did_not_arrive(str(value)):
                say(dispatcher, "code_not_arrived", language)
                return {"otp_code": None, "phone_number": None}
            if cues.says_wrong_number(str(value)):   # «شماره رو اشتباه زدم»: the number again, then a new code
                return {"otp_code": None, "phone_number": None}
            say(dispatcher, "code_expected", language)
            return {"otp_code": None}
        result = get_verifier().check_code(tracker.sender_id, str(value or ""))
        if result.ok:
            say(dispatcher, "verified", language)
            return {"otp_code": VERIFIED_MARK, "customer_id": result.customer_id, "verification_status": "verified",
                    **self._order_given_before(dispatcher, tracker, domain, result.customer_id, language)}
        if result.status == "wrong_code":
            say(dispatcher, "code_wrong", language, left=digits(result.attempts_left, language))
            return {"otp_code": None}
        if result.status in ("expired", "no_code"):
            say(dispatcher, "code_expired", language)
            return {"otp_code": None, "phone_number": None}
        say(dispatcher, "code_too_many", language)
        return {"otp_code": None, "verification_status": "failed"}

    # ---------------------------------------------------------------- orders
    def _order_given_before(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any],
                            customer_id: str, language: str) -> Dict[str, Any]:
        """"pls cancel order 100004" before the customer was verified: now that they are, the order
        is checked as if given now — a shipped one is not cancellable, so nothing is asked about it,
        and someone else's order is not offered for cancelling."""
        order_id = tracker.get_slot("order_id")
        form = (domain.get("forms") or {}).get(self.form_name()) or {}
        if not order_id or "order_id" not in (form.get("required_slots") or []):
            return {}
        try:
            order = get_verifier().order_for_customer(str(order_id), customer_id)
        except CRMError:
            return {}   # the goal action says the shop's system is down
        if order is None:
            if self.form_name() not in ("cancel_order_form", "change_order_form"):
                return {}   # not theirs or none: the goal action says so
            # nothing to confirm about an order that is not theirs: which order, then (the same answer
            # for an order that does not exist and for someone else's)
            say(dispatcher, "order_not_found", language, order_id=digits(str(order_id), language))
            return {"order_id": None}
        return self._checked_order(order)

    @given
    def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: Dict[Text, Any]) -> Dict[str, Any]:
        language = reply_language(tracker)
        if tracker.get_slot("requested_slot") in VERIFICATION_SLOTS and not names_an_order(tracker):
            # the digits of a one-time code (or a phone) are not an order number
            return {"order_id": previous_slot_value(tracker, "order_id")}
        order_id = normalise_order_id(str(value or ""))
        customer_id = tracker.slots.get("customer_id")
        if order_id is None and customer_id:   # «اون آخری که تحویل گرفتم», "the one I haven't paid for"
            order_id = self._order_described(str(value or ""), str(customer_id))
        if order_id is None:
            say(dispatcher, "order_id_invalid", language)
            return {"order_id": None}
        if not customer_id:
            return {"order_id": order_id}   # checked by the goal action once verified
        try:
            order = get_verifier().order_for_customer(order_id, customer_id)
        except CRMUnavailable:
            return {"order_id": None, **self._abort(dispatcher, language)}
        if order is None:
            # the same answer for an order that does not exist and for someone else's
            say(dispatcher, "order_not_found", language, order_id=digits(order_id, language))
            return {"order_id": None}
        return self._checked_order(order)

    @staticmethod
    def _order_described(text: str, customer_id: str) -> Optional[str]:
        """The customer's order their words describe (a status, "the last one"), when exactly one
        fits among their recent orders; None otherwise (the number is asked again)."""
        status, latest = cues.order_described(text)
        if status is None and not latest:
            return None
        try:
            recent = get_crm().list_orders(customer_id, limit=5)   # newest first, as listed to them
        except CRMError:
            return None
        fitting = [o for o in recent if status is None or o.status == status]
        return fitting[0].order_id if fitting and (latest or len(fitting) == 1) else None

    # ---------------------------------------------------------------- products
    async def extract_product(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: Dict[Text, Any]) -> Dict[str, Any]:
        """"How much is your cheapest laptop?", «گرون‌ترین گوشیتون چیه؟»: a kind of product and a pick
        by price name one product, as a shop assistant would read it, instead of asking which; so do
        words that point at the shop's only product of a kind ("how much is the kettle?")."""
        if tracker.get_slot("product") or tracker.get_slot("requested_slot") not in (None, "product") \
                or entity_values(tracker, "product"):
            return {}
        message = latest_text(tracker)
        choice = cues.choice_among(message)
        try:
            hinted = products_hinted(message, limit=50)
        except CRMError:
            return {}
        if len(hinted) == 1 and (tracker.active_loop or {}).get("name") != "review_form":
            return {"product": hinted[0].sku}   # "how much is the kettle?": the shop has one
        if choice not in ("cheapest", "priciest"):
            return {}
        kind = [p for p in hinted if p.in_stock]
        if len(kind) < 2:
            return {}
        pick = min if choice == "cheapest" else max
        return {"product": pick(kind, key=lambda p: p.price).sku}

    @given
    def validate_product(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: Dict[Text, Any]) -> Dict[str, Any]:
        language = reply_language(tracker)
        in_order = self._products_of_an_order_named(str(value or ""), tracker)
        if in_order:   # «۱۰۰۱۵۳» asked which product to review: that order's product, or which of them
            if len(in_order) == 1:
                return {"product": in_order[0].sku}
            say(dispatcher, "product_choose", language, buttons=product_buttons(in_order, language))
            return {"product": None, "shown_products": [p.sku for p in in_order]}
        try:
            # "the a55 one, how much?" right after the A55's case: the case (the NLU read the phone)
            meant = accessory_meant(latest_text(tracker), entity_values(tracker, "product"),
                                    [previous_slot_value(tracker, "product"), *(tracker.get_slot("shown_products") or [])])
            picked = meant or chosen_product(str(value), tracker.get_slot("shown_products") or [])
            found = find_products(picked or str(value or ""))
        except CRMUnavailable:
            return {"product": None, **self._abort(dispatcher, language)}
        if len(found) == 1:
            return {"product": found[0].sku}
        if found:
            say(dispatcher, "product_choose", language, buttons=product_buttons(found, language))
            return {"product": None, "shown_products": [p.sku for p in found]}
        say(dispatcher, "product_not_found", language, product=str(value))
        return {"product": None}

    @staticmethod
    def _products_of_an_order_named(value: str, tracker: Tracker) -> List[Any]:
        """The products of the verified customer's order, when the answer to "which product?" is
        that order's number (a review of "the phone I bought" answered with the order)."""
        order_id, customer_id = normalise_order_id(value), tracker.get_slot("customer_id")
        if not order_id or not customer_id:
            return []
        try:
            order = get_verifier().order_for_customer(order_id, str(customer_id))
            return [p for item in (order.items if order else []) if (p := get_crm().get_product(item.sku))]
        except CRMError:
            return []

    @given
    async def extract_products(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: Dict[Text, Any]) -> Dict[str, Any]:
        """"Which one has the better camera?" naming no product, right after two products were
        discussed: compare those two, as a shop assistant would, instead of asking again.
        Only when the form starts (an answer to its question is the customer's to give)."""
        if tracker.get_slot("products") or tracker.get_slot("requested_slot") == "products" \
                or entity_values(tracker, "product"):
            return {}
        recent = recent_slot_values(tracker, "product", limit=2)
        return {"products": recent} if len(recent) == 2 else {}

    def validate_products(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: Dict[Text, Any]) -> Dict[str, Any]:
        language = reply_language(tracker)
        values = list(value) if isinstance(value, list) else [value] if value else []
        earlier = previous_slot_value(tracker, "product")   # the first product, kept by the last turn
        if len(values) < 2 and earlier and earlier not in values:
            values.insert(0, earlier)
        skus: List[str] = []
        try:
            for item in values:
                found = find_products(str(item), limit=1)
                if found and found[0].sku not in skus:
                    skus.append(found[0].sku)
        except CRMUnavailable:
            return {"products": None, **self._abort(dispatcher, language)}
        corrected = self._corrected_comparison(skus, tracker)
        if corrected:
            return {"products": corrected}
        if len(skus) == 1:
            # "the xiaomi robot vacuum or the bosch one?": the other named by brand or words, of the same kind
            first = find_products(skus[0], limit=1)
            others = [p for p in products_hinted(latest_text(tracker))
                      if p.sku != skus[0] and first and p.category == first[0].category]
            if len(others) == 1:
                skus.append(others[0].sku)
        if len(skus) >= 2:
            return {"products": skus[:3]}
        return {"products": None, "product": skus[0] if skus else earlier}

    @staticmethod
    def _corrected_comparison(skus: List[str], tracker: Tracker) -> Optional[List[str]]:
        """"sorry, I meant the Poco X6, not the Redmi" right after a comparison: the products just
        compared with the one it names replaced (the one it says "not", else the last one)."""
        shown = [str(sku) for sku in tracker.get_slot("shown_products") or []]
        if len(shown) < 2 or not cues.is_correction(latest_text(tracker)):
            return None
        new = [sku for sku in skus if sku not in shown]
        if len(new) != 1:
            return None
        replaced = next((sku for sku in skus if sku in shown), shown[-1])
        return [new[0] if sku == replaced else sku for sku in shown][:3]

    # ---------------------------------------------------------------- other slots
    @given
    def validate_discount_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: Dict[Text, Any]) -> Dict[str, Any]:
        code = re.sub(r"[^A-Za-z0-9_-]", "", to_ascii_digits(str(value or ""))).upper()
        if not 3 <= len(code) <= 32:
            say(dispatcher, "discount_code_invalid", reply_language(tracker))
            return {"discount_code": None}
        return {"discount_code": code}

    @given
    def validate_rating(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: Dict[Text, Any]) -> Dict[str, Any]:
        language = reply_language(tracker)
        score = parse_score(value)
        high = 5 if self.name() == "validate_review_form" else 10
        low = 1 if high == 5 else 0
        if score is None or not low <= score <= high:
            # the scale the question showed: 1–5, or 0–10 when a journey's NPS survey asked
            # (a feedback form still takes an 8 meant out of 10)
            nps = tracker.get_slot("feedback_kind") == "nps"
            say(dispatcher, "rating_invalid", language, low=digits(0 if nps else 1, language),
                high=digits(10 if nps else 5, language))
            return {"rating": None}
        return {"rating": str(score)}

    def _confirmation(self, slot: str, value: Any, dispatcher: CollectingDispatcher,
                      tracker: Tracker) -> Dict[str, Any]:
        """Yes or no to an irreversible action; anything else is asked again."""
        answer = value if isinstance(value, bool) else cues.yes_or_no(str(value))
        order_id = tracker.get_slot("order_id")
        if answer is None and order_id and normalise_order_id(str(value or "")) == str(order_id):
            # "cancel order 100153?" answered with «۱۰۰۱۵۳»: that order is the one — asked again, plainly
            # (an irreversible step is never taken on a number)
            return {slot: None}
        if answer is None:
            say(dispatcher, "yes_or_no", reply_language(tracker))
            return {slot: None}
        return {slot: answer}

    @given
    def validate_confirm_cancel(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: Dict[Text, Any]) -> Dict[str, Any]:
        return self._confirmation("confirm_cancel", value, dispatcher, tracker)

    @given
    def validate_confirm_order(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: Dict[Text, Any]) -> Dict[str, Any]:
        return self._confirmation("confirm_order", value, dispatcher, tracker)

    @given
    def validate_confirm_change(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: Dict[Text, Any]) -> Dict[str, Any]:
        return self._confirmation("confirm_change", value, dispatcher, tracker)

    def _free_text(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                   minimum_words: int = 1) -> Dict[str, Any]:
        words = str(value or "").split()
        if len(words) < minimum_words:
            return {slot: None}
        return {slot: str(value).strip()[:2000]}

    @given
    def validate_change_request(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: Dict[Text, Any]) -> Dict[str, Any]:
        return self._free_text("change_request", value, dispatcher, tracker, 2)

    @given
    def validate_return_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: Dict[Text, Any]) -> Dict[str, Any]:
        return self._free_text("return_reason", value, dispatcher, tracker)

    @given
    def validate_problem_description(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: Dict[Text, Any]) -> Dict[str, Any]:
        # "I have a problem with my order", "my phone broke" opening the goal: ask what happened;
        # the answer to that question is taken as soon as it says anything
        answering = tracker.get_slot("requested_slot") == "problem_description"
        if not cues.describes_something(str(value), minimum=1 if answering else 2):
            return {"problem_description": None}
        return self._free_text("problem_description", value, dispatcher, tracker)

    @given
    def validate_review_text(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: Dict[Text, Any]) -> Dict[str, Any]:
        return self._free_text("review_text", value, dispatcher, tracker)


FORMS = ("payment_problem_form", "referral_form", "loyalty_form", "product_details_form", "product_price_form", "compare_form", "place_order_form",
         "discount_form", "track_order_form", "change_order_form", "cancel_order_form", "return_form",
         "problem_form", "feedback_form", "review_form")

for _form in FORMS:
    _cls_name = "Validate" + "".join(part.title() for part in _form.split("_"))
    globals()[_cls_name] = type(_cls_name, (HamsafarFormValidation,),
                                {"name": (lambda self, _n=f"validate_{_form}": _n), "__module__": __name__})


# --------------------------------------------------------------------------- questions


class AskAction(Action, abc.ABC):
    """`action_ask_<slot>`: the question in the customer's language (+ buttons)."""

    key: str = ""

    @abc.abstractmethod
    def name(self) -> Text: ...

    def buttons(self, tracker: Tracker, language: str) -> List[Dict[str, str]]:
        return []

    def values(self, tracker: Tracker, language: str) -> Dict[str, Any]:
        return {}

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        try:
            buttons = self.buttons(tracker, language)
        except CRMError:
            buttons = []
        say(dispatcher, self.key, language, buttons=buttons or None, **self.values(tracker, language))
        return []


class AskPhoneNumber(AskAction):
    """Asks for the mobile number; for an order, says which product it is for."""

    key = "ask_phone_number"

    def name(self) -> Text:
        return "action_ask_phone_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        product = self._ordered_product(tracker, language)
        programme = self._programme(tracker, language)
        if programme:   # «اگه معرفی کنم چی گیرم میاد؟», "what are the club levels?": told before any number
            dispatcher.utter_message(text=programme)
        say(dispatcher, "ask_phone_number_order" if product else self.key, language, product=product)
        return []

    @staticmethod
    def _programme(tracker: Tracker, language: str) -> str:
        """How the referral programme or the club works, from shop_policy.yml, the first time a
        referral code or club points are asked for: what it gives is no secret of the account."""
        form = (tracker.active_loop or {}).get("name")
        if form not in ("referral_form", "loyalty_form") or tracker.get_slot("phone_number"):
            return ""
        for event in reversed(tracker.events):   # asked once already in this form: not told again
            if event.get("event") == "active_loop" and event.get("name") == form:
                break
            if event.get("event") == "action" and event.get("name") == "action_ask_phone_number":
                return ""
        data = policy()
        if form == "referral_form":
            reward = policy_text((data.get("referral") or {}).get("reward"), language)
            return text("referral_programme", language, reward=reward) if reward else ""
        loyalty = data.get("loyalty") or {}
        names = format_list((f"{policy_text(level.get('title'), language) or level.get('name')} "
                             f"({number(int(level.get('min_points') or 0), language)})"
                             for level in loyalty.get("levels") or []), language)
        about = policy_text(loyalty.get("text"), language)
        return text("club_programme", language, about=about, levels=names) if about else ""

    @staticmethod
    def _ordered_product(tracker: Tracker, language: str) -> str:
        if (tracker.active_loop or {}).get("name") != "place_order_form" or not tracker.get_slot("product"):
            return ""
        try:
            product = get_crm().get_product(str(tracker.get_slot("product")))
        except CRMError:
            return ""
        return product_name(product, language) if product else ""


class AskOtpCode(AskAction):
    """Asks for the one-time code that was just sent to the customer's phone."""

    key = "ask_otp_code"

    def name(self) -> Text:
        return "action_ask_otp_code"


class AskOrderId(AskAction):
    """Asks for the order number; a verified customer picks from their recent orders."""

    key = "ask_order_id"

    def name(self) -> Text:
        return "action_ask_order_id"

    def buttons(self, tracker: Tracker, language: str) -> List[Dict[str, str]]:
        customer_id = tracker.get_slot("customer_id")
        if not customer_id:
            return []
        from bot.text.formatting import order_status_label

        orders = get_crm().list_orders(customer_id, limit=5)
        return [button(f"{digits(o.order_id, language)} — {order_status_label(o.status, language)}", "inform",
                       {"order_id": o.order_id}) for o in orders]


class AskProduct(AskAction):
    """Asks which product, with buttons: for a review, what the customer received; otherwise the
    products the question hinted at ("the samsung", «لپ تاپ»), which "the cheaper one" then picks from."""

    key = "ask_product"

    def name(self) -> Text:
        return "action_ask_product"

    def offered(self, tracker: Tracker) -> List[Product]:
        crm = get_crm()
        customer_id = tracker.get_slot("customer_id")
        if (tracker.active_loop or {}).get("name") == "review_form":
            if not customer_id:
                return []
            skus: List[str] = []
            for order in crm.list_orders(customer_id, status="delivered", limit=10):
                skus += [item.sku for item in order.items if item.sku not in skus]
            return crm.get_products(skus[:5])
        hinted = products_hinted(latest_text(tracker))
        shown = [str(sku) for sku in tracker.get_slot("shown_products") or []]
        among_shown = [p for p in hinted if p.sku in shown]
        return among_shown if len(among_shown) > 1 else hinted   # "the samsung one": the two just listed

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        try:
            products = self.offered(tracker)
        except CRMError:
            products = []
        say(dispatcher, self.key, language, buttons=product_buttons(products, language) or None)
        return [SlotSet("shown_products", [p.sku for p in products])] if len(products) > 1 else []


class AskProducts(AskAction):
    """Asks which products to compare, naming the one already given."""

    key = "ask_products"

    def name(self) -> Text:
        return "action_ask_products"

    def values(self, tracker: Tracker, language: str) -> Dict[str, Any]:
        first = tracker.get_slot("product")
        name = ""
        if first:
            try:
                found = find_products(first, limit=1)
                name = product_name(found[0], language) if found else str(first)
            except CRMError:
                name = str(first)
        return {"first": name}

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        first = self.values(tracker, language)["first"]
        say(dispatcher, "ask_second_product" if first else "ask_products", language, first=first)
        return []


class AskDiscountCode(AskAction):
    """Asks for the discount code the customer wants checked."""

    key = "ask_discount_code"

    def name(self) -> Text:
        return "action_ask_discount_code"


class AskRating(AskAction):
    """Feedback: CSAT 1–5 as buttons (an NPS answer 0–10 is accepted too)."""

    key = "ask_rating"

    def name(self) -> Text:
        return "action_ask_rating"

    def buttons(self, tracker: Tracker, language: str) -> List[Dict[str, str]]:
        return [button(digits(i, language) + " ⭐", "inform", {"rating": str(i)}) for i in range(5, 0, -1)]


class AskReviewRating(AskRating):
    """Asks for the star rating of a review (the rating question of the review form)."""

    key = "ask_review_rating"

    def name(self) -> Text:
        return "action_ask_review_form_rating"


class AskChangeRequest(AskAction):
    """Asks what the customer wants changed in their order."""

    key = "ask_change_request"

    def name(self) -> Text:
        return "action_ask_change_request"


class AskConfirmCancel(AskAction):
    """Asks the customer to confirm cancelling the named order (yes/no buttons), since a cancel cannot be
    undone."""

    key = "ask_confirm_cancel"

    def name(self) -> Text:
        return "action_ask_confirm_cancel"

    def values(self, tracker: Tracker, language: str) -> Dict[str, Any]:
        return {"order_id": digits(tracker.get_slot("order_id"), language)}

    def buttons(self, tracker: Tracker, language: str) -> List[Dict[str, str]]:
        return [button(text("yes_cancel", language), "affirm"), button(text("no_keep", language), "deny")]


class AskConfirmOrder(AskAction):
    """What exactly will be ordered, before anything is placed."""

    key = "ask_confirm_order"

    def name(self) -> Text:
        return "action_ask_confirm_order"

    def values(self, tracker: Tracker, language: str) -> Dict[str, Any]:
        from actions.orders import order_quantity, total_with_code

        product = get_crm().get_product(str(tracker.get_slot("product") or ""))
        quantity = order_quantity(tracker.get_slot("quantity"))
        name = product_name(product, language) if product else str(tracker.get_slot("product") or "")
        total = total_with_code(tracker, product.price * quantity, language) if product else ""
        return {"product": name, "quantity": digits(quantity, language), "total": total}

    def buttons(self, tracker: Tracker, language: str) -> List[Dict[str, str]]:
        return [button(text("yes_order", language), "affirm"), button(text("no_order", language), "deny")]


class AskConfirmChange(AskAction):
    """Asks the customer to confirm the change to their order before it is sent to the CRM."""

    key = "ask_confirm_change"

    def name(self) -> Text:
        return "action_ask_confirm_change"

    def values(self, tracker: Tracker, language: str) -> Dict[str, Any]:
        return {"order_id": digits(tracker.get_slot("order_id"), language),
                "value": digits(tracker.get_slot("change_request") or "", language)}

    def buttons(self, tracker: Tracker, language: str) -> List[Dict[str, str]]:
        return [button(text("yes_change", language), "affirm"), button(text("no_change", language), "deny")]


class AskReturnReason(AskAction):
    """Asks why the customer returns the order (the return request needs a reason)."""

    key = "ask_return_reason"

    def name(self) -> Text:
        return "action_ask_return_reason"


class AskProblemDescription(AskAction):
    """Asks the customer to describe their problem, which becomes the ticket's description."""

    key = "ask_problem_description"

    def name(self) -> Text:
        return "action_ask_problem_description"


class AskReviewText(AskAction):
    """Asks for the text of a product review."""

    key = "ask_review_text"

    def name(self) -> Text:
        return "action_ask_review_text"
