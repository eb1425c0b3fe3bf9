"""Several requests in one message (bot.nlu.requests): clauses and when a clause counts as a request."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from bot.nlu.requests import RequestSplitter, clauses, clauses_with_marks, train_clause_model

EXAMPLES = {
    "thank_you": ["thanks", "thank you", "thanks a lot", "many thanks", "ممنون", "مرسی", "thanks anyway"],
    "greet": ["hi", "hello", "hey there", "سلام", "سلام وقت بخیر", "good morning"],
    "ask_warranty": ["what's the warranty", "how long is the warranty", "does it have a warranty",
                     "گارانتی چند ماهه", "warranty period please", "is there a guarantee"],
    "ask_shipping": ["how long is shipping", "do you ship to tabriz", "delivery time to shiraz",
                     "ارسال چند روزه", "shipping cost please", "how long does delivery take"],
    "track_order": ["where is my order", "track order 100250", "status of my order", "سفارشم کجاست",
                    "I want to track my order", "has my order shipped"],
    "ask_price": ["how much is it", "price of the a55", "how much does it cost", "قیمتش چنده", "what's the price",
                  "pricey", "whoa pricey"],
    "bot_challenge": ["are you a bot", "are you human", "تو رباتی", "am I talking to a robot", "is this a bot",
                      "real person or bot"],
}


@pytest.fixture(scope="module")
def splitter() -> RequestSplitter:
    texts: List[str] = [t for examples in EXAMPLES.values() for t in examples]
    labels: List[str] = [i for i, examples in EXAMPLES.items() for _ in examples]
    return RequestSplitter({"threshold": 0.5, "agreement": 0.02}, None, None,  # type: ignore[arg-type]
                           train_clause_model(texts, labels))


def test_clauses_split_at_punctuation_conjunctions_and_an_opening_greeting() -> None:
    assert clauses("thanks, and what's the warranty?") == ["thanks", "and what's the warranty"]
    assert clauses("سلام یه ماوس بی‌سیم لاجیتک میخواستم") == ["سلام", "یه ماوس بی سیم لاجیتک میخواستم"]
    assert clauses("do you ship to Tabriz and how long does it take?") == ["do you ship to tabriz",
                                                                          "how long does it take"]
    assert len(clauses("گوشی و لپ تاپ")) == 1          # a word alone is not a clause
    assert clauses_with_marks("are you a bot? and where is your store")[0] == ("are you a bot", True)


def ranking(**confidences: float) -> Dict[str, float]:
    return dict(confidences)


def intents(found: List[Dict[str, Any]]) -> List[str]:
    return [f["intent"] for f in found]


def test_thanks_before_a_question_gives_the_question(splitter: RequestSplitter) -> None:
    found = splitter.requests("thanks, and what's the warranty?", "thank_you", ranking(thank_you=0.6, ask_warranty=0.3))
    assert intents(found) == ["thank_you", "ask_warranty"]


def test_a_clause_the_whole_message_did_not_see_is_not_a_request(splitter: RequestSplitter) -> None:
    # "whoa pricey. thanks anyway": the message thanks; the price clause alone must not add a request
    assert splitter.requests("whoa pricey. thanks anyway", "thank_you", ranking(thank_you=0.84)) == []
    # …unless it names what it asks about, or is a one-go question of its own
    found = splitter.requests("how long is shipping? also track order 100250", "ask_shipping",
                              ranking(ask_shipping=0.99), named=["100250"])
    assert intents(found) == ["ask_shipping", "track_order"]
    found = splitter.requests("are you a bot? and how long is shipping", "ask_shipping", ranking(ask_shipping=0.9))
    assert intents(found) == ["bot_challenge", "ask_shipping"]


def test_one_request_in_several_clauses_is_no_split(splitter: RequestSplitter) -> None:
    assert splitter.requests("do you ship to tabriz and how long does delivery take?", "ask_shipping",
                             ranking(ask_shipping=0.99)) == []


def test_a_clause_that_opens_like_a_question_is_asked_without_its_mark() -> None:
    assert clauses_with_marks("how can I pay, and how much is delivery to Shiraz?")[0] == ("how can i pay", True)
    assert clauses_with_marks("چطوری پرداخت کنم، ارسال چند روزه؟")[0][1] is True
    assert clauses_with_marks("i want the a55, and a case for it")[0] == ("i want the a55", False)


def test_a_one_go_question_asked_in_its_own_clause_counts_at_some_confidence() -> None:
    model = train_clause_model([t for examples in EXAMPLES.values() for t in examples],
                               [i for i, examples in EXAMPLES.items() for _ in examples])
    strict = RequestSplitter({"one_go": 0.99}, None, None, model)  # type: ignore[arg-type]
    usual = RequestSplitter({}, None, None, model)  # type: ignore[arg-type]
    text = "is there a guarantee? and how long is shipping"
    # the whole message was read as shipping only: the warranty clause counts by its own question
    assert intents(usual.requests(text, "ask_shipping", ranking(ask_shipping=0.99))) == ["ask_warranty", "ask_shipping"]
    assert strict.requests(text, "ask_shipping", ranking(ask_shipping=0.99)) == []
