"""Hamsafar NLU pieces without training: normaliser, rule entities, language, stage, lookup table."""

from __future__ import annotations

import pytest

from bot.nlu.entities import RuleEntityExtractor, canonical_value
from bot.nlu.language import detect_language, is_decisive
from bot.text.persian import ZWNJ, normalise

rasa = pytest.importorskip("rasa")

from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from bot.nlu.components import (  # noqa: E402
    EntityReconciler,
    JourneyStageAnnotator,
    LanguageDetector,
    PersianNormaliser,
    RuleEntityExtractor as RuleComponent,
    remap_span,
)


@pytest.fixture(scope="module")
def rules() -> RuleEntityExtractor:
    return RuleEntityExtractor()


def entities(rules: RuleEntityExtractor, text: str) -> list:
    return [(c.entity, c.value) for c in rules.extract(normalise(text))]


# --- normaliser -----------------------------------------------------------------

def test_normaliser_arabic_letters_digits_diacritics_kashida() -> None:
    message = Message(data={"text": "سلام عليكم، سفارش ۱۰۰۲۳۴ و ١٢ تا كتاب مـــیخوام، خُب"})
    PersianNormaliser({}).process([message])
    text = message.get("text")
    assert "ي" not in text and "ك" not in text
    assert "100234" in text and "12" in text
    assert "ـ" not in text and "ُ" not in text
    assert text.startswith("سلام علیکم")


def test_normaliser_unifies_zwnj_and_space_variants() -> None:
    variants = ["می خوام", "می‌خوام", "می\u200c\u200cخوام", "می  خوام"]
    assert {normalise(v) for v in variants} == {f"می{ZWNJ}خوام"}


def test_normaliser_moves_training_entity_offsets() -> None:
    raw = "سلام، شمارهٔ سفارشـــم #۱۰۰۲۳۴ و ايميلم ali@x.com است"
    start = raw.index("۱۰۰۲۳۴")
    email_start = raw.index("ali@x.com")
    message = Message(
        data={
            "text": raw,
            "intent": "inform",
            "entities": [
                {"entity": "order_id", "start": start, "end": start + 6, "value": "۱۰۰۲۳۴"},
                {"entity": "email", "start": email_start, "end": email_start + 9, "value": "ali@x.com"},
            ],
        }
    )
    data = TrainingData([message])
    PersianNormaliser({}).process_training_data(data)
    text = message.get("text")
    moved = {e["entity"]: e for e in message.get("entities")}
    assert text[moved["order_id"]["start"]:moved["order_id"]["end"]] == "100234"
    assert moved["order_id"]["value"] == "100234"
    assert text[moved["email"]["start"]:moved["email"]["end"]] == "ali@x.com"


def test_remap_span_drops_vanished_text() -> None:
    assert remap_span([0, 1, 3], 2, 3) is None
    assert remap_span([0, 1, 3], 1, 4) == (1, 3)


# --- rule entities ------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    ["100234", "#100234", "۱۰۰۲۳۴", "#۱۰۰۲۳۴", "order 100234", "my order number is #100234, thanks",
     "سفارش ۱۰۰۲۳۴ کجاست؟", "شماره سفارشم ۱۰۰۲۳۴ هست", "کد پیگیری: 100234", "sefaresh 100234 kojast"],
)
def test_order_id_forms(rules: RuleEntityExtractor, text: str) -> None:
    assert entities(rules, text) == [("order_id", "100234")]


@pytest.mark.parametrize(
    "text",
    ["09123456789", "۰۹۱۲۳۴۵۶۷۸۹", "0912 345 6789", "۰۹۱۲-۳۴۵-۶۷۸۹", "+989123456789", "+98 912 345 6789",
     "00989123456789", "شمارم ۰۹۱۲ ۳۴۵ ۶۷۸۹ هست", "call me at +98-912-345-6789 please"],
)
def test_phone_forms_to_e164(rules: RuleEntityExtractor, text: str) -> None:
    assert entities(rules, text) == [("phone_number", "+989123456789")]


@pytest.mark.parametrize("text", ["ایمیلم Ali.Rezaei@Gmail.com هست", "email me at ali.rezaei@gmail.com."])
def test_email(rules: RuleEntityExtractor, text: str) -> None:
    assert entities(rules, text) == [("email", "ali.rezaei@gmail.com")]


def test_prices_and_card_numbers_are_not_order_ids(rules: RuleEntityExtractor) -> None:
    assert entities(rules, "زیر ۳۰۰۰۰۰۰۰ تومن چی دارید") == []
    assert entities(rules, "قیمتش 28,900,000 تومنه؟") == []
    assert entities(rules, "کارت 6037991234567890") == []


@pytest.mark.parametrize(
    "text, sku",
    [("قیمت گلکسی A55 چنده؟", "MOB-SAM-A55"), ("قيمت گوشي سامسونگ گلكسي A55", "MOB-SAM-A55"),
     ("قاب A55 دارید؟", "ACC-CAS-A55"), ("is the ps5 on sale", "GAM-SNY-PS5"),
     ("پلی استیشن ۵ موجوده؟", "GAM-SNY-PS5"), ("ایرپاد پرو ۲ اصله؟", "AUD-APL-APP"),
     ("the Sony WH-1000XM5 headphones", "AUD-SNY-XM5"), ("my ASUS laptop won't turn on", "LAP-ASU-VB15"),
     ("لپ‌تاپ ایسوس روشن نمیشه", "LAP-ASU-VB15"), ("A55رو دارید؟", "MOB-SAM-A55")],
)
def test_products_by_name_alias_and_synonym(rules: RuleEntityExtractor, text: str, sku: str) -> None:
    assert ("product", sku) in entities(rules, text)


def test_synonyms_file_feeds_the_catalogue(tmp_path) -> None:
    from bot.nlu.catalogue import PRODUCTS_CSV, build_catalogue, load_products, load_synonyms

    synonyms = tmp_path / "synonyms.yml"
    synonyms.write_text('version: "3.1"\nnlu:\n- synonym: MOB-APL-IP15\n  examples: |\n    - آیفون پونزده\n', encoding="utf-8")
    catalogue = build_catalogue(load_products(PRODUCTS_CSV), load_synonyms(synonyms))
    assert RuleEntityExtractor(catalogue).extract(normalise("آیفون پونزده دارید؟"))[0].value == "MOB-APL-IP15"


@pytest.mark.parametrize(
    "text, expected",
    [("کد تخفیف NOROOZ1403 رو زدم", [("discount_code", "NOROOZ1403")]),
     ("my coupon is sale20", [("discount_code", "SALE20")]),
     ("are there promotions on phones?", []),
     ("۵ ستاره میدم", [("rating", "5")]), ("I'd give it a 7", [("rating", "7")]), ("9 out of 10", [("rating", "9")]),
     ("8", [("rating", "8")]), ("۳ تا ایرپاد میخوام", [("quantity", "3"), ("product", "AUD-APL-APP")]),
     ("دو تا میخوام", [("quantity", "2")]),
     ("نمره 5 از ۵ میدم", [("rating", "5")])],
)
def test_discount_rating_quantity(rules: RuleEntityExtractor, text: str, expected: list) -> None:
    assert entities(rules, text) == expected


def test_rule_component_sets_entities_with_extractor_name() -> None:
    message = Message(data={"text": normalise("سفارش ۱۰۰۲۳۴ با شماره ۰۹۱۲۳۴۵۶۷۸۹")})
    RuleComponent(RuleComponent.get_default_config()).process([message])
    found = {(e["entity"], e["value"], e["extractor"]) for e in message.get("entities")}
    assert found == {("order_id", "100234", "RuleEntityExtractor"),
                     ("phone_number", "+989123456789", "RuleEntityExtractor")}


def _tokenised(text: str) -> Message:
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer

    message = Message(data={"text": text})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    return message


def test_identifier_tokens_reach_featurizers_as_placeholders() -> None:
    component = RuleComponent(RuleComponent.get_default_config())
    parsed = _tokenised(normalise("گوشی خرابه سفارش ۱۰۴۰۴۰ ایمیلم a.b@gmail.com شماره 09121234567 کد SALE20"))
    component.process([parsed])
    lemmas = [t.lemma for t in parsed.get("text_tokens")]
    assert lemmas == ["گوشی", "خرابه", "سفارش", "__order_id__", "ایمیلم", "__email__",
                      "شماره", "__phone_number__", "کد", "__discount_code__"]
    assert "a.b@gmail.com" in parsed.get("text")  # the text and the entity values stay as they were
    assert {e["value"] for e in parsed.get("entities")} >= {"104040", "a.b@gmail.com", "+989121234567", "SALE20"}

    # Training examples get the same placeholders, whether or not the identifier was annotated.
    example = _tokenised("the screen is cracked, order 100234, write to me at x.y@yahoo.com")
    example.set("intent", "report_problem")
    component.process_training_data(TrainingData([example]))
    assert [t.lemma for t in example.get("text_tokens")][-1] == "__email__"
    assert "__order_id__" in [t.lemma for t in example.get("text_tokens")]


def test_reconciler_keeps_one_entity_per_span() -> None:
    text = "order 100234 for the ps5"
    message = Message(data={"text": text, "entities": [
        {"entity": "order_id", "start": 6, "end": 12, "value": "100234", "extractor": "RuleEntityExtractor"},
        {"entity": "product", "start": 21, "end": 24, "value": "GAM-SNY-PS5", "extractor": "RuleEntityExtractor"},
        {"entity": "order_id", "start": 6, "end": 12, "value": "100234", "extractor": "DIETClassifier"},
        {"entity": "quantity", "start": 6, "end": 12, "value": "100234", "extractor": "DIETClassifier"},
        {"entity": "product", "start": 17, "end": 24, "value": "the ps5", "extractor": "DIETClassifier"},
    ]})
    EntityReconciler(EntityReconciler.get_default_config()).process([message])
    assert [(e["entity"], e["value"]) for e in message.get("entities")] == [
        ("order_id", "100234"), ("product", "GAM-SNY-PS5")]


@pytest.mark.parametrize("text, device, kept", [
    ("do you have a charger for the galaxy s24?", "galaxy s24", False),
    ("قاب مناسب گلکسی A55 دارین؟", "گلکسی A55", False),
    ("how much is the galaxy s24?", "galaxy s24", True),
    ("is the galaxy s24 charger included?", "galaxy s24", True),
    ("مي بند ۸ رو با اپل واچ مقایسه کن", "اپل واچ", True),   # «می بند» (Mi Band) is no watch strap
    ("برای آیفون ۱۵ قاب دارین؟", "آیفون ۱۵", False),   # the device before the accessory
    ("قاب آیفون ۱۵ دارین؟", "آیفون ۱۵", False),
    ("do you have an iphone 15 case?", "iphone 15", False),
    ("any screen protector for my iphone 15?", "iphone 15", False),
    ("I'd like the galaxy s24 and a case", "galaxy s24", True),
    ("قاب گوشی A55 دارید؟", "قاب گوشی A55", True),   # the case's own name
])
def test_the_device_an_accessory_is_for_is_not_the_product_asked_about(text: str, device: str, kept: bool) -> None:
    start = text.index(device)
    message = Message(data={"text": text, "entities": [
        {"entity": "product", "start": start, "end": start + len(device), "value": "MOB-SAM-S24",
         "extractor": "RuleEntityExtractor"}]})
    EntityReconciler(EntityReconciler.get_default_config()).process([message])
    assert bool(message.get("entities")) == kept


def test_canonical_values_for_evaluation() -> None:
    assert canonical_value("order_id", "#۱۰۰۲۳۴") == "100234"
    assert canonical_value("phone_number", "0912 345 6789") == "+989123456789"
    assert canonical_value("product", "Galaxy A55") == "MOB-SAM-A55"
    assert canonical_value("quantity", "دو") == "2"


# --- language ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, language",
    [("سلام، سفارشم کجاست؟", "fa"), ("۱۰۰۲۳۴", "fa"), ("salam, sefaresham kojast?", "fa"),
     ("mikham gooshi bekharam", "fa"), ("mersi kheili mamnoon", "fa"), ("takhfif darid?", "fa"),
     ("where is my order?", "en"), ("hello", "en"), ("thanks a lot", "en"), ("is the ps5 on sale", "en"),
     ("I want to return my headphones", "en")],
)
def test_language_detector(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text, decisive", [
    ("merci", False), ("mamnoon", False), ("kheili mamnoon", False), ("salam", False), ("ok", False),
    ("merci, mikhastam sefareshamo peygiri konam", True), ("thanks a lot", True), ("ممنون", True),
])
def test_a_lone_finglish_courtesy_does_not_settle_the_language(text: str, decisive: bool) -> None:
    assert is_decisive(text) is decisive


def test_language_component_sets_output_key() -> None:
    message = Message(data={"text": "salam khoobi?"})
    LanguageDetector({}).process([message])
    assert message.get("language") == "fa"
    assert "language" in message.as_dict(only_output_properties=True)


# --- journey stage --------------------------------------------------------------------

def test_stage_annotator_follows_journey_yml() -> None:
    from bot.journey import load_journey

    journey = load_journey()
    annotator = JourneyStageAnnotator(JourneyStageAnnotator.get_default_config())
    for intent in journey.intents + ["nlu_fallback"]:
        message = Message(data={"text": "x", "intent": {"name": intent, "confidence": 0.9}})
        annotator.process([message])
        assert message.get("journey_stage") == journey.stage_of_intent(intent)
        # Rasa drops None-valued keys from parse data: general intents have no key (.get() -> None).
        output = message.as_dict(only_output_properties=True)
        assert output.get("journey_stage") == journey.stage_of_intent(intent)
    message = Message(data={"text": "x", "intent": {"name": "track_order", "confidence": 0.9}})
    annotator.process([message])
    assert message.get("journey_stage") == "retention"


def test_stage_annotator_reads_another_journey_file(tmp_path) -> None:
    journey = tmp_path / "journey.yml"
    journey.write_text(
        "stages: [{name: awareness}, {name: decision}]\ngoals: {}\n"
        "intents: {track_order: {stage: decision}}\ngeneral_intents: []\n", encoding="utf-8")
    message = Message(data={"text": "x", "intent": {"name": "track_order", "confidence": 0.9}})
    JourneyStageAnnotator({"journey_file": str(journey)}).process([message])
    assert message.get("journey_stage") == "decision"


# --- generated lookup table -----------------------------------------------------------------

def test_product_lookup_table_is_up_to_date() -> None:
    from bot.nlu.lookup import LOOKUP_FILE, render_lookup

    assert LOOKUP_FILE.read_text(encoding="utf-8") == render_lookup(), "run: python -m bot.nlu.lookup"


# --- blank spaCy pipeline ------------------------------------------------------------------

def test_blank_spacy_model_tokenizer(tmp_path) -> None:
    import spacy

    from bot.nlu.spacy_model import ensure_blank_spacy_model

    path = ensure_blank_spacy_model(tmp_path / "fa_blank")
    assert ensure_blank_spacy_model(path) == path  # second call keeps the copy
    tokens = [t.text for t in spacy.load(path)("A55رو 4/5 میدم، the galaxy s24. ali@x.com")]
    assert tokens == ["A55", "رو", "4", "/", "5", "میدم", "،", "the", "galaxy", "s24", ".", "ali@x.com"]


def test_the_channels_guard_before_typed_slash_text_survives_normalisation_and_payloads_pass() -> None:
    """A typed "/intent{...}" (the channel put a zero-width space before it) must stay text for
    Rasa's RegexMessageHandler; a button payload the bot issued (no guard) must stay a command."""
    from bot.channels.base import guard_customer_text
    from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler

    typed = Message(data={"text": guard_customer_text('/ask_product_details{"product":"LAP-LEN-IP3"}')})
    payload = Message(data={"text": '/ask_product_details{"product":"LAP-LEN-IP3"}'})
    PersianNormaliser({}).process([typed, payload])
    typed, payload = RegexMessageHandler().process([typed, payload])
    assert typed.get("intent") is None
    assert payload.get("intent", {}).get("name") == "ask_product_details"
    assert [e["value"] for e in payload.get("entities")] == ["LAP-LEN-IP3"]
