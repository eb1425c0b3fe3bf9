"""Handoff settings from the environment (documented in docs/handoff.md), with working defaults.

| variable | default | meaning |
|---|---|---|
| `HAMSAFAR_HANDOFF_TIMEZONE` | `Asia/Tehran` | time zone of the working hours |
| `HAMSAFAR_HANDOFF_HOURS` | `09:00-18:00` | agents' hours each working day; `always` = 24/7 |
| `HAMSAFAR_HANDOFF_DAYS_OFF` | `fri` | comma-separated days off (`sat,sun,mon,tue,wed,thu,fri`); empty or `none` = no day off |
| `HAMSAFAR_HANDOFF_CLAIM_TIMEOUT` | `300` | seconds a conversation waits for an agent before apology + ticket |
| `HAMSAFAR_HANDOFF_AFTER_FALLBACKS` | `2` | hand off after this many not-understood messages in a row (0 = never) |
| `HAMSAFAR_HANDOFF_ON_FRUSTRATION` | `1` | hand off when the detector marks a message `frustrated` |
| `HAMSAFAR_CONSOLE_SECURE_COOKIE` | `0` | add `Secure` to the console cookie (set 1 behind HTTPS) |
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from typing import Optional, Set, Tuple
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else default


def claim_timeout_seconds() -> float:
    return float(_env("HAMSAFAR_HANDOFF_CLAIM_TIMEOUT", "300"))


def fallbacks_before_handoff(default: int = 2) -> int:
    return int(_env("HAMSAFAR_HANDOFF_AFTER_FALLBACKS", str(default)))


def handoff_on_frustration() -> bool:
    return _env("HAMSAFAR_HANDOFF_ON_FRUSTRATION", "1").lower() not in ("0", "false", "no", "off")


def secure_cookie() -> bool:
    return _env("HAMSAFAR_CONSOLE_SECURE_COOKIE", "0").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class WorkingHours:
    timezone: str = "Asia/Tehran"
    opens: Optional[dt.time] = dt.time(9, 0)   # None: always open
    closes: Optional[dt.time] = dt.time(18, 0)
    days_off: Tuple[int, ...] = (4,)            # Friday

    @classmethod
    def from_env(cls) -> "WorkingHours":
        hours = _env("HAMSAFAR_HANDOFF_HOURS", "09:00-18:00").lower()
        days = _days_off(os.environ.get("HAMSAFAR_HANDOFF_DAYS_OFF", "fri"))
        if hours in ("always", "24/7", "24x7"):
            return cls(_env("HAMSAFAR_HANDOFF_TIMEZONE", "Asia/Tehran"), None, None, days)
        start, end = hours.split("-", 1)
        return cls(_env("HAMSAFAR_HANDOFF_TIMEZONE", "Asia/Tehran"), _time(start), _time(end), days)

    def _local(self, now_utc: dt.datetime) -> dt.datetime:
        if now_utc.tzinfo is None:
            now_utc = now_utc.replace(tzinfo=dt.timezone.utc)
        return now_utc.astimezone(ZoneInfo(self.timezone))

    def is_open(self, now_utc: Optional[dt.datetime] = None) -> bool:
        local = self._local(now_utc or dt.datetime.now(dt.timezone.utc))
        if local.weekday() in self.days_off:
            return False
        if self.opens is None:
            return True
        return self.opens <= local.time().replace(tzinfo=None) < self.closes

    def next_opening(self, now_utc: Optional[dt.datetime] = None) -> Optional[dt.datetime]:
        """The next time agents are back (aware, in the working-hours time zone); None if open now."""
        local = self._local(now_utc or dt.datetime.now(dt.timezone.utc))
        if self.is_open(local):
            return None
        if len(self.days_off) >= 7:
            return None
        opens = self.opens or dt.time(0, 0)
        day = local.date()
        for offset in range(0, 8):
            candidate_day = day + dt.timedelta(days=offset)
            if candidate_day.weekday() in self.days_off:
                continue
            candidate = dt.datetime.combine(candidate_day, opens, tzinfo=ZoneInfo(self.timezone))
            if candidate > local:
                return candidate
        return None


def _days_off(value: str) -> Tuple[int, ...]:
    """Weekday numbers from `fri` / `thu,fri` / `none`. Set-but-empty means no day off —
    a desk staffed every day must be expressible, so empty is not "use the default"."""
    days: Set[int] = set()
    for word in value.lower().split(","):
        word = word.strip()
        if word in ("", "none"):
            continue
        if word[:3] in DAYS:
            days.add(DAYS.index(word[:3]))
        else:
            # Read on every handoff: a typo must not break the handoff itself, so warn and skip.
            logger.warning("HAMSAFAR_HANDOFF_DAYS_OFF: ignoring unknown day %r (use sat,sun,mon,tue,wed,thu,fri or none)", word)
    return tuple(sorted(days))


def _time(value: str) -> dt.time:
    hour, _, minute = value.strip().partition(":")
    return dt.time(int(hour), int(minute or 0))
