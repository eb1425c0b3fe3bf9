"""Canonical forms of the identifiers customers type: phones, order ids, emails.

Shared by the NLU entity extractor, the CRM importer and verification, so that
`۰۹۱۲ ۳۴۵ ۶۷۸۹`, `+98 912 345 6789` and `00989123456789` are one customer.
"""

from __future__ import annotations

import re
from typing import Optional

from bot.text.persian import to_ascii_digits

_PHONE_JUNK = re.compile(r"[\s\-().]")
_IRAN_MOBILE = re.compile(r"^(?:\+98|0098|98|0)?(9\d{9})$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_ORDER_ID = re.compile(r"^#?\s*(\d{4,12})$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")


def normalise_phone(raw: str) -> Optional[str]:
    """E.164 form of an Iranian mobile (or any E.164 number), else None.

    >>> normalise_phone("۰۹۱۲ ۳۴۵ ۶۷۸۹")
    '+989123456789'
    """
    compact = _PHONE_JUNK.sub("", to_ascii_digits(raw or "").strip())
    match = _IRAN_MOBILE.match(compact)
    if match:
        return "+98" + match.group(1)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if _E164.match(compact):
        return compact
    return None


def national_phone(phone: str) -> str:
    """An E.164 phone the way Iranians write it: `+989121234567` as `09121234567`.

    Why: customers read and shops search (WooCommerce) the national form, and in a
    right-to-left Persian sentence the `+` jumps to the wrong end of the number.
    Other countries' numbers stay in E.164.

    >>> national_phone("+989121234567")
    '09121234567'
    """
    return "0" + phone[3:] if phone.startswith("+98") else phone


def normalise_order_id(raw: str) -> Optional[str]:
    """Digits of an order id written as `100234`, `#100234` or `۱۰۰۲۳۴`, else None."""
    match = _ORDER_ID.match(to_ascii_digits(raw or "").strip())
    return match.group(1) if match else None


def normalise_email(raw: str) -> Optional[str]:
    """Lower-cased email if it looks like one, else None."""
    candidate = (raw or "").strip().lower()
    return candidate if _EMAIL.match(candidate) else None
