"""Product names customers type, mapped to SKUs.

Sources: `demo_shop/products.csv` (name_fa, name_en) and the `synonym:` entries
of `data/nlu/synonyms.yml` whose value is a SKU or a catalogue name. From each
catalogue name we derive shorter aliases customers actually write: without the
category word ("گوشی", "phone"), without the brand ("Galaxy A55"), and the
bare model when it is distinctive ("A55", "PS5" is a synonym). An alias that
would point to two SKUs is dropped, unless one product claims it at a more
specific level (full name beats a derived alias).

All keys are in canonical form: `bot.text.persian.normalise`, lower case,
ZWNJ and hyphens treated like spaces (see `alias_key`).
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

from bot import settings
from bot.text.persian import ZWNJ, normalise

PRODUCTS_CSV = settings.DEMO_SHOP_DIR / "products.csv"
SYNONYMS_YML = settings.PROJECT_ROOT / "data" / "nlu" / "synonyms.yml"

# Category words that open a Persian name / close an English name.
FA_CATEGORY_WORDS = [
    "گوشی", "لپ تاپ گیمینگ", "لپ تاپ", "هندزفری بی سیم", "هندزفری بلوتوثی", "هندزفری", "هدفون", "اسپیکر",
    "ساعت هوشمند", "مچ بند هوشمند", "تلویزیون", "دوربین ورزشی", "دوربین مداربسته", "دوربین", "کنسول",
    "دسته", "قاب گوشی", "شارژر دیواری", "کابل شارژ", "فلش مموری", "ماوس بی سیم", "کیبورد", "پاوربانک",
]
EN_CATEGORY_WORDS = [
    "phone", "gaming laptop", "laptop", "earbuds", "headphones", "speaker", "smartwatch", "tv", "console",
    "controller", "action camera", "security camera", "camera", "power bank", "keyboard", "wireless mouse",
    "usb flash drive", "wall charger", "cable", "phone case",
]
BRANDS = [
    "samsung", "xiaomi", "apple", "huawei", "nokia", "asus", "lenovo", "hp", "dell", "sony", "jbl", "amazfit",
    "lg", "philips", "bosch", "delonghi", "anker", "baseus", "logitech", "sandisk", "canon", "gopro", "microsoft",
    "سامسونگ", "شیائومی", "اپل", "هواوی", "نوکیا", "ایسوس", "لنوو", "اچ پی", "دل", "سونی", "جی بی ال", "امیزفیت",
    "ال جی", "فیلیپس", "بوش", "دلونگی", "انکر", "باسئوس", "لاجیتک", "سن دیسک", "کانن", "گوپرو",
]
# Words that are never a product on their own, even if derived as an alias.
STOP_ALIASES = {"phone", "laptop", "pro", "air", "series", "usb c", "دل", "بوش", "اس", "تایپ سی باسئوس"}
# Accessories named after another product ("Galaxy A55 phone case"): only these aliases,
# so that "A55" stays the phone.
ACCESSORY_OF_PRODUCT = {"phone case": ["قاب a55", "قاب گوشی a55", "قاب گلکسی a55", "قاب سامسونگ a55", "کاور a55",
                                        "a55 case", "a55 cases", "galaxy a55 case", "galaxy a55 cases", "a55 cover",
                                        "case for a55", "case for the a55", "cases for a55", "samsung a55 case"]}
# Shorthand customers use that no catalogue name contains (synonyms.yml may add more).
EXTRA_ALIASES = {
    "GAM-SNY-PS5": ["ps5", "ps 5", "پی اس 5", "پلی استیشن 5", "پلی 5"],
    "GAM-SNY-DS5": ["dualsense", "دوال سنس", "playstation controller", "ps5 controller", "ps controller",
                    "ps4 controller", "دسته پلی استیشن", "دسته پلی استیشن 5", "دسته ps5", "دسته پلی", "دسته بازی"],
    "GAM-MSF-XSS": ["xbox", "ایکس باکس"],
    "AUD-APL-APP": ["airpods pro", "airpods", "ایرپاد پرو", "ایرپادپرو", "ایرپاد"],
    "MOB-APL-IP15": ["آیفون 15", "ایفون 15", "iphone 15"],
    "LAP-APL-MBA": ["macbook air", "مک بوک ایر", "مکبوک ایر", "macbook"],
    "MOB-SAM-A55": ["a55", "galaxy a55", "گلکسی a55", "سامسونگ a55", "samsung a55"],
    "MOB-SAM-S24": ["s24", "galaxy s24", "سامسونگ s24"],
    "WCH-XIA-B8": ["mi band 8", "می بند 8", "miband 8"],
    "AUD-SNY-XM5": ["xm5", "sony xm5", "سونی xm5", "هدفون سونی xm5"],
}

_SEPARATORS = re.compile(rf"[\s{ZWNJ}\-_]+")


def alias_key(text: str) -> str:
    """Canonical matching key: normalised, lower case, ZWNJ/hyphen/space runs as one space."""
    return _SEPARATORS.sub(" ", normalise(text or "").lower()).strip()


@dataclass(frozen=True)
class Product:
    """A catalogue product as the NLU needs it: SKU and names to recognise in a message."""

    sku: str
    name_fa: str
    name_en: str
    category: str


def load_products(path: Path = PRODUCTS_CSV) -> List[Product]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [Product(r["sku"], r["name_fa"], r["name_en"], r["category"]) for r in csv.DictReader(handle)]


def load_synonyms(path: Path = SYNONYMS_YML) -> Dict[str, List[str]]:
    """`{synonym value: [examples]}` from a Rasa NLU YAML file (empty if it does not exist)."""
    if not Path(path).exists():
        return {}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out: Dict[str, List[str]] = {}
    for item in data.get("nlu", []) or []:
        if isinstance(item, dict) and "synonym" in item:
            examples = [line.strip()[1:].strip() for line in str(item.get("examples", "")).splitlines()
                        if line.strip().startswith("-")]
            out.setdefault(str(item["synonym"]), []).extend(e for e in examples if e)
    return out


def _strip_words(key: str, words: Iterable[str], at_start: bool) -> Optional[str]:
    for word in sorted((alias_key(w) for w in words), key=len, reverse=True):
        if at_start and key.startswith(word + " "):
            return key[len(word) + 1:]
        if not at_start and key.endswith(" " + word):
            return key[: -len(word) - 1]
    return None


def _broader_kinds(category: str, persian: bool) -> set:
    """The category words a more specific one contains ("لپ تاپ گیمینگ" → "لپ تاپ", "action camera" → "camera")."""
    words = FA_CATEGORY_WORDS if persian else EN_CATEGORY_WORDS
    keys = {alias_key(w) for w in words} - {category}
    return {k for k in keys if (category.startswith(k + " ") if persian else category.endswith(" " + k))}


def _derived_aliases(name: str, persian: bool) -> List[Tuple[str, int]]:
    """(alias, specificity) pairs for one catalogue name; lower specificity = more specific."""
    key = alias_key(name)
    found = [(key, 0)]
    bare = _strip_words(key, FA_CATEGORY_WORDS if persian else EN_CATEGORY_WORDS, at_start=persian)
    if bare:
        found.append((bare, 1))
    base = bare or key
    brandless = _strip_words(base, BRANDS, at_start=True)
    if brandless:
        found.append((brandless, 2))
        brand = base[: len(base) - len(brandless)].strip()
        category = (key[: len(key) - len(base)] if persian else key[len(base):]).strip()
        if category:
            # "لپ تاپ ایسوس", "asus laptop": unique only when the brand has one product of the kind —
            # of the kind in general too: "lenovo laptop" is the IdeaPad or the Legion (a gaming laptop).
            for kind in {category} | _broader_kinds(category, persian):
                found.append((f"{kind} {brand}" if persian else f"{brand} {kind}", 4))
        tail = brandless.split(" ", 1)
        # "galaxy a55" -> "a55", "ردمی نوت 13" stays: only drop a series word before a model code.
        if len(tail) == 2 and re.fullmatch(r"[a-z]*\d+[a-z0-9]*", tail[1]) and len(tail[1]) >= 3:
            found.append((tail[1], 3))
            found.append((f"{brand} {tail[1]}", 3))
    brand_keys = {alias_key(b) for b in BRANDS}
    return [
        (a, s) for a, s in found
        if a and a not in STOP_ALIASES and len(a) >= 2 and not re.fullmatch(r"[\d ]+", a) and a not in brand_keys
    ]


@dataclass
class Catalogue:
    """alias key -> SKU, plus the alias patterns to match in text (longest first)."""

    aliases: Dict[str, str]
    products: Dict[str, Product]

    def resolve(self, text: str) -> Optional[str]:
        """SKU for a product mention (the whole text), else None."""
        if text in self.products:
            return text
        key = alias_key(text)
        if key.upper() in self.products:
            return key.upper()
        return self.aliases.get(key)

    def lookup_values(self) -> List[str]:
        return sorted(self.aliases)


def build_catalogue(products: List[Product], synonyms: Dict[str, List[str]]) -> Catalogue:
    claims: Dict[str, Dict[str, int]] = {}

    def claim(alias: str, sku: str, level: int) -> None:
        current = claims.setdefault(alias, {})
        current[sku] = min(level, current.get(sku, 99))

    by_sku = {p.sku: p for p in products}
    for product in products:
        accessory = next((k for k in ACCESSORY_OF_PRODUCT if alias_key(product.name_en).endswith(k)), None)
        if accessory:
            for alias in [product.name_fa, product.name_en] + ACCESSORY_OF_PRODUCT[accessory]:
                claim(alias_key(alias), product.sku, 0)
            continue
        for alias in EXTRA_ALIASES.get(product.sku, []):
            claim(alias_key(alias), product.sku, 0)
        for alias, level in _derived_aliases(product.name_fa, persian=True):
            claim(alias, product.sku, level)
        for alias, level in _derived_aliases(product.name_en, persian=False):
            claim(alias, product.sku, level)
    # a brand the shop sells one product of names it ("the baseus", «دلونگی»); a brand of several names none
    for brand, skus in _products_by_brand(products).items():
        for sku in skus:
            claim(brand, sku, 5)
    name_to_sku = {alias_key(p.name_fa): p.sku for p in products}
    name_to_sku.update({alias_key(p.name_en): p.sku for p in products})
    for value, examples in synonyms.items():
        sku = value if value in by_sku else name_to_sku.get(alias_key(value))
        if not sku:
            continue
        for example in examples + [value]:
            key = alias_key(example)
            if key and key not in STOP_ALIASES:
                claim(key, sku, 0)  # a synonym written by a person is as specific as a full name
    aliases: Dict[str, str] = {}
    for alias, skus in claims.items():
        best = min(skus.values())
        winners = [sku for sku, level in skus.items() if level == best]
        if len(winners) == 1:
            aliases[alias] = winners[0]
    return Catalogue(aliases, by_sku)


_SKU_BRAND = re.compile(r"^[A-Z]+-([A-Z0-9]+)-")


def sku_brand_code(sku: str) -> Optional[str]:
    """The brand code a SKU carries (`MOB-APL-IP15` → `APL`), if it follows that pattern."""
    match = _SKU_BRAND.match(sku.upper())
    return match.group(1) if match else None


def _products_by_brand(products: List[Product]) -> Dict[str, set]:
    """brand key -> SKUs of that brand. A brand is read from the names and, where SKUs carry a
    brand code (`MOB-APL-IP15`), extended to every SKU with that code: the iPhone is an Apple
    product though its name does not say so."""
    brand_keys = {alias_key(b) for b in BRANDS} - STOP_ALIASES
    named: Dict[str, set] = {}
    for product in products:
        for name in (product.name_fa, product.name_en):
            key = f" {alias_key(name)} "
            for brand in brand_keys:
                if f" {brand} " in key:
                    named.setdefault(brand, set()).add(product.sku)
    codes: Dict[str, set] = {}
    for product in products:
        match = _SKU_BRAND.match(product.sku)
        if match:
            codes.setdefault(match.group(1), set()).add(product.sku)
    for brand, skus in named.items():
        for sku in list(skus):
            match = _SKU_BRAND.match(sku)
            if match:
                skus |= codes[match.group(1)]
    return named


@functools.lru_cache(maxsize=4)
def load_catalogue(products_csv: Path = PRODUCTS_CSV, synonyms_yml: Path = SYNONYMS_YML) -> Catalogue:
    return build_catalogue(load_products(products_csv), load_synonyms(synonyms_yml))
