"""The text catalogue: every text in both languages with the same placeholders, Persian numbers in
Persian digits, a loud failure on a typo, and no customer text left in Python modules elsewhere."""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

from bot.text import catalogue
from bot.text.catalogue import LANGUAGES, TEXTS, MissingText, has, placeholders, text
from tests.support.python_source import parse_python

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_DIR = ROOT / "bot" / "text" / "catalogue"

# Python modules that may hold Persian words in string literals (docstrings and comments are
# documentation and are not scanned), and why they are not customer text:
PERSIAN_ALLOWED: Dict[str, str] = {
    # what the customer types, matched by the NLU and the dialogue: cue words, synonyms, regexes
    "bot/dialogue/cues.py": "cue lists the dialogue matches in customer messages",
    "bot/dialogue/moves.py": "cue regexes the dialogue moves match in customer messages",
    "bot/dialogue/mentions.py": "city, weekday and payment words customers type",
    "bot/nlu/catalogue.py": "product kinds and synonyms customers type (NLU)",
    "bot/nlu/entities.py": "number words and entity cues customers type (NLU)",
    "bot/nlu/requests.py": "greetings and connectives the request splitter reads (NLU)",
    "bot/text/persian.py": "the normaliser's character tables (Arabic ي/ك to Persian ی/ک)",
    "bot/channels/consent.py": "opt-out and opt-in keywords customers send (لغو, شروع)",
    "bot/touchpoints/privacy.py": "words around codes and amounts that decide what is masked",
    "bot/analytics/metrics.py": "words of an NPS question, to recognise it in stored replies",
    "bot/crm/importer.py": "language names a shop's export may use in its language column",
    "actions/advocacy.py": "words of an NPS question customers answer (cue regex)",
    "actions/budget.py": "amount and budget words customers type («۱۵ میلیونی», «تومنی»; cue regex)",
    "actions/forms.py": "«سفارشم»-style cues for «my order» (cue regex)",
    "actions/journey.py": "language names customers type to switch language (cue regex)",
    "actions/orders.py": "time and address words in a change request (cue regex)",
    "actions/proactive.py": "«no thanks» answers to a proactive message (cue regex)",
    "actions/products.py": "filler and modifier words stripped from product mentions",
    "actions/shop.py": "«do you sell X?» patterns and question words (cue regex)",
    # data, not the bot's words
    "bot/crm/demo_data.py": "the demo shop's customers, products and orders (CRM data)",
    "bot/analytics/simulate.py": "simulated customer messages for the analytics demo",
    # read by staff and operators, not on a channel
    "bot/analytics/report.py": "labels of the staff's HTML report (`hamsafar report`)",
    "bot/cli.py": "the brand name in the operator's command-line help",
    "bot/runtime/cli.py": "the brand name in the operator's start-up banner",
    "bot/runtime/chat.py": "the brand name in the developer's terminal chat banner",
}
# Single literals allowed in a module that otherwise holds no Persian.
PERSIAN_LITERALS_ALLOWED: Dict[Tuple[str, str], str] = {
    ("actions/common.py", r"\border\b|\bsefaresh|سفارش"):
        "the word «order» customers type with an order number (names_an_order's cue regex)",
    ("bot/channels/web/_pages.py", "گوشی سامسونگ گلکسی A55"):
        "the demo page's stand-in product when the demo shop's products.csv is missing (product data)",
}

# A run of ASCII digits standing alone (not part of a code like «A55», «WELCOME10» or a link).
LONE_ASCII_DIGITS = re.compile(r"(?<![A-Za-z0-9])[0-9]+(?![A-Za-z0-9])")


def is_persian_letter(char: str) -> bool:
    """An Arabic-script letter (digits and punctuation such as «؟» or «٬» are formatting, not words)."""
    code = ord(char)
    arabic = (0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F
              or 0xFB50 <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF)
    return arabic and unicodedata.category(char).startswith("L")


def persian_literals(path: Path) -> Iterator[Tuple[int, str]]:
    """(line, literal) of every string literal with Persian letters, docstrings left out."""
    tree = parse_python(path)
    docstrings: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                and any(is_persian_letter(char) for char in node.value):
            yield node.lineno, node.value


def python_modules() -> Iterator[Tuple[str, Path]]:
    for folder in ("bot", "actions"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if CATALOGUE_DIR not in path.parents:
                yield path.relative_to(ROOT).as_posix(), path


# --------------------------------------------------------------------------- the catalogue's content


def test_every_text_has_persian_and_english() -> None:
    assert len(TEXTS) > 150
    for key, entry in TEXTS.items():
        assert set(entry) == set(LANGUAGES), key
        for language in LANGUAGES:
            assert isinstance(entry[language], str) and entry[language].strip(), (key, language)


def test_placeholders_are_the_same_in_both_languages() -> None:
    differ = {key: (sorted(placeholders(entry["fa"])), sorted(placeholders(entry["en"])))
              for key, entry in TEXTS.items() if placeholders(entry["fa"]) != placeholders(entry["en"])}
    assert differ == {}


def test_placeholders_are_plain_names() -> None:
    """`{name}` only: a format spec or an attribute would format a value the caller already formatted."""
    import string

    for key, entry in TEXTS.items():
        for language in LANGUAGES:
            for _, name, spec, conversion in string.Formatter().parse(entry[language]):
                if name is not None:
                    assert name.isidentifier() and not spec and not conversion, (key, language, name)


def test_persian_texts_write_numbers_in_persian_digits() -> None:
    """Numbers in Persian texts are Persian digits; codes customers copy («A55», «WELCOME10», /start) keep theirs."""
    ascii_numbers = {key: LONE_ASCII_DIGITS.findall(entry["fa"]) for key, entry in TEXTS.items()
                     if LONE_ASCII_DIGITS.search(entry["fa"])}
    assert ascii_numbers == {}
    assert LONE_ASCII_DIGITS.search("کد ۶ رقمی 6")   # the check sees a lone ASCII number …
    assert not LONE_ASCII_DIGITS.search("مثلاً «سامسونگ A55» یا WELCOME10")   # … and not a model or code


def test_groups_do_not_define_a_key_twice() -> None:
    groups = [catalogue._dialogue, catalogue._handoff, catalogue._channels, catalogue._identity, catalogue._words]
    keys: List[str] = [key for group in groups for key in group.TEXTS]
    assert len(keys) == len(set(keys)) == len(TEXTS)
    with pytest.raises(ValueError, match="defined twice"):
        catalogue._merge(catalogue._handoff, catalogue._handoff)


# --------------------------------------------------------------------------- the lookup


def test_lookup_picks_the_language_and_fills_placeholders() -> None:
    assert text("code_wrong", "fa", left="۲") == "کد درست نیست. ۲ بار دیگر می‌توانید امتحان کنید."
    assert text("code_wrong", "en", left="2") == "That code is not right. You can try 2 more times."
    assert text("verified", "de") == text("verified", "fa")   # an unknown language gets the shop's first one
    assert text("verified", "en", unused="x") == "You're verified. ✅"   # values a variant does not use are ignored
    assert has("intent.track_order") and not has("intent.no_such_intent")


def test_an_unknown_key_or_a_missing_value_fails_loudly() -> None:
    with pytest.raises(MissingText, match="no_such_text"):
        text("no_such_text", "fa")
    with pytest.raises(MissingText, match="left"):
        text("code_wrong", "en")
    with pytest.raises(KeyError):   # callers that caught the KeyError of a dict lookup still do
        text("no_such_text", "en")


def test_every_key_written_in_the_code_exists() -> None:
    """A literal key in a call (`say(dispatcher, "key", …)`, `text("key", …)`, `catalogue_text("key", …)`,
    the handoff's `texts.text("key", …)`) names a text of the catalogue: a typo fails here, not in a chat."""
    call = re.compile(r'(?P<owner>\btexts\.|\.)?\b(?:say\(\s*\w+,|catalogue_text\(|text\()'
                      r'\s*"(?P<key>[a-z][a-z0-9_.]*)"')
    unknown, seen = [], 0
    for name, path in python_modules():
        source = path.read_text(encoding="utf-8")
        if "catalogue" not in source and "actions.common" not in source \
                and not re.search(r"from bot\.handoff import [\w, ]*\btexts\b", source):
            continue
        for match in call.finditer(source):
            if match.group("owner") == ".":   # another object's method, e.g. sanic's response.text("ok")
                continue
            handoff = match.group("owner") == "texts." or name == "bot/handoff/texts.py"
            key = ("handoff." if handoff else "") + match.group("key")
            seen += 1
            if not has(key):
                unknown.append(f"{name}: {key}")
    assert unknown == []
    assert seen > 120   # the pattern still finds the calls (134 on 2026-12-07)


# --------------------------------------------------------------------------- nothing left elsewhere


def test_no_persian_text_in_python_outside_the_catalogue() -> None:
    found = []
    for name, path in python_modules():
        if name in PERSIAN_ALLOWED:
            continue
        for line, literal in persian_literals(path):
            if (name, literal) not in PERSIAN_LITERALS_ALLOWED:
                found.append(f"{name}:{line}: {literal[:60]!r}")
    assert found == [], "customer text belongs in bot/text/catalogue:\n" + "\n".join(found)


def test_the_allowed_exceptions_are_still_needed() -> None:
    """An exception whose module no longer holds Persian is removed, so the list stays a true account."""
    modules = dict(python_modules())
    stale = [name for name in PERSIAN_ALLOWED if name not in modules or not any(persian_literals(modules[name]))]
    stale += [f"{name}: {literal}" for name, literal in PERSIAN_LITERALS_ALLOWED
              if literal not in {value for _, value in persian_literals(modules[name])}]
    assert stale == []


def test_the_scan_sees_persian_in_code_but_not_in_docs(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text('"""«سلام» in a docstring."""\n# «سلام» in a comment\n'
                      'def f(n):\n    """«سلام»"""\n    return f"سفارش {n}" + "؟"\n', encoding="utf-8")
    assert [line for line, _ in persian_literals(module)] == [5]
