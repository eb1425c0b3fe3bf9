"""Handoff settings, read from `bot.settings` (the `HAMSAFAR_HANDOFF_*` rows of docs/settings.md;
docs/handoff.md explains them): working hours, claim timeout, when to hand off, the console cookie.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Optional, Set, Tuple
from zoneinfo import ZoneInfo

from bot import settings

logger = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order


def claim_timeout_seconds() -> float:
    return settings.current().handoff_claim_timeout


def fallbacks_before_handoff(default: int = 2) -> int:
    """`HAMSAFAR_HANDOFF_AFTER_FALLBACKS`, else `default` (the policy's `fallbacks_in_a_row`)."""
    configured = settings.current().handoff_after_fallbacks
    return default if configured is None else configured


def handoff_on_frustration() -> bool:
    return settings.current().handoff_on_frustration


def secure_cookie() -> bool:
    return settings.current().console_secure_cookie


@dataclass(frozen=True)
class WorkingHours:
    """When agents are at work, in the shop's time zone: outside them a handoff becomes a ticket."""

    timezone: str = "Asia/Tehran"
    opens: Optional[dt.time] = dt.time(9, 0)   # None: always open
    closes: Optional[dt.time] = dt.time(18, 0)
    days_off: Tuple[int, ...] = (4,)            # Friday

    @classmethod
    def from_env(cls) -> "WorkingHours":
        configured = settings.current()
        hours = configured.handoff_hours.lower()
        days = _days_off(configured.handoff_days_off)
        if hours in ("always", "24/7", "24x7"):
            return cls(configured.handoff_timezone, None, None, days)
        start, end = hours.split("-", 1)
        return cls(configured.handoff_timezone, _time(start), _time(end), days)

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
