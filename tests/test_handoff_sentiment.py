"""The fa/en sentiment and frustration detector and its Rasa NLU component."""

from __future__ import annotations

import pytest

from bot.handoff.sentiment import analyse


@pytest.mark.parametrize("text", ["خیلی ممنون، عالی بود", "Thanks a lot, great service", "مرسی، سفارشم سالم رسید"])
def test_positive(text):
    result = analyse(text)
    assert result["label"] == "positive" and result["score"] > 0 and not result["frustrated"]


@pytest.mark.parametrize("text", ["سفارشم کجاست؟", "where is my order", "هزینه ارسال به شیراز چقدره؟",
                                  "What payment methods do you accept?"])
def test_neutral_requests_are_not_frustrated(text):
    assert not analyse(text)["frustrated"]


@pytest.mark.parametrize("text", ["کالا خراب به دستم رسید", "The item arrived damaged and late"])
def test_complaints_are_negative_but_not_frustrated(text):
    result = analyse(text)
    assert result["label"] == "negative" and result["score"] < 0 and not result["frustrated"]


@pytest.mark.parametrize("text", ["کلاهبردارید، پولمو پس بدید!!!", "این چه وضعشه؟ سه هفته‌ست منتظرم!!!",
                                  "This is a scam, I want my money back", "I'm so fed up, worst shop ever"])
def test_clearly_upset_is_frustrated(text):
    result = analyse(text)
    assert result["frustrated"] and result["label"] == "negative" and result["score"] <= -0.3


def test_score_range_and_empty():
    for text in ("", "؟", "!!!", "ok"):
        result = analyse(text)
        assert -1 <= result["score"] <= 1 and result["label"] in ("positive", "neutral", "negative")


def test_nlu_component_sets_sentiment_in_the_output():
    from rasa.shared.nlu.training_data.message import Message

    from bot.handoff.sentiment import SentimentAnalyzer

    component = SentimentAnalyzer({})
    message = Message(data={"text": "کلاهبردارید!!!"})
    component.process([message])
    assert message.get("sentiment")["frustrated"] is True
    assert "sentiment" in message.as_dict(only_output_properties=True)


def test_nlu_component_fits_its_model_when_rasa_loads_it(monkeypatch):
    """Loading the component fits the classifier, so no customer's first message waits for it."""
    from bot.handoff import sentiment

    monkeypatch.setattr(sentiment, "_model", None)
    component = sentiment.SentimentAnalyzer({})
    assert sentiment._model is not None and component.model is sentiment._model


def test_sentiment_fills_the_touchpoint():
    """The detector's output in the parse data becomes the touchpoint's sentiment and label."""
    from bot.touchpoints.assembler import TurnAssembler

    rows = []
    assembler = TurnAssembler()
    for t, text in ((1.0, "کلاهبردارید، پولمو پس بدید!!!"), (5.0, "خیلی ممنون، عالی بود")):
        rows += assembler.feed({"sender_id": "tg:1", "event": "user", "timestamp": t, "text": text,
                                "input_channel": "hamsafar_telegram", "message_id": f"m{t}",
                                "parse_data": {"intent": {"name": "report_problem", "confidence": 0.9},
                                               "entities": [], "sentiment": analyse(text)}})
        rows += assembler.feed({"sender_id": "tg:1", "event": "action", "timestamp": t + 0.1, "name": "action_listen"})
    customer = [r for r in rows if r["actor"] == "customer"]
    assert [(r["sentiment_label"], r["sentiment"] < 0) for r in customer] == [("negative", True), ("positive", False)]
    assert customer[0]["channel"] == "telegram"
