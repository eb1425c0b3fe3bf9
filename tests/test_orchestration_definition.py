"""orchestration.yml: the shipped file loads; mistakes are named with their place in the file."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import yaml

from bot import settings
from bot.orchestration.definition import (
    Condition, OrchestrationConfigError, Send, Wait, load_book, load_book_file, parse_book, parse_duration,
)

SHIPPED = settings.PROJECT_ROOT / "orchestration.yml"
SHIPPED_JOURNEYS = {"abandoned_payment", "abandoned_order", "shipping_updates", "onboarding", "csat_after_ticket",
                    "nps_after_delivery", "referral_promoters", "back_in_stock", "win_back"}


def raw() -> dict:
    with open(SHIPPED, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_shipped_file_has_the_demo_journeys_in_both_languages() -> None:
    book = load_book(SHIPPED)
    assert set(book.journeys) == SHIPPED_JOURNEYS
    for journey in book.journeys.values():
        assert journey.sends, journey.name
        for send in journey.sends:
            assert send.text["fa"] and send.text["en"]
            assert any("\u0600" <= c <= "\u06ff" for c in send.text["fa"]), (journey.name, send.name)
    settings_ = book.settings
    assert (settings_.window_from, settings_.window_to, settings_.days_off) == (dt.time(9), dt.time(21), (4,))
    assert (settings_.cap_per_day, settings_.cap_per_week) == (1, 3)


def test_abandoned_payment_reminds_at_one_hour_and_offers_a_code_at_24_hours() -> None:
    journey = load_book(SHIPPED).get("abandoned_payment")
    waits = [s for s in journey.steps if isinstance(s, Wait)]
    assert waits[0].delay == dt.timedelta(hours=1)
    assert waits[1].since_entry == dt.timedelta(hours=24)
    conditions = [s for s in journey.steps if isinstance(s, Condition)]
    assert all(c.checks == {"order_status": ("pending_payment",)} for c in conditions)
    names = [s.name for s in journey.steps if isinstance(s, Send)]
    assert names == ["payment_link", "discount_code"]
    assert "{payment_link}" in journey.sends[0].text["fa"] and "{discount_code}" in journey.sends[1].text["en"]
    assert journey.holdout == pytest.approx(0.1) and journey.goal.events == ("order.paid",)


def test_referral_goes_to_promoters_only() -> None:
    journey = load_book(SHIPPED).get("referral_promoters")
    assert journey.trigger.event == "feedback.nps" and journey.trigger.where == {"min_score": 9}


@pytest.mark.parametrize("value, expected", [("30m", dt.timedelta(minutes=30)), ("1h", dt.timedelta(hours=1)),
                                             ("7d", dt.timedelta(days=7)), ("2w", dt.timedelta(weeks=2))])
def test_durations(value: str, expected: dt.timedelta) -> None:
    assert parse_duration(value, "x") == expected


def _broken(mutate) -> str:
    data = copy.deepcopy(raw())
    mutate(data)
    with pytest.raises(OrchestrationConfigError) as error:
        parse_book(data)
    return str(error.value)


def test_a_missing_english_text_is_named_with_its_place() -> None:
    def drop_en(d: dict) -> None:
        del d["journeys"]["abandoned_payment"]["steps"][2]["send"]["text"]["en"]

    assert _broken(drop_en) == "journeys.abandoned_payment.steps[2].send.text: missing 'en' text"


def test_unknown_placeholder_event_duration_and_channel_are_refused() -> None:
    def placeholder(d: dict) -> None:
        d["journeys"]["win_back"]["steps"][1]["send"]["text"]["fa"] = "سلام {customer_id}"

    assert "unknown placeholder {customer_id}" in _broken(placeholder)
    assert "journeys.win_back.steps[1].send.text.fa" in _broken(placeholder)

    def event(d: dict) -> None:
        d["journeys"]["shipping_updates"]["trigger"]["event"] = "order.shiped"

    assert _broken(event).startswith("journeys.shipping_updates.trigger.event: unknown event 'order.shiped'")

    def duration(d: dict) -> None:
        d["journeys"]["abandoned_payment"]["steps"][0]["wait"] = "an hour"

    assert "expected a duration like 30m" in _broken(duration)

    def channel(d: dict) -> None:
        d["defaults"]["channels"] = ["telegram", "email"]

    assert _broken(channel) == "defaults.channels: unknown channel 'email' (use last, telegram, bale, web, sms)"


def test_holdout_needs_a_goal_and_a_share_below_one() -> None:
    def share(d: dict) -> None:
        d["journeys"]["onboarding"]["holdout"] = 1.5

    assert "journeys.onboarding.holdout" in _broken(share)

    def no_goal(d: dict) -> None:
        del d["journeys"]["onboarding"]["goal"]

    assert "give the journey a goal" in _broken(no_goal)


def test_intents_and_goals_are_checked_against_journey_yml() -> None:
    def intent(d: dict) -> None:
        d["journeys"]["csat_after_ticket"]["steps"][1]["send"]["expects"]["intents"] = ["rate_us"]

    assert "unknown intent 'rate_us'" in _broken(intent)

    def stage(d: dict) -> None:
        d["journeys"]["csat_after_ticket"]["stage"] = "loyalty"

    assert "unknown stage 'loyalty'" in _broken(stage)


def test_quiet_hours_days_and_jalali_holidays_are_validated() -> None:
    def window(d: dict) -> None:
        d["defaults"]["send_window"] = {"from": "21:00", "to": "09:00"}

    assert "'from' must be before 'to'" in _broken(window)

    def day(d: dict) -> None:
        d["defaults"]["days_off"] = ["friday", "jomeh"]

    assert "unknown day 'jomeh'" in _broken(day)

    def holiday(d: dict) -> None:
        d["defaults"]["holidays"] = ["07-31"]  # Mehr has 30 days

    assert "expected a Jalali date" in _broken(holiday)


def test_unreadable_and_invalid_yaml_files_get_a_clear_error(tmp_path) -> None:
    with pytest.raises(OrchestrationConfigError, match="cannot read"):
        load_book_file(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("journeys: [unclosed", encoding="utf-8")
    with pytest.raises(OrchestrationConfigError, match="not valid YAML"):
        load_book_file(bad)


def test_an_edited_file_is_taken_up_and_a_broken_edit_is_not(tmp_path, monkeypatch, sqlite_url) -> None:
    import os

    from bot.orchestration.engine import Orchestrator

    path = tmp_path / "orchestration.yml"
    path.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("HAMSAFAR_ORCHESTRATION_FILE", str(path))
    orchestrator = Orchestrator(load_book(), sqlite_url)
    assert not orchestrator.refresh()
    shipped = orchestrator.book.version
    path.write_text(path.read_text(encoding="utf-8").replace(f"version: {shipped}", f"version: {shipped + 1}"),
                    encoding="utf-8")
    os.utime(path, (1, 2_000_000_000))
    assert orchestrator.refresh() and orchestrator.book.version == shipped + 1
    path.write_text("journeys: [", encoding="utf-8")
    os.utime(path, (1, 2_000_000_100))
    assert not orchestrator.refresh() and orchestrator.book.version == shipped + 1


def test_while_conditions_are_checked_like_if_conditions() -> None:
    journey = load_book(SHIPPED).get("abandoned_order")
    assert journey.while_ == {"no_order_since_entry": True}
    assert journey.trigger.event == "goal.abandoned" and journey.trigger.where == {"goal": ("place_order",)}

    def unknown(d: dict) -> None:
        d["journeys"]["abandoned_order"]["while"] = {"ordered": False}

    assert _broken(unknown).startswith("journeys.abandoned_order.while: unknown condition 'ordered'")

    def goal(d: dict) -> None:
        d["journeys"]["abandoned_order"]["trigger"]["where"] = {"goal": "buy"}

    assert _broken(goal).startswith("journeys.abandoned_order.trigger.where.goal: expected goals from journey.yml")

    def empty(d: dict) -> None:
        d["journeys"]["abandoned_order"]["while"] = {}

    assert _broken(empty) == "journeys.abandoned_order.while: expected at least one condition"
