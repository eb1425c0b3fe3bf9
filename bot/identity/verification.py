"""Customer verification: a conversation becomes a known CRM customer.

Three ways (SPEC, "CRM and order data"):

1. Messenger contact (Telegram, Bale): the user shared *their own* contact (the
   channel passes `contact.user_id` and `from.id`; they must be equal) and its
   phone matches a CRM customer -> `verify_telegram_contact`, `verify_bale_contact`.
2. SMS one-time code: `request_code` sends a 6-digit code (valid 5 minutes,
   5 tries, at most 3 codes an hour per number) to a phone; `check_code`
   confirms it. Only a keyed hash of the code is stored. For an unknown phone
   nothing is sent but the answer is the same ("sent"), so nobody can probe
   which numbers are customers.
3. Signed web identity: the shop website signs `"{customer_id}:{expires}"`
   (expires = Unix seconds) with HMAC-SHA256 and the shared secret
   `HAMSAFAR_WEB_IDENTITY_SECRET`; `verify_web_identity` checks it in constant
   time and enforces the expiry (and at most one day ahead).

A verification is stored for the conversation and, when given, for the channel
identity (e.g. the Telegram user id), so a new conversation of the same person
on that channel is known too (`customer_for`). Order details are shown only
through `order_for_customer`, which answers `None` both for an order that does
not exist and for someone else's order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Union, runtime_checkable

import sqlalchemy as sa

from bot import db, schema, settings
from bot.crm.base import CRM, CRMError, Order, utcnow
from bot.identity.models import OneTimeCode, VerifiedIdentity
from bot.text.catalogue import text as catalogue_text
from bot.text.identifiers import normalise_order_id, normalise_phone
from bot.text.persian import to_ascii_digits

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 3
WEB_MAX_AHEAD = dt.timedelta(days=1)

CONVERSATION = "conversation"



@runtime_checkable
class CodeSender(Protocol):
    """What sends the SMS: an SMS gateway (bot.channels), or a recorder in tests."""

    def send(self, phone: str, text: str) -> Any: ...


class _CallableSender:
    """Lets a plain function `fn(phone, text)` serve as the one-time-code sender."""

    def __init__(self, fn: Callable[[str, str], Any]) -> None:
        self.fn = fn

    def send(self, phone: str, text: str) -> Any:
        return self.fn(phone, text)


@dataclass
class Verification:
    """Outcome of a verification attempt.

    status: verified | not_own_contact | unknown_phone | invalid_phone |
    invalid_signature | expired | wrong_code | too_many_attempts | no_code
    """

    status: str
    customer_id: Optional[str] = None
    attempts_left: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "verified"


@dataclass
class CodeRequest:
    """Outcome of `request_code`. status: sent | invalid_phone | rate_limited | send_failed."""

    status: str
    phone: Optional[str] = None
    expires_at: Optional[dt.datetime] = None
    retry_after: Optional[dt.timedelta] = None


def sign_web_identity(customer_id: str, expires: int, secret: Optional[str] = None) -> str:
    """Hex HMAC-SHA256 of `"{customer_id}:{expires}"` (what the shop website computes)."""
    key = (secret if secret is not None else settings.current().web_identity_secret or "").encode("utf-8")
    if not key:
        raise CRMError("HAMSAFAR_WEB_IDENTITY_SECRET is not set")
    return hmac.new(key, f"{customer_id}:{int(expires)}".encode("utf-8"), hashlib.sha256).hexdigest()


def configured_otp_pepper() -> str:
    """The key of the one-time-code hashes: `HAMSAFAR_OTP_PEPPER`, else the web identity secret."""
    configured = settings.current()
    return configured.otp_pepper or configured.web_identity_secret or ""


def sms_gateway_configured() -> bool:
    """Whether one-time codes would go out to real phones (a Kavenegar or Twilio account is set)."""
    configured = settings.current()
    return bool(configured.kavenegar_api_key or (configured.twilio_account_sid and configured.twilio_auth_token))


def missing_pepper_refusal() -> Optional[str]:
    """Why the servers must not start, or None.

    With an SMS gateway, real one-time codes are hashed before they are stored; a hash
    without a secret key is a 6-digit code anyone with the database reverses in a
    million guesses, so a gateway without a pepper is refused (security finding 7)."""
    if not sms_gateway_configured() or configured_otp_pepper():
        return None
    return ("[hamsafar] refusing to start: an SMS gateway is configured but HAMSAFAR_OTP_PEPPER is not set, so "
            "one-time codes would be stored with an unkeyed hash. Set HAMSAFAR_OTP_PEPPER to a long random value "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`).")


class Verifier:
    """Verification against one CRM and one database (our tables)."""

    def __init__(self, crm: Optional[CRM] = None, *, url: Optional[str] = None,
                 sender: Union[CodeSender, Callable[[str, str], Any], None] = None,
                 web_secret: Optional[str] = None, otp_pepper: Optional[str] = None,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._crm = crm
        self.url = url
        self.sender: Optional[CodeSender] = None
        if sender is not None:
            self.set_sender(sender)
        self.web_secret = web_secret
        self.pepper = otp_pepper if otp_pepper is not None else configured_otp_pepper()
        self.clock = clock
        schema.engine(url)  # the tables of one-time codes and verified identities

    @property
    def crm(self) -> CRM:
        if self._crm is None:
            from bot.crm.factory import get_crm

            self._crm = get_crm(database_url=self.url)
        return self._crm

    def set_sender(self, sender: Union[CodeSender, Callable[[str, str], Any]]) -> None:
        self.sender = sender if isinstance(sender, CodeSender) else _CallableSender(sender)

    # ------------------------------------------------------------------ identities
    def _remember(self, customer_id: str, method: str, conversation_id: Optional[str],
                  channel: Optional[str] = None, external_id: Optional[str] = None) -> None:
        now = self.clock()
        keys = []
        if conversation_id:
            keys.append((CONVERSATION, str(conversation_id)))
        if channel and external_id:
            keys.append((channel, str(external_id)))
        with db.session_scope(self.url) as s:
            for key_channel, key_id in keys:
                row = s.get(VerifiedIdentity, (key_channel, key_id))
                if row is None:
                    s.add(VerifiedIdentity(channel=key_channel, external_id=key_id, customer_id=customer_id,
                                           method=method, verified_at=now))
                else:
                    row.customer_id, row.method, row.verified_at = customer_id, method, now

    def customer_for(self, conversation_id: Optional[str] = None, *, channel: Optional[str] = None,
                     external_id: Optional[str] = None) -> Optional[str]:
        """The verified customer id of a conversation or channel identity, else None.

        A channel identity verified earlier (e.g. the same Telegram user) also
        makes this conversation known; the link is stored for the conversation.
        """
        with db.session_scope(self.url) as s:
            if conversation_id:
                row = s.get(VerifiedIdentity, (CONVERSATION, str(conversation_id)))
                if row is not None:
                    return row.customer_id
            if channel and external_id:
                row = s.get(VerifiedIdentity, (channel, str(external_id)))
                if row is not None:
                    if conversation_id:
                        s.add(VerifiedIdentity(channel=CONVERSATION, external_id=str(conversation_id),
                                               customer_id=row.customer_id, method="carried",
                                               verified_at=self.clock()))
                    return row.customer_id
        return None

    def forget(self, conversation_id: Optional[str] = None, *, channel: Optional[str] = None,
               external_id: Optional[str] = None, customer_id: Optional[str] = None) -> int:
        """Remove verifications (log out; erase a customer's data). Returns rows removed."""
        conditions = []
        if conversation_id:
            conditions.append(sa.and_(VerifiedIdentity.channel == CONVERSATION,
                                      VerifiedIdentity.external_id == str(conversation_id)))
        if channel and external_id:
            conditions.append(sa.and_(VerifiedIdentity.channel == channel,
                                      VerifiedIdentity.external_id == str(external_id)))
        if customer_id:
            conditions.append(VerifiedIdentity.customer_id == str(customer_id))
        if not conditions:
            return 0
        with db.session_scope(self.url) as s:
            removed = s.execute(sa.delete(VerifiedIdentity).where(sa.or_(*conditions))).rowcount or 0
            if customer_id:
                s.execute(sa.delete(OneTimeCode).where(OneTimeCode.customer_id == str(customer_id)))
            return int(removed)

    def order_for_customer(self, order_id: str, customer_id: Optional[str]) -> Optional[Order]:
        """The order if it exists AND belongs to `customer_id`; None otherwise (same answer for both)."""
        if not customer_id:
            return None
        normalised = normalise_order_id(str(order_id or ""))
        if normalised is None:
            return None
        order = self.crm.get_order(normalised)
        if order is None or not hmac.compare_digest(str(order.customer_id), str(customer_id)):
            return None
        return order

    # ------------------------------------------------------------------ (a) messenger contact
    def verify_contact(self, channel: str, conversation_id: str, phone: str, contact_user_id: Any,
                       sender_user_id: Any) -> Verification:
        """A contact shared in a Bot-API messenger (`telegram`, `bale`): the sender's own, a customer's phone.

        The user id is remembered per messenger: Telegram and Bale number their users apart.
        """
        if contact_user_id is None or sender_user_id is None or str(contact_user_id) != str(sender_user_id):
            return Verification("not_own_contact")
        e164 = normalise_phone(phone or "")
        if e164 is None:
            return Verification("invalid_phone")
        customer = self.crm.find_customer_by_phone(e164)
        if customer is None:
            return Verification("unknown_phone")
        self._remember(customer.customer_id, f"{channel}_contact", conversation_id, channel, str(sender_user_id))
        return Verification("verified", customer.customer_id)

    def verify_telegram_contact(self, conversation_id: str, phone: str, contact_user_id: Any,
                                sender_user_id: Any) -> Verification:
        return self.verify_contact("telegram", conversation_id, phone, contact_user_id, sender_user_id)

    def verify_bale_contact(self, conversation_id: str, phone: str, contact_user_id: Any,
                            sender_user_id: Any) -> Verification:
        return self.verify_contact("bale", conversation_id, phone, contact_user_id, sender_user_id)

    # ------------------------------------------------------------------ SMS channel sender
    def verify_sms_sender(self, conversation_id: str, phone: str) -> Verification:
        """An inbound SMS (through the gateway's authenticated webhook) comes from the
        carrier-reported number: that number's customer is known in this conversation."""
        e164 = normalise_phone(phone or "")
        if e164 is None:
            return Verification("invalid_phone")
        customer = self.crm.find_customer_by_phone(e164)
        if customer is None:
            return Verification("unknown_phone")
        self._remember(customer.customer_id, "sms_sender", conversation_id, "sms", e164)
        return Verification("verified", customer.customer_id)

    # ------------------------------------------------------------------ (b) SMS one-time code
    def _hash(self, phone: str, code: str, salt: str) -> str:
        return hmac.new(self.pepper.encode("utf-8"), f"{salt}:{phone}:{code}".encode("utf-8"),
                        hashlib.sha256).hexdigest()

    def request_code(self, conversation_id: str, phone: str, *, language: str = "fa") -> CodeRequest:
        e164 = normalise_phone(phone or "")
        if e164 is None:
            return CodeRequest("invalid_phone")
        now = self.clock()
        with db.session_scope(self.url) as s:
            recent = list(s.execute(sa.select(OneTimeCode.created_at).where(
                OneTimeCode.phone == e164, OneTimeCode.created_at > now - dt.timedelta(hours=1))
                .order_by(OneTimeCode.created_at)).scalars())
            if len(recent) >= MAX_CODES_PER_HOUR:
                retry = recent[len(recent) - MAX_CODES_PER_HOUR] + dt.timedelta(hours=1) - now
                return CodeRequest("rate_limited", e164, retry_after=retry)
        customer = self.crm.find_customer_by_phone(e164)
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        salt = secrets.token_hex(8)
        expires = now + CODE_TTL
        with db.session_scope(self.url) as s:
            s.execute(sa.update(OneTimeCode).where(OneTimeCode.conversation_id == str(conversation_id),
                                                   OneTimeCode.status == "open").values(status="replaced"))
            s.add(OneTimeCode(conversation_id=str(conversation_id), phone=e164,
                              customer_id=customer.customer_id if customer else None, salt=salt,
                              code_hash=self._hash(e164, code, salt), created_at=now, expires_at=expires,
                              attempts=0, status="open"))
        if customer is not None:  # unknown numbers get the same answer, but no SMS
            if self.sender is None:
                raise CRMError("no SMS code sender configured (Verifier.set_sender)")
            try:
                self.sender.send(e164, catalogue_text("identity.code_sms", language, code=code))
            except Exception:  # the gateway failed: the code is useless, let the user ask again
                with db.session_scope(self.url) as s:
                    s.execute(sa.update(OneTimeCode).where(OneTimeCode.conversation_id == str(conversation_id),
                                                           OneTimeCode.status == "open").values(status="replaced"))
                return CodeRequest("send_failed", e164)
        return CodeRequest("sent", e164, expires_at=expires)

    def has_open_code(self, conversation_id: str, phone: str) -> bool:
        """A code sent to `phone` in this conversation is still waiting to be typed (not used,
        replaced, locked or expired): a new goal that needs the same verification asks for it
        instead of sending another."""
        e164 = normalise_phone(phone or "")
        if e164 is None:
            return False
        with db.session_scope(self.url) as s:
            row = s.execute(sa.select(OneTimeCode.id).where(
                OneTimeCode.conversation_id == str(conversation_id), OneTimeCode.phone == e164,
                OneTimeCode.status == "open", OneTimeCode.expires_at > self.clock()).limit(1)).first()
        return row is not None

    def check_code(self, conversation_id: str, code: str, *, channel: Optional[str] = None,
                   external_id: Optional[str] = None) -> Verification:
        typed = "".join(ch for ch in to_ascii_digits(code or "") if ch.isdigit())
        now = self.clock()
        with db.session_scope(self.url) as s:
            row = s.execute(sa.select(OneTimeCode).where(
                OneTimeCode.conversation_id == str(conversation_id), OneTimeCode.status.in_(["open", "locked"]))
                .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc()).limit(1)).scalar_one_or_none()
            if row is None:
                return Verification("no_code")
            if row.status == "locked":
                return Verification("too_many_attempts")
            if now >= row.expires_at:
                return Verification("expired")
            # Count the try first (atomically), so parallel guesses cannot exceed the limit.
            counted = s.execute(sa.update(OneTimeCode).where(OneTimeCode.id == row.id,
                                                             OneTimeCode.attempts < MAX_ATTEMPTS,
                                                             OneTimeCode.status == "open")
                                .values(attempts=OneTimeCode.attempts + 1)
                                .execution_options(synchronize_session=False)).rowcount
            if counted != 1:
                return Verification("too_many_attempts")
            s.refresh(row)
            good = len(typed) == CODE_DIGITS and hmac.compare_digest(self._hash(row.phone, typed, row.salt),
                                                                      row.code_hash)
            if good and row.customer_id:
                row.status = "used"
                customer_id = row.customer_id
            else:
                left = MAX_ATTEMPTS - row.attempts
                if left <= 0:
                    row.status = "locked"
                    return Verification("too_many_attempts")
                return Verification("wrong_code", attempts_left=left)
        self._remember(customer_id, "sms_code", conversation_id, channel, external_id)
        return Verification("verified", customer_id)

    # ------------------------------------------------------------------ (c) signed web identity
    def verify_web_identity(self, conversation_id: str, customer_id: str, expires: Union[int, str],
                            signature: str, *, web_user_id: Optional[str] = None) -> Verification:
        secret = self.web_secret if self.web_secret is not None else settings.current().web_identity_secret or ""
        if not secret:
            return Verification("invalid_signature")
        try:
            expires_at = int(str(expires).strip())
        except ValueError:
            return Verification("invalid_signature")
        expected = sign_web_identity(str(customer_id), expires_at, secret)
        if not hmac.compare_digest(expected.encode(), str(signature or "").strip().lower().encode()):
            return Verification("invalid_signature")
        now = self.clock()
        when = dt.datetime.fromtimestamp(expires_at, dt.timezone.utc)
        if when <= now or when > now + WEB_MAX_AHEAD:
            return Verification("expired")
        if self.crm.get_customer(str(customer_id)) is None:
            return Verification("invalid_signature")
        self._remember(str(customer_id), "web_signature", conversation_id, "web" if web_user_id else None,
                       web_user_id)
        return Verification("verified", str(customer_id))


# --------------------------------------------------------------------------- module-level API

_default: Optional[Verifier] = None
_pending_sender: Optional[Union[CodeSender, Callable[[str, str], Any]]] = None


def get_verifier() -> Verifier:
    """The process-wide verifier (configured CRM, HAMSAFAR_DATABASE_URL)."""
    global _default
    if _default is None:
        _default = Verifier(sender=_pending_sender)
    return _default


def set_code_sender(sender: Union[CodeSender, Callable[[str, str], Any]]) -> None:
    """Plug the SMS gateway in (anything with `send(phone, text)` or a function)."""
    global _pending_sender
    _pending_sender = sender
    if _default is not None:
        _default.set_sender(sender)


def reset() -> None:
    global _default
    _default = None


def verify_telegram_contact(conversation_id: str, phone: str, contact_user_id: Any,
                            sender_user_id: Any) -> Verification:
    return get_verifier().verify_telegram_contact(conversation_id, phone, contact_user_id, sender_user_id)


def verify_bale_contact(conversation_id: str, phone: str, contact_user_id: Any,
                        sender_user_id: Any) -> Verification:
    return get_verifier().verify_bale_contact(conversation_id, phone, contact_user_id, sender_user_id)


def verify_sms_sender(conversation_id: str, phone: str) -> Verification:
    return get_verifier().verify_sms_sender(conversation_id, phone)


def request_code(conversation_id: str, phone: str, *, language: str = "fa") -> CodeRequest:
    return get_verifier().request_code(conversation_id, phone, language=language)


def check_code(conversation_id: str, code: str, **kwargs: Any) -> Verification:
    return get_verifier().check_code(conversation_id, code, **kwargs)


def verify_web_identity(conversation_id: str, customer_id: str, expires: Union[int, str], signature: str,
                        **kwargs: Any) -> Verification:
    return get_verifier().verify_web_identity(conversation_id, customer_id, expires, signature, **kwargs)


def customer_for(conversation_id: Optional[str] = None, *, channel: Optional[str] = None,
                 external_id: Optional[str] = None) -> Optional[str]:
    return get_verifier().customer_for(conversation_id, channel=channel, external_id=external_id)


def order_for_customer(order_id: str, customer_id: Optional[str]) -> Optional[Order]:
    return get_verifier().order_for_customer(order_id, customer_id)


def web_identity_for(customer_id: str, ttl_seconds: int = 3600, secret: Optional[str] = None) -> dict:
    """What the shop website passes to the widget: {customer_id, expires, signature}."""
    expires = int(time.time()) + int(ttl_seconds)
    return {"customer_id": customer_id, "expires": expires,
            "signature": sign_web_identity(customer_id, expires, secret)}
