"""Verification: Telegram contact, SMS one-time code, signed web identity, ownership of orders."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from pathlib import Path
from typing import List, Tuple

import pytest
import sqlalchemy as sa

from bot.crm.demo_data import REFERENCE_DATE
from bot.crm.importer import seed_demo
from bot.crm.sql import SQLCRM
from bot.db import get_engine
from bot.identity import verification
from bot.identity.verification import Verifier, sign_web_identity

SECRET = "test-web-secret"


class Clock:
    def __init__(self) -> None:
        self.now = REFERENCE_DATE

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


class RecordingSender:
    def __init__(self) -> None:
        self.sent: List[Tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))

    @property
    def last_code(self) -> str:
        return re.search(r"\b(\d{6})\b", self.sent[-1][1]).group(1)  # type: ignore[union-attr]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'id.db'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def verifier(db_url: str, clock: Clock, sender: RecordingSender) -> Verifier:
    seed_demo(db_url, shift_to_today=False)
    return Verifier(SQLCRM(db_url, clock=clock), url=db_url, sender=sender, web_secret=SECRET, clock=clock)


# ----------------------------------------------------------------------------- Telegram


def test_telegram_own_contact_verifies_and_carries_to_new_conversations(verifier: Verifier) -> None:
    result = verifier.verify_telegram_contact("tg-chat-1", "989121234567", contact_user_id=777, sender_user_id=777)
    assert result.ok and result.customer_id == "C001"
    assert verifier.customer_for("tg-chat-1") == "C001"
    # a new conversation of the same Telegram user is known through the channel identity
    assert verifier.customer_for("tg-chat-2") is None
    assert verifier.customer_for("tg-chat-2", channel="telegram", external_id="777") == "C001"
    assert verifier.customer_for("tg-chat-2") == "C001"
    assert verifier.customer_for("x", channel="telegram", external_id="778") is None


@pytest.mark.parametrize("contact,sender_id", [(123, 777), (None, 777), (777, None)])
def test_telegram_someone_elses_contact_is_refused(verifier: Verifier, contact, sender_id) -> None:  # type: ignore[no-untyped-def]
    result = verifier.verify_telegram_contact("tg-1", "09121234567", contact, sender_id)
    assert result.status == "not_own_contact" and not result.ok
    assert verifier.customer_for("tg-1") is None


def test_telegram_unknown_phone(verifier: Verifier) -> None:
    assert verifier.verify_telegram_contact("tg-1", "09120000001", 5, 5).status == "unknown_phone"
    assert verifier.verify_telegram_contact("tg-1", "12", 5, 5).status == "invalid_phone"
    assert verifier.customer_for("tg-1") is None


# ----------------------------------------------------------------------------- SMS channel sender


def test_sms_sender_number_identifies_the_customer(verifier: Verifier) -> None:
    assert verifier.verify_sms_sender("sms:+989121234567", "+989121234567").customer_id == "C001"
    assert verifier.customer_for("sms:new", channel="sms", external_id="+989121234567") == "C001"
    assert verifier.verify_sms_sender("sms:x", "+989120000001").status == "unknown_phone"


# ----------------------------------------------------------------------------- SMS code


def test_sms_code_happy_path_and_only_hash_stored(verifier: Verifier, sender: RecordingSender, db_url: str) -> None:
    request = verifier.request_code("web-1", "۰۹۱۲ ۱۲۳ ۴۵۶۷")
    assert request.status == "sent" and request.expires_at == REFERENCE_DATE + dt.timedelta(minutes=5)
    assert sender.sent[-1][0] == "+989121234567"
    code = sender.last_code
    with get_engine(db_url).connect() as conn:
        stored = conn.execute(sa.text("SELECT code_hash, salt FROM otp_codes")).all()
    assert len(stored) == 1 and code not in stored[0][0] and len(stored[0][0]) == 64
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    result = verifier.check_code("web-1", persian)
    assert result.ok and result.customer_id == "C001"
    assert verifier.customer_for("web-1") == "C001"
    assert verifier.check_code("web-1", code).status == "no_code"  # single use


def test_sms_code_expires_after_five_minutes(verifier: Verifier, sender: RecordingSender, clock: Clock) -> None:
    verifier.request_code("c", "09121234567")
    clock.advance(minutes=5)
    assert verifier.check_code("c", sender.last_code).status == "expired"
    assert verifier.customer_for("c") is None


def test_sms_code_at_most_five_tries(verifier: Verifier, sender: RecordingSender) -> None:
    verifier.request_code("c", "09121234567")
    good = sender.last_code
    wrong = "000000" if good != "000000" else "111111"
    lefts = [verifier.check_code("c", wrong).attempts_left for _ in range(4)]
    assert lefts == [4, 3, 2, 1]
    assert verifier.check_code("c", wrong).status == "too_many_attempts"
    assert verifier.check_code("c", good).status == "too_many_attempts"  # even the right code now
    assert verifier.customer_for("c") is None


def test_sms_at_most_three_codes_an_hour_per_number(verifier: Verifier, sender: RecordingSender,
                                                    clock: Clock) -> None:
    for conversation in ("a", "b", "c"):
        assert verifier.request_code(conversation, "09121234567").status == "sent"
        clock.advance(minutes=10)
    limited = verifier.request_code("d", "+989121234567")
    assert limited.status == "rate_limited" and limited.retry_after == dt.timedelta(minutes=30)
    assert len(sender.sent) == 3
    assert verifier.request_code("d", "09351234567").status == "sent"  # another number is fine
    clock.advance(minutes=31)
    assert verifier.request_code("d", "09121234567").status == "sent"


def test_new_code_replaces_the_old_one(verifier: Verifier, sender: RecordingSender) -> None:
    verifier.request_code("c", "09121234567")
    first = sender.last_code
    verifier.request_code("c", "09121234567")
    second = sender.last_code
    if first != second:
        assert verifier.check_code("c", first).status == "wrong_code"
    assert verifier.check_code("c", second).ok


def test_unknown_phone_gets_the_same_answer_but_no_sms(verifier: Verifier, sender: RecordingSender) -> None:
    result = verifier.request_code("c", "09120000001")
    assert result.status == "sent"
    assert sender.sent == []
    for guess in ("123456", "000000"):
        assert verifier.check_code("c", guess).status == "wrong_code"
    assert verifier.request_code("c", "hello").status == "invalid_phone"


def test_sms_gateway_failure(verifier: Verifier) -> None:
    def broken(phone: str, text: str) -> None:
        raise RuntimeError("gateway down")

    verifier.set_sender(broken)
    assert verifier.request_code("c", "09121234567").status == "send_failed"
    assert verifier.check_code("c", "123456").status == "no_code"


def test_sms_text_language(verifier: Verifier, sender: RecordingSender) -> None:
    verifier.request_code("c", "09351234567", language="en")
    assert sender.sent[-1][1].startswith("Hamsafar verification code")
    verifier.request_code("d", "09121234567")
    assert "کد تأیید" in sender.sent[-1][1]


# ----------------------------------------------------------------------------- signed web identity


def expiry(clock: Clock, seconds: int) -> int:
    return int(clock.now.timestamp()) + seconds


def test_web_signature_matches_a_plain_hmac(clock: Clock) -> None:
    exp = expiry(clock, 600)
    expected = hmac.new(SECRET.encode(), f"C001:{exp}".encode(), hashlib.sha256).hexdigest()
    assert sign_web_identity("C001", exp, SECRET) == expected


def test_web_identity_valid(verifier: Verifier, clock: Clock) -> None:
    exp = expiry(clock, 600)
    result = verifier.verify_web_identity("w-1", "C002", str(exp), sign_web_identity("C002", exp, SECRET).upper(),
                                          web_user_id="wp-42")
    assert result.ok and result.customer_id == "C002"
    assert verifier.customer_for("w-2", channel="web", external_id="wp-42") == "C002"


def test_web_identity_forged_or_tampered(verifier: Verifier, clock: Clock) -> None:
    exp = expiry(clock, 600)
    good = sign_web_identity("C002", exp, SECRET)
    assert verifier.verify_web_identity("w", "C001", exp, good).status == "invalid_signature"   # other customer
    assert verifier.verify_web_identity("w", "C002", exp + 60, good).status == "invalid_signature"  # longer expiry
    assert verifier.verify_web_identity("w", "C002", exp, sign_web_identity("C002", exp, "guess")).status == \
        "invalid_signature"
    assert verifier.verify_web_identity("w", "C002", "soon", good).status == "invalid_signature"
    assert verifier.verify_web_identity("w", "C002", exp, "").status == "invalid_signature"
    assert verifier.customer_for("w") is None


def test_web_identity_expired_or_too_far_ahead(verifier: Verifier, clock: Clock) -> None:
    past = expiry(clock, -1)
    assert verifier.verify_web_identity("w", "C002", past, sign_web_identity("C002", past, SECRET)).status == "expired"
    far = expiry(clock, 3 * 24 * 3600)
    assert verifier.verify_web_identity("w", "C002", far, sign_web_identity("C002", far, SECRET)).status == "expired"
    ghost = expiry(clock, 60)
    assert verifier.verify_web_identity("w", "C404", ghost, sign_web_identity("C404", ghost, SECRET)).status == \
        "invalid_signature"  # signed, but no such customer
    assert verifier.customer_for("w") is None


def test_web_identity_without_secret_never_verifies(verifier: Verifier, clock: Clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HAMSAFAR_WEB_IDENTITY_SECRET", raising=False)
    verifier.web_secret = None
    exp = expiry(clock, 60)
    empty_key = hmac.new(b"", f"C002:{exp}".encode(), hashlib.sha256).hexdigest()
    assert verifier.verify_web_identity("w", "C002", exp, empty_key).status == "invalid_signature"


# ----------------------------------------------------------------------------- ownership


def test_someone_elses_order_looks_exactly_like_a_missing_one(verifier: Verifier) -> None:
    assert verifier.order_for_customer("#۱۰۰۰۰۴", "C001").status == "shipped"
    assert verifier.order_for_customer("100009", "C001") is None   # C002's order
    assert verifier.order_for_customer("999999", "C001") is None   # no such order
    assert verifier.order_for_customer("100004", None) is None     # not verified
    assert verifier.order_for_customer("garbage", "C001") is None


def test_forget(verifier: Verifier) -> None:
    verifier.verify_telegram_contact("tg", "09121234567", 9, 9)
    assert verifier.forget(customer_id="C001") == 2
    assert verifier.customer_for("tg", channel="telegram", external_id="9") is None


def test_module_level_api(db_url: str, sender: RecordingSender, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seed_demo(db_url, shift_to_today=False)
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", db_url)
    monkeypatch.setenv("HAMSAFAR_CRM_BACKEND", "sql")
    from bot.crm import factory

    factory.reset()
    verification.reset()
    try:
        verification.set_code_sender(sender.send)
        assert verification.verify_telegram_contact("m-1", "09121234567", 1, 1).ok
        assert verification.customer_for("m-1") == "C001"
        assert verification.order_for_customer("100009", "C001") is None
        assert verification.request_code("m-2", "09121234567").status == "sent"
        assert verification.check_code("m-2", sender.last_code).ok
    finally:
        factory.reset()
        verification.reset()


def test_a_code_still_waiting_is_known_until_used_or_expired(verifier: Verifier, sender: RecordingSender,
                                                             clock: Clock) -> None:
    """A new goal at the code question asks for the code already sent instead of sending another."""
    assert not verifier.has_open_code("c", "09121234567")
    verifier.request_code("c", "09121234567")
    assert verifier.has_open_code("c", "+989121234567")
    assert not verifier.has_open_code("c", "09351234567")          # another phone
    assert not verifier.has_open_code("other", "09121234567")      # another conversation
    assert verifier.check_code("c", sender.last_code).ok
    assert not verifier.has_open_code("c", "09121234567")          # used
    verifier.request_code("d", "09121234567")
    clock.advance(minutes=5)
    assert not verifier.has_open_code("d", "09121234567")          # expired
