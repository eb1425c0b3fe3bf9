"""Which product the customer means: named, picked among those just shown, or hinted at.

Customers rarely type a catalogue name. They say "the samsung", «گلکسی», "the
buds", "the cheaper one", «دومی», "the apple one", «دسته‌اش». The actions and
the slot filling ask here:

* `find_products` — a SKU (the NLU's product entity) or a name typed in full;
* `chosen_product` — the one picked among the products just shown
  (`shown_products`): by price ("the cheaper one"), position («دومی»), or
  the words of its name ("the apple one", "the keyboard");
* `products_hinted` — the products a message points at without naming one:
  a kind or family ("TV", «گلکسی»), else a brand, else a category.
"""

from __future__ import annotations

import logging
import re
from typing import Dict, List, Optional, Sequence

from bot.crm.base import CRM, CRMError, Product
from bot.dialogue import cues
from bot.nlu.catalogue import sku_brand_code
from bot.text.persian import normalise, to_persian_digits

from actions.common import get_crm, policy, product_name

logger = logging.getLogger(__name__)

# Words of a product question that are not part of any product's name.
NOT_PRODUCT_WORDS = set("""how much what whats price cost costs is the a an of for do you have sell please pls
any stock still available these days go want need buy order get got show tell about one ones that this it its
them those these pick take cheaper cheapest pricier more expensive other
قیمت چند چنده چقدر چقدره هست است رو را میخوام می خوام مشخصات دارید دارین برای این اون یه یک سفارش بدم
موجود موجوده خرید بخرم میخواستم لازم دارم همون همین اونو اینو میگم منظورم چی""".split())


def words_of(text: str) -> List[str]:
    """The words of a message that could be part of a product's name."""
    clean = re.sub(r"[^\w\s]", " ", normalise(text or "").lower().replace("\u200c", " "))
    return [w for w in clean.split() if len(w) > 1 and w not in NOT_PRODUCT_WORDS]


def name_of(product: Product) -> str:
    """Every name of a product (Persian, English, SKU) in one lower-case string, for word matching."""
    return " ".join((product.name("fa"), product.name("en"), product.sku)).lower().replace("\u200c", " ")


def find_products(value: str, limit: int = 5) -> List[Product]:
    """A SKU (what the NLU's product entity holds) or words typed by the customer; only the
    words that can be part of a name are searched ("the cheaper one pls" finds nothing)."""
    crm = get_crm()
    value = str(value or "").strip()
    if not value:
        return []
    product = crm.get_product(value) or crm.get_product(value.upper())
    if product is not None:
        return [product]
    words = words_of(value)
    return crm.search_products(" ".join(words), limit=limit) if words else []


def chosen_product(text: str, shown: Sequence[str], current: Optional[str] = None) -> Optional[str]:
    """The SKU the words pick among the products just shown: by price, by position, the
    other than `current` (the one talked about: "what about the other one?" — of its
    category when several were shown), or the one product whose name has the words
    ("the apple one", «ایکس باکسه»); None otherwise."""
    if len(shown) < 2:
        return None
    try:
        crm = get_crm()
        products = crm.get_products(shown)
    except CRMError:
        logger.warning("catalogue unavailable: cannot pick among the products shown")
        return None
    choice = cues.choice_among(text)
    if choice == "other":
        others = [p for p in products if p.sku != current]
        talked = next((p for p in products if p.sku == current), None)
        if talked is not None and len(others) > 1:
            others = [p for p in others if p.category == talked.category]
        if len(others) == 1:
            return others[0].sku
        choice = "index:1" if current is None else None
    if choice == "in_stock":   # "which one is in stock?" after comparing: the one that is, if only one is
        available = [p for p in products if p.in_stock]
        return available[0].sku if len(available) == 1 else None
    if choice and choice.startswith("index:"):
        index = int(choice.split(":", 1)[1])
        return products[index].sku if index < len(products) else None
    if choice in ("cheapest", "priciest") and cues.asks_for_cheaper_others(text):
        return None   # "too expensive, anything cheaper?": a search below the one talked about
    if choice and products:
        pick = min if choice == "cheapest" else max
        return pick(products, key=lambda p: p.price).sku
    words = words_of(text)
    named = [p for p in products if words and any(word_in_name(w, name_of(p)) for w in words)]
    if len(named) == 1:
        return named[0].sku
    from actions.shop import category_of_text

    # «گوشیشو میگم», "the phone one" among a phone and earbuds: the one of that kind
    category = category_of_text(text)
    of_kind = [p for p in products if category and p.category == category]
    return of_kind[0].sku if len(of_kind) == 1 else None


def products_of_brand(brand: str) -> List[Product]:
    """The products of a brand: those whose name says it and, where SKUs carry a brand code
    (`MOB-APL-IP15`), the others with that code — the iPhone is an Apple product though its
    name does not say "Apple"."""
    crm = get_crm()
    named = {p.sku: p for p in crm.search_products(brand, limit=50) if brand in name_of(p)}
    codes = {code for p in named.values() if (code := sku_brand_code(p.sku))}
    for code in codes:
        for product in crm.search_products(code, limit=50):
            if sku_brand_code(product.sku) == code:
                named.setdefault(product.sku, product)
    return list(named.values())


def product_of_brand(text: str, current: Optional[str]) -> Optional[str]:
    """The SKU a correction naming only a brand means ("sorry, I meant the sony ones",
    «منظورم سونی بود» while ordering the JBL headphones): the brand's one product of the kind
    being talked about (`current`'s category), else its one product at all; None when the
    brand is the current product's own, has several such products, or none is named."""
    from actions.shop import brand_of_text

    brand = brand_of_text(text)
    if not brand or not current:
        return None
    try:
        crm = get_crm()
        talked = crm.get_product(current)
        products = products_of_brand(brand)
    except CRMError:
        logger.warning("catalogue unavailable: cannot read a brand correction")
        return None
    if talked is None or talked.sku in {p.sku for p in products}:
        return None
    same_kind = [p for p in products if p.category == talked.category]
    if len(same_kind) > 1:   # the LG TV and the LG washing machine are both home appliances: the TV, after a TV
        def name_words(product: Product) -> set:
            return {w for w in words_of(f"{product.name('fa')} {product.name('en')}") if not w.isdigit()}
        kind_words = name_words(talked) - set(words_of(brand))
        same_kind = [p for p in same_kind if kind_words & name_words(p)] or same_kind
    candidates = same_kind or products
    return candidates[0].sku if len(candidates) == 1 else None


def _singular(word: str) -> str:
    """"tvs" → "tv", "laptops" → "laptop" (Persian plurals are split off by the normaliser)."""
    return word[:-1] if len(word) >= 3 and word.endswith("s") and not word.endswith("ss") else word


def word_in_name(word: str, name: str) -> bool:
    """A customer's word is a word of a product name, or the start of one when it is long
    enough ("vivo" → "vivobook"; but "and" is not in "SanDisk" or "Mi Band"); the Persian
    ending «ه/ش/و» is allowed ("ایکس باکسه")."""
    tokens = re.split(r"[\s/(),]+", name)   # a SKU stays one token

    def named(w: str) -> bool:
        return any(t == w or (len(w) >= 4 and t.startswith(w)) for t in tokens)

    return named(word) or (len(word) > 3 and word[-1] in "هشو" and named(word[:-1]))


# Words that qualify a kind without naming it: «هندزفری بی سیم» is every earbud, not only the one
# whose catalogue name happens to say «بی‌سیم».
KIND_MODIFIERS = frozenset({"سیم", "بیسیم", "wireless", "bluetooth", "بلوتوثی", "بلوتوث", "cordless"})


# Words for any kind of product: "jbl stuff" is everything JBL, "the gaming stuff" the Gaming category.
ANY_KIND = frozenset({"stuff", "things", "thing", "products", "product", "items", "item", "gear", "goods", "models",
                      "options", "range", "collection", "chizi", "chiza", "وسایل", "محصولات", "کالا", "کالاها",
                      "چیزی", "چیزا", "اجناس", "مدل", "مدلا", "مدلهای", "مدل‌های", "جنس"})


# Kinds of product written in two letters ("price of the tv?"); other two-letter words name nothing.
SHORT_KINDS = frozenset({"tv", "pc"})


# Persian endings a customer puts on a kind: «جاروبرقیاتون» (your vacuums), «گوشیاش», «هدفونه».
_PERSIAN_ENDINGS = ("هاتون", "هاشون", "هامون", "یاتون", "یاشون", "اتون", "اشون", "امون", "های", "ها", "تون", "شون",
                    "ای", "ا", "ه", "ش", "و")


def _word_forms(word: str) -> List[str]:
    """The word, its English singular, and the word without a Persian ending, to search names with."""
    forms = [word, _singular(word)]
    for ending in _PERSIAN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            forms.append(word[: -len(ending)])
    return list(dict.fromkeys(forms))


def _joined_compounds(crm: CRM, words: List[str]) -> List[str]:
    """Two words a catalogue writes as one: «جارو برقی» is «جاروبرقی» (not every «برقی» kettle),
    "play station" is "playstation"."""
    joined: List[str] = []
    index = 0
    while index < len(words):
        pair = "".join(words[index:index + 2])
        if index + 1 < len(words) and len(pair) >= 6 \
                and any(word_in_name(pair, name_of(p)) for p in crm.search_products(pair, limit=5)):
            joined.append(pair)
            index += 2
        else:
            joined.append(words[index])
            index += 1
    return joined


def _names_the_category(word: str, category: str) -> bool:
    """The word is the category's own name ("phones" of "Mobile phones", «گوشی»), not a kind within
    it ("headphones" in Audio)."""
    entry = (policy().get("categories") or {}).get(category) or {}
    names = " ".join(str(entry.get(language) or "") for language in ("fa", "en"))
    name_words = set(normalise(names).lower().replace("\u200c", " ").split())
    return word in name_words or _singular(word) in {_singular(w) for w in name_words}


def products_hinted(message: str, limit: int = 6) -> List[Product]:
    """Products a message points at without naming one ("how much is the samsung?",
    «قیمت لپ تاپ چنده؟», "what TVs do you sell?")."""
    from actions.shop import brand_of_text, category_of_text

    crm = get_crm()
    request = cues.accessory_request(message)
    if request:   # "a case for my iphone 15": cases that fit it, not the iPhone
        return accessories_for(request, message)[:limit]
    product_words = cues.without_target_device(message)
    if product_words != cues.canonical(message):   # "my logitech to my laptop": the Logitech, if it names any
        found = products_hinted(product_words, limit)
        if found:
            return found
    brand = brand_of_text(message)
    category = category_of_text(message)
    products: List[Product] = []
    words = [w for w in _joined_compounds(crm, words_of(message)[:8]) if (len(w) > 2 or w in SHORT_KINDS)
             and not w.isdigit() and w != brand and w not in KIND_MODIFIERS and w not in ANY_KIND][:4]
    # the products named by most of the words: "galaxy buds" is the Buds, not every Galaxy
    scores: Dict[str, int] = {}
    found: Dict[str, Product] = {}
    accessories: set = set()   # named by "charger", «قاب»: what is asked for, beside the device it goes with
    for word in words:
        for form in _word_forms(word):
            named = [p for p in crm.search_products(form, limit=50) if word_in_name(form, name_of(p))]
            for product in named:
                found[product.sku] = product
                scores[product.sku] = scores.get(product.sku, 0) + 1
                if cues.names_an_accessory(form):
                    accessories.add(product.sku)
            if named:
                break
    if scores:
        best = max(scores.values())
        named = [found[sku] for sku, score in scores.items() if score == best]
        named = [p for p in named if p.sku in accessories] or named
        if category:   # "gaming consoles": the consoles, not the gaming laptop
            of_category = [p for p in named if p.category == category]
            kind_word = len(words) == 1 and category_of_text(words[0]) == category and not brand
            if kind_word and (not of_category or _names_the_category(words[0], category)):
                # "the gaming stuff": the Gaming category, not the one laptop called "gaming"; "what
                # phones have you got": every phone, the iPhone too (its name does not say "phone");
                # "headphones", "console" stay those, not everything audio or gaming
                named = []
            else:
                named = of_category or named
        if brand:   # "lenovo laptops", «گوشی شیائومی»: the brand's among them
            named = [p for p in named if brand in name_of(p)] or named
        if 1 <= len(named) <= 6:
            products = named
    if not products and brand:
        products = products_of_brand(brand)
    if not products and category:
        products = crm.list_products(category, limit=50)
        if brand:
            products = [p for p in products if brand in name_of(p)] or products
    return sorted(products, key=lambda p: (not p.in_stock, p.price))[:limit]


def _model_words(product: Product) -> set:
    """The words of a product's names with a digit in them ("a55", "k380", "25w"), ASCII digits."""
    return {w for w in re.split(r"[\s/(),-]+", normalise(name_of(product))) if any(c.isdigit() for c in w)}


def fits_device(accessory: Product, message: str) -> bool:
    """An accessory made for one device (its name carries that device's model, as the Galaxy A55
    case does) fits only a message naming that model; one made for none (a charger, a cable)
    fits any device."""
    crm = get_crm()
    message_words = set(re.sub(r"[^\w\s]", " ", normalise(message).lower()).split())
    for word in _model_words(accessory) - message_words:
        if any(p.category != accessory.category and word in _model_words(p)
               for p in crm.search_products(word, limit=20)):
            return False   # the model of a device the message does not name
    return True


def made_for_named_device(accessory: Product, message: str) -> bool:
    """An accessory whose name carries the model the message names ("a55" for the Galaxy A55 case)."""
    message_words = set(re.sub(r"[^\w\s]", " ", normalise(message).lower()).split())
    return bool({w.lower() for w in _model_words(accessory)} & message_words)


def accessory_meant(message: str, named: Sequence[str], recent: Sequence[Optional[str]]) -> Optional[str]:
    """The accessory just talked about or shown (`recent` SKUs) that is made for the one device
    the message names, when the words point at something of that device ("the a55 one, how much?"
    after the Galaxy A55's case, "what about for the a55?" after cases were shown); None otherwise."""
    if len(named) != 1 or not cues.means_the_one_for(message) or cues.accessory_request(message):
        return None
    try:
        candidates = [p for sku in dict.fromkeys(s for s in recent if s) if (p := get_crm().get_product(str(sku)))]
    except CRMError:
        return None
    fitting = [p.sku for p in candidates if p.category == "accessory" and p.sku != named[0]
               and made_for_named_device(p, message)]
    return fitting[0] if len(fitting) == 1 else None


def accessories_for(request: cues.AccessoryRequest, message: str) -> List[Product]:
    """The products of the accessory asked for that fit the device it is for ("a case for my
    iphone 15": none, the shop's one case is the Galaxy A55's); none when the shop sells no such
    accessory ("a screen protector")."""
    return [p for p in accessories_of_kind(request.accessory) if fits_device(p, message)]


def accessories_of_kind(accessory: str, limit: int = 50) -> List[Product]:
    """Every product of an accessory kind ("cases", «کاور»), whatever it fits."""
    return products_hinted(ACCESSORY_NAMES.get(accessory, accessory), limit=limit)


# What customers call an accessory that the catalogue names otherwise.
ACCESSORY_NAMES = {"cover": "case", "covers": "case", "ghab": "قاب", "کاور": "قاب", "قابش": "قاب", "sharjer": "شارژر",
                   "kabl": "کابل"}


def device_of(request: cues.AccessoryRequest, language: str) -> str:
    """The device an accessory was asked for, as the catalogue names it when it knows it, else as
    the customer wrote it."""
    found = products_hinted(request.device, limit=2)
    if len(found) == 1:
        return product_name(found[0], language)
    return to_persian_digits(request.device) if language == "fa" else request.device
