"""Personal data kept out of the touchpoints table (docs/touchpoints.md#privacy).

Three things happen before a touchpoint row is stored:

* `mask_personal_data` masks phones, emails, card, Sheba (IBAN) and national-id
  numbers and one-time codes in free text (`text`, `reply_text`);
* `mask_entities` masks entity values that are personal (`phone_number`,
  `email`, …) or that carry one of the numbers masked in the text;
* `conversation_ref` replaces a conversation id that is a phone number
  (`sms:+98…`, `journey:phone:+98…`) by a keyed hash, `sms:ref-<hex>`, and a
  website conversation (`web:<session>`) by `web:ref-<hex>`.

Detection runs on a digit-normalised copy (Persian/Arabic-Indic digits count;
the mapping is one character to one character) and masks the same character
positions in the original, so the stored text keeps the customer's script but
none of the identifiers.

Numbers are found as *chains*: runs of digits joined by what people type
between digit groups — spaces (one or a few), `-`, `_`, `/`, `.`, ZWNJ, the
bidi marks and parentheses. A chain (or its longest leading part) is judged on
its digits alone: an Iranian mobile or landline (with `0`, `98`, `+98`,
`0098`), any `+` international number, 15–19 digits (cards), 24 digits after
`IR` (Sheba), 20+ digits, 10 digits in one piece or `xxx-xxxxxx-x` (national id,
postal code). What is none of these — an order number (4–12 digits), a price, a
date, a quantity — stays.

One-time codes have no shape of their own (4–8 digits, like an order number), so
a number is masked as `[code]` when
  - a code word comes before it: «کد», «رمز», `code`, `otp`, `pin`, `password`
    (also «کدم», «کد تایید», «رمز یکبار مصرف: …», `my verification code is …`) —
    unless the words in between or the one before say it is another kind of
    code: tracking, order, discount, gift, product, postal
    («کد پیگیری ۱۲۳۴۵۶», `order code 100234`, «کد تخفیف …» stay); or
  - the message answers the bot's code question (`code_expected`: the
    assembler knows the form asked for `otp_code`): then every 4–8 digit number
    not marked as an order number (`#`, «سفارش», `order`, …) is a code.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from bot import settings
from bot.channels.addresses import conversation_id as channel_conversation_id, id_prefix
from bot.text.identifiers import normalise_phone
from bot.text.persian import to_ascii_digits

MASKS = {"email": "[email]", "card": "[card]", "iban": "[iban]", "phone": "[phone]",
         "national_id": "[national-id]", "number": "[number]", "code": "[code]"}

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
DIGITS = re.compile(r"\d+")
# What may stand between two digit groups of one number (no newline, no comma, no colon).
GAP = re.compile(r"[ \t\u00a0\u2009\u202f\-_/.()\u200c\u200d\u200e\u200f\u061c\u2066-\u2069]{1,3}")
MOBILE = re.compile(r"(?:0098|98|0)?9\d{9}")
LANDLINE = re.compile(r"0[1-8]\d{9}|0098[1-8]\d{9}")
INTERNATIONAL_00 = re.compile(r"00[1-9]\d{8,12}")  # 11–15 digits: not a 10-digit national id starting 00
IBAN_PREFIX = re.compile(r"(?i)(?<![A-Za-z])IR[\s\-_:\u200c]{0,3}$")
MONEY_AFTER = re.compile(r"\s*(?:تومان|تومن|ریال|هزار|میلیون|میلیارد|toman|tomans|rial|rials|irr|dollars?|usd|\$)", re.I)

# One-time codes (module docstring).
CODE_WORD = r"(?:(?<![A-Za-z])(?:code|otp|pin|passcode|password)(?![A-Za-z])|(?<![\w])(?:کد|كد|رمز|پین)(?:م|ش|ت|و|ی|ها)?(?![\w]))"
CODE_BEFORE = re.compile(r"(?i)(?P<word>" + CODE_WORD + r")(?P<between>[^\d\n]{0,30})$")
OTP_MARKERS = re.compile(
    r"(?i)تایید|تأیید|یکبار|یک بار|یک‌بار|ورود|پیامک|ارسال|فرستاد|verif|confirm|one[\s\-]?time|otp|sms|login|sign[\s\-]?in|security|sent")
OTHER_CODES = re.compile(
    r"(?i)پیگیری|رهگیری|سفارش|فاکتور|تخفیف|هدیه|کوپن|محصول|کالا|پستی|ملی|معرف|(?<![a-z])(?:track|order|invoice|discount|"
    r"promo|coupon|voucher|gift|product|postal|zip|post|referral|area|country|sku|bar)")
OTHER_CODE_BEFORE = re.compile(
    r"(?i)(?:tracking|track|order|invoice|discount|promo|promotion|coupon|voucher|gift|product|postal|zip|post|"
    r"referral|area|country|sku|bar)[\s\-_]*$")
ORDER_MARK = re.compile(r"(?i)(?:#|سفارش|فاکتور|پیگیری|رهگیری|order|invoice|tracking)[^\d\n]{0,24}$")
CODE_DIGITS = (4, 8)


@dataclass
class Finding:
    """One masked identifier: where it was, what it was, its digits (empty for emails)."""

    start: int
    end: int
    kind: str
    digits: str


def raw_text_enabled() -> bool:
    """The operator's switch (HAMSAFAR_TOUCHPOINTS_RAW_TEXT=1) to store text unmasked."""
    return settings.current().touchpoints_raw_text


# -- finding identifiers --------------------------------------------------------------------
def _chains(probe: str) -> List[List[Tuple[int, int]]]:
    """Digit groups of `probe`, grouped into chains of groups joined by a typing gap."""
    chains: List[List[Tuple[int, int]]] = []
    for match in DIGITS.finditer(probe):
        span = match.span()
        if chains:
            last = chains[-1][-1]
            gap = probe[last[1]:span[0]]
            # ". " ends a sentence: "سفارش 100234. 0912…" are two numbers.
            if gap and GAP.fullmatch(gap) and not re.search(r"\.\s", gap):
                chains[-1].append(span)
                continue
        chains.append([span])
    return chains


def _plus(probe: str, start: int) -> bool:
    """A `+` written right before the number (`+98…`, `(+98)…`)."""
    return probe[max(0, start - 2):start].replace("(", "").replace(" ", "").endswith("+")


def _phone_or_iban(probe: str, groups: List[Tuple[int, int]], code_expected: bool = False) -> Optional[str]:
    """A phone or a Sheba number formed by these groups."""
    start = groups[0][0]
    digits = "".join(probe[a:b] for a, b in groups)
    if len(digits) == 24 and IBAN_PREFIX.search(probe[max(0, start - 6):start]):
        return "iban"
    plus = _plus(probe, start)
    if not plus and digits[0] != "0" and MONEY_AFTER.match(probe[groups[-1][1]:]):
        return None  # "9500000000 تومان" is a price
    if plus and 8 <= len(digits) <= 15:
        return "phone"
    if MOBILE.fullmatch(digits) or LANDLINE.fullmatch(digits) or INTERNATIONAL_00.fullmatch(digits):
        return "phone"
    return None


def _long_number(probe: str, groups: List[Tuple[int, int]]) -> Optional[str]:
    """A card, a long account-like number or a national id formed by these groups."""
    start, end = groups[0][0], groups[-1][1]
    digits = "".join(probe[a:b] for a, b in groups)
    lengths = [b - a for a, b in groups]
    size = len(digits)
    if size < 10 or (MONEY_AFTER.match(probe[end:]) and digits[0] != "0"):
        return None
    if 15 <= size <= 19:
        return "card"
    if size == 24:
        return "iban"
    if size >= 20:
        return "number"
    if size == 10 and (len(groups) == 1 or lengths == [3, 6, 1]) and not ORDER_MARK.search(probe[max(0, start - 40):start]):
        return "national_id"  # (a 10-digit order number after «سفارش» / `order` / `#` stays)
    return None


def _long_number_or_code(probe: str, groups: List[Tuple[int, int]], code_expected: bool) -> Optional[str]:
    kind = _long_number(probe, groups)
    if kind is None and _is_code(probe, groups[0][0], "".join(probe[a:b] for a, b in groups), code_expected):
        kind = "code"
    return kind


def _is_code(probe: str, start: int, digits: str, code_expected: bool) -> bool:
    """Whether the number at `start` is a one-time code (module docstring)."""
    if not CODE_DIGITS[0] <= len(digits) <= CODE_DIGITS[1]:
        return False
    before = probe[max(0, start - 60):start]
    found = CODE_BEFORE.search(before)
    if found:
        between = found.group("between")
        if OTP_MARKERS.search(between) or OTP_MARKERS.search(found.group("word")):
            return True
        preceding = before[:found.start()]
        if not OTHER_CODES.search(between) and not OTHER_CODE_BEFORE.search(preceding):
            return True
    if code_expected:
        return not ORDER_MARK.search(before)
    return False


def find_personal_data(text: str, code_expected: bool = False) -> List[Finding]:
    """Every identifier in `text` (non-overlapping, in text order)."""
    if not text:
        return []
    probe = to_ascii_digits(text)
    found: List[Finding] = []

    def free(start: int, end: int) -> bool:
        return not any(f.start < end and start < f.end for f in found)

    for match in EMAIL.finditer(probe):
        found.append(Finding(match.start(), match.end(), "email", ""))

    def take(groups: List[Tuple[int, int]], kind: str) -> None:
        start, end = groups[0][0], groups[-1][1]
        digits = "".join(probe[a:b] for a, b in groups)
        # Take what belongs to the number: a leading "+" / "(" / "IR", a closing ")".
        head = probe[max(0, start - 6):start]
        iban = IBAN_PREFIX.search(head) if kind == "iban" else None
        if iban:
            start -= len(head) - iban.start()
        else:
            while start > 0 and probe[start - 1] in "+(" and free(start - 1, start):
                start -= 1
        if "(" in probe[start:groups[0][0]] and end < len(probe) and probe[end] == ")":
            end += 1
        found.append(Finding(start, end, kind, digits))

    for chain in _chains(probe):
        # From each group on: first a phone or Sheba number (longest), so "09121234567 100234"
        # is a phone and an order number; else a card, long number, national id or one-time
        # code (longest), so a card is never cut into a phone and leftover digits.
        i = 0
        while i < len(chain):
            for judge in (_phone_or_iban, _long_number_or_code):
                j = next((j for j in range(len(chain) - 1, i - 1, -1)
                          if judge(probe, chain[i:j + 1], code_expected)
                          and free(chain[i][0], chain[j][1])), None)
                if j is not None:
                    take(chain[i:j + 1], judge(probe, chain[i:j + 1], code_expected))
                    i = j + 1
                    break
            else:
                i += 1
    return sorted(found, key=lambda f: f.start)


def mask_personal_data(text: str, code_expected: bool = False) -> str:
    """`text` with every detected identifier replaced by a label like `[phone]`."""
    if not text:
        return text
    for finding in sorted(find_personal_data(text, code_expected), key=lambda f: f.start, reverse=True):
        text = text[:finding.start] + MASKS[finding.kind] + text[finding.end:]
    return text


def prepare_text(text: Optional[str], code_expected: bool = False) -> Optional[str]:
    """Text as it may be stored: masked unless the operator turned raw text on."""
    if text is None or raw_text_enabled():
        return text
    return mask_personal_data(text, code_expected)


# -- entity values ------------------------------------------------------------------------
# Entities whose value is personal whatever it looks like.
PERSONAL_ENTITIES = {
    "phone_number": "[phone]", "phone": "[phone]", "mobile": "[phone]", "email": "[email]",
    "card_number": "[card]", "card": "[card]", "iban": "[iban]", "sheba": "[iban]",
    "national_id": "[national-id]", "otp_code": "[code]", "code": "[code]", "password": "[code]",
}


def _digits(value: str) -> str:
    return re.sub(r"\D", "", to_ascii_digits(value))


def _mask_value(value: Any, masked_digits: Set[str]) -> Any:
    if isinstance(value, str):
        digits = _digits(value)
        if len(digits) >= CODE_DIGITS[0] and any(digits in d or d in digits for d in masked_digits if d):
            return "[masked]"
        return mask_personal_data(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        masked = _mask_value(str(value), masked_digits)
        return value if masked == str(value) else masked
    if isinstance(value, list):
        return [_mask_value(v, masked_digits) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v, masked_digits) for k, v in value.items()}
    return value


def mask_entities(entities: Optional[List[Dict[str, Any]]], text: Optional[str] = None,
                  code_expected: bool = False) -> Optional[List[Dict[str, Any]]]:
    """Entity dicts as they may be stored: personal values masked.

    A value is masked when its entity is personal (`PERSONAL_ENTITIES`), when it
    holds an identifier itself, or when its digits are those of a number masked
    in the message `text` (an order_id the NLU read from a one-time code).
    """
    if entities is None or raw_text_enabled():
        return entities
    masked_digits = {f.digits for f in find_personal_data(text or "", code_expected) if f.digits}
    stored = []
    for entity in entities:
        entity = dict(entity)
        name = str(entity.get("entity") or "")
        if "value" in entity and entity["value"] is not None:
            if name in PERSONAL_ENTITIES:
                entity["value"] = PERSONAL_ENTITIES[name]
            else:
                entity["value"] = _mask_value(entity["value"], masked_digits)
        stored.append(entity)
    return stored


# -- pseudonymous conversation references ---------------------------------------------------
PSEUDONYM_KEY_ENV = "HAMSAFAR_PSEUDONYM_KEY"
PSEUDONYM_KEY_FILE = "pseudonym.key"
REF_MARK = "ref-"
# Conversation ids that are `<prefix><phone number>`.
# (`sms:` from bot.channels.addresses, the owner of channel prefixes; `journey:phone:` is bot.orchestration's.)
PHONE_CONVERSATION_PREFIXES = (id_prefix("sms"), "journey:phone:")
# The website widget's conversations: `web:<conversation key>` (bot.channels.web); the key
# opened the chat history on its own before web sessions had separate tokens.
WEB_CONVERSATION_PREFIX = id_prefix("web")
REFERENCE_PREFIXES = PHONE_CONVERSATION_PREFIXES + (WEB_CONVERSATION_PREFIX,)

_key_lock = threading.Lock()
_key_cache: Dict[str, bytes] = {}


def pseudonym_key() -> bytes:
    """The HMAC key of conversation references.

    `HAMSAFAR_PSEUDONYM_KEY` if set; else a random key kept in
    `HAMSAFAR_STATE_DIR/pseudonym.key` (mode 0600), made by the first process that
    needs it — every process sharing the state directory (Rasa server, action
    server, `hamsafar` commands) uses the same one. Deployments whose processes
    do not share a state directory must set the variable.
    """
    configured = settings.env_secret(PSEUDONYM_KEY_ENV)
    if configured:
        return configured.encode("utf-8")
    path = settings.STATE_DIR / PSEUDONYM_KEY_FILE
    with _key_lock:
        cached = _key_cache.get(str(path))
        if cached:
            return cached
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{PSEUDONYM_KEY_FILE}.{os.getpid()}.{threading.get_ident()}")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(os.urandom(32).hex() + "\n")
            try:
                os.link(temporary, path)  # atomic; loses to a concurrent process without harm
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        key = path.read_text(encoding="ascii").strip().encode("ascii")
        if not key:
            raise RuntimeError(f"{path} is empty; delete it or set {PSEUDONYM_KEY_ENV}")
        _key_cache[str(path)] = key
        return key


def is_conversation_ref(conversation_id: Optional[str]) -> bool:
    """Whether `conversation_id` is a pseudonymous reference (`sms:ref-…`, `web:ref-…`): no address to send to."""
    text = str(conversation_id or "")
    return any(text.startswith(prefix + REF_MARK) for prefix in REFERENCE_PREFIXES)


def conversation_ref(conversation_id: Optional[str]) -> Optional[str]:
    """The conversation id as touchpoints store it.

    `sms:+989121234567` → `sms:ref-<32 hex>` (HMAC-SHA256 of the E.164 number under
    `pseudonym_key`): the same for every message of one phone, so funnels and
    conversations still group, and not reversible without the key. The same for
    `journey:phone:<phone>`. `web:<key>` → `web:ref-<32 hex>` (HMAC of the key): the raw
    key never reaches touchpoints, analytics views or the agent console. Every other id,
    and a reference, is returned as is.
    """
    if conversation_id is None:
        return None
    text = str(conversation_id)
    if text.startswith(WEB_CONVERSATION_PREFIX):
        key = text[len(WEB_CONVERSATION_PREFIX):]
        if not key or key.startswith(REF_MARK):
            return text
        message = channel_conversation_id("web", key).encode("utf-8")
        digest = hmac.new(pseudonym_key(), message, hashlib.sha256).hexdigest()
        return f"{WEB_CONVERSATION_PREFIX}{REF_MARK}{digest[:32]}"
    for prefix in PHONE_CONVERSATION_PREFIXES:
        if text.startswith(prefix):
            address = text[len(prefix):]
            if not address or address.startswith(REF_MARK):
                return text
            phone = normalise_phone(address) or address
            digest = hmac.new(pseudonym_key(), f"phone:{phone}".encode("utf-8"), hashlib.sha256).hexdigest()
            return f"{prefix}{REF_MARK}{digest[:32]}"
    return text


def stored_conversation_ids(conversation_ids: Iterable[str]) -> Set[str]:
    """`conversation_ids` and the references touchpoints store them under (for erasure lookups)."""
    ids = {str(c) for c in conversation_ids if c}
    return ids | {conversation_ref(c) for c in ids}  # type: ignore[misc]


# -- rows stored before this masking -----------------------------------------------------------
def scrub_stored_touchpoints(conn: Any, batch_size: int = 1000) -> int:
    """Mask the text and entities of stored touchpoints and pseudonymise their phone conversation ids.

    For databases written by older code (a migration: `bot.touchpoints.models`).
    A row whose conversation id changes gets a new `event_id` too (the old one
    hashed the phone). Returns the number of rows changed.
    """
    import hashlib as _hashlib

    import sqlalchemy as sa

    from bot.touchpoints.models import Touchpoint

    table = Touchpoint.__table__
    columns = (table.c.id, table.c.event_id, table.c.conversation_id, table.c.text, table.c.reply_text, table.c.entities)
    changed = 0
    last_id = None
    while True:
        query = sa.select(*columns).order_by(table.c.id).limit(batch_size)
        if last_id is not None:
            query = query.where(table.c.id > last_id)
        rows = conn.execute(query).mappings().all()
        if not rows:
            return changed
        last_id = rows[-1]["id"]
        for row in rows:
            values: Dict[str, Any] = {}
            reference = conversation_ref(row["conversation_id"])
            if reference != row["conversation_id"]:
                values["conversation_id"] = reference
                values["event_id"] = _hashlib.sha256(f"{reference}|{row['event_id']}".encode()).hexdigest()[:40]
            for name in ("text", "reply_text"):
                if row[name] and not raw_text_enabled():
                    masked = mask_personal_data(row[name])
                    if masked != row[name]:
                        values[name] = masked
            entities = row["entities"]
            if isinstance(entities, list) and entities:
                masked_entities = mask_entities(entities, row["text"])
                if masked_entities != entities:
                    values["entities"] = masked_entities
            if values:
                conn.execute(table.update().where(table.c.id == row["id"]).values(**values))
                changed += 1
