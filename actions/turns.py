"""What a customer's message does, and the slot values it gives (the action server's side of bot.dialogue).

Called by `action_validate_slot_mappings` after every customer message:

* the dialogue move (`bot.dialogue.moves.decide`) goes into `dialogue_move`,
  where `bot.dialogue.policy.DialogueRepairPolicy` reads it;
* an `answer` fills the question the form asked (`requested_slot`) with the
  entity the NLU found or, for a question any words answer, with the words —
  the form's validation then accepts or explains. A new value for something
  the form already had ("no, the A55" at the confirmation) replaces it and the
  confirmation is asked again;
* an `interrupt` leaves the form's slots as they were: a product named in a
  side question does not become the product being ordered;
* "it", «همینو», "the cheaper one" resolve against what the conversation
  talked about (`product`, `shown_products`);
* the answer to a proactive message (a journey's reminder or survey) continues
  it: actions/proactive.py.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from bot.crm.base import CRMError
from bot.dialogue import cues, mentions
from bot.dialogue.expectations import CONFIRMATION_SLOTS, VERIFICATION_SLOTS, expectation
from bot.dialogue.moves import (
    ANSWER, CLARIFY, INTERRUPT, LEAVE, NOTED_REPLY, PRODUCT_FOLLOW_UPS, REDO, START, VAGUE_INTENTS, Context, Message,
    Move, decide,
)
from bot.journey import Journey
from bot.nlu.catalogue import sku_brand_code

from actions.common import IN_PROGRESS, get_crm, previous_slot_value, recent_slot_values, shop_rules, typed_text
from actions.products import (
    accessory_meant, chosen_product, find_products, name_of, product_of_brand, products_hinted, word_in_name, words_of,
)
from actions.proactive import answer_to_journey

logger = logging.getLogger(__name__)

MOVE_SLOT, LAST_REQUEST_SLOT, SHOWN_SLOT = "dialogue_move", "last_request", "shown_products"
# Goals whose form takes a product, and intents for which "it" means the product talked about.
PRODUCT_INTENTS = ("place_order", "ask_price", "ask_product_details", "ask_warranty", "ask_usage_help",
                   "leave_review", "compare_products")
# After these, "I'll buy" / «میخوام بخرم» without a name means the product just discussed.
PRODUCT_TALK = ("ask_price", "ask_product_details", "ask_warranty", "ask_usage_help", "compare_products",
                "browse_products")


def form_slots(domain: Dict[str, Any], form: Optional[str]) -> List[str]:
    entry = ((domain or {}).get("forms") or {}).get(form or "") or {}
    return list(entry.get("required_slots") or [])


def _with_places_and_ways(message: Message) -> Message:
    """The city (from shop_policy.yml's list) and the way to pay a message names, which the
    dialogue reads ("and to Mashhad?", "what about crypto?"); the NLU has no such entities."""
    return dataclasses.replace(message, city=mentions.city_named(message.text, shop_rules().city_names()),
                               payment_way=mentions.payment_way_named(message.text))


def read_turn(tracker: Tracker, domain: Dict[str, Any], journey: Journey) -> Tuple[Move, List[EventType]]:
    """The move of the latest message and the slot events that come with it."""
    parse = tracker.latest_message or {}
    message = _with_places_and_ways(Message.from_parse(parse))
    form = (tracker.active_loop or {}).get("name")
    requested = tracker.get_slot("requested_slot") if form else None
    events: List[EventType] = []
    # «کاور گوشی ردمی نوت ۱۳ هم دارین؟»: the device an accessory is for is no product picked or talked about
    for_a_device = cues.accessory_request(message.text) is not None
    picked = None if message.entities.get("product") or (form and requested not in ("product", "products")) \
        or for_a_device else _chosen_product(tracker, message.text)
    if not picked and not message.entities.get("product") and not form and cues.means_previous(message.text):
        recent = recent_slot_values(tracker, "product", limit=2)
        picked = str(recent[0]) if len(recent) == 2 else None   # «نه همون قبلی رو میخوام»: the one before
    if picked:   # "the apple one", «ایکس باکسه» among the products just shown: as if named
        message = dataclasses.replace(message, entities={**message.entities, "product": [picked]})
        events.append(SlotSet("product", picked))
    same = None if form or picked or for_a_device or message.entities.get("product") \
        else _the_product_talked_about(tracker, message)
    if same:   # "the console" right after the PS5's price: that product, the same answer
        message = dataclasses.replace(message, entities={**message.entities, "product": [same]})
    accessory = None if form else accessory_meant(message.text, message.entities.get("product") or [],
                                                  [tracker.get_slot("product"), *(tracker.get_slot(SHOWN_SLOT) or [])])
    if accessory:   # "the a55 one, how much?" right after the Galaxy A55's case: the case, not the phone
        message = dataclasses.replace(message, entities={**message.entities, "product": [accessory]})
        events.append(SlotSet("product", accessory))
    rebranded = _product_by_brand_correction(tracker, message, form, requested, domain)
    if rebranded:   # «منظورم سونی بود» while ordering the JBL: as if the Sony had been named
        message = dataclasses.replace(message, entities={**message.entities, "product": [rebranded]})
        events.append(SlotSet("product", rebranded))
    points_at = not form and not message.entities.get("product") and cues.is_follow_up(message.text) \
        and bool(products_hinted(message.text))
    # only a vague message can be "the samsung one" (bot.dialogue.moves); no catalogue search for the others
    several = not form and not picked and not message.entities.get("product") \
        and message.intent in VAGUE_INTENTS and len(_shown_the_words_fit(tracker, message.text)) > 1
    goal = tracker.get_slot("goal") if tracker.get_slot("goal_status") in IN_PROGRESS else None
    context = Context(active_form=form, requested_slot=requested, goal=goal,
                      goal_of_intent={i: g for i in journey.intents if (g := journey.goal_of_intent(i))},
                      last_request=tracker.get_slot(LAST_REQUEST_SLOT),
                      filled=frozenset(slot for slot in form_slots(domain, form)
                                       if previous_slot_value(tracker, slot) is not None),
                      has_choices=len(tracker.get_slot(SHOWN_SLOT) or []) > 1,
                      has_product=bool(previous_slot_value(tracker, "product") or tracker.get_slot("product")),
                      options=_offered_options(tracker), points_at_products=points_at,
                      picked_from_shown=bool(picked), names_several_shown=several,
                      side_questions=max(_times_asked(tracker, form, requested) - 1, 0) if form else 0)
    journey_move, journey_events = answer_to_journey(tracker, message)   # the answer to a proactive message
    events += journey_events
    move = journey_move or decide(message, context)
    # the slot stays empty for the plain moves the rules carry out on their own: an answer to the
    # form's question, or a request for what the message itself asks
    plain = move.kind == ANSWER or (move.kind == START and move.intents == (message.intent,))
    value = None if plain else move.encode()
    if tracker.get_slot(MOVE_SLOT) != value:
        events.append(SlotSet(MOVE_SLOT, value))
    fresh = tracker.slots_to_validate()
    if move.kind == ANSWER and form and rebranded:
        # the product changes; the question asked stays open and any confirmation is asked again
        events += [SlotSet(slot, None) for slot in form_slots(domain, form) if slot in CONFIRMATION_SLOTS]
    elif move.kind == ANSWER and form and requested:
        events += _answer(tracker, message, form, requested, fresh, domain)
    elif move.kind == INTERRUPT and form:
        events += [SlotSet(slot, previous_slot_value(tracker, slot)) for slot in form_slots(domain, form)
                   if slot in fresh]
        if move.intents == (NOTED_REPLY,) and "return_reason" in form_slots(domain, form) \
                and not tracker.get_slot("return_reason"):
            events.append(SlotSet("return_reason", message.text))   # what is wrong: the reason, not asked again
    if move.kind in (START, REDO, LEAVE, INTERRUPT):
        request = next((i for i in reversed(move.intents) if i in context.goal_of_intent), None)
        if request and request != tracker.get_slot(LAST_REQUEST_SLOT):
            events.append(SlotSet(LAST_REQUEST_SLOT, request))
        if request in PRODUCT_INTENTS and not message.entities.get("product") and move.kind != INTERRUPT:
            events += _referenced_product(tracker, message, request, points_at)
        if request == "give_feedback" and move.kind in (REDO, START) and not message.entities.get("rating"):
            # "oops, I meant 5!", «نه ببخشید ۴»; "id give you guys a 2, delivery was super slow"
            score = cues.score_in(message.text) if move.kind == REDO else cues.score_given(message.text)
            if score is not None:
                events.append(SlotSet("rating", str(score)))
        if request == "compare_products" and not message.entities.get("product") and cues.means_both(message.text):
            events += _the_two_talked_about(tracker)
        elif request == "compare_products" and not message.entities.get("product") \
                and tracker.get_slot(LAST_REQUEST_SLOT) == "compare_products" \
                and 2 <= len(tracker.get_slot(SHOWN_SLOT) or []) <= 3:
            # "which is better for a 10 year old?" right after comparing the PS5 and the Xbox: those two
            events.append(SlotSet("products", list(tracker.get_slot(SHOWN_SLOT))))
        if request == "compare_products" and move.kind == REDO and message.entities.get("product"):
            events += _corrected_comparison(tracker, message) if previous_request(tracker) == "compare_products" \
                else _compared_with_the_one_talked_about(tracker, message)
    return move, events


def _corrected_comparison(tracker: Tracker, message: Message) -> List[EventType]:
    """"sorry, I meant the poco x6, not the redmi": the products compared before, the ones this
    message names taken out, the first it names put in."""
    named = message.entities.get("product") or []
    shown = tracker.get_slot(SHOWN_SLOT) or []
    dropped = re.search(r"\bnot (?:the )?([^,.!?]+)", message.text, re.IGNORECASE)
    unwanted = chosen_product(dropped.group(1), shown) if dropped else None   # "not the a55": that one goes
    before = [sku for sku in shown if sku not in named and sku != unwanted]
    products = (before[:1] + named[:1]) if before else named[:2]
    return [SlotSet("products", products)] if len(products) == 2 else []


def _compared_with_the_one_talked_about(tracker: Tracker, message: Message) -> List[EventType]:
    """"is it cheaper than the sony?" after the JBL: the JBL against the Sony."""
    named = message.entities.get("product") or []
    current = tracker.get_slot("product")
    if len(named) == 1 and current and current not in named:
        return [SlotSet("products", [str(current), named[0]])]
    return []


def _the_two_talked_about(tracker: Tracker) -> List[EventType]:
    """"compare both for me" after two prices: the last two products talked about (or shown)."""
    recent: List[str] = []
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == "product" and event.get("value") \
                and event["value"] not in recent:
            recent.append(str(event["value"]))
            if len(recent) == 2:
                return [SlotSet("products", list(reversed(recent)))]
    shown = tracker.get_slot(SHOWN_SLOT) or []
    return [SlotSet("products", list(shown))] if len(shown) == 2 else []


def _offered_options(tracker: Tracker) -> Tuple[str, ...]:
    """The requests a clarification offered in the bot's last turn ("which of these?")."""
    previous = Move.decode(tracker.get_slot(MOVE_SLOT))
    return previous.intents if previous is not None and previous.kind == CLARIFY else ()


def _answer(tracker: Tracker, message: Message, form: str, requested: str, fresh: Dict[str, Any],
            domain: Dict[str, Any]) -> List[EventType]:
    """Slot events for a message that answers the form's question."""
    # the digits of a phone number or a one-time code are not a new order number
    not_corrections = {requested} | ({"order_id"} if requested in VERIFICATION_SLOTS else set())
    quantity = cues.new_quantity(message.text) if requested == "confirm_order" else None
    if quantity:
        # "actually make it 3 cables": the quantity changes; "3 cables" read as a product name does not
        # replace the product unless it names one
        events: List[EventType] = [SlotSet("quantity", str(quantity)), SlotSet("confirm_order", None)]
        named = fresh.get("product")
        if named is not None and len(find_products(str(named), limit=2)) != 1:
            events.append(SlotSet("product", previous_slot_value(tracker, "product")))
        return events
    affirmed = _product_not_negated(tracker)
    if affirmed and "product" in form_slots(domain, form) and requested != "product":
        fresh = {**fresh, "product": affirmed}   # "no wait, the s24 not the a55": the S24
    corrected = [slot for slot in form_slots(domain, form)
                 if slot not in not_corrections and slot in fresh and fresh[slot] is not None
                 and previous_slot_value(tracker, slot) not in (None, fresh[slot])]
    if corrected:
        # "no, the A55": the new value replaces the old one and any confirmation is asked again
        return [SlotSet(slot, fresh[slot]) for slot in corrected if slot == "product" and affirmed] + \
            [SlotSet(slot, None) for slot in form_slots(domain, form) if slot in CONFIRMATION_SLOTS]
    if requested == "confirm_change":
        # "no wait, wrong number — it's 212 Valiasr St, unit 4": the new address, asked again
        new_value = cues.corrected_value(message.text) if cues.yes_or_no(message.text) is not True else None
        if new_value and message.intent not in ("affirm",):
            return [SlotSet("change_request", new_value), SlotSet("confirm_change", None)]
    if requested in CONFIRMATION_SLOTS:
        value: Any = True if message.intent == "affirm" else False if message.intent == "deny" else message.text
        return [SlotSet(requested, value)]
    expected = expectation(requested)
    if requested in fresh and fresh[requested] is not None:
        return []                                   # the NLU's entity answered it
    if requested in ("product", "products"):
        chosen = _chosen_product(tracker, message.text)
        if chosen:
            return [SlotSet(requested, [chosen] if requested == "products" else chosen)]
    if expected.entity and message.entities.get(expected.entity):
        return []
    return [SlotSet(requested, (typed_text(tracker) or message.text).strip()[:2000] or None)]


def _product_not_negated(tracker: Tracker) -> Optional[str]:
    """Of several products a message names, the one it does not negate ("the s24 not the a55",
    "not the a55, the s24"); None unless exactly one is left."""
    text = str(tracker.latest_message.get("text") or "")
    products = [e for e in tracker.latest_message.get("entities") or []
                if e.get("entity") == "product" and isinstance(e.get("start"), int) and e.get("value")]
    if len(products) < 2:
        return None
    kept = {str(e["value"]) for e in products if not cues.negates_what_follows(text[:e["start"]])}
    return kept.pop() if len(kept) == 1 and len({str(e["value"]) for e in products}) > 1 else None


def _referenced_product(tracker: Tracker, message: Message, request: str, points_at: bool) -> List[EventType]:
    """The product a request without a product name means: the one picked from those just
    shown ("the cheaper one", «دومی»), else the one talked about ("it", «همینو»); none when
    the words point at other products ("and the jbl?": the form asks which, with buttons)."""
    chosen = _chosen_product(tracker, message.text)
    if chosen:
        return [SlotSet("product", chosen)]
    if points_at:
        return [SlotSet("product", None)]
    current = tracker.get_slot("product")
    if request == "place_order" and current:
        talked_about = previous_request(tracker) in PRODUCT_TALK
        if not (cues.refers_back(message.text) or cues.wants_it(message.text) or talked_about):
            return [SlotSet("product", None)]   # an order only for a product the customer means
    return []


def _product_by_brand_correction(tracker: Tracker, message: Message, form: Optional[str],
                                 requested: Optional[str], domain: Dict[str, Any]) -> Optional[str]:
    """The product a correction naming only a brand means, inside a form that already has a
    product and asks something else ("sorry, I meant the sony ones" at the phone number), or
    right after a product's answer ("no wait, the LG one" after the Samsung TV's price; "no, I
    meant the case for it" after the A55's: the one product those words point at)."""
    if message.entities.get("product") or not cues.is_correction(message.text):
        return None
    if form:
        if requested in ("product", "products") or "product" not in form_slots(domain, form):
            return None
        current = previous_slot_value(tracker, "product")
        return product_of_brand(message.text, str(current)) if current else None
    if tracker.get_slot(LAST_REQUEST_SLOT) not in PRODUCT_FOLLOW_UPS:
        return None
    current = tracker.get_slot("product") or previous_slot_value(tracker, "product")
    if not current:
        return None
    by_brand = product_of_brand(message.text, str(current))
    if by_brand:
        return by_brand
    try:
        pointed = [p for p in products_hinted(message.text) if p.sku != current]
    except CRMError:
        return None
    if len(pointed) > 1:   # «نه هدفونش رو میگم» after the JBL speaker: the JBL's headphones
        pointed = [p for p in pointed if sku_brand_code(p.sku) == sku_brand_code(str(current))] or pointed
    return pointed[0].sku if len(pointed) == 1 else None


def _the_product_talked_about(tracker: Tracker, message: Message) -> Optional[str]:
    """A vague message after a product's answer whose words are all words of that product's name
    ("the console" after the PlayStation 5's price): it is that product."""
    current = tracker.get_slot("product")
    if not current or message.intent not in ("inform", "nlu_fallback", "affirm") \
            or tracker.get_slot(LAST_REQUEST_SLOT) not in PRODUCT_FOLLOW_UPS:
        return None
    words = [w for w in words_of(message.text) if len(w) > 2 and not w.isdigit()]
    try:
        product = get_crm().get_product(str(current))
    except CRMError:
        return None
    if product is None or not words or len(words) > 3:
        return None
    return product.sku if all(word_in_name(w, name_of(product)) for w in words) else None


def previous_request(tracker: Tracker) -> Optional[str]:
    """The request before this message (the `last_request` slot as it stood)."""
    return tracker.get_slot(LAST_REQUEST_SLOT)


def _times_asked(tracker: Tracker, form: str, slot: Optional[str]) -> int:
    """How often the form has asked its open question since it started (once, plus once after each
    side question it came back from)."""
    asked = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "active_loop" and event.get("name") == form:
            break
        if kind == "slot" and event.get("name") == slot and event.get("value") is not None:
            break
        if kind == "slot" and event.get("name") == "requested_slot" and event.get("value") == slot:
            asked += 1   # the form (re)asks by setting the slot it asks for
    return asked


def _shown_the_words_fit(tracker: Tracker, text: str) -> List[str]:
    """The products just shown that the words point at ("the samsung one": the A55 and the S24)."""
    shown = [str(sku) for sku in tracker.get_slot(SHOWN_SLOT) or []]
    if len(shown) < 2 or cues.word_count(text) > 6:
        return []
    try:
        return [p.sku for p in products_hinted(text, limit=50) if p.sku in shown]
    except CRMError:
        return []


def _chosen_product(tracker: Tracker, text: str) -> Optional[str]:
    """The SKU the words pick among the products just shown (actions.products.chosen_product)."""
    return chosen_product(text, tracker.get_slot(SHOWN_SLOT) or tracker.get_slot("products") or [],
                          tracker.get_slot("product"))
