"""Masking of personal data in stored text (phones, emails, card numbers, national ids).

Detection runs on a digit-normalised copy (Persian/Arabic-Indic digits count)
and masks the same character positions in the original, so the stored text
keeps the customer's script but none of the identifiers.
"""

from __future__ import annotations

import os
import re
from typing import List, Tuple

from bot.text.persian import to_ascii_digits

SEP = r"[\s\-.]?"
_PATTERNS: List[Tuple[str, re.Pattern]] = [
    ("email", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")),
    # 16-digit card numbers, often in groups of four (Iranian Shetab cards too).
    ("card", re.compile(r"(?<!\d)\d{4}" + SEP + r"\d{4}" + SEP + r"\d{4}" + SEP + r"\d{4}(?!\d)")),
    # IBAN-like Sheba numbers: IR + 24 digits.
    ("iban", re.compile(r"(?i)\bIR\s?\d{2}(?:\s?\d){22}\b")),
    # Mobile phones: 09xx..., +989..., 00989..., with optional separators.
    ("phone", re.compile(r"(?<!\d)(?:\+|00)?(?:98" + SEP + r")?0?9\d{2}" + SEP + r"\d{3}" + SEP + r"\d{4}(?!\d)")),
    # Other international numbers in E.164 form.
    ("phone", re.compile(r"(?<![\w+])\+[1-9]\d{7,14}(?!\d)")),
    # Iranian national id (code melli): exactly 10 digits.
    ("national_id", re.compile(r"(?<!\d)\d{10}(?!\d)")),
]
MASKS = {"email": "[email]", "card": "[card]", "iban": "[iban]", "phone": "[phone]", "national_id": "[national-id]"}


def raw_text_enabled() -> bool:
    """The operator's switch (HAMSAFAR_TOUCHPOINTS_RAW_TEXT=1) to store text unmasked."""
    return os.environ.get("HAMSAFAR_TOUCHPOINTS_RAW_TEXT", "").strip().lower() in ("1", "true", "yes")


def mask_personal_data(text: str) -> str:
    """`text` with every detected identifier replaced by a label like `[phone]`."""
    if not text:
        return text
    probe = to_ascii_digits(text)
    spans: List[Tuple[int, int, str]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(probe):
            start, end = match.span()
            if any(s < end and start < e for s, e, _ in spans):
                continue
            spans.append((start, end, MASKS[kind]))
    for start, end, label in sorted(spans, reverse=True):
        text = text[:start] + label + text[end:]
    return text


def prepare_text(text: str | None) -> str | None:
    """Text as it may be stored: masked unless the operator turned raw text on."""
    if text is None or raw_text_enabled():
        return text
    return mask_personal_data(text)
