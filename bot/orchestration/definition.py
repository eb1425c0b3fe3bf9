"""Load and validate `orchestration.yml`: the proactive journeys a shop runs.

The file sits next to `journey.yml` and is versioned like it. Each journey has
an entry trigger (an event or a segment), steps (wait / if / send), a goal
with a conversion window, exit events, a hold-out share, a priority and an
optional exclusive group. Every mistake is reported with its place in the file
(`journeys.abandoned_payment.steps[2].send.text: missing 'en'`) so a shop
editing it gets a clear answer instead of a half-working journey.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import jdatetime
import yaml

from bot import settings

LANGUAGES = ("fa", "en")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
ORDER_STATUSES = ("pending_payment", "paid", "processing", "shipped", "delivered", "cancelled", "returned")

#: Events the orchestrator knows (docs/orchestration.md, "Events"); `custom.*` names are free.
EVENTS = frozenset(
    ["order.created"] + [f"order.{status}" for status in ORDER_STATUSES]
    + ["ticket.closed", "feedback.csat", "feedback.nps", "review.written", "product.back_in_stock",
       "goal.abandoned", "referral.used"]
)
#: Segments evaluated by the scheduler (entry trigger `segment:`).
SEGMENTS = frozenset({"inactive_customers"})
#: Channels a message may go out on, and `last` (the customer's last own channel).
CHANNELS = ("last", "telegram", "bale", "web", "sms")
#: Placeholders a message template may use (filled by `bot.orchestration.templates`).
PLACEHOLDERS = frozenset({
    "name", "first_name", "shop", "website", "order_id", "total", "order_date", "delivered_date",
    "payment_link", "tracking_code", "carrier", "products", "product", "product_link", "guide_link",
    "discount_code", "discount", "referral_code", "referral_reward", "ticket", "score", "days_since_order",
})
#: Condition checks an `if:` step may use, with the type of their value.
CONDITIONS = {
    "order_status": "statuses", "language": "language", "min_score": "int", "max_score": "int",
    "stage": "stages", "min_total": "int", "max_total": "int", "in_stock": "bool",
    "no_feedback_days": "int", "no_order_since_entry": "bool", "goal": "goals",
}
_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class OrchestrationConfigError(ValueError):
    """orchestration.yml is wrong; the message names the place and what is expected."""


def _fail(where: str, message: str) -> OrchestrationConfigError:
    return OrchestrationConfigError(f"{where}: {message}")


def parse_duration(value: Any, where: str) -> dt.timedelta:
    """`30m`, `1h`, `24h`, `7d`, `2w` -> timedelta."""
    match = _DURATION.match(str(value)) if isinstance(value, (str, int)) else None
    if not match:
        raise _fail(where, f"expected a duration like 30m, 1h, 7d or 2w, not {value!r}")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _clock(value: Any, where: str) -> dt.time:
    text = str(value).strip()
    match = re.match(r"^(\d{1,2}):(\d{2})$", text)
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59 or (int(match.group(1)) == 24 and int(match.group(2))):
        raise _fail(where, f"expected a local time like 09:00, not {value!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    return dt.time.max if hour == 24 else dt.time(hour, minute)


def _texts(value: Any, where: str) -> Dict[str, str]:
    """A {fa: ..., en: ...} mapping with both languages and only known placeholders."""
    if not isinstance(value, dict):
        raise _fail(where, "expected a mapping with 'fa' and 'en' texts")
    out: Dict[str, str] = {}
    for language in LANGUAGES:
        text = value.get(language)
        if not isinstance(text, str) or not text.strip():
            raise _fail(where, f"missing {language!r} text")
        for _literal, name, _spec, _conv in string.Formatter().parse(text):
            if name is not None and name not in PLACEHOLDERS:
                raise _fail(f"{where}.{language}", f"unknown placeholder {{{name}}} (known: {', '.join(sorted(PLACEHOLDERS))})")
        out[language] = text.strip()
    extra = set(value) - set(LANGUAGES)
    if extra:
        raise _fail(where, f"unknown language(s) {sorted(extra)} (use fa and en)")
    return out


def _event(value: Any, where: str) -> str:
    name = str(value or "").strip()
    if name not in EVENTS and not re.match(r"^custom\.[a-z0-9_.]+$", name):
        raise _fail(where, f"unknown event {value!r} (known: {', '.join(sorted(EVENTS))}, or custom.<name>)")
    return name


def _keys(data: Dict[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise _fail(where, f"unknown key(s) {sorted(unknown)} (allowed: {', '.join(allowed)})")


def _mapping(value: Any, where: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "expected a mapping")
    return value


# --------------------------------------------------------------------------- model
@dataclass(frozen=True)
class Button:
    """A button of a proactive message: a link or a payload the bot understands."""

    title: Dict[str, str]
    url: Optional[str] = None
    payload: Optional[str] = None


@dataclass(frozen=True)
class Expects:
    """What the customer's answer to a message belongs to (written into the conversation's metadata)."""

    goal: Optional[str] = None
    intents: Tuple[str, ...] = ()
    slots: Dict[str, str] = field(default_factory=dict)
    feedback: Optional[str] = None   # csat | nps: a bare number answers this survey


@dataclass(frozen=True)
class Wait:
    """A step that waits: a delay, a clock time, or an event with a time-out."""

    delay: Optional[dt.timedelta] = None         # after the previous step
    since_entry: Optional[dt.timedelta] = None   # after the trigger event
    until: Optional[dt.time] = None              # next local clock time
    event: Optional[str] = None                  # until this event happens ...
    timeout: Optional[dt.timedelta] = None       # ... or this long has passed
    on_timeout: str = "exit"                     # exit | continue


@dataclass(frozen=True)
class Condition:
    """A step that checks the entry's data and exits or skips the next step when it does not hold."""

    checks: Dict[str, Any]
    otherwise: str = "exit"                      # exit | skip (the next step)


@dataclass(frozen=True)
class Send:
    """A step that sends a message (text per language, buttons, the answers it expects, allowed channels)."""

    name: str
    text: Dict[str, str]
    buttons: Tuple[Button, ...] = ()
    expects: Expects = field(default_factory=Expects)
    channels: Optional[Tuple[str, ...]] = None


Step = Union[Wait, Condition, Send]


@dataclass(frozen=True)
class Trigger:
    """What enters a customer into a journey: an event or a segment, with filters and a maximum age."""

    event: Optional[str] = None
    segment: Optional[str] = None
    days: int = 0                                # for segment inactive_customers
    where: Dict[str, Any] = field(default_factory=dict)
    max_age: Optional[dt.timedelta] = None       # events older than this do not enter


@dataclass(frozen=True)
class GoalSpec:
    """What counts as the journey's conversion: events within a window (for the same order)."""

    events: Tuple[str, ...]
    within: dt.timedelta
    same_order: bool = True


@dataclass(frozen=True)
class ProactiveJourney:
    """One journey of orchestration.yml: trigger, steps, goal, exits, hold-out and priority."""

    name: str
    title: Dict[str, str]
    stage: Optional[str]
    trigger: Trigger
    steps: Tuple[Step, ...]
    goal: Optional[GoalSpec] = None
    exit_on: Tuple[str, ...] = ()
    holdout: float = 0.0
    priority: int = 50
    group: Optional[str] = None
    capped: bool = True                          # counts toward / obeys the frequency cap
    enabled: bool = True
    # `while:` — conditions checked again before every step; the first time they fail the entry ends
    # (`condition_changed`): an abandoned-order reminder stops once the customer has ordered anyway
    while_: Dict[str, Any] = field(default_factory=dict)
    reenter_after: Optional[dt.timedelta] = None  # per customer; None: once per trigger subject

    @property
    def sends(self) -> List[Send]:
        return [s for s in self.steps if isinstance(s, Send)]


@dataclass(frozen=True)
class Settings:
    """The rules every proactive message obeys: sending window, days off, holidays, frequency caps,
    channels."""

    timezone: str = "Asia/Tehran"
    window_from: dt.time = dt.time(9, 0)
    window_to: dt.time = dt.time(21, 0)
    days_off: Tuple[int, ...] = (4,)             # Friday
    holidays: Tuple[str, ...] = ()               # Jalali "MM-DD" (yearly) or "YYYY-MM-DD"
    cap_per_day: Optional[int] = 1
    cap_per_week: Optional[int] = 3
    channels: Tuple[str, ...] = CHANNELS
    web_online_minutes: int = 30
    max_event_age: dt.timedelta = dt.timedelta(days=2)
    discount_code: Optional[str] = None
    guide_link: str = "{website}/guide/{sku}"
    product_link: str = "{website}/product/{sku}"


@dataclass(frozen=True)
class JourneyBook:
    """Every proactive journey of the shop, with the shared settings."""

    version: int
    settings: Settings
    journeys: Dict[str, ProactiveJourney]

    def get(self, name: str) -> ProactiveJourney:
        try:
            return self.journeys[name]
        except KeyError:
            raise KeyError(f"no journey {name!r} (known: {', '.join(sorted(self.journeys))})") from None

    def triggered_by(self, event: str) -> List[ProactiveJourney]:
        return [j for j in self.journeys.values() if j.enabled and j.trigger.event == event]


# --------------------------------------------------------------------------- parsing
def _settings(data: Any) -> Settings:
    where = "defaults"
    data = _mapping(data or {}, where)
    _keys(data, ("timezone", "send_window", "days_off", "holidays", "frequency_cap", "channels",
                 "web_online_minutes", "max_event_age", "discount_code", "guide_link", "product_link"), where)
    timezone = str(data.get("timezone", "Asia/Tehran"))
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except Exception:
        raise _fail(f"{where}.timezone", f"unknown time zone {timezone!r}") from None
    window = _mapping(data.get("send_window", {"from": "09:00", "to": "21:00"}), f"{where}.send_window")
    _keys(window, ("from", "to"), f"{where}.send_window")
    start = _clock(window.get("from", "09:00"), f"{where}.send_window.from")
    end = _clock(window.get("to", "21:00"), f"{where}.send_window.to")
    if not start < end:
        raise _fail(f"{where}.send_window", "'from' must be before 'to' (a window over midnight is not supported)")
    days_off: List[int] = []
    for day in data.get("days_off", ["fri"]) or []:
        key = str(day).strip().lower()[:3]
        if key not in DAYS:
            raise _fail(f"{where}.days_off", f"unknown day {day!r} (use sat, sun, mon, tue, wed, thu, fri)")
        days_off.append(DAYS.index(key))
    holidays: List[str] = []
    for value in data.get("holidays", []) or []:
        holidays.append(_jalali_day(value, f"{where}.holidays"))
    cap = _mapping(data.get("frequency_cap", {"per_day": 1, "per_week": 3}) or {}, f"{where}.frequency_cap")
    _keys(cap, ("per_day", "per_week"), f"{where}.frequency_cap")
    caps = []
    for key in ("per_day", "per_week"):
        value = cap.get(key)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise _fail(f"{where}.frequency_cap.{key}", "expected a whole number >= 1 (or leave it out for no cap)")
        caps.append(value)
    return Settings(
        timezone=timezone, window_from=start, window_to=end, days_off=tuple(sorted(set(days_off))),
        holidays=tuple(holidays), cap_per_day=caps[0], cap_per_week=caps[1],
        channels=_channels(data.get("channels", list(CHANNELS)), f"{where}.channels"),
        web_online_minutes=int(data.get("web_online_minutes", 30)),
        max_event_age=parse_duration(data.get("max_event_age", "2d"), f"{where}.max_event_age"),
        discount_code=str(data["discount_code"]).strip().upper() if data.get("discount_code") else None,
        guide_link=str(data.get("guide_link", Settings.guide_link)),
        product_link=str(data.get("product_link", Settings.product_link)),
    )


def _jalali_day(value: Any, where: str) -> str:
    """`MM-DD` (every year) or `YYYY-MM-DD`, a valid Jalali date (checked with jdatetime)."""
    text = str(value).strip().replace("/", "-")
    parts = text.split("-")
    try:
        if len(parts) == 2:
            jdatetime.date(1403, int(parts[0]), int(parts[1]))  # 1403 is a leap year: 12-30 exists
            return f"{int(parts[0]):02d}-{int(parts[1]):02d}"
        if len(parts) == 3:
            jdatetime.date(int(parts[0]), int(parts[1]), int(parts[2]))
            return f"{int(parts[0]):04d}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    except ValueError:
        pass
    raise _fail(where, f"expected a Jalali date MM-DD or YYYY-MM-DD, not {value!r}")


def _channels(value: Any, where: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(where, f"expected a list of channels from {', '.join(CHANNELS)}")
    for channel in value:
        if channel not in CHANNELS:
            raise _fail(where, f"unknown channel {channel!r} (use {', '.join(CHANNELS)})")
    return tuple(value)


def _condition_checks(data: Dict[str, Any], where: str, stages: Sequence[str],
                      goals: Sequence[str] = ()) -> Dict[str, Any]:
    checks: Dict[str, Any] = {}
    for key, value in data.items():
        kind = CONDITIONS.get(key)
        if kind is None:
            raise _fail(where, f"unknown condition {key!r} (known: {', '.join(sorted(CONDITIONS))})")
        if kind == "statuses":
            values = value if isinstance(value, list) else [value]
            bad = [v for v in values if v not in ORDER_STATUSES]
            if bad or not values:
                raise _fail(f"{where}.{key}", f"expected order statuses from {', '.join(ORDER_STATUSES)}")
            checks[key] = tuple(values)
        elif kind == "stages":
            values = value if isinstance(value, list) else [value]
            bad = [v for v in values if v not in stages]
            if bad or not values:
                raise _fail(f"{where}.{key}", f"expected journey stages from journey.yml: {', '.join(stages)}")
            checks[key] = tuple(values)
        elif kind == "goals":
            values = value if isinstance(value, list) else [value]
            bad = [v for v in values if v not in goals]
            if bad or not values:
                raise _fail(f"{where}.{key}", f"expected goals from journey.yml: {', '.join(goals)}")
            checks[key] = tuple(values)
        elif kind == "language":
            if value not in LANGUAGES:
                raise _fail(f"{where}.{key}", "expected fa or en")
            checks[key] = value
        elif kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise _fail(f"{where}.{key}", f"expected a whole number, not {value!r}")
            checks[key] = value
        elif kind == "bool":
            if not isinstance(value, bool):
                raise _fail(f"{where}.{key}", "expected true or false")
            checks[key] = value
    return checks


def _wait(value: Any, where: str) -> Wait:
    if isinstance(value, (str, int)):
        return Wait(delay=parse_duration(value, where))
    data = _mapping(value, where)
    _keys(data, ("delay", "since_entry", "until", "event", "timeout", "on_timeout"), where)
    kinds = [k for k in ("delay", "since_entry", "until", "event") if k in data]
    if len(kinds) != 1:
        raise _fail(where, "give exactly one of delay, since_entry, until, event")
    if "event" in data:
        if "timeout" not in data:
            raise _fail(where, "a wait for an event needs a timeout")
        on_timeout = str(data.get("on_timeout", "exit"))
        if on_timeout not in ("exit", "continue"):
            raise _fail(f"{where}.on_timeout", "expected exit or continue")
        return Wait(event=_event(data["event"], f"{where}.event"),
                    timeout=parse_duration(data["timeout"], f"{where}.timeout"), on_timeout=on_timeout)
    if "timeout" in data or "on_timeout" in data:
        raise _fail(where, "timeout/on_timeout only go with a wait for an event")
    if "until" in data:
        return Wait(until=_clock(data["until"], f"{where}.until"))
    if "since_entry" in data:
        return Wait(since_entry=parse_duration(data["since_entry"], f"{where}.since_entry"))
    return Wait(delay=parse_duration(data["delay"], f"{where}.delay"))


def _send(value: Any, where: str, intents: Sequence[str], goals: Sequence[str]) -> Send:
    data = _mapping(value, where)
    _keys(data, ("name", "text", "buttons", "expects", "channels"), where)
    name = str(data.get("name") or "").strip()
    if not re.match(r"^[a-z][a-z0-9_]{0,39}$", name):
        raise _fail(f"{where}.name", "expected a step name of lower-case letters, digits and _ (max 40)")
    buttons = []
    for i, button in enumerate(data.get("buttons") or []):
        bwhere = f"{where}.buttons[{i}]"
        button = _mapping(button, bwhere)
        _keys(button, ("title", "url", "payload"), bwhere)
        if bool(button.get("url")) == bool(button.get("payload")):
            raise _fail(bwhere, "give exactly one of url and payload")
        buttons.append(Button(_texts(button.get("title"), f"{bwhere}.title"),
                              str(button["url"]) if button.get("url") else None,
                              str(button["payload"]) if button.get("payload") else None))
    expects = Expects()
    if data.get("expects") is not None:
        ewhere = f"{where}.expects"
        e = _mapping(data["expects"], ewhere)
        _keys(e, ("goal", "intents", "slots", "feedback"), ewhere)
        if e.get("goal") is not None and e["goal"] not in goals:
            raise _fail(f"{ewhere}.goal", f"unknown goal {e['goal']!r} (goals of journey.yml: {', '.join(goals)})")
        for intent in e.get("intents") or []:
            if intent not in intents:
                raise _fail(f"{ewhere}.intents", f"unknown intent {intent!r} (not in journey.yml)")
        if e.get("feedback") not in (None, "csat", "nps"):
            raise _fail(f"{ewhere}.feedback", "expected csat or nps")
        slots = {str(k): str(v) for k, v in (_mapping(e.get("slots") or {}, f"{ewhere}.slots")).items()}
        expects = Expects(e.get("goal"), tuple(e.get("intents") or ()), slots, e.get("feedback"))
    channels = _channels(data["channels"], f"{where}.channels") if "channels" in data else None
    return Send(name, _texts(data.get("text"), f"{where}.text"), tuple(buttons), expects, channels)


def _journey(name: str, data: Any, stages: Sequence[str], intents: Sequence[str], goals: Sequence[str]) -> ProactiveJourney:
    where = f"journeys.{name}"
    if not re.match(r"^[a-z][a-z0-9_]{0,39}$", name):
        raise _fail(where, "journey names are lower-case letters, digits and _ (max 40)")
    data = _mapping(data, where)
    _keys(data, ("title", "stage", "trigger", "steps", "goal", "exit_on", "holdout", "priority", "group",
                 "capped", "enabled", "reenter_after", "while"), where)
    stage = data.get("stage")
    if stage is not None and stage not in stages:
        raise _fail(f"{where}.stage", f"unknown stage {stage!r} (journey.yml: {', '.join(stages)})")
    # trigger
    twhere = f"{where}.trigger"
    t = _mapping(data.get("trigger"), twhere)
    _keys(t, ("event", "segment", "days", "where", "max_age"), twhere)
    if ("event" in t) == ("segment" in t):
        raise _fail(twhere, "give exactly one of event and segment")
    if "segment" in t:
        if t["segment"] not in SEGMENTS:
            raise _fail(f"{twhere}.segment", f"unknown segment {t['segment']!r} (known: {', '.join(sorted(SEGMENTS))})")
        if not isinstance(t.get("days"), int) or t["days"] < 1:
            raise _fail(f"{twhere}.days", "the inactive_customers segment needs days: N (N >= 1)")
        trigger = Trigger(segment=t["segment"], days=t["days"])
    else:
        trigger = Trigger(event=_event(t["event"], f"{twhere}.event"),
                          where=_condition_checks(_mapping(t.get("where") or {}, f"{twhere}.where"), f"{twhere}.where",
                                                  stages, goals),
                          max_age=parse_duration(t["max_age"], f"{twhere}.max_age") if "max_age" in t else None)
    # steps
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise _fail(f"{where}.steps", "expected a list of steps (wait, if, send)")
    steps: List[Step] = []
    names = set()
    for i, raw in enumerate(raw_steps):
        swhere = f"{where}.steps[{i}]"
        raw = _mapping(raw, swhere)
        kinds = [k for k in ("wait", "if", "send") if k in raw]
        if len(kinds) != 1 or set(raw) - {"wait", "if", "send", "else"}:
            raise _fail(swhere, "each step is exactly one of wait:, if: (with optional else:) or send:")
        if "else" in raw and "if" not in raw:
            raise _fail(swhere, "else: goes with if:")
        if "wait" in raw:
            steps.append(_wait(raw["wait"], f"{swhere}.wait"))
        elif "if" in raw:
            otherwise = str(raw.get("else", "exit"))
            if otherwise not in ("exit", "skip"):
                raise _fail(f"{swhere}.else", "expected exit or skip (skip the next step)")
            checks = _condition_checks(_mapping(raw["if"], f"{swhere}.if"), f"{swhere}.if", stages, goals)
            if not checks:
                raise _fail(f"{swhere}.if", "expected at least one condition")
            steps.append(Condition(checks, otherwise))
        else:
            send = _send(raw["send"], f"{swhere}.send", intents, goals)
            if send.name in names:
                raise _fail(f"{swhere}.send.name", f"step name {send.name!r} used twice in this journey")
            names.add(send.name)
            steps.append(send)
    if not any(isinstance(s, Send) for s in steps):
        raise _fail(f"{where}.steps", "a journey needs at least one send step")
    # goal and exits
    goal = None
    if data.get("goal") is not None:
        gwhere = f"{where}.goal"
        g = _mapping(data["goal"], gwhere)
        _keys(g, ("event", "within", "same_order"), gwhere)
        events = g.get("event")
        events = events if isinstance(events, list) else [events]
        goal = GoalSpec(tuple(_event(e, f"{gwhere}.event") for e in events),
                        parse_duration(g.get("within", "7d"), f"{gwhere}.within"), bool(g.get("same_order", True)))
    exit_on = tuple(_event(e, f"{where}.exit_on") for e in (data.get("exit_on") or []))
    holdout = data.get("holdout", 0)
    if not isinstance(holdout, (int, float)) or isinstance(holdout, bool) or not 0 <= holdout < 1:
        raise _fail(f"{where}.holdout", "expected a share from 0 to below 1, e.g. 0.1 for 10 %")
    if holdout and goal is None:
        raise _fail(f"{where}.holdout", "a hold-out measures uplift on a goal: give the journey a goal")
    while_ = _condition_checks(_mapping(data["while"], f"{where}.while"), f"{where}.while", stages, goals) \
        if data.get("while") is not None else {}
    if data.get("while") is not None and not while_:
        raise _fail(f"{where}.while", "expected at least one condition")
    priority = data.get("priority", 50)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise _fail(f"{where}.priority", "expected a whole number (higher wins)")
    group = data.get("group")
    if group is not None and not re.match(r"^[a-z][a-z0-9_]{0,39}$", str(group)):
        raise _fail(f"{where}.group", "expected a group name of lower-case letters, digits and _")
    return ProactiveJourney(
        name=name, title=_texts(data.get("title"), f"{where}.title") if "title" in data else {"fa": name, "en": name},
        stage=stage, trigger=trigger, steps=tuple(steps), goal=goal, exit_on=exit_on, holdout=float(holdout),
        priority=priority, group=group, capped=bool(data.get("capped", True)), enabled=bool(data.get("enabled", True)),
        reenter_after=parse_duration(data["reenter_after"], f"{where}.reenter_after") if data.get("reenter_after") else None,
        while_=while_,
    )


def parse_book(data: Any) -> JourneyBook:
    """Build and check a `JourneyBook` from the YAML mapping (journey.yml supplies stages, intents, goals)."""
    from bot.journey import load_journey

    definition = load_journey()
    data = _mapping(data, "orchestration.yml")
    _keys(data, ("version", "defaults", "journeys"), "orchestration.yml")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise _fail("version", "expected a whole number >= 1 (bump it when you change the file)")
    journeys_data = _mapping(data.get("journeys"), "journeys")
    intents = definition.intents
    goals = list(definition.goals)
    journeys = {name: _journey(str(name), spec, definition.stage_names, intents, goals)
                for name, spec in journeys_data.items()}
    return JourneyBook(version, _settings(data.get("defaults")), journeys)


def load_book_file(path: Union[str, Path]) -> JourneyBook:
    """Read and check one file (not cached)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as error:
        raise OrchestrationConfigError(f"{path}: cannot read ({error.strerror or error})") from None
    except yaml.YAMLError as error:
        raise OrchestrationConfigError(f"{path}: not valid YAML ({error})") from None
    return parse_book(data)


def book_path() -> Path:
    """`HAMSAFAR_ORCHESTRATION_FILE`, else `orchestration.yml` next to journey.yml."""
    return settings.current().orchestration_file or settings.PROJECT_ROOT / "orchestration.yml"


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> JourneyBook:
    return load_book_file(path)


def load_book(path: Union[str, Path, None] = None) -> JourneyBook:
    """The journeys of `path` (default `book_path()`), re-read when the file changes."""
    path = Path(path or book_path())
    try:
        mtime = path.stat().st_mtime
    except OSError as error:
        raise OrchestrationConfigError(f"{path}: cannot read ({error.strerror or error})") from None
    return _cached(str(path), mtime)
