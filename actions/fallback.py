"""What the bot does when it did not understand (FallbackClassifier's `nlu_fallback`).

`action_ask_rephrase_with_suggestions` asks the customer to say it again and
offers the likeliest intents of the parse's `intent_ranking` as buttons with
`/intent` payloads, in the reply language. It counts consecutive failures in
the `fallback_count` slot (reset by action_validate_slot_mappings once a
message is understood). The second failure in a row is followed by
`utter_offer_human` (a rule in data/rules.yml).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.crm.base import CRMError

from actions.common import button, entity_values, intent_label, latest_text, product_name, reply_language, say

MAX_SUGGESTIONS = 3
# A message not understood but leaning to one of these, naming a brand or a category: product buttons.
PRODUCT_INTENTS = ("ask_price", "ask_product_details", "place_order", "browse_products")
# Intents that make poor suggestions: they only make sense as answers.
NOT_SUGGESTED = {"nlu_fallback", "inform", "affirm", "deny", "stop", "out_of_scope", "greet", "goodbye",
                 "thank_you"}


# What a suggestion keeps of the message: clicking "A price" after «قیمت هواوی نوا ۱۲؟» is
# the price of that phone, not a new "which product?".
KEPT_ENTITIES = ("product", "order_id", "discount_code")


def suggestions(ranking: List[Dict[str, Any]], language: str, limit: int = MAX_SUGGESTIONS,
                entities: Optional[Dict[str, str]] = None) -> List[Dict[str, str]]:
    """Buttons for the likeliest intents of the parse, carrying the message's product, order
    number or code."""
    buttons = []
    for entry in ranking or []:
        name = entry.get("name")
        label = intent_label(name, language) if name and name not in NOT_SUGGESTED else None
        if label is None:
            continue
        buttons.append(button(label, name, entities or None))
        if len(buttons) >= limit:
            break
    return buttons


def kept_entities(tracker: Tracker) -> Dict[str, str]:
    return {name: values[0] for name in KEPT_ENTITIES if (values := entity_values(tracker, name))}


class ActionAskRephraseWithSuggestions(Action):
    """Asks the customer to rephrase, with buttons for the intents the classifier half-believed, instead of
    a bare "I did not understand"."""

    def name(self) -> Text:
        return "action_ask_rephrase_with_suggestions"

    @staticmethod
    def _products_meant(tracker: Tracker, ranking: List[Dict[str, Any]]) -> Optional[tuple]:
        """(intent, products) when the message leans to a product question and names a brand,
        a category or a model family but no product."""
        if entity_values(tracker, "product"):
            return None
        leaning = next((r.get("name") for r in ranking if r.get("name") in PRODUCT_INTENTS), None)
        if not leaning:
            return None
        from actions.products import products_hinted

        try:
            products = products_hinted(latest_text(tracker))
        except CRMError:
            return None
        return (leaning, products) if len(products) >= 2 else None

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        language = reply_language(tracker)
        count = int(tracker.get_slot("fallback_count") or 0) + 1
        ranking = (tracker.latest_message or {}).get("intent_ranking") or []
        products = self._products_meant(tracker, ranking)
        if products:   # "what do the lenovo laptops go for?": those products, for what was asked
            intent = products[0]
            say(dispatcher, "product_choose", language,
                buttons=[button(product_name(p, language), intent, {"product": p.sku}) for p in products[1]])
            # a product named next ("legion 5") answers the question these buttons are for
            return [SlotSet("fallback_count", count), SlotSet("shown_products", [p.sku for p in products[1]]),
                    SlotSet("last_request", intent)]
        buttons = suggestions(ranking, language, entities=kept_entities(tracker))
        if buttons:
            say(dispatcher, "rephrase_with_suggestions", language, buttons=buttons)
        else:
            say(dispatcher, "rephrase", language)
        return [SlotSet("fallback_count", count)]
