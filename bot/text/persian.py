"""Persian text normalisation, the same everywhere text enters the system.

Customers type Persian with Arabic keyboards (ي, ك), Persian or Arabic-Indic
digits, ZWNJ or a space or nothing between a word and its affixes, and
sometimes diacritics or kashida. NLU, entity parsing and CRM lookups all see
one canonical form produced here.

`normalise_with_offsets` also returns, for every output character, the index
of the input character it came from, so entity spans annotated on the raw
text can be moved onto the normalised text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import List, Tuple

ZWNJ = "\u200c"

_CHAR_MAP = {
    "ي": "ی", "ى": "ی",
    "ك": "ک", "ە": "ه", "ۀ": "ه", "ة": "ه",
    "\u00a0": " ", "\u200f": "", "\u200e": "", "\u202a": "", "\u202b": "", "\u202c": "",
    "\u200b": "", "\ufeff": "", "\u200d": "",
    "ـ": "",  # kashida (tatweel)
    "٫": ".", "٬": ",",
}
for _i, (_fa, _ar) in enumerate(zip("۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩")):
    _CHAR_MAP[_fa] = str(_i)
    _CHAR_MAP[_ar] = str(_i)

# Arabic diacritics (harakat, tanwin, shadda, sukun, superscript alef) and hamza above.
_DIACRITICS = set(chr(c) for c in range(0x064B, 0x0653)) | {"\u0670", "\u0654", "\u0655"}

_PERSIAN_LETTERS = re.compile(r"[\u0600-\u06FF\uFB50-\uFDFF\uFE70-\uFEFF]")
# Prefixes and suffixes customers write with ZWNJ, a space or glued.
_PREFIX_SPACE = re.compile(r"(?<![\w\u0600-\u06FF])(ن?می) (?=[\u0600-\u06FF])")
_SUFFIX_SPACE = re.compile(r"(?<=[\u0600-\u06FF]) (ها|های|هایی|هایم|هایت|هایش|هایمان|تر|ترین)(?![\u0600-\u06FF])")
_SPACES = re.compile(r"[ \t]+")


def normalise_with_offsets(text: str) -> Tuple[str, List[int]]:
    """Normalise `text`; also return the source index of every output character."""
    out: List[str] = []
    src: List[int] = []
    for index, char in enumerate(text):
        if char in _DIACRITICS:
            continue
        mapped = _CHAR_MAP.get(char, char)
        if char == ZWNJ:
            mapped = ZWNJ
        for piece in mapped:
            if piece in " \t" and out and out[-1] in " \t":
                continue  # collapse space runs first, so "می  خوام" gets its ZWNJ like "می خوام"
            out.append(piece)
            src.append(index)
    result = "".join(out)
    # ZWNJ variants: a space written where a ZWNJ belongs becomes ZWNJ (1:1, offsets stay).
    result = _PREFIX_SPACE.sub(lambda m: m.group(1) + ZWNJ, result)
    result = _SUFFIX_SPACE.sub(lambda m: ZWNJ + m.group(1), result)
    # Repeated ZWNJ / ZWNJ next to a space collapse; runs of spaces collapse.
    chars = list(result)
    kept_chars: List[str] = []
    kept_src: List[int] = []
    for char, origin in zip(chars, src):
        previous = kept_chars[-1] if kept_chars else ""
        if char == ZWNJ and (previous in (ZWNJ, " ", "") ):
            continue
        if char == " " and previous == ZWNJ:
            kept_chars[-1] = " "
            continue
        if char in " \t" and previous in (" ", ""):
            continue
        kept_chars.append(" " if char == "\t" else char)
        kept_src.append(origin)
    while kept_chars and kept_chars[-1] in (" ", ZWNJ):
        kept_chars.pop()
        kept_src.pop()
    return "".join(kept_chars), kept_src


def normalise(text: str) -> str:
    """The canonical form of `text` (see module docstring)."""
    return normalise_with_offsets(text)[0]


def to_ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits to ASCII, nothing else changed."""
    return "".join(_CHAR_MAP.get(c, c) if c in "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩" else c for c in text)


def to_persian_digits(text: str) -> str:
    """ASCII digits to Persian, for replies in Persian."""
    return text.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def has_persian_letters(text: str) -> bool:
    """True if `text` contains any Arabic-script letter."""
    return bool(_PERSIAN_LETTERS.search(text))


def is_blank(text: str) -> bool:
    """Nothing a person can read: only spaces, invisible format characters (ZWNJ, ZWJ, zero-width
    space, direction marks, BOM), tatweel or vowel marks. Such a message normalises to nothing, and
    the NLU has nothing to read (a lone ZWNJ crashed Rasa's fallback classifier)."""
    return not any(not char.isspace() and char != "\u0640" and unicodedata.category(char) not in ("Cf", "Mn", "Me", "Cc")
                   for char in normalise(text or ""))
