"""When a proactive message may go out: the sending window in the customer's time zone.

Nothing before `send_window.from` or from `send_window.to` on, nothing on the
days off (Friday by default) and nothing on the Jalali holidays listed in
orchestration.yml — all in the customer's local time when their time zone is
known (a customer in Berlin is not woken at 07:00 because it is 09:30 in
Tehran), else in the shop's (`defaults.timezone`, Asia/Tehran). The weekly
hours are the handoff desk's `WorkingHours` (zoneinfo does the time-zone
work); jdatetime turns the customer's local date into its Jalali month and day
for the holiday list. Nothing here counts days by hand.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jdatetime

from bot.handoff.config import WorkingHours
from bot.orchestration.definition import Settings

UTC = dt.timezone.utc


def aware(value: dt.datetime) -> dt.datetime:
    """`value` as an aware UTC datetime (naive counts as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def valid_zone(name: Any) -> Optional[str]:
    """`name` if it is an IANA time zone zoneinfo knows (`Europe/Berlin`), else None."""
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        return None
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name.strip()


class SendingWindow:
    """The quiet hours, days off and holidays of the shop, in one time zone (the customer's or the shop's)."""

    def __init__(self, settings: Settings, zone: Optional[str] = None) -> None:
        self.timezone = zone or settings.timezone
        self.zone = ZoneInfo(self.timezone)
        closes = settings.window_to if settings.window_to != dt.time.max else dt.time(23, 59, 59, 999999)
        self.hours = WorkingHours(self.timezone, settings.window_from, closes, settings.days_off)
        self.holidays = frozenset(settings.holidays)

    def local(self, when: dt.datetime) -> dt.datetime:
        return aware(when).astimezone(self.zone)

    def is_holiday(self, when: dt.datetime) -> bool:
        day = jdatetime.date.fromgregorian(date=self.local(when).date())
        return f"{day.month:02d}-{day.day:02d}" in self.holidays or \
            f"{day.year:04d}-{day.month:02d}-{day.day:02d}" in self.holidays

    def allows(self, when: dt.datetime) -> bool:
        """May a proactive message go out at `when`?"""
        return self.hours.is_open(aware(when)) and not self.is_holiday(when)

    def next_allowed(self, when: dt.datetime) -> dt.datetime:
        """`when` if allowed, else the next moment that is (aware UTC)."""
        moment = aware(when)
        for _ in range(800):  # a year of closed days at most
            if self.allows(moment):
                return moment
            opening = self.hours.next_opening(moment)
            if opening is not None and aware(opening) > moment:
                moment = aware(opening)
                continue
            # open by the weekly hours but a holiday: try the next local day
            local = self.local(moment)
            tomorrow = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0, 0), tzinfo=self.zone)
            moment = aware(tomorrow)
        raise ValueError("orchestration.yml allows no sending time at all (check days_off and holidays)")

    def next_local_time(self, after: dt.datetime, clock: dt.time) -> dt.datetime:
        """The first local `clock` time at or after `after` (aware UTC)."""
        local = self.local(after)
        candidate = dt.datetime.combine(local.date(), clock, tzinfo=self.zone)
        if candidate < local:
            candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), clock, tzinfo=self.zone)
        return aware(candidate)
