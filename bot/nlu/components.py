"""Hamsafar's Rasa NLU components (Rasa 3.6 GraphComponents).

Pipeline order (config.yml):

    PersianNormaliser      canonical text (bot.text.persian), training entity spans moved onto it
    SpacyNLP + SpacyTokenizer (blank fa pipeline)
    RuleEntityExtractor    order_id, phone_number, email, product, discount_code, rating, quantity;
                           identifier tokens shown to the featurizers as placeholders
    ... featurizers, DIETClassifier, EntitySynonymMapper, FallbackClassifier ...
    EntityReconciler       one entity per span: the rules win over DIET, products as SKUs
    LanguageDetector       parse data key `language` (fa/en)
    JourneyStageAnnotator  parse data key `journey_stage` (journey.yml via bot.journey)
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    INTENT_NAME_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.dialogue.cues import accessory_for_device, accessory_request, canonical
from bot.text.persian import normalise, normalise_with_offsets

GUARD = "\u200b"  # the zero-width space bot.channels.base.guard_customer_text puts before a typed '/'

logger = logging.getLogger(__name__)

LANGUAGE_KEY = "language"
JOURNEY_STAGE_KEY = "journey_stage"


def remap_span(offsets: List[int], start: int, end: int) -> Optional[tuple]:
    """Move the raw-text span [start, end) onto the normalised text whose
    character i came from raw index offsets[i]; None if nothing of it survives."""
    inside = [i for i, origin in enumerate(offsets) if start <= origin < end]
    if not inside:
        return None
    return inside[0], inside[-1] + 1


class _Stateless(GraphComponent):
    """A component without training state."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._config = config

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls(config)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class PersianNormaliser(_Stateless):
    """Rewrites the message text into the canonical form of `bot.text.persian.normalise`:
    Arabic ي/ك -> Persian ی/ک, Persian/Arabic-Indic digits -> ASCII, ZWNJ and space
    variants unified, diacritics and kashida dropped. On training data it also moves
    every annotated entity's start/end onto the normalised text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalise_message(example, training=True)
        # Synonyms and lookup tables must match the normalised text too.
        training_data.entity_synonyms = {
            normalise(str(key)): value for key, value in training_data.entity_synonyms.items()
        }
        for table in training_data.lookup_tables:
            elements = table.get("elements")
            if isinstance(elements, list):
                table["elements"] = [normalise(str(e)) for e in elements]
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalise_message(message, training=False)
        return messages

    @staticmethod
    def _normalise_message(message: Message, training: bool) -> None:
        text = message.get(TEXT)
        if not text or not isinstance(text, str):
            return
        new_text, offsets = normalise_with_offsets(text)
        if not training and new_text.startswith("/") and text.lstrip().startswith(GUARD):
            # Typed text that starts with "/" carries the guard the channels put in front
            # (bot.channels.base.guard_customer_text); normalisation drops it with the other
            # zero-width characters, so it goes back: RegexMessageHandler at the end of the
            # pipeline must not read typed text as an `/intent{entities}` command. A button
            # payload the bot issued (the channel checked it) has no guard and is unpacked.
            new_text = GUARD + new_text  # (offsets only matter for training data)
        if new_text == text:
            return
        entities = message.get(ENTITIES) or []
        if training and entities:
            moved = []
            for entity in entities:
                span = remap_span(offsets, entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END])
                if span is None:
                    logger.warning("entity %s lost by normalisation in %r", entity, text)
                    continue
                raw_span = text[entity[ENTITY_ATTRIBUTE_START]:entity[ENTITY_ATTRIBUTE_END]]
                updated = dict(entity, start=span[0], end=span[1])
                if entity.get(ENTITY_ATTRIBUTE_VALUE) == raw_span:
                    updated[ENTITY_ATTRIBUTE_VALUE] = new_text[span[0]:span[1]]
                moved.append(updated)
            message.set(ENTITIES, moved)
        message.set(TEXT, new_text)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
)
class RuleEntityExtractor(_Stateless, EntityExtractorMixin):
    """Rule-based entities (bot.nlu.entities) over the normalised text.

    `rule_only_entities` are left to the rules alone: their annotations are
    removed from the training data DIET sees, so DIET neither spends capacity on
    them nor predicts a second copy.

    `placeholder_entities`: the tokens of these identifiers reach the
    featurizers as a placeholder lemma (`__email__`, `__order_id__`…), in
    training and at parse time alike, so the intent is learnt from "a message
    with an email in it", not from the characters of the addresses, phone
    numbers and order numbers that happen to be in the training data — the
    same idea as the `__NUMBER__` token Rasa's CountVectorsFeaturizer already
    uses for bare digits. The text and the entity values are untouched."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "rule_only_entities": ["order_id", "phone_number", "email", "discount_code"],
            "placeholder_entities": ["order_id", "phone_number", "email", "discount_code"],
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        from bot.nlu.entities import RuleEntityExtractor as Rules

        self._rules = Rules()
        self._rule_only = set(config.get("rule_only_entities") or [])
        self._placeholders = set(config.get("placeholder_entities") or [])

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            entities = example.get(ENTITIES)
            if entities and self._rule_only:
                example.set(ENTITIES, [e for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) not in self._rule_only])
            text = example.get(TEXT)
            if text and self._placeholders:
                self._mask_tokens(example, self._rules.extract(text))
        return training_data

    def _mask_tokens(self, message: Message, candidates: List[Any]) -> None:
        """Give every token that overlaps an identifier the placeholder lemma."""
        spans = [(c.start, c.end, c.entity) for c in candidates if c.entity in self._placeholders]
        if not spans:
            return
        for token in message.get(TOKENS_NAMES[TEXT]) or []:
            for start, end, entity in spans:
                if token.start < end and start < token.end:
                    token.lemma = f"__{entity}__"
                    break

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            candidates = self._rules.extract(text)
            self._mask_tokens(message, candidates)
            found = [
                {
                    ENTITY_ATTRIBUTE_TYPE: c.entity,
                    ENTITY_ATTRIBUTE_START: c.start,
                    ENTITY_ATTRIBUTE_END: c.end,
                    ENTITY_ATTRIBUTE_VALUE: c.value,
                    "confidence_entity": 1.0,
                }
                for c in candidates
            ]
            if found:
                found = self.add_extractor_name(found)
                message.set(ENTITIES, (message.get(ENTITIES) or []) + found, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class EntityReconciler(_Stateless):
    """One entity per piece of text: rule entities win; DIET's entities of
    rule-only types or overlapping a rule entity are dropped; DIET products
    are given their SKU when the catalogue knows the name."""

    RULE_EXTRACTOR = "RuleEntityExtractor"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"rule_only_entities": ["order_id", "phone_number", "email", "discount_code"]}

    def process(self, messages: List[Message]) -> List[Message]:
        from bot.nlu.catalogue import load_catalogue

        rule_only = set(self._config.get("rule_only_entities") or [])
        catalogue = load_catalogue()
        for message in messages:
            entities = message.get(ENTITIES) or []
            if not entities:
                continue
            rules = [e for e in entities if e.get(EXTRACTOR) == self.RULE_EXTRACTOR]
            kept = list(rules)
            for entity in entities:
                if entity.get(EXTRACTOR) == self.RULE_EXTRACTOR:
                    continue
                if entity.get(ENTITY_ATTRIBUTE_TYPE) in rule_only:
                    continue
                start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
                if start is not None and any(start < r["end"] and r["start"] < end for r in kept):
                    continue
                if entity.get(ENTITY_ATTRIBUTE_TYPE) == "product":
                    sku = catalogue.resolve(str(entity.get(ENTITY_ATTRIBUTE_VALUE, "")))
                    if sku:
                        entity = dict(entity, value=sku)
                    elif not self._keep_unknown_product(entity, kept, message.get(TEXT) or ""):
                        continue
                if entity.get(ENTITY_ATTRIBUTE_TYPE) in ("rating", "quantity"):
                    from bot.nlu.entities import number_value

                    number = number_value(str(entity.get(ENTITY_ATTRIBUTE_VALUE, "")))
                    if number is None:
                        continue
                    entity = dict(entity, value=number)
                kept.append(entity)
            kept = self._without_devices_of_accessories(kept, message.get(TEXT) or "")
            kept.sort(key=lambda e: (e.get(ENTITY_ATTRIBUTE_START) or 0))
            message.set(ENTITIES, kept, add_to_output=True)
        return messages


    @staticmethod
    def _without_devices_of_accessories(entities: List[Dict[Text, Any]], text: str) -> List[Dict[Text, Any]]:
        """"a charger for the Galaxy S24": the S24 is the device the charger is for, not the product
        asked about; its entity goes, and the actions look for chargers (the words left)."""
        request = accessory_request(text)
        device_words = set(request.device.split()) if request else set()

        def is_the_device(entity: Dict[Text, Any]) -> bool:
            start, end = entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
            if accessory_for_device(text[:start]):
                return True
            # «برای آیفون ۱۵ قاب دارین؟», "iphone 15 case": the device of the accessory asked for
            # (not "قاب گوشی A55", the case's own name)
            named = canonical(text[start:end])
            return bool(device_words & set(named.split())) and request.accessory not in named

        return [e for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) != "product"
                or e.get(ENTITY_ATTRIBUTE_START) is None or not is_the_device(e)]

    @staticmethod
    def _keep_unknown_product(entity: Dict[Text, Any], kept: List[Dict[Text, Any]], text: str) -> bool:
        """A DIET product the catalogue does not know is kept only if it has two or
        more words (brand + kind, "lg washing machine") and does not touch a rule
        product (DIET often tags the rest of a name the rules already matched)."""
        value = str(entity.get(ENTITY_ATTRIBUTE_VALUE, "")).strip()
        if len(value.split()) < 2:
            return False
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        for other in kept:
            if other.get(ENTITY_ATTRIBUTE_TYPE) != "product" or start is None:
                continue
            gap = text[min(end, other["end"]):max(start, other["start"])]
            if not gap.strip():
                return False
        return True


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class LanguageDetector(_Stateless):
    """Sets `language` (fa/en) on every parse (bot.nlu.language: script, then a
    Finglish/English lexicon for Latin text)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def process(self, messages: List[Message]) -> List[Message]:
        from bot.nlu.language import detect_language

        for message in messages:
            message.set(LANGUAGE_KEY, detect_language(message.get(TEXT) or ""), add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class JourneyStageAnnotator(_Stateless):
    """Sets `journey_stage` from journey.yml (bot.journey) for the predicted intent;
    None for general intents and nlu_fallback."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"journey_file": None}

    def process(self, messages: List[Message]) -> List[Message]:
        from pathlib import Path

        from bot.journey import load_journey

        path = self._config.get("journey_file")
        journey = load_journey(Path(path) if path else None)
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            message.set(JOURNEY_STAGE_KEY, journey.stage_of_intent(intent), add_to_output=True)
        return messages
