"""One catalogue of what customers and support agents read, in Persian (fa) and English (en).

Every text has a stable key and both variants; `text(key, language, **values)` picks the variant
and fills its `{placeholders}`. Values are inserted as given, so callers format numbers, dates
and amounts first with bot.text.formatting (Persian digits, Jalali dates, Toman); codes and
links stay ASCII so customers can copy them. Rasa's own responses (`utter_*`) stay in
domain.yml; shop-editable journey messages stay in their YAML.

Keys are grouped by who sends the text, each group in a private module of this package:

| keys                                  | module      | sent by                                  |
|---------------------------------------|-------------|------------------------------------------|
| no dot, `intent.<name>`               | `_dialogue` | the custom actions (actions/)            |
| `handoff.*`                           | `_handoff`  | bot.handoff and actions/handoff.py       |
| `botapi.*`, `sms.*`, `web.*`          | `_channels` | the channels (bot.channels)              |
| `identity.*`                          | `_identity` | bot.identity.verification                |
| `money.*`, `date.*`, `order_status.*` | `_words`    | bot.text.formatting                      |
| `list.*`, `journey.*`                 | `_words`    | bot.orchestration.templates              |

An unknown key or a placeholder without a value raises `MissingText` (a KeyError), so a
typo fails the test that reaches it instead of sending a customer "{name}".
"""

from __future__ import annotations

import string
from types import MappingProxyType
from typing import Any, Dict, FrozenSet, Mapping, Tuple

from . import _channels, _dialogue, _handoff, _identity, _words

__all__ = ["LANGUAGES", "MissingText", "TEXTS", "has", "placeholders", "text"]

LANGUAGES: Tuple[str, ...] = ("fa", "en")


class MissingText(KeyError):
    """A key the catalogue does not have, or a placeholder no value was given for."""


def _merge(*modules: Any) -> Dict[str, Mapping[str, str]]:
    """The groups as one mapping; a key defined twice is an error at import, not a silent override."""
    merged: Dict[str, Mapping[str, str]] = {}
    for module in modules:
        for key, entry in module.TEXTS.items():
            if key in merged:
                raise ValueError(f"text key {key!r} is defined twice (second time in {module.__name__})")
            merged[key] = MappingProxyType(dict(entry))
    return merged


TEXTS: Mapping[str, Mapping[str, str]] = MappingProxyType(_merge(_dialogue, _handoff, _channels, _identity, _words))

_FORMATTER = string.Formatter()


def placeholders(template: str) -> FrozenSet[str]:
    """The names of the `{placeholders}` in a template."""
    return frozenset(name for _, name, _, _ in _FORMATTER.parse(template) if name is not None)


def has(key: str) -> bool:
    """Whether the catalogue has `key` (for keys built from data, e.g. `intent.<name>`)."""
    return key in TEXTS


def text(key: str, language: str, **values: Any) -> str:
    """The `key` text in `language` (English for "en", otherwise Persian), its placeholders
    filled with `values`; values a variant does not use are ignored."""
    try:
        entry = TEXTS[key]
    except KeyError:
        raise MissingText(f"no text {key!r} in bot.text.catalogue") from None
    template = entry["en" if language == "en" else "fa"]
    missing = placeholders(template) - values.keys()
    if missing:
        raise MissingText(f"text {key!r} needs {', '.join(sorted(missing))}")
    return template.format(**values)
