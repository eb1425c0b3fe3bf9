"""No personal data past the masking (issue 17, finding 6).

Property-based (hypothesis): phones, card numbers, Sheba numbers, emails and
one-time codes in the forms customers type them — spaces (also double),
dashes, underscores, slashes, ZWNJ and parentheses between the groups, `+98`
and `0098` prefixes, ASCII, Persian (۰-۹) and Arabic-Indic (٠-٩) digits —
inside Persian and English sentences: the masked text keeps no digit of them
(digits compared after normalising their script; separators do not count), and
keeps every digit of the sentence around them (order numbers the analysts
need). Ordinary numbers — prices, quantities, dates, times, order numbers —
are not masked at all.

Then through the real recording path (TouchpointRecorder into SQLite): an SMS
conversation with such messages and entities, after which every column of
`touchpoints` and of the analytics views is read and searched for the
identifiers; and the SMS conversation is stored under a stable keyed
pseudonym (`sms:ref-…`) that erasure still finds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.text.persian import to_ascii_digits
from bot.touchpoints import privacy
from bot.touchpoints.privacy import mask_personal_data

KEY = "test-pseudonym-key-0123456789abcdef"
ZWNJ = "\u200c"
SCRIPTS = {"ascii": "0123456789", "fa": "۰۱۲۳۴۵۶۷۸۹", "ar": "٠١٢٣٤٥٦٧٨٩"}
PROPERTY = settings(max_examples=300, deadline=None, database=None,  # no example database in the checkout
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def pseudonym_key_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAMSAFAR_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("HAMSAFAR_TOUCHPOINTS_RAW_TEXT", raising=False)


def in_script(text: str, script: str) -> str:
    return text.translate(str.maketrans("0123456789", SCRIPTS[script]))


def digits_of(text: str) -> str:
    """Every digit of `text`, in ASCII, in order (separators, letters and labels dropped)."""
    return re.sub(r"\D", "", to_ascii_digits(text))


def compact(text: str) -> str:
    """`text` with ASCII digits and no separators between them (how a reader would join a number)."""
    return re.sub(r"[\s\-_/.()+\u200c\u200d\u200e\u200f]", "", to_ascii_digits(text))


# -- strategies ---------------------------------------------------------------------------------
digit_strings = lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)  # noqa: E731
scripts = st.sampled_from(sorted(SCRIPTS))
phone_gaps = st.sampled_from([" ", "  ", "-", " - ", ""])
card_gaps = st.sampled_from([" ", "  ", "-", "_", "/", ZWNJ, " " + ZWNJ, ""])


def split(digits: str, sizes: List[int]) -> List[str]:
    out, at = [], 0
    for size in sizes:
        out.append(digits[at:at + size])
        at += size
    if at < len(digits):
        out.append(digits[at:])
    return [p for p in out if p]


def joined(draw: Any, parts: List[str], gaps: st.SearchStrategy) -> str:
    text = parts[0]
    for part in parts[1:]:
        text += draw(gaps) + part
    return text


@st.composite
def phones(draw: Any) -> Tuple[str, str]:
    """(how it is written, the digits that must not survive) — an Iranian mobile in any usual form."""
    subscriber = "9" + draw(digit_strings(9))  # 9xx xxx xxxx
    form = draw(st.sampled_from(["0", "+98", "0098", "98", "+98()", "0()", "bare"]))
    if form == "+98()":
        written = f"+98 ({subscriber[:3]}) {subscriber[3:6]}-{subscriber[6:]}"
    elif form == "0()":
        written = f"(0{subscriber[:3]}) {subscriber[3:6]}{draw(phone_gaps)}{subscriber[6:]}"
    else:
        grouping = draw(st.sampled_from([[3, 3, 4], [3, 3, 2, 2], [3, 7], [10]]))
        parts = split(subscriber, grouping)
        if form == "0":
            parts[0] = "0" + parts[0]
        elif form == "bare":
            pass
        else:
            parts = [form] + parts
        written = joined(draw, parts, phone_gaps)
    return written, subscriber


@st.composite
def cards(draw: Any) -> Tuple[str, str]:
    length = draw(st.integers(15, 19))
    number = draw(st.sampled_from("3456")) + draw(digit_strings(length - 1))
    grouping = [4, 6, 5] if length == 15 and draw(st.booleans()) else [4] * 5
    return joined(draw, split(number, grouping), card_gaps), number


@st.composite
def shebas(draw: Any) -> Tuple[str, str]:
    number = draw(digit_strings(24))
    head = draw(st.sampled_from(["IR", "ir", "IR "]))
    return head + joined(draw, split(number, [2] + [4] * 5 + [2]), st.sampled_from(["", " ", "  "])), number


@st.composite
def emails(draw: Any) -> Tuple[str, str]:
    user = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10))
    number = draw(digit_strings(4))
    return f"{user}.{number}@example.com", user + number  # as compact() reads it


CODE_SENTENCES = [
    "code {}", "my code is {}", "the verification code is {}", "OTP: {}", "here is the code {} thanks",
    "کد {}", "کدم {} هست", "کد تایید: {}", "رمز یکبار مصرف {}", "کدی که فرستادید {} بود",
]


@st.composite
def codes(draw: Any) -> Tuple[str, str]:
    code = draw(st.sampled_from("123456789")) + draw(digit_strings(draw(st.integers(3, 5))))
    return draw(st.sampled_from(CODE_SENTENCES)).format(code), code


# Sentences around an identifier; the digits they hold themselves (an order number) must stay.
SENTENCES = [
    ("شماره‌ام {} است", ""),
    ("سلام، سفارش 100234 رو پیگیری کنید. شماره تماس: {}", "100234"),
    ("لطفا به {} زنگ بزنید", ""),
    ("کارت من {} هست و مبلغ ۲۵۰۰۰۰ تومان کم شد", "250000"),
    ("شبا: {}", ""),
    ("my number is {} please call", ""),
    ("order #100234 — reach me at {}, thanks", "100234"),
    ("card: {}", ""),
    ("{}", ""),
    ("I paid 3 items with {} yesterday", "3"),
]


def embed(draw: Any, written: str) -> Tuple[str, str]:
    template, kept = draw(st.sampled_from(SENTENCES))
    return template.format(written), digits_of(kept)


def assert_masked(original: str, masked: str, secret: str, kept: str) -> None:
    assert secret not in compact(masked), f"{secret} survived in {masked!r} (from {original!r})"
    assert digits_of(masked) == kept, f"digits left in {masked!r} (from {original!r}) should be {kept!r}"


# -- properties ----------------------------------------------------------------------------------
@PROPERTY
@given(st.data(), st.one_of(phones(), cards(), shebas(), emails()), scripts)
def test_identifiers_in_any_form_and_script_leave_no_digit(data: st.DataObject, identifier: Tuple[str, str],
                                                             script: str) -> None:
    written, secret = identifier
    text, kept = embed(data.draw, in_script(written, script))
    text = in_script(text, data.draw(scripts)) if data.draw(st.booleans()) else text
    assert_masked(text, mask_personal_data(text), secret, kept)


@PROPERTY
@given(codes(), scripts)
def test_one_time_codes_after_a_code_word_are_masked(sentence: Tuple[str, str], script: str) -> None:
    text, code = sentence
    text = in_script(text, script)
    assert_masked(text, mask_personal_data(text), code, "")


@PROPERTY
@given(st.sampled_from("123456789"), st.integers(3, 5).flatmap(digit_strings), scripts,
       st.sampled_from(["{}", " {} ", "{}.", "کد {}", "{} هست", "it is {}", "the code: {}"]))
def test_a_bare_number_answering_the_code_question_is_masked(first: str, rest: str, script: str, form: str) -> None:
    code = first + rest  # 4 to 6 digits
    text = in_script(form.format(code), script)
    assert_masked(text, mask_personal_data(text, code_expected=True), code, "")


@PROPERTY
@given(st.data(), scripts)
def test_ordinary_numbers_are_not_masked(data: st.DataObject, script: str) -> None:
    kind = data.draw(st.sampled_from(["price", "price_grouped", "quantity", "date", "time", "order", "order_hash",
                                      "tracking", "rating", "order_answer_to_code"]))
    n = data.draw
    if kind == "price":
        value = n(st.sampled_from("123456789")) + n(digit_strings(n(st.integers(3, 9))))
        text = n(st.sampled_from(["قیمتش {} تومان", "{} ریال پرداخت کردم", "it costs {} toman"])).format(value)
    elif kind == "price_grouped":
        value = f"{n(st.integers(1, 999))}{n(st.sampled_from([',', '٬', ' ']))}{n(digit_strings(3))}" \
                f"{n(st.sampled_from([',', '٬', ' ']))}{n(digit_strings(3))}"
        text = n(st.sampled_from(["قیمت {} تومان", "{} toman"])).format(value)
    elif kind == "quantity":
        text = n(st.sampled_from(["{} تا بده", "{} عدد می‌خوام", "x{}", "I want {} pcs"])).format(n(st.integers(1, 99)))
    elif kind == "date":
        year, month, day = n(st.integers(1390, 2030)), n(st.integers(1, 12)), n(st.integers(1, 31))
        separator = n(st.sampled_from(["/", "-"]))
        text = f"تاریخ {year}{separator}{month:02d}{separator}{day:02d} ساعت {n(st.integers(0, 23))}:{n(st.integers(0, 59)):02d}"
    elif kind == "time":
        text = f"ساعت {n(st.integers(0, 23))}:{n(st.integers(0, 59)):02d} بیاد"
    elif kind in ("order", "order_hash", "tracking", "order_answer_to_code"):
        order = n(st.sampled_from("12345678")) + n(digit_strings(n(st.integers(3, 11))))
        template = {
            "order": n(st.sampled_from(["سفارش {} کجاست؟", "order {} status", "وضعیت سفارش شماره {}"])),
            "order_hash": "#{}",
            "tracking": n(st.sampled_from(["کد پیگیری {}", "کد رهگیری سفارش {}", "tracking code {}", "order code {}"])),
            "order_answer_to_code": n(st.sampled_from(["سفارش {}", "order #{}"])),
        }[kind]
        text = template.format(order)
    else:
        text = n(st.sampled_from(["{} ستاره", "{} از 10", "rate it {}"])).format(n(st.integers(0, 10)))
    text = in_script(text, script)
    assert mask_personal_data(text, code_expected=kind == "order_answer_to_code") == text


@pytest.mark.parametrize("text", [
    "0912 345 67 89", "0912-345-67-89", "+98 (912) 345-6789", "۰۹۱۲ ۳۴۵ ۶۷ ۸۹", "٠٩١٢-٣٤٥-٦٧-٨٩",
    "6037  9975  1234  5678", "6037_9975_1234_5678", "6037/9975/1234/5678", "۶۰۳۷\u200c۹۹۷۵\u200c۱۲۳۴\u200c۵۶۷۸",
    "378282246310005", "6037 9975 1234 5678 123", "IR82 0540 1026 8002 0817 9090 02", "code 482913", "کد ۴۸۲۹۱۳",
])
def test_the_forms_named_in_the_issue(text: str) -> None:
    assert digits_of(mask_personal_data(text)) == ""


@pytest.mark.parametrize("text", [
    "قیمتش ۱۲۵۰۰۰۰ تومان", "۲ تا بده", "۱۴۰۳/۰۵/۱۲", "2024-06-01 12:30", "سفارش ۱۰۰۲۳۴", "order #100234",
    "کد پیگیری ۱۲۳۴۵۶", "tracking code 123456", "کد تخفیف SALE20", "۴ ستاره", "1,250,000 toman",
    "قیمت ۱۲ ۵۰۰ ۰۰۰ تومان", "1290000000 ریال", "سفارش ۱۲۳۴۵۶۷۸۹۰ کجاست", "کدوم سفارش 100234",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text


def test_entity_values_are_masked_and_order_numbers_kept() -> None:
    entities = [{"entity": "phone_number", "value": "+989121234567"}, {"entity": "email", "value": "a.b@example.com"},
                {"entity": "order_id", "value": "100234"}, {"entity": "order_id", "value": "482913"},
                {"entity": "product", "value": "SKU-12"}, {"entity": "rating", "value": "4"},
                {"entity": "note", "value": "card 6037 9975 1234 5678"}]
    stored = privacy.mask_entities(entities, "کد ۴۸۲۹۱۳ و سفارش ۱۰۰۲۳۴")
    assert [e["value"] for e in stored] == ["[phone]", "[email]", "100234", "[masked]", "SKU-12", "4", "card [card]"]
    assert entities[0]["value"] == "+989121234567"  # the caller's dicts are not changed


# -- the SMS pseudonym -------------------------------------------------------------------------------
def test_sms_conversations_get_a_stable_keyed_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = privacy.conversation_ref("sms:+989121234567")
    assert ref is not None and ref.startswith("sms:ref-") and privacy.is_conversation_ref(ref)
    assert "9121234567" not in compact(ref)
    assert privacy.conversation_ref("sms:+989121234567") == ref == privacy.conversation_ref("sms:09121234567")  # one phone, one ref
    assert privacy.conversation_ref(ref) == ref  # idempotent
    assert privacy.conversation_ref("sms:+989351112233") != ref
    expected = hmac.new(KEY.encode(), b"phone:+989121234567", hashlib.sha256).hexdigest()[:32]
    assert ref == f"sms:ref-{expected}"
    assert expected != hashlib.sha256(b"phone:+989121234567").hexdigest()[:32]  # keyed: no dictionary of phones
    assert privacy.conversation_ref("journey:phone:+989121234567").startswith("journey:phone:ref-")
    for other in ("tg:4242", "rest:u1", "journey:C100"):  # web: has its own reference (tests/security/test_web_sessions.py)
        assert privacy.conversation_ref(other) == other
    assert privacy.stored_conversation_ids(["sms:+989121234567", "tg:1"]) == {"sms:+989121234567", ref, "tg:1"}
    monkeypatch.setenv("HAMSAFAR_PSEUDONYM_KEY", "another-key-entirely")
    assert privacy.conversation_ref("sms:+989121234567") != ref


def test_without_a_configured_key_one_is_made_once_in_the_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot import settings as bot_settings

    monkeypatch.delenv("HAMSAFAR_PSEUDONYM_KEY")
    monkeypatch.setattr(bot_settings, "STATE_DIR", tmp_path / "state")
    first = privacy.conversation_ref("sms:+989121234567")
    path = tmp_path / "state" / "pseudonym.key"
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) == 64 and privacy.pseudonym_key() == path.read_text().strip().encode()
    assert privacy.conversation_ref("sms:+989121234567") == first
    assert list((tmp_path / "state").iterdir()) == [path]  # no temporary file left


# -- through the recording path ----------------------------------------------------------------------
T0 = 1_760_000_000.0
PHONE = "+989121234567"
SENDER = f"sms:{PHONE}"
# What the customer types, and the digits that must be found nowhere afterwards.
MESSAGES: List[Tuple[str, List[Dict[str, Any]]]] = [
    ("سلام، شماره‌ام ۰۹۱۲ ۳۴۵ ۶۷ ۸۹ هست", [{"entity": "phone_number", "value": PHONE}]),
    ("or call +98 (912) 765-4321, mail me at parisa.k1984@example.com",
     [{"entity": "phone_number", "value": "+989127654321"}, {"entity": "email", "value": "parisa.k1984@example.com"}]),
    ("کارتم ۶۰۳۷\u200c۹۹۷۵\u200c۱۲۳۴\u200c۵۶۷۸ و شبا IR82 0540 1026 8002 0817 9090 02", []),
    ("card 3782_822463_10005 or 6219  8610  3456  7890  123", []),
    ("٠٩١٢-٨٨٨-٤٤-٣٣ is my wife's number, سفارش ۱۰۰۲۳۴", [{"entity": "order_id", "value": "100234"}]),
]
CODE_ANSWER = ("۵۸۳۹۱۷", [{"entity": "order_id", "value": "583917"}])  # answers the code question
SECRETS = ["9121234567", "9127654321", "parisa.k1984", "6037997512345678", "820540102680020817909002",
           "378282246310005", "6219861034567890123", "9128884433", "583917", "482913"]


def sms_conversation() -> List[Dict[str, Any]]:
    def event(kind: str, t: float, **fields: Any) -> Dict[str, Any]:
        return {"sender_id": SENDER, "event": kind, "timestamp": T0 + t, **fields}

    def said(t: float, text: str, entities: List[Dict[str, Any]], intent: str = "inform") -> List[Dict[str, Any]]:
        return [event("user", t, text=text, input_channel="sms", message_id=f"m{t}",
                      parse_data={"intent": {"name": intent, "confidence": 0.9}, "entities": entities,
                                  "language": "fa"}),
                event("bot", t + 0.2, text="باشه"), event("action", t + 0.3, name="action_listen")]

    events = [event("action", 0, name="action_session_start"), event("action", 0.01, name="action_listen")]
    for i, (text, entities) in enumerate(MESSAGES):
        events += said(1 + i, text, entities)
    events += [  # an order form asks for the code; the customer types it bare
        event("user", 20, text="پیگیری سفارش", input_channel="sms", message_id="m20",
              parse_data={"intent": {"name": "track_order", "confidence": 0.9}, "entities": [], "language": "fa"}),
        event("slot", 20.1, name="goal", value="track_order"), event("slot", 20.1, name="goal_status", value="started"),
        event("slot", 20.2, name="requested_slot", value="otp_code"),
        event("bot", 20.3, text="کد ۶ رقمی پیامک‌شده را بفرستید"), event("action", 20.4, name="action_listen"),
        *said(30, *CODE_ANSWER),
        event("slot", 30.25, name="requested_slot", value="order_id"),
        *said(40, "code 482913 didn't work", []),
        event("slot", 41, name="customer_id", value="C-MASK-1"),
        event("slot", 41, name="goal_status", value="completed"),
        event("bot", 50, text="Agent: we called 0912 123 4567", metadata={"hamsafar_actor": "agent"}),
    ]
    return events


def record(url: str, tmp_path: Path, events: List[Dict[str, Any]]) -> None:
    from bot.touchpoints.recorder import TouchpointRecorder

    recorder = TouchpointRecorder(url, flush_interval_s=0.05, spool_path=tmp_path / "touchpoints-spool-1.jsonl").start()
    for event in events:
        recorder.publish(event)
    assert recorder.flush()
    recorder.close()


def every_cell(engine: sa.engine.Engine) -> Iterator[Tuple[str, str, str]]:
    """(relation, column, value as text) of every touchpoints row and analytics view row."""
    inspector = sa.inspect(engine)
    relations = ["touchpoints"] + [v for v in inspector.get_view_names() if v.startswith("analytics_")]
    with engine.connect() as conn:
        for relation in relations:
            result = conn.execute(sa.text(f"SELECT * FROM {relation}")).mappings()
            for row in result:
                for column, value in row.items():
                    if value is not None:
                        yield relation, column, value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def test_a_recorded_sms_conversation_keeps_no_personal_data(sqlite_url: str, tmp_path: Path) -> None:
    from bot.analytics.views import create_views
    from bot.db import get_engine

    record(sqlite_url, tmp_path, sms_conversation())
    engine = get_engine(sqlite_url)
    create_views(engine)  # as set-up does (bot.runtime.setup.prepare_database)
    cells = list(every_cell(engine))
    assert {r for r, _, _ in cells} >= {"touchpoints", "analytics_conversations"}
    leaks = [(relation, column, value) for relation, column, value in cells
             for secret in SECRETS + ["+98"] if secret in compact(value)]
    assert not leaks, leaks
    assert any("100234" in compact(v) for r, c, v in cells if c == "entities")  # the order number stays, in entities
    assert any("100234" in compact(v) for r, c, v in cells if c == "text")      # and in the text
    with engine.connect() as conn:
        conversations = set(conn.execute(sa.text("SELECT DISTINCT conversation_id FROM touchpoints")).scalars())
        turns = conn.execute(sa.text("SELECT COUNT(*) FROM touchpoints WHERE actor = 'customer'")).scalar()
    assert conversations == {privacy.conversation_ref(SENDER)}  # one conversation, for funnels
    assert turns == len(MESSAGES) + 3


def test_a_new_writer_continues_the_pseudonymous_conversation(sqlite_url: str, tmp_path: Path) -> None:
    from bot.db import get_engine
    from bot.touchpoints.store import rows_for

    events = sms_conversation()
    record(sqlite_url, tmp_path, events)
    later = [{"sender_id": SENDER, "event": "user", "timestamp": T0 + 100, "text": "ممنون", "input_channel": "sms",
              "message_id": "m100", "parse_data": {"intent": {"name": "thank_you", "confidence": 0.9}}},
             {"sender_id": SENDER, "event": "action", "timestamp": T0 + 100.5, "name": "action_listen"}]
    record(sqlite_url, tmp_path, later)
    last = rows_for(get_engine(sqlite_url), privacy.conversation_ref(SENDER))[-1]
    assert (last["intent"], last["customer_id"], last["goal"], last["channel"]) == ("thank_you", "C-MASK-1", "track_order", "sms")


def test_rows_stored_by_older_code_are_scrubbed(sqlite_url: str) -> None:
    import datetime as dt

    from bot.db import get_engine
    from bot.schema import init_db
    from bot.touchpoints.store import insert_rows

    engine = init_db(sqlite_url)
    insert_rows(engine, [
        {"event_id": "old-1", "occurred_at": dt.datetime(2025, 1, 1), "conversation_id": SENDER, "channel": "sms",
         "actor": "customer", "text": "شماره‌ام ۰۹۱۲ ۳۴۵ ۶۷ ۸۹", "entities": [{"entity": "phone_number", "value": PHONE}]},
        {"event_id": "old-2", "occurred_at": dt.datetime(2025, 1, 1), "conversation_id": "tg:1", "channel": "telegram",
         "actor": "customer", "text": "سفارش ۱۰۰۲۳۴", "entities": [{"entity": "order_id", "value": "100234"}]},
    ])
    with get_engine(sqlite_url).begin() as conn:
        assert privacy.scrub_stored_touchpoints(conn) == 1
        assert privacy.scrub_stored_touchpoints(conn) == 0
    cells = list(every_cell(engine))
    assert not [c for c in cells if "9121234567" in compact(c[2])]
    assert any(v == "tg:1" for _, c, v in cells if c == "conversation_id")


def test_init_db_scrubs_rows_an_older_release_stored(sqlite_url: str) -> None:
    """Migration ("touchpoints", 2): a database written before the masking is rewritten by init_db."""
    import datetime as dt

    from bot.db import dispose_engines, get_engine
    from bot.schema import init_db
    from bot.touchpoints.store import insert_rows

    engine = init_db(sqlite_url)
    with engine.begin() as conn:  # the database as the older release left it: migration 2 never ran
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE module = 'touchpoints' AND version = 2"))
    insert_rows(engine, [
        {"event_id": "old-1", "occurred_at": dt.datetime(2025, 1, 1), "conversation_id": SENDER, "channel": "sms",
         "actor": "customer", "text": "شماره‌ام ۰۹۱۲ ۳۴۵ ۶۷ ۸۹، کارتم 6037 9975 1234 5678",
         "entities": [{"entity": "phone_number", "value": PHONE}, {"entity": "order_id", "value": "100234"}]},
        {"event_id": "old-2", "occurred_at": dt.datetime(2025, 1, 1), "conversation_id": "tg:1", "channel": "telegram",
         "actor": "customer", "text": "سفارش ۱۰۰۲۳۴", "entities": [{"entity": "order_id", "value": "100234"}]},
    ])
    dispose_engines()
    engine = init_db(sqlite_url)
    with engine.connect() as conn:
        rows = {r["event_id"]: dict(r) for r in conn.execute(sa.text(
            "SELECT event_id, conversation_id, text, entities FROM touchpoints")).mappings()}
        applied = conn.execute(sa.text(
            "SELECT COUNT(*) FROM schema_migrations WHERE module = 'touchpoints' AND version = 2")).scalar_one()
    assert applied == 1
    assert "old-1" not in rows and "old-2" in rows  # the SMS row's event id hashed the phone: a new one
    [sms] = [r for r in rows.values() if r["conversation_id"] != "tg:1"]
    assert sms["conversation_id"] == privacy.conversation_ref(SENDER)
    assert digits_of(sms["text"]) == ""
    entities = sms["entities"] if isinstance(sms["entities"], list) else json.loads(sms["entities"])
    assert [e["value"] for e in entities] == ["[phone]", "100234"]
    assert rows["old-2"]["text"] == "سفارش ۱۰۰۲۳۴"  # nothing personal: left alone
    cells = list(every_cell(get_engine(sqlite_url)))
    assert not [c for c in cells for secret in ("9121234567", "6037997512345678") if secret in compact(c[2])]


def test_erase_finds_the_pseudonymous_sms_conversation(sqlite_url: str, tmp_path: Path) -> None:
    import datetime as dt

    from bot import db
    from bot.db import get_engine
    from bot.identity.models import VerifiedIdentity
    from bot.touchpoints.erasure import erase_customer
    from bot.touchpoints.store import count_rows

    events = [e for e in sms_conversation() if not (e["event"] == "slot" and e.get("name") == "customer_id")]
    record(sqlite_url, tmp_path, events)  # the touchpoints never carried the customer id
    with db.session_scope(sqlite_url) as session:  # the phone is known as the customer's verified SMS sender
        session.add(VerifiedIdentity(channel="sms", external_id=PHONE, customer_id="C-MASK-2",
                                     method="sms_sender", verified_at=dt.datetime(2025, 1, 1)))
    engine = get_engine(sqlite_url)
    assert count_rows(engine, conversation_id=privacy.conversation_ref(SENDER)) > 0
    erase_customer("C-MASK-2", sqlite_url)
    assert count_rows(engine, conversation_id=privacy.conversation_ref(SENDER)) == 0


def test_erase_traces_a_reference_back_to_the_raw_sms_conversation(sqlite_url: str, tmp_path: Path) -> None:
    """Only the touchpoints (by reference) tie the SMS conversation to the customer: Rasa's events
    and the SMS log, which name the phone, are erased all the same."""
    from bot.db import get_engine
    from bot.schema import init_db
    from bot.touchpoints.erasure import erase_customer

    record(sqlite_url, tmp_path, sms_conversation())  # customer_id C-MASK-1 arrives mid-conversation
    engine = init_db(sqlite_url)
    with engine.begin() as conn:  # Rasa's tracker store (its own table, raw sender ids)
        conn.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)"))
        conn.execute(sa.text("INSERT INTO events (sender_id, data) VALUES (:s, '{}'), ('tg:1', '{}')"), {"s": SENDER})
    deleted = erase_customer("C-MASK-1", sqlite_url)
    assert deleted["touchpoints"] > 0 and deleted["events (Rasa tracker store)"] == 1
    with get_engine(sqlite_url).connect() as conn:
        assert list(conn.execute(sa.text("SELECT sender_id FROM events")).scalars()) == ["tg:1"]
        assert conn.execute(sa.text("SELECT COUNT(*) FROM touchpoints")).scalar_one() == 0
