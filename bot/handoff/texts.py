"""What the customer is told about the handoff: the catalogue's `handoff.*` texts, with the
queue position and the desk's opening time formatted for the language.

The words live in bot.text.catalogue (`_handoff`); this module keeps what is handoff-specific:
the position in Persian digits, when the desk is back, and which text a lost handoff gets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.text import catalogue
from bot.text.formatting import format_date, format_number


def when_back(moment: dt.datetime, language: str) -> str:
    """«شنبه ۱۵ آذر ۱۴۰۴ ساعت ۰۹:۰۰» / "on Saturday 6 December 2025 at 09:00" (moment is aware, local)."""
    if language == "fa":
        return format_date(moment, "fa", weekday=True, time=True)
    day = catalogue.text(f"date.weekday.{moment.weekday()}", "en")
    return f"on {day} {moment.day} {moment:%B %Y} at {moment:%H:%M}"


def text(key: str, language: str, **values: Any) -> str:
    """The catalogue's `handoff.<key>` text; `position` is formatted as a number of the language."""
    language = "en" if language == "en" else "fa"
    if "position" in values:
        values["position"] = format_number(int(values["position"]), language)
    return catalogue.text(f"handoff.{key}", language, **values)


def resumed(last_handoff: Any, language: str) -> str:
    """What a customer is told when a lost handoff gives the conversation back to the bot: the
    message the console would have sent for the conversation's latest handoff (timed out,
    handed back, closed), else an apology that the request never reached an agent."""
    status = (last_handoff or {}).get("status")
    if status == "timed_out":
        ticket = last_handoff.get("ticket")
        return text("timeout" if ticket else "timeout_no_ticket", language, ticket=ticket or "")
    if status == "returned":
        return text("handed_back", language)
    if status == "closed":
        return text("closed", language)
    return text("resumed", language)
