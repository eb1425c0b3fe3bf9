"""Rule-based entities over normalised text (plain Python, no Rasa).

The text must already be canonical (`bot.text.persian.normalise`): ASCII digits,
Persian letters. Rules, by priority when two candidates overlap:

| entity | rule | value |
|---|---|---|
| email | address pattern | lower case (`normalise_email`) |
| phone_number | Iranian mobile `09xx xxx xxxx`, `+98 9xx…`, `0098 9xx…`, `98 9xx…` with spaces/dashes | E.164 (`normalise_phone`) |
| product | catalogue names and aliases (`bot.nlu.catalogue`), longest first | SKU |
| order_id | `#` + 4–12 digits; 4–12 digits after an order word; a bare 5–12 digit number (not a price, phone, card) | digits (`normalise_order_id`) |
| discount_code | code after a discount word («کد تخفیف», coupon, promo code…); an upper-case letters+digits token like `SALE20` | upper case |
| rating | `4 ستاره`, `4 stars`, `8/10`, `8 از 10`, `9 out of 10`, «نمره 4», `rate it 4`, ⭐⭐⭐⭐, a message that is only a number 0–10 | digits |
| quantity | `3 تا`, `2 عدد`, `دو تا`, `x2`, `2 pcs`, «تعداد 3», a number right before a product | digits |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional

from bot.nlu.catalogue import Catalogue, load_catalogue
from bot.text.identifiers import normalise_email, normalise_order_id, normalise_phone

PRIORITY = ["email", "phone_number", "product", "order_id", "discount_code", "rating", "quantity"]
RULE_ENTITIES = tuple(PRIORITY)

NUMBER_WORDS: Dict[str, str] = {
    "یک": "1", "یه": "1", "دو": "2", "سه": "3", "چهار": "4", "پنج": "5", "شش": "6", "شیش": "6", "هفت": "7",
    "هشت": "8", "نه": "9", "ده": "10",
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "a couple of": "2", "a pair of": "2",
}
_NUM_WORD = "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
_NUM = rf"(?:\d{{1,3}}|{_NUM_WORD})"
_B = r"(?<![\w])"          # left word boundary (ZWNJ counts as a boundary)
_E = r"(?![\w])"           # right word boundary

EMAIL = re.compile(r"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?![\w])")
PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)?98[\s\-]?0?9\d{2}|09\d{2})[\s\-]?\d{3}[\s\-]?\d{4}(?!\d)")
ORDER_HASH = re.compile(r"#\s*(\d{4,12})(?![\d])")
ORDER_WORD = re.compile(
    r"(?:سفارش|فاکتور|پیگیری|رهگیری|order|invoice|tracking)(?:[^\d\n]{0,24}?)(?<![\d,.])(\d{4,12})(?!\d|[,./]\d)",
    re.IGNORECASE,
)
ORDER_BARE = re.compile(r"(?<![\d,./:+#\w])(\d{5,12})(?!\d|[,./:]\d|\w)")
MONEY_AFTER = re.compile(r"^\s*(?:تومان|تومن|ریال|هزار|میلیون|toman|tomans|rial|rials|irr|dollars?|k\b|m\b|mah|gb|w\b)", re.I)
DISCOUNT_WORD = re.compile(
    r"(?<![\w])(?:کد\s*(?:تخفیف|هدیه|کوپن)\w*|کوپن\w*|تخفیف|(?:discount|promo|promotion|coupon|voucher|gift)\s*code|coupon|voucher|promo|code)(?![\w])"
    r"(?:\s*(?:is|am|=|:|هست|اینه|من|رو|را|of)?\s*[:：\"'«]?\s*)([A-Za-z][A-Za-z0-9\-_]{2,19}|[A-Za-z0-9\-_]*\d[A-Za-z0-9\-_]*[A-Za-z][A-Za-z0-9\-_]*)(?![\w])",
    re.IGNORECASE,
)
DISCOUNT_SHAPE = re.compile(r"(?<![\w\-@.])(?=[A-Z0-9]{5,20}(?![\w\-@]))([A-Z]{2,}[A-Z0-9]*\d+[A-Z0-9]*|[A-Z]*\d+[A-Z]{2,}[A-Z0-9]*)(?![\w\-@])")
RATING_STARS = re.compile(rf"{_B}({_NUM})\s*(?:ستاره|ستاره‌ای|star|stars|setare|⭐)", re.IGNORECASE)
RATING_FRACTION = re.compile(rf"{_B}(\d{{1,2}}|{_NUM_WORD})\s*(?:/|از|az|out of|outta)\s*(5|10|پنج|ده|five|ten|dah|panj){_E}", re.IGNORECASE)
RATING_WORD = re.compile(
    rf"(?:نمره|امتیاز|rate|rating|score|give it|give you|گرید|nomre|emtiaz)\w*(?:\s*(?:it|you|us|=|:|من|میدم|بدم|میدم|رو|بهتون|بهش|a|of)?)*\s*({_NUM}){_E}",
    re.IGNORECASE,
)
# "امتیاز من به پشتیبانی 4": a rating word, a few words, the number ending the message.
RATING_WORD_FINAL = re.compile(r"(?:نمره|امتیاز|rate|rating|score|nomre|emtiaz)[^\d\n]{0,30}?(?<![\d])(\d{1,2})\s*[.!]?\s*$", re.I)
RATING_GIVE = re.compile(rf"{_B}(\d{{1,2}}|{_NUM_WORD})\s*(?:میدم|می‌دم|میدیم|midam|mididam)(?![\w])", re.IGNORECASE)
RATING_EMOJI = re.compile(r"⭐{1,5}|🌟{1,5}")
RATING_ONLY = re.compile(r"^\s*(\d{1,2})\s*[.!]?\s*$")
QUANTITY_UNIT = re.compile(
    rf"{_B}({_NUM})\s*(?:تا|تایی|عدد|دونه|دانه|دستگاه|بسته|جفت|ta|adad|pcs|pieces|piece|units|unit|items|of them|of those|of these|of it)(?![\w])",
    re.IGNORECASE,
)
QUANTITY_X = re.compile(r"(?<![\w])(?:x\s?(\d{1,3})|(\d{1,3})\s?x)(?![\w])", re.IGNORECASE)
QUANTITY_WORD = re.compile(rf"(?:تعداد|quantity|qty)(?:\s*(?:[:=]|to|را|رو|به|من|ش))*\s*({_NUM}){_E}", re.IGNORECASE)
QUANTITY_BEFORE_PRODUCT = re.compile(rf"{_B}({_NUM})\s*$", re.IGNORECASE)


@dataclass
class Candidate:
    """An entity a rule found in a message, before overlapping candidates are resolved."""

    entity: str
    start: int
    end: int
    value: str
    text: str


def number_value(text: str) -> Optional[str]:
    """'3' -> '3', 'دو' -> '2', 'two' -> '2'; else None."""
    key = text.strip().lower()
    if key.isdigit():
        return str(int(key))
    return NUMBER_WORDS.get(key)


class RuleEntityExtractor:
    """Finds the rule entities in one normalised text."""

    def __init__(self, catalogue: Optional[Catalogue] = None) -> None:
        self.catalogue = catalogue or load_catalogue()
        self.product_pattern = self._product_regex(self.catalogue)

    @staticmethod
    def _product_regex(catalogue: Catalogue) -> Optional[re.Pattern]:
        parts = []
        for alias in sorted(catalogue.aliases, key=len, reverse=True):
            body = r"[\s\u200c\-_]*".join(re.escape(piece) for piece in alias.split(" "))
            # A Latin/digit ending may be glued to a Persian suffix ("A55رو").
            tail = r"(?![a-z0-9])" if re.search(r"[a-z0-9]$", alias) else r"(?![\w])"
            head = r"(?<![a-z0-9])" if re.match(r"[a-z0-9]", alias) else r"(?<![\w])"
            parts.append(f"{head}{body}{tail}")
        return re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def candidates(self, text: str) -> List[Candidate]:
        found: List[Candidate] = []

        def add(entity: str, start: int, end: int, value: Optional[str]) -> None:
            if value:
                found.append(Candidate(entity, start, end, value, text[start:end]))

        for m in EMAIL.finditer(text):
            add("email", m.start(), m.end(), normalise_email(m.group(0)))
        for m in PHONE.finditer(text):
            add("phone_number", m.start(), m.end(), normalise_phone(m.group(0)))
        if self.product_pattern is not None:
            for m in self.product_pattern.finditer(text):
                add("product", m.start(), m.end(), self.catalogue.resolve(m.group(0)))
                before = QUANTITY_BEFORE_PRODUCT.search(text[: m.start()])
                if before:
                    add("quantity", before.start(1), before.end(1), number_value(before.group(1)))
        for m in ORDER_HASH.finditer(text):
            add("order_id", m.start(1), m.end(1), normalise_order_id(m.group(1)))
        for pattern in (ORDER_WORD, ORDER_BARE):
            for m in pattern.finditer(text):
                if MONEY_AFTER.match(text[m.end(1):]):
                    continue
                add("order_id", m.start(1), m.end(1), normalise_order_id(m.group(1)))
        for m in DISCOUNT_WORD.finditer(text):
            code = m.group(1)
            if not (re.search(r"\d", code) or code.isupper()):
                continue
            if code.lower() in {"code", "is", "the", "my", "for", "on", "this", "that", "please", "discount", "and", "not"}:
                continue
            add("discount_code", m.start(1), m.end(1), code.upper())
        for m in DISCOUNT_SHAPE.finditer(text):
            add("discount_code", m.start(1), m.end(1), m.group(1).upper())
        for pattern in (RATING_STARS, RATING_WORD, RATING_WORD_FINAL, RATING_GIVE):
            for m in pattern.finditer(text):
                value = number_value(m.group(1))
                if value is not None and int(value) <= 10:
                    add("rating", m.start(1), m.end(1), value)
        for m in RATING_FRACTION.finditer(text):
            value, top = number_value(m.group(1)), number_value(m.group(2))
            if value is not None and top is not None and int(value) <= int(top):
                add("rating", m.start(1), m.end(1), value)
        for m in RATING_EMOJI.finditer(text):
            add("rating", m.start(), m.end(), str(len(m.group(0))))
        only = RATING_ONLY.match(text)
        if only and int(only.group(1)) <= 10:
            add("rating", only.start(1), only.end(1), str(int(only.group(1))))
        for pattern in (QUANTITY_UNIT, QUANTITY_WORD):
            for m in pattern.finditer(text):
                add("quantity", m.start(1), m.end(1), number_value(m.group(1)))
        for m in QUANTITY_X.finditer(text):
            group = 1 if m.group(1) else 2
            add("quantity", m.start(group), m.end(group), number_value(m.group(group)))
        return found

    def extract(self, text: str) -> List[Candidate]:
        """Non-overlapping entities, by priority then length, in text order."""
        chosen: List[Candidate] = []
        ranked = sorted(self.candidates(text), key=lambda c: (PRIORITY.index(c.entity), -(c.end - c.start), c.start))
        for cand in ranked:
            if any(cand.start < kept.end and kept.start < cand.end for kept in chosen):
                continue
            if cand.entity == "rating" and any(kept.entity == "rating" for kept in chosen):
                continue  # one rating per message ("نمره 5 از 5 میدم" has two candidates)
            chosen.append(cand)
        return sorted(chosen, key=lambda c: c.start)


def canonical_value(entity: str, value: str, catalogue: Optional[Catalogue] = None) -> str:
    """A gold or predicted entity value in the form the rules produce (for evaluation)."""
    from bot.text.persian import normalise

    text = normalise(str(value)).strip()
    if entity == "email":
        return normalise_email(text) or text.lower()
    if entity == "phone_number":
        return normalise_phone(text) or text
    if entity == "order_id":
        return normalise_order_id(text) or text
    if entity == "product":
        return (catalogue or load_catalogue()).resolve(text) or text.lower()
    if entity == "discount_code":
        return text.upper()
    if entity in ("rating", "quantity"):
        return number_value(text) or text.lower()
    return text.lower()
