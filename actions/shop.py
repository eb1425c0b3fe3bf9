"""Awareness and consideration answers from shop_policy.yml and the catalogue.

action_shop_info, action_show_promotions, action_shipping_info,
action_warranty_policy, action_payment_methods, action_usage_help (policy text),
action_browse_products, action_product_details, action_product_price,
action_compare_products (catalogue through bot.crm).
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import re

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.crm.base import CRMError, Product
from bot.dialogue import cues, mentions
from bot.text import formatting
from bot.text.catalogue import has
from bot.text.persian import normalise

from actions.common import (
    Outcome, button, clause_texts, digits, entity_values, get_crm, guarded, known_customer, last_goal_intent,
    latest_text, policy,
    requested_intents,
    policy_text, previous_slot_value, product_name, recent_slot_values, reply_language, say, shop_rules, text, toman,
    without_note,
)
from actions.budget import discussed_products, price_ceiling
from actions.products import (
    ANY_KIND, accessories_of_kind, chosen_product, device_of, find_products, name_of, products_hinted,
)

logger = logging.getLogger(__name__)


def product_in_question(tracker: Tracker) -> List[str]:
    """The products a policy question is about: named in the message, else the one the
    conversation is about when the message points at it ("does it have a warranty?", «گارانتیش»)."""
    named = entity_values(tracker, "product")
    if named:
        return named
    if _slot_filled_since_the_message(tracker, "product"):   # «ایرپادا چی؟» after a warranty: read by the turn
        return [str(tracker.get_slot("product"))]
    picked = chosen_product(latest_text(tracker), tracker.get_slot("shown_products") or [], tracker.get_slot("product"))
    if picked:   # "the cheaper one, does it have warranty?"
        return [picked]
    if cues.choice_among(latest_text(tracker)) == "other":
        # "the warranty on the other one" after the PS5's price and then the Xbox's: the PS5
        recent = recent_slot_values(tracker, "product", limit=2)
        if len(recent) == 2 and recent[1] == tracker.get_slot("product"):
            return [str(recent[0])]
    current = tracker.get_slot("product")
    return [str(current)] if current and cues.refers_back(latest_text(tracker)) else []


def _slot_filled_since_the_message(tracker: Tracker, slot: str) -> bool:
    """`slot` got a new value after the latest customer message (a form's validation filled it);
    a side question that only put the form's own value back (the Mi Band being ordered, while
    the customer asks the Galaxy Watch's price) does not count."""
    since: List[Any] = []
    before: Any = None
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif event.get("event") == "slot" and event.get("name") == slot:
            if seen_user:
                before = event.get("value")
                break
            since.append(event.get("value"))
    return any(value and value != before for value in since)


def ran_since_the_message(tracker: Tracker, action: str) -> bool:
    """`action` already ran for the latest customer message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == action:
            return True
    return False


def talked_about(tracker: Tracker, product: Product) -> List[EventType]:
    """The product an answer was about becomes the one the conversation talks about ("how much
    is it?" next) — unless a form holds its own product (a side question inside an order)."""
    if tracker.active_loop or tracker.get_slot("product") == product.sku:
        return []
    return [SlotSet("product", product.sku)]


def shop_name(language: str) -> str:
    return policy_text((policy().get("shop") or {}).get("name"), language) or "Hamsafar"


def website() -> str:
    return str((policy().get("shop") or {}).get("website") or "").rstrip("/")


class ActionShopInfo(Action):
    """About the shop, or its contact details (phone, address, hours) for ask_contact_info."""

    def name(self) -> Text:
        return "action_shop_info"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        data = policy()
        asked = requested_intents(tracker)
        both = {"ask_contact_info", "ask_about_company"} <= set(asked)
        if both:   # "who are you and where is your store?": runs twice, about first, then contact
            wants_contact = ran_since_the_message(tracker, self.name())
        else:
            wants_contact = "ask_contact_info" in asked if set(asked) & {"ask_contact_info", "ask_about_company"} \
                else last_goal_intent(tracker, ("ask_about_company", "ask_contact_info")) == "ask_contact_info"
        if wants_contact:
            contact = data.get("contact") or {}
            _say_hours_of_the_day_asked(dispatcher, tracker, language)
            say(dispatcher, "contact_info", language, phone=digits(contact.get("phone", ""), language),
                email=contact.get("email", ""), address=policy_text(contact.get("address"), language),
                hours=policy_text(contact.get("hours"), language), website=website())
        else:
            say(dispatcher, "about_shop", language, name=shop_name(language),
                about=policy_text(data.get("about"), language), website=website())
        return Outcome.completed()


def _say_hours_of_the_day_asked(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> None:
    """"are you open on Friday?", «امروز تا کی بازین؟»: that day's hours (or closed) before the contact card."""
    rules = shop_rules()
    asked = mentions.weekday_named(latest_text(tracker), today=dt.datetime.now(formatting.TEHRAN).date())
    if asked is None or not rules.has_opening_hours:
        return
    weekday, days_from_today = asked
    day = text(f"date.weekday.{mentions.python_weekday(weekday)}", language)
    when = text({-1: "when.every", 0: "when.today", 1: "when.tomorrow"}[days_from_today], language, day=day)
    hours = rules.opening_hours_on(weekday)
    if hours:
        say(dispatcher, "hours_on_day", language, when=when, hours=digits(hours, language))
    else:
        say(dispatcher, "closed_on_day", language, when=when)


def _product_for_a_total(tracker: Tracker) -> Optional[Product]:
    """The product talked about, when a shipping question asks what it all comes to («جمعا چقدر میشه؟»)."""
    sku = tracker.get_slot("product")
    if not sku or not cues.asks_total(latest_text(tracker)):
        return None
    found = find_products(str(sku), limit=1)
    return found[0] if found else None


def _city_asked(tracker: Tracker, intent: str) -> Optional[str]:
    """The city a shipping or payment question names (in its own clause of a longer message), or
    the one named in the customer's last few messages when this one follows them up ("and do
    you have cod there?" after shipping to Isfahan)."""
    cities = shop_rules().city_names()
    asked = " ".join(clause_texts(tracker, intent)) or latest_text(tracker)
    found = mentions.city_named(asked, cities) or mentions.city_named(latest_text(tracker), cities)
    if found or previous_slot_value(tracker, "last_request") not in ("ask_shipping", "ask_payment_methods"):
        return found
    earlier = [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"][-4:-1]
    return next((city for text_of in reversed(earlier) if (city := mentions.city_named(text_of, cities))), None)


def _city_name(city: str, language: str) -> str:
    return policy_text(((policy().get("cities") or {}).get(city) or {}), language) or city


def _city_names(cities: List[str], language: str) -> str:
    return formatting.format_list((_city_name(c, language) for c in cities), language)


class ActionShowPromotions(Action):
    """Lists the shop's current promotions from shop_policy.yml."""

    def name(self) -> Text:
        return "action_show_promotions"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        promotions = policy().get("promotions") or []
        if not promotions:
            say(dispatcher, "no_promotions", language)
            return Outcome.completed()
        lines = [f"• {policy_text(p.get('title'), language)}: {policy_text(p.get('text'), language)}" for p in promotions]
        say(dispatcher, "promotions", language, lines="\n".join(lines))
        return Outcome.completed()


class ActionShippingInfo(Action):
    """Answers shipping questions (methods, days, costs) from shop_policy.yml."""

    def name(self) -> Text:
        return "action_shipping_info"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        shipping = policy().get("shipping") or {}
        if cues.asks_abroad(latest_text(tracker)):   # «خارج از کشور چی؟ مثلا دبی»
            say(dispatcher, "shipping_abroad", language)
        city = _city_asked(tracker, "ask_shipping")
        serving = shop_rules().shipping_methods_in(city)
        product = _product_for_a_total(tracker)
        free_over = int(shipping.get("free_over") or 0)

        def line(method: Dict[str, Any]) -> str:
            cost = int(method.get("cost") or 0)
            if product is not None and free_over and product.price >= free_over:
                cost = 0
            head = f"• {policy_text(method.get('name'), language)}: {policy_text(method.get('days'), language)} — " \
                   f"{toman(cost, language)}"
            # "with shipping to Isfahan, how much altogether?" after the kettle: each carrier's total
            return head if product is None else head + text("shipping_total", language,
                                                             total=toman(product.price + cost, language))

        lines = "\n".join(line(m) for m in serving)
        if city and lines:   # "how long to Tabriz?": the carriers that go there, and which do not
            free = text("shipping_free_over", language, amount=toman(free_over, language)) if free_over else ""
            elsewhere = "".join(
                text("shipping_only_elsewhere", language, method=without_note(policy_text(m.get("name"), language)),
                     cities=_city_names(m.get("only_in") or [], language))
                for m in shop_rules().shipping_methods_in(None) if m not in serving)
            say(dispatcher, "shipping_to_city", language, city=_city_name(city, language), lines=lines, free=free,
                elsewhere=elsewhere)
        else:
            say(dispatcher, "shipping", language, text=policy_text(shipping.get("text"), language), lines=lines)
        return Outcome.completed()


class ActionWarrantyPolicy(Action):
    """Warranty and the return policy; a product's own warranty when one is named."""

    def name(self) -> Text:
        return "action_warranty_policy"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        data = policy()
        returns = policy_text((data.get("returns") or {}).get("text"), language)
        product = next((found[0] for sku in product_in_question(tracker)[:1] if (found := find_products(sku, limit=1))),
                       None)
        if product is not None:   # the product's own warranty first, then how returns work
            if cues.asks_price(latest_text(tracker)):   # «قیمت و گارانتی دل ووسترو چقدره؟»: the price too
                say(dispatcher, "product_price" if product.in_stock else "product_price_out_of_stock", language,
                    product=product_name(product, language), price=toman(product.price, language))
            say(dispatcher, "product_warranty", language, product=product_name(product, language),
                warranty=warranty_of(product, language))
            days = shop_rules().return_days_for(product.category, product.return_days)
            say(dispatcher, "product_return_days" if days else "product_not_returnable", language,
                product=product_name(product, language), days=digits(days, language))
            say(dispatcher, "returns_policy", language, returns=returns)
            return Outcome.completed(*talked_about(tracker, product))
        compared = _just_compared(tracker)
        if compared:   # "and the warranty?" after comparing two watches: each one's
            for each in compared:
                say(dispatcher, "product_warranty", language, product=product_name(each, language),
                    warranty=warranty_of(each, language))
            say(dispatcher, "returns_policy", language, returns=returns)
            return Outcome.completed()
        say(dispatcher, "warranty", language, warranty=policy_text((data.get("warranty") or {}).get("text"), language),
            returns=returns)
        text_of_message = str((tracker.latest_message or {}).get("text") or "")
        hinted = products_hinted(text_of_message) if brand_of_text(text_of_message) else []
        if 1 < len(hinted) <= 6:   # "the warranty on the xiaomi": the general rule, then which one
            from actions.forms import product_buttons

            say(dispatcher, "which_products_warranty", language, buttons=product_buttons(hinted, language))
            return Outcome.completed(SlotSet("shown_products", [p.sku for p in hinted]))
        return Outcome.completed()


def _just_compared(tracker: Tracker) -> List[Product]:
    """The products compared in the answer before, when the message names none and follows it
    up ("and the warranty?", "which one is in stock?")."""
    if previous_slot_value(tracker, "last_request") != "compare_products" or entity_values(tracker, "product"):
        return []
    message = latest_text(tracker)
    if not (cues.is_follow_up(message) or cues.means_both(message) or cues.word_count(message) <= 5):
        return []
    shown = [str(sku) for sku in tracker.get_slot("shown_products") or []]
    return [found[0] for sku in shown[:3] if (found := find_products(sku, limit=1))] if 2 <= len(shown) else []


class ActionPaymentMethods(Action):
    """Lists the payment methods the shop accepts (shop_policy.yml)."""

    def name(self) -> Text:
        return "action_payment_methods"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        _say_payment_ways(dispatcher, tracker, language)
        order = _order_awaiting_payment(tracker)
        if order is not None:   # "yes, pay now" after the payment reminder: that order's link
            from actions.orders import payment_link

            say(dispatcher, "pay_this_order", language, order_id=digits(order.order_id, language),
                total=toman(order.total, language), link=payment_link(order))
        return Outcome.completed()


def _say_payment_ways(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> None:
    """The ways to pay, led by the answer to the way or the city asked about: "can I pay with
    bitcoin?" (no, and the ways there are), «تو شیراز پرداخت در محل دارین؟» (Tehran only, and
    what Shiraz has), "installments?" (yes)."""
    rules = shop_rules()
    asked_text = " ".join(clause_texts(tracker, "ask_payment_methods")) or latest_text(tracker)
    way, city = mentions.payment_way_named(asked_text), _city_asked(tracker, "ask_payment_methods")

    def lines(methods: List[Dict[str, Any]]) -> str:
        return "\n".join(f"• {policy_text(m.get('name'), language)}" for m in methods)

    accepted = rules.payment_method(way) if way else None
    if way and accepted is None and has(f"payment_way.{way}"):
        say(dispatcher, "payment_way_not_accepted", language, way=text(f"payment_way.{way}", language),
            lines=lines(rules.payment_methods_in(city)))
    elif accepted is not None and city and accepted not in rules.payment_methods_in(city):
        say(dispatcher, "payment_way_not_in_city", language, way=without_note(policy_text(accepted.get("name"), language)),
            cities=_city_names(accepted.get("only_in") or [], language), city=_city_name(city, language),
            lines=lines(rules.payment_methods_in(city)))
    elif accepted is not None:   # "installments?": yes, and the other ways ("what are your payment methods? installments?")
        say(dispatcher, "payment_way_accepted", language, way=policy_text(accepted.get("name"), language),
            lines=lines(rules.payment_methods_in(city)))
    elif city:
        say(dispatcher, "payment_in_city", language, city=_city_name(city, language),
            lines=lines(rules.payment_methods_in(city)))
    else:
        say(dispatcher, "payment_methods", language, lines=lines(rules.payment_methods_in(None)))


def _order_awaiting_payment(tracker: Tracker) -> Optional[Any]:
    """The order the conversation is about (`last_order_id`), when it is the verified
    customer's and still awaits payment."""
    order_id, customer_id = tracker.get_slot("last_order_id"), known_customer(tracker)
    if not order_id or not customer_id:
        return None
    from actions.common import get_verifier

    order = get_verifier().order_for_customer(str(order_id), customer_id)
    return order if order is not None and order.status == "pending_payment" else None


class ActionUsageHelp(Action):
    """Answers how to use a product, or opens a usage ticket when the policy has no answer."""

    def name(self) -> Text:
        return "action_usage_help"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        product: Optional[Product] = None
        for sku in product_in_question(tracker)[:1]:
            found = find_products(sku, limit=1)
            product = found[0] if found else None
        if product is not None:
            say(dispatcher, "usage_help_product", language, product=product_name(product, language),
                link=f"{website()}/guides/{product.sku}", warranty=warranty_of(product, language))
            return Outcome.completed(*talked_about(tracker, product))
        hinted = products_hinted(latest_text(tracker))
        if len(hinted) > 1:   # "how do I connect my logitech?": which one, as buttons
            say(dispatcher, "product_choose", language,
                buttons=[button(product_name(p, language), "ask_usage_help", {"product": p.sku}) for p in hinted])
            return [SlotSet("shown_products", [p.sku for p in hinted])]
        say(dispatcher, "usage_help", language, link=f"{website()}/guides")
        return Outcome.completed()


# --------------------------------------------------------------------------- catalogue


def product_count(count: int, language: str) -> str:
    """"1 product", "3 products", «۳ کالا» for a list's title."""
    if count == 1:
        return text("product_count_one", language)
    return text("product_count", language, count=digits(count, language))


def category_of_text(message: str) -> Optional[str]:
    """The shop category whose name or keyword appears in the message (longest keyword wins)."""
    canonical = normalise(message).lower().replace("\u200c", " ")
    best, best_len = None, 0
    for category, entry in (policy().get("categories") or {}).items():
        words = [entry.get("fa", ""), entry.get("en", ""), category] + list(entry.get("keywords") or [])
        for word in words:
            key = normalise(str(word)).lower().replace("\u200c", " ")
            if key and key in canonical and len(key) > best_len:
                best, best_len = category, len(key)
    return best


_ASKED_ITEM = (
    re.compile(r"(?:^|\b(?:first|so|ok|and|then|also),?\s+)(?:what|which) (?:kinds? of |sorts? of |types? of )?(.+?)\s+"
               r"(?:do|d'?you|you guys|do u)\s+(?:you\s+)?(?:guys\s+)?(?:have|sell|carry|stock|got)\s*[?!.]*$", re.IGNORECASE),
    re.compile(r"^(?:and |ok |okay |so |hmm )?(?:what|how) about (?:a |an |the |some |any )?(.+?)\s*[?!.]*$", re.IGNORECASE),
    re.compile(r"^(?:و |خب |پس )?(.+?)\s+(?:چی|چطور)\s*[؟?!.]*$"),
    re.compile(r"(?:do|d'?you|you guys|do u)\s+(?:you\s+)?(?:guys\s+)?(?:sell|have|carry|stock)\s+(?:any\s+)?(.+?)"
               r"(?:\s+for sale|\s+in stock|\s+in your (?:shop|store))?\s*[?!.]*$", re.IGNORECASE),
    re.compile(r"^(?:ok(?:ay)?,?\s+(?:then,?\s+)?)?(?:any|got any|have you got)\s+(.+?)"
               r"(?:\s+in your (?:shop|store)|\s+for sale)?\s*[?!.]*$", re.IGNORECASE),
    re.compile(r"^(?:خب پس\s+|خب\s+|پس\s+)?(.+?)\s+(?:هم\s+)?(?:موجود\s+)?(?:دارید|دارین|میفروشید|می‌فروشید|"
               r"میفروشین|می‌فروشین)(?:\s+برای فروش)?\s*[؟?!.]*$"),
)


def names_an_unsold_kind(item: str) -> bool:
    """"gaming chairs", «صندلی گیمینگ», "samsung fridge": a kind of product the catalogue has no
    word for (the head noun: last in English, first in Persian), named with a word it has — which
    would otherwise find the gaming laptop or the Samsung phones. A typo of a known word
    ("samsung phnes") is no unknown kind."""
    words = [w for w in re.sub(r"[^\w\s]", " ", normalise(item).lower().replace("\u200c", " ")).split()
             if w not in ("a", "an", "the", "some", "any", "یه", "یک", "چند", "تا")]
    if not 2 <= len(words) <= 3 or any(w.isdigit() for w in words):
        return False
    persian = bool(re.search(r"[\u0600-\u06ff]", item))
    head, others = (words[0], words[1:]) if persian else (words[-1], words[:-1])
    vocabulary = _catalogue_words()
    if head in ANY_KIND or "".join(words) in vocabulary:
        return False   # "jbl stuff"; «جارو برقی» is the catalogue's «جاروبرقی»

    def known(word: str) -> bool:
        return word in vocabulary or (len(word) > 3 and word.rstrip("s") in vocabulary) \
            or (len(word) >= 4 and any(v.startswith(word) for v in vocabulary)) \
            or bool(difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.8))

    return len(head) >= 3 and not known(head) and all(known(w) for w in others)


def _catalogue_words() -> List[str]:
    """Every word of the shop's product names, brands and category names and keywords."""
    crm = get_crm()
    words = set()
    for product in crm.list_products(limit=10_000):
        words.update(re.split(r"[\s/(),-]+", normalise(name_of(product))))
    for category, entry in (policy().get("categories") or {}).items():
        for word in [category, entry.get("fa", ""), entry.get("en", "")] + list(entry.get("keywords") or []):
            words.update(normalise(str(word)).lower().replace("\u200c", " ").split())
    return sorted(w for w in words if len(w) > 1)


def asked_item(message: str) -> Optional[str]:
    """What a "do you sell X?" / «X دارید؟» message asks for (short phrases only), else None."""
    clean = normalise(message).strip()
    for pattern in _ASKED_ITEM:
        match = pattern.search(clean)
        item = match.group(1).strip(" ,،") if match else ""
        if item and 1 <= len(item.split()) <= 5 and item.lower() not in _NOT_AN_ITEM:
            return item
    return None


# "what do you have?" names no item.
_NOT_AN_ITEM = {"چی", "چه", "چیا", "چیزی", "چه چیزی", "چه چیزایی", "چیها", "what", "anything", "something", "stuff",
                "any", "things", "products", "کالا", "محصول", "محصولی", "کالایی", "چه کالاهایی", "چه محصولاتی"}


def brand_of_text(message: str) -> Optional[str]:
    """A brand the message names ("jbl", «سامسونگ»), as the catalogue writes it."""
    from bot.nlu.catalogue import BRANDS

    words = " " + re.sub(r"[^\w\s]", " ", normalise(message).lower().replace("\u200c", " ")) + " "
    return next((brand for brand in BRANDS if f" {brand} " in words), None)


def category_title(category: str, language: str) -> str:
    entry = (policy().get("categories") or {}).get(category) or {}
    return str(entry.get(language) or entry.get("fa") or category)


def warranty_of(product: Product, language: str, in_a_sentence: bool = True) -> str:
    """"18 months' warranty" / "no warranty" («بدون گارانتی», never «۰ ماه گارانتی»); as a field's
    value ("Warranty: 18 months" / "Warranty: none") when not `in_a_sentence`."""
    months = product.warranty_months or 0
    key = "warranty_sentence" if in_a_sentence else "warranty_period"
    if months <= 0:
        return text(f"{key}_none", language)
    return text(key, language, months=digits(months, language))


def product_line(product: Product, language: str) -> str:
    stock = text("in_stock" if product.in_stock else "out_of_stock", language)
    return f"{product_name(product, language)} — {toman(product.price, language)} ({stock})"


class ActionBrowseProducts(Action):
    """Products of a category (or matching the words) as buttons; without a hint, the categories.

    Showing the category menu leaves the goal `started`: the customer has not
    seen products yet.
    """

    def name(self) -> Text:
        return "action_browse_products"

    MAX = 6

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        crm = get_crm()
        categories = policy().get("categories") or {}
        hints = entity_values(tracker, "product")
        message = self._asked(tracker, hints)
        category = next((h for h in hints if h in categories), None)   # a category button
        ceiling = price_ceiling(message)
        shown_before = [str(sku) for sku in tracker.get_slot("shown_products") or []]
        choice = cues.choice_among(message)
        if ceiling is None and len(shown_before) >= 2 and not hints and choice in ("cheapest", "priciest") \
                and (cues.asks_which(message) or cues.means_one_of_them(message)):   # "ok the cheaper one"
            return self._pick_among_shown(dispatcher, tracker, language, shown_before, choice)
        if ceiling is not None or choice == "cheapest":
            return self._within_budget(dispatcher, tracker, language, category, hints, ceiling)
        products: List[Product] = []
        request = cues.accessory_request(message)
        item = asked_item(message)
        named = [p for h in hints if h not in categories for p in find_products(h, limit=1)] if request or item else []
        if len(named) == 1:   # «قاب گوشی A55 دارید؟», «ایرپاد دارین؟»: that one, not its whole category
            products = named
        elif category:
            products = crm.list_products(category, limit=50)
        elif hints:   # products named: their category
            for hint in hints:
                for product in find_products(hint, limit=1):
                    category = product.category
            products = crm.list_products(category, limit=50) if category else \
                [p for h in hints for p in find_products(h)]
        else:   # "jbl speakers", "what TVs do you sell?", «لپ تاپ»: what the words point at
            products = products_hinted(message, limit=50)
            kinds = {p.category for p in products}
            category = kinds.pop() if len(kinds) == 1 else None
        if products and not hints and item and names_an_unsold_kind(item):
            products = []   # "gaming chairs": none, not the gaming laptop
        if not products:
            names = crm.list_categories() or list(categories)
            buttons = [button(category_title(c, language), "browse_products", {"product": c}) for c in names]
            if request and not hints:   # "a screen protector for my iphone 15?": none fits it
                kind = accessories_of_kind(request.accessory, limit=self.MAX)
                if kind:
                    buttons = [button(product_line(p, language), "ask_product_details", {"product": p.sku})
                               for p in kind]
                say(dispatcher, "browse_no_accessory_for", language, accessory=request.accessory,
                    device=device_of(request, language), buttons=buttons)
                return Outcome.completed(*([SlotSet("shown_products", [p.sku for p in kind])] if kind else []))
            if item and not hints and not cues.asks_variant(message):
                # "do you sell air fryers?": say no before showing what we have
                say(dispatcher, "browse_not_sold", language, item=item, buttons=buttons)
                return Outcome.completed()
            say(dispatcher, "browse_categories", language, buttons=buttons)
            return []
        products.sort(key=lambda p: (not p.in_stock, p.price))
        if len(products) == 1:   # "do you sell air fryers?" — "Yes, we have the Philips air fryer: …"
            only = products[0]
            say(dispatcher, "browse_one", language, product=product_name(only, language),
                price=toman(only.price, language), stock=text("in_stock" if only.in_stock else "out_of_stock", language),
                buttons=[button(text("details_button", language), "ask_product_details", {"product": only.sku}),
                         button(text("buy_this", language), "place_order", {"product": only.sku})])
            return Outcome.completed(*talked_about(tracker, only))
        shown = products[: self.MAX]
        title = category_title(category, language) if category else text("products", language)
        say(dispatcher, "browse_products", language, category=title,
            count=product_count(len(products), language),
            buttons=[button(product_line(p, language), "ask_product_details", {"product": p.sku}) for p in shown])
        return Outcome.completed(SlotSet("shown_products", [p.sku for p in shown]))

    @staticmethod
    def _pick_among_shown(dispatcher: CollectingDispatcher, tracker: Tracker, language: str,
                          shown: List[str], choice: str) -> List[EventType]:
        """"which one is cheaper?", «کدومش گرون‌تره؟» after a list: that one of the list, by name,
        not a new search for products cheaper than one of them."""
        crm = get_crm()
        products = [p for p in (crm.get_product(sku) for sku in shown) if p is not None]
        if not products:
            return []
        pick = (min if choice == "cheapest" else max)(products, key=lambda p: p.price)
        say(dispatcher, "browse_cheapest_of_these" if choice == "cheapest" else "browse_priciest_of_these", language,
            product=product_name(pick, language), price=toman(pick.price, language),
            stock=text("in_stock" if pick.in_stock else "out_of_stock", language),
            buttons=[button(text("details_button", language), "ask_product_details", {"product": pick.sku}),
                     button(text("buy_this", language), "place_order", {"product": pick.sku})])
        return Outcome.completed(*talked_about(tracker, pick))

    @staticmethod
    def _asked(tracker: Tracker, hints: List[str]) -> str:
        """The words of the browse request: in a message that asks several things, the browse
        clause that points at products (the last such), else the whole message."""
        message = latest_text(tracker)
        if hints:
            return message
        for clause in clause_texts(tracker, "browse_products"):
            try:
                if category_of_text(clause) or price_ceiling(clause) or products_hinted(clause, limit=50):
                    return clause
            except CRMError:
                break
        return message

    def _within_budget(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str,
                       category: Optional[str], hints: List[str], ceiling: Optional[int]) -> List[EventType]:
        """"under 30 million" / "anything cheaper?": the products of the kind asked for (or last talked
        about) within the budget, cheapest first; when none is, say so and show the least expensive."""
        crm = get_crm()
        message = latest_text(tracker)
        discussed = crm.get_products(discussed_products(tracker.events))
        named = [p for h in hints if h != category for p in find_products(h, limit=1)]
        # "a TV under 25 million": the kind the words name (TVs, not every home appliance)
        kind = [] if category or named else products_hinted(message, limit=200)
        kinds = {p.category for p in kind}
        category = category or (kinds.pop() if len(kinds) == 1 else None) or category_of_text(message) \
            or next((p.category for p in named), None) or next((p.category for p in discussed), None)
        reference = None
        if ceiling is None:   # "cheaper": than the one product talked about, if there is one
            single = named or (discussed if len(discussed) == 1 else [])
            reference = single[0] if single else None
            if reference is None and category is None:
                names = crm.list_categories() or list(policy().get("categories") or {})
                say(dispatcher, "browse_categories", language,
                    buttons=[button(category_title(c, language), "browse_products", {"product": c}) for c in names])
                return []
        of_category = crm.list_products(category, limit=200) if category else []
        products = kind or (of_category if category else crm.list_products(limit=200))
        limit = ceiling if ceiling is not None else (reference.price - 1 if reference else None)
        within = sorted((p for p in products if limit is None or p.price <= limit),
                        key=lambda p: (not p.in_stock, p.price))
        whole_category = bool(category) and (not kind or len(kind) == len(of_category))
        title = category_title(category, language) if whole_category else text("products", language)
        if not within:
            cheapest = sorted(products, key=lambda p: (not p.in_stock, p.price))[:3]
            say(dispatcher, "browse_nothing_within" if whole_category else "browse_nothing_within_any", language,
                category=title, amount=toman(limit or 0, language),
                buttons=[button(product_line(p, language), "ask_product_details", {"product": p.sku}) for p in cheapest])
            return Outcome.completed(SlotSet("shown_products", [p.sku for p in cheapest]))
        shown = within[: self.MAX]
        buttons = [button(product_line(p, language), "ask_product_details", {"product": p.sku}) for p in shown]
        if limit is None:   # "what's your cheapest phone?": that one by name, then the others by price
            first = within[0]
            say(dispatcher, "browse_cheapest", language, category=title, product=product_name(first, language),
                price=toman(first.price, language),
                stock=text("in_stock" if first.in_stock else "out_of_stock", language), buttons=buttons)
            # "what's the warranty on that one?" next: the one named first
            return Outcome.completed(SlotSet("shown_products", [p.sku for p in shown]), *talked_about(tracker, first))
        if reference is not None:
            say(dispatcher, "browse_cheaper_than", language, category=title,
                product=product_name(reference, language), count=product_count(len(within), language), buttons=buttons)
        else:
            say(dispatcher, "browse_within", language, category=title, amount=toman(limit, language),
                count=product_count(len(within), language), buttons=buttons)
        return Outcome.completed(SlotSet("shown_products", [p.sku for p in shown]))


def remember_interest(tracker: Tracker, product: Product) -> None:
    """A known customer asked for a product that is out of stock: the back-in-stock
    journey (orchestration.yml) tells them when it returns."""
    if product.in_stock:
        return
    customer_id = known_customer(tracker)
    if not customer_id:
        return
    try:
        from bot.orchestration.events import record_stock_interest

        record_stock_interest(customer_id, product.sku, tracker.sender_id)
    except Exception:  # noqa: BLE001 - the answer matters more than the alert
        logger.exception("could not record interest in %s", product.sku)


def _product(tracker: Tracker) -> Optional[Product]:
    """The product named in this message (a side question inside another goal's form
    names its own product without changing the form's), else the `product` slot — which
    comes first when the form just resolved it from this very message (the words «ال جی»
    picked the LG TV among the TVs shown; searched alone they would find the JBL first)."""
    named = next(iter(entity_values(tracker, "product")), None)
    sku = tracker.get_slot("product") if _slot_filled_since_the_message(tracker, "product") else None
    sku = sku or named or tracker.get_slot("product")
    found = find_products(sku, limit=1) if sku else []
    return found[0] if found else None


class ActionProductDetails(Action):
    """Describes one product from the CRM: price, stock, warranty, return window."""

    def name(self) -> Text:
        return "action_product_details"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        product = _product(tracker)
        if product is None:
            say(dispatcher, "product_not_found", language, product=tracker.get_slot("product") or "")
            return Outcome.failed()
        say(dispatcher, "product_details", language, product=product_name(product, language),
            category=category_title(product.category, language), price=toman(product.price, language),
            stock=text("in_stock_count", language, count=digits(product.stock, language)) if product.in_stock
            else text("out_of_stock", language),
            warranty=warranty_of(product, language, in_a_sentence=False),
            buttons=[button(text("buy_this", language), "place_order", {"product": product.sku})]
            if product.in_stock else None)
        message = latest_text(tracker)
        if cues.asks_variant(message):   # colours and versions are not in the catalogue
            say(dispatcher, "variants_unknown", language, link=website())
        elif not product.in_stock and cues.asks_when_back(message):   # «کی موجود میشه؟ خبرم کنید»
            say(dispatcher, "restock_unknown", language, product=product_name(product, language),
                link=website())
        elif cues.asks_about_a_feature(message) and not cues.asks_price(message):   # "does it come with a case?"
            say(dispatcher, "features_unknown", language, link=website())
        remember_interest(tracker, product)
        return Outcome.completed(*talked_about(tracker, product))


def _quantity_asked(tracker: Tracker) -> int:
    """How many the price question is for ("how much for 3 of them?", «۲ تاش چند میشه؟»); 1 when it names none."""
    from actions.orders import order_quantity

    values = entity_values(tracker, "quantity")
    return order_quantity(values[0]) if values else 1


class ActionProductPrice(Action):
    """A product's price; several products named in one message ("how much are the ps5 and the
    xbox?"), each one's."""

    def name(self) -> Text:
        return "action_product_price"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        named = entity_values(tracker, "product")
        products = [found[0] for sku in dict.fromkeys(named) if (found := find_products(sku, limit=1))] \
            if len(set(named)) > 1 else []
        product = products[0] if products else _product(tracker)
        if product is None:
            say(dispatcher, "product_not_found", language, product=tracker.get_slot("product") or "")
            return Outcome.failed()
        for each in products or [product]:
            key = "product_price" if each.in_stock else "product_price_out_of_stock"
            say(dispatcher, key, language, product=product_name(each, language), price=toman(each.price, language))
        quantity = _quantity_asked(tracker)
        if not products and quantity > 1:   # "how much for 3 of them?": the total too
            say(dispatcher, "price_for_quantity", language, quantity=digits(quantity, language),
                total=toman(product.price * quantity, language))
        if not products and cues.asks_warranty(latest_text(tracker)):   # "price and warranty of the A55?"
            say(dispatcher, "product_warranty", language, product=product_name(product, language),
                warranty=warranty_of(product, language))
        if len(products) > 1 and not tracker.active_loop:   # "the cheaper one" next picks among them
            return Outcome.completed(SlotSet("shown_products", [p.sku for p in products]))
        return Outcome.completed(*talked_about(tracker, product))


class ActionCompareProducts(Action):
    """Compares the products the customer named side by side (price, warranty, stock)."""

    def name(self) -> Text:
        return "action_compare_products"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        products: List[Product] = []
        for sku in tracker.get_slot("products") or []:
            found = find_products(sku, limit=1)
            if found and found[0].sku not in {p.sku for p in products}:
                products.append(found[0])
        if len(products) < 2:
            say(dispatcher, "compare_need_two", language)
            return Outcome.failed()
        lines = []
        for p in products:
            stock = text("in_stock" if p.in_stock else "out_of_stock", language)
            lines.append(text("compare_line", language, product=product_name(p, language), price=toman(p.price, language),
                              warranty=warranty_of(p, language), stock=stock))
        cheapest = min(products, key=lambda p: p.price)
        difference = max(p.price for p in products) - cheapest.price
        say(dispatcher, "compare", language, lines="\n".join(lines), cheapest=product_name(cheapest, language),
            difference=toman(difference, language))
        events: List[EventType] = [SlotSet("shown_products", [p.sku for p in products])]
        if not tracker.active_loop and tracker.get_slot("product") in {p.sku for p in products}:
            # the message named both; the slot kept the last one, which is no more "it" than the other:
            # «نه اونیکی» next means the second of the two, "it" asks which
            events.append(SlotSet("product", None))
        return Outcome.completed(*events)

