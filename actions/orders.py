"""Decision and retention goals: orders, payment, discounts, returns, tickets.

Order details are shown only to the verified owner: every order is fetched with
`bot.identity.verification.order_for_customer`, which answers None both for an
unknown order and for someone else's — and both get the same reply.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.crm.base import PAID, PENDING_PAYMENT, ActionNotAllowed, CartItem, Order, Reason, check_change
from bot.channels.addresses import channel_of
from bot.channels.botapi.payments import invoice_json
from bot.text.formatting import order_status_label

from actions.common import (
    ABANDONED, Outcome, date, digits, entity_values, get_crm, get_verifier, goal_message, goal_status, guarded,
    known_customer,
    latest_text, policy, policy_text, product_name, reply_language, say, text, toman, without_note,
)
from actions.shop import website


def payment_link(order: Order) -> str:
    """The payment link of an order, from shop_policy.yml `payment.link_template`
    (placeholders {website}, {order_id}, {total}); default `{website}/pay/{order_id}`."""
    template = str((policy().get("payment") or {}).get("link_template") or "{website}/pay/{order_id}")
    return template.format(website=website(), order_id=order.order_id, total=order.total)


def customer_or_refuse(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> Optional[str]:
    """The verified customer, or None after telling the customer verification did not succeed."""
    customer_id = known_customer(tracker)
    if not customer_id:
        if tracker.get_slot("verification_status") != "aborted":   # already apologised for an outage
            say(dispatcher, "not_verified", language)
    return customer_id


def verified_order(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> Optional[Order]:
    """The `order_id` order of the verified customer, or None after saying why not
    (not verified; or not found — the same words for someone else's order)."""
    customer_id = customer_or_refuse(dispatcher, tracker, language)
    if not customer_id:
        return None
    order_id = tracker.get_slot("order_id")
    order = get_verifier().order_for_customer(str(order_id or ""), customer_id)
    if order is None:
        say(dispatcher, "order_not_found", language, order_id=digits(order_id or "", language))
    return order


def carrier_name(carrier: Optional[str], language: str) -> str:
    """The carrier as the shop names it in `language` (shop_policy.yml shipping methods
    map the CRM's carrier, e.g. «چاپار», to {fa, en} names); otherwise as stored."""
    for method in (policy().get("shipping") or {}).get("methods") or []:
        if carrier and str(method.get("carrier") or "") == carrier:
            name = policy_text(method.get("name"), language)
            return without_note(name) or carrier   # without "(Tehran only)"
    return carrier or ""


def explain_not_allowed(dispatcher: CollectingDispatcher, error: ActionNotAllowed, language: str,
                        action_key: str) -> None:
    """A customer-facing reason for a business rule (status, window, stock, code…)."""
    detail = error.detail or {}
    if error.reason == Reason.STATUS:
        say(dispatcher, f"status_{action_key}", language, status=order_status_label(error.status or "", language))
    elif error.reason == Reason.RETURN_WINDOW_EXPIRED:
        say(dispatcher, "return_window_expired", language, deadline=date(detail.get("deadline"), language))
    elif error.reason == Reason.NOT_RETURNABLE:
        say(dispatcher, "not_returnable", language)
    elif error.reason == Reason.OUT_OF_STOCK:
        say(dispatcher, "out_of_stock_order", language)
    elif error.reason in DISCOUNT_REASONS:
        say(dispatcher, f"discount_{error.reason}", language,
            min_total=toman(int(detail.get("min_total") or 0), language))
    else:
        say(dispatcher, "not_allowed", language)


DISCOUNT_REASONS = (Reason.UNKNOWN_CODE, Reason.EXPIRED, Reason.NOT_STARTED, Reason.USAGE_LIMIT, Reason.MIN_TOTAL,
                    Reason.INACTIVE)


def _channel(tracker: Tracker) -> Optional[str]:
    return tracker.get_latest_input_channel() or None


# --------------------------------------------------------------------------- decision


class ActionPlaceOrder(Action):
    """A `pending_payment` order for the chosen product, answered with its payment link."""

    def name(self) -> Text:
        return "action_place_order"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        wanted = get_crm().get_product(str(tracker.get_slot("product") or ""))
        if wanted is not None and not wanted.in_stock:   # "so can I buy it or not?": not now
            say(dispatcher, "out_of_stock_cannot_order", language, product=product_name(wanted, language))
            return Outcome.failed()
        customer_id = customer_or_refuse(dispatcher, tracker, language)
        if not customer_id:
            return Outcome.failed()
        if tracker.get_slot("confirm_order") is False:
            say(dispatcher, "order_not_placed", language)
            return [SlotSet("order_discount_code", None), *goal_status(ABANDONED)]
        crm = get_crm()
        product = crm.get_product(str(tracker.get_slot("product") or ""))
        if product is None:
            say(dispatcher, "product_not_found", language, product=tracker.get_slot("product") or "")
            return Outcome.failed()
        quantity = order_quantity(tracker.get_slot("quantity"))
        code = str(tracker.get_slot("order_discount_code") or "") or None
        try:
            try:
                order = crm.create_order(customer_id, [CartItem(product.sku, quantity)], discount_code=code)
            except ActionNotAllowed as error:
                if not code or error.reason not in DISCOUNT_REASONS:
                    raise
                # the code no longer holds (used up meanwhile): the order still goes in, and we say why
                order = crm.create_order(customer_id, [CartItem(product.sku, quantity)])
                say(dispatcher, "order_placed_without_code", language, code=code)
        except ActionNotAllowed as error:
            explain_not_allowed(dispatcher, error, language, "order")
            return Outcome.failed(SlotSet("order_discount_code", None))
        say(dispatcher, "order_placed", language, order_id=digits(order.order_id, language),
            product=product_name(product, language), quantity=digits(quantity, language), total=toman(order.total, language),
            link=payment_link(order))
        if channel_of(tracker.sender_id) == "bale":   # Bale can also take a wallet invoice
            dispatcher.utter_message(json_message=invoice_json(order.order_id, order.total,
                                                               product_name(product, language), language))
        return Outcome.completed(SlotSet("last_order_id", order.order_id), SlotSet("order_discount_code", None))


def order_quantity(value: Any) -> int:
    """The quantity the customer asked for (1 to 20; 1 when unclear)."""
    match = re.search(r"\d+", str(value or ""))
    quantity = int(match.group(0)) if match else 1
    return quantity if 1 <= quantity <= 20 else 1


class ActionApplyDiscount(Action):
    """Applies the code to the customer's order awaiting payment; otherwise checks the code."""

    def name(self) -> Text:
        return "action_apply_discount"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        if (tracker.active_loop or {}).get("name") == ORDER_FORM:   # "can I use SPRING15 on this?"
            return _code_for_the_order_being_placed(dispatcher, tracker, language)
        code = str(tracker.get_slot("discount_code") or "").upper()
        crm = get_crm()
        customer_id = known_customer(tracker)
        order = None
        if customer_id:
            wanted = tracker.get_slot("last_order_id")
            if wanted:
                order = get_verifier().order_for_customer(wanted, customer_id)
            if order is None or order.status != PENDING_PAYMENT:
                pending = crm.list_orders(customer_id, status=PENDING_PAYMENT, limit=1)
                order = pending[0] if pending else None
        if order is not None:
            try:
                updated = crm.apply_discount_code(order.order_id, code)
            except ActionNotAllowed as error:
                explain_not_allowed(dispatcher, error, language, "discount")
                return Outcome.failed()
            say(dispatcher, "discount_applied", language, code=code, order_id=digits(order.order_id, language),
                amount=toman(updated.discount_amount, language), total=toman(updated.total, language),
                link=payment_link(updated))
            return Outcome.completed()
        check = crm.validate_discount_code(code, 10 ** 12)   # any order size: tell the code's own conditions
        if not check.valid:
            say(dispatcher, f"discount_{check.reason}", language,
                min_total=toman(int(check.min_total or 0), language))
            return Outcome.failed()
        extra = text("discount_valid_min_total", language, min_total=toman(check.min_total, language)) \
            if check.min_total else ""
        say(dispatcher, "discount_valid", language, code=code, extra=extra)
        return Outcome.completed()


ORDER_FORM = "place_order_form"


def _code_for_the_order_being_placed(dispatcher: CollectingDispatcher, tracker: Tracker,
                                     language: str) -> List[EventType]:
    """A discount code given while an order is being placed is for that order: checked against
    its total now and used when it is placed (not applied to an older unpaid order)."""
    code = next((str(v).upper() for v in entity_values(tracker, "discount_code")), "")
    if not code:
        say(dispatcher, "discount_code_for_this_order", language)
        return []
    product = get_crm().get_product(str(tracker.get_slot("product") or ""))
    if product is None:   # asked before the product: kept, and checked when the order is placed
        return [SlotSet("order_discount_code", code)]
    subtotal = product.price * order_quantity(tracker.get_slot("quantity"))
    check = get_crm().validate_discount_code(code, subtotal)
    if not check.valid:
        say(dispatcher, f"discount_{check.reason}", language, min_total=toman(int(check.min_total or 0), language))
        return [SlotSet("order_discount_code", None)]
    say(dispatcher, "discount_for_this_order", language, code=code, amount=toman(check.discount_amount, language),
        total=toman(subtotal - check.discount_amount, language))
    return [SlotSet("order_discount_code", code)]


def total_with_code(tracker: Tracker, subtotal: int, language: str) -> str:
    """An order's total for its confirmation: less the code given for it, when the code holds."""
    code = str(tracker.get_slot("order_discount_code") or "")
    check = get_crm().validate_discount_code(code, subtotal) if code else None
    if check is None or not check.valid:
        return toman(subtotal, language)
    return text("total_with_code", language, total=toman(subtotal - check.discount_amount, language), code=code)


class ActionPaymentProblem(Action):
    """Tells the customer the payment state of the order in question (the number they gave,
    else their newest order awaiting or just past payment) and opens a payment ticket."""

    def name(self) -> Text:
        return "action_payment_problem"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        customer_id = customer_or_refuse(dispatcher, tracker, language)
        if not customer_id:
            return Outcome.failed()
        order = payment_order(tracker, customer_id)
        if order is not None and order.status == PENDING_PAYMENT:
            say(dispatcher, "payment_not_received", language, order_id=digits(order.order_id, language),
                total=toman(order.total, language), link=payment_link(order))
        elif order is not None and order.paid_at:
            say(dispatcher, "payment_received", language, order_id=digits(order.order_id, language),
                total=toman(order.total, language), date=date(order.paid_at, language),
                status=order_status_label(order.status, language))
        description = tracker.get_slot("problem_description") or latest_text(tracker)
        ticket = get_crm().open_ticket(customer_id, "Payment problem", description=description, category="payment",
                                       order_id=order.order_id if order else None, channel=_channel(tracker))
        say(dispatcher, "payment_problem_ticket", language, reference=ticket.reference)
        return Outcome.completed()


def payment_order(tracker: Tracker, customer_id: str) -> Optional[Order]:
    """The order a payment problem is about: the number given with the complaint (if it is
    the customer's), else the newest order awaiting payment or paid."""
    message = goal_message(tracker, ("payment_problem",))
    for entity in message.get("entities") or []:
        if entity.get("entity") == "order_id":
            return get_verifier().order_for_customer(str(entity.get("value") or ""), customer_id)
    recent = get_crm().list_orders(customer_id, limit=5)
    return next((o for o in recent if o.status in (PENDING_PAYMENT, PAID)), None)


# --------------------------------------------------------------------------- retention


class ActionTrackOrder(Action):
    """Tells a verified customer where their order is (status, carrier, tracking code)."""

    def name(self) -> Text:
        return "action_track_order"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        order = verified_order(dispatcher, tracker, language)
        if order is None:
            return Outcome.failed()
        lines = [text("track_status", language, order_id=digits(order.order_id, language),
                      status=order_status_label(order.status, language), created=date(order.created_at, language),
                      total=toman(order.total, language))]
        if order.shipped_at:
            lines.append(text("order_shipped_on", language, date=date(order.shipped_at, language)))
        if order.tracking_code:
            lines.append(text("order_tracking", language, carrier=carrier_name(order.carrier, language),
                              code=order.tracking_code))
        if order.delivered_at:
            lines.append(text("order_delivered_on", language, date=date(order.delivered_at, language)))
        if order.status == PENDING_PAYMENT:
            lines.append(text("order_pay_link", language, link=payment_link(order)))
        dispatcher.utter_message(text="\n".join(lines))
        return Outcome.completed()


_TIME_WORDS = re.compile(r"ساعت|صبح|ظهر|عصر|شب|فردا|پس ?فردا|شنبه|یکشنبه|دوشنبه|سه ?شنبه|چهارشنبه|پنجشنبه|جمعه|"
                         r"زمان|وقت|تاریخ|time|morning|afternoon|evening|tomorrow|monday|tuesday|wednesday|thursday|"
                         r"friday|saturday|sunday|date|deliver (?:it )?on|o'?clock|\d{1,2}(?::\d\d)?\s*(?:am|pm)|"
                         r"\b(?:saat|sobh|zohr|asr|shab|farda|pas ?farda|(?:yek|do|se|chahar|panj) ?shanbe|shanbe|"
                         r"jome|zaman|vaght|tarikh)\b",   # Finglish: «panjshanbe asr lotfan»
                         re.IGNORECASE)
_ADDRESS_WORDS = re.compile(r"آدرس|نشانی|خیابان|کوچه|پلاک|واحد|بلوار|میدان|address|street|st\.|avenue|ave|"
                            r"no\.|unit|apt|road|square|\b(?:adres|khiaban|kh\.|koocheh?|kuche|pelak|vahed|meydan)\b",
                            re.IGNORECASE)


def classify_change(request: str) -> str:
    """address or time: what a free-text change request is about."""
    if _ADDRESS_WORDS.search(request):
        return "address"
    if _TIME_WORDS.search(request):
        return "time"
    return "address"


class ActionChangeOrder(Action):
    """Sends a verified customer's confirmed change of an order to the CRM, where its status still allows
    one."""

    def name(self) -> Text:
        return "action_change_order"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        order = verified_order(dispatcher, tracker, language)
        if order is None:
            return Outcome.failed()
        request = str(tracker.get_slot("change_request") or "").strip()
        if tracker.get_slot("confirm_change") is False:
            say(dispatcher, "order_not_changed", language, order_id=digits(order.order_id, language))
            return goal_status(ABANDONED)
        kind = classify_change(request)
        try:
            check_change(order, address_or_time=True, items=False)   # a shipped order: say why first
            if kind == "time":
                get_crm().change_order(order.order_id, delivery_time=request)
            else:
                get_crm().change_order(order.order_id, shipping_address=request)
        except ActionNotAllowed as error:
            explain_not_allowed(dispatcher, error, language, "change")
            return Outcome.failed()
        say(dispatcher, f"order_changed_{kind}", language, order_id=digits(order.order_id, language),
            value=request)
        return Outcome.completed()


class ActionCancelOrder(Action):
    """Cancels a verified customer's order after confirmation, where its status still allows it."""

    def name(self) -> Text:
        return "action_cancel_order"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        order = verified_order(dispatcher, tracker, language)
        if order is None:
            return Outcome.failed()
        if tracker.get_slot("confirm_cancel") is False:
            say(dispatcher, "order_kept", language, order_id=digits(order.order_id, language))
            return goal_status(ABANDONED)
        try:
            get_crm().cancel_order(order.order_id, reason="customer request via chat")
        except ActionNotAllowed as error:
            explain_not_allowed(dispatcher, error, language, "cancel")
            return Outcome.failed()
        key = "order_cancelled_refund" if order.paid_at or order.status != PENDING_PAYMENT else "order_cancelled"
        say(dispatcher, key, language, order_id=digits(order.order_id, language))
        return Outcome.completed()


class ActionReturnItem(Action):
    """A return request for a delivered order inside the return window (the CRM checks the window)."""

    def name(self) -> Text:
        return "action_return_item"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        order = verified_order(dispatcher, tracker, language)
        if order is None:
            return Outcome.failed()
        try:
            request = get_crm().create_return_request(order.order_id,
                                                      reason=str(tracker.get_slot("return_reason") or ""))
        except ActionNotAllowed as error:
            explain_not_allowed(dispatcher, error, language, "return")
            return Outcome.failed()
        say(dispatcher, "return_registered", language, reference=request.reference,
            order_id=digits(order.order_id, language), returns=policy_text((policy().get("returns") or {})
                                                                            .get("text"), language))
        return Outcome.completed()


class ActionReportProblem(Action):
    """A ticket with the customer's own words; verified customers' tickets carry their id."""

    def name(self) -> Text:
        return "action_report_problem"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        customer_id = known_customer(tracker)
        order_id = tracker.get_slot("order_id")
        if order_id and customer_id:
            order = get_verifier().order_for_customer(order_id, customer_id)
            order_id = order.order_id if order else None
        else:
            order_id = None
        description = str(tracker.get_slot("problem_description") or latest_text(tracker))
        ticket = get_crm().open_ticket(customer_id, "Product problem", description=description, category="problem",
                                       order_id=order_id, channel=_channel(tracker))
        if customer_id:
            say(dispatcher, "problem_ticket", language, reference=ticket.reference)
        else:   # nobody to call back: how to follow it up
            phone = (policy().get("contact") or {}).get("phone", "")
            say(dispatcher, "problem_ticket_no_contact", language, reference=ticket.reference,
                phone=digits(str(phone), language))
        return Outcome.completed()
