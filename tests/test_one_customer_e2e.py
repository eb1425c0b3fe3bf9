"""End to end: one customer's language and journey stage follow them from channel to channel.

A real `hamsafar run` (trained model, action server, SQLite seeded with the demo
shop), the website widget's HTTP API with the shop's signed identity, and SMS
through a Kavenegar gateway faked on 127.0.0.1 (inbound webhook with the secret in
its address, replies read from what the fake gateway was asked to deliver).

Customer C002 (Sara Ahmadi) has `en` as her CRM language. Her wordless SMS is
answered in Persian and keeps her journey stage from the website (without the
profile the stage is lost: the test was seen to fail that way); the language that
can only come from her profile is the English she asks for by SMS, which the next
website chat uses even for a Persian «سلام».
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Dict, Iterator, List

import httpx
import pytest
import sqlalchemy as sa

from bot.identity.verification import web_identity_for
from bot.text.persian import has_persian_letters
from bot.touchpoints.privacy import conversation_ref
from tests.conftest import PROJECT_ROOT, free_port
from tests.fakes.sms_gateways import API_KEY, FakeSmsGateways
from tests.support.bot_server import BotServer

pytestmark = pytest.mark.skipif(
    not list((PROJECT_ROOT / "models").glob("*.tar.gz")),
    reason="no trained model: run `hamsafar setup` (scripts/test.sh does)",
)

WEB_SECRET = "one-customer-e2e-web-secret"
INBOUND = "kv-inbound-one-customer-e2e-0123456789"
C002_PHONE_LOCAL, C002_PHONE = "09351234567", "+989351234567"
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def sms() -> Iterator[FakeSmsGateways]:
    with FakeSmsGateways() as gateways:
        yield gateways


@pytest.fixture(scope="module")
def bot(sms: FakeSmsGateways, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    folder = tmp_path_factory.mktemp("one-customer")
    env = {"HAMSAFAR_SMS_GATEWAY": "kavenegar", "HAMSAFAR_KAVENEGAR_API_KEY": API_KEY, "HAMSAFAR_OTP_PEPPER": "test-pepper-of-this-run",
           "HAMSAFAR_KAVENEGAR_BASE_URL": sms.url, "HAMSAFAR_KAVENEGAR_SENDER": "10004346",
           "HAMSAFAR_KAVENEGAR_INBOUND_SECRET": INBOUND, "HAMSAFAR_WEB_IDENTITY_SECRET": WEB_SECRET}
    server = BotServer(f"sqlite:///{folder / 'hamsafar.db'}", free_port(), free_port(), folder / "bot.log",
                       extra_env=env).start()
    yield server
    server.stop()


def wait_for(what: Any, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = what()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


TOKENS: Dict[str, str] = {}  # a web session's current token: it is rotated when the identity is verified


def web_say(bot: BotServer, session: str, text: str) -> str:
    """A message in the widget with the shop's signed identity of C002; the bot's answer."""
    token = TOKENS.get(session, session)
    before = httpx.get(f"{bot.base_url}/webhooks/web/history", params={"session_id": token}, timeout=10).json()
    identity = web_identity_for("C002", secret=WEB_SECRET)
    posted = httpx.post(f"{bot.base_url}/webhooks/web/messages", timeout=60,
                        json={"session_id": token, "text": text, "identity": identity})
    assert posted.status_code == 200, posted.text
    token = TOKENS[session] = posted.json().get("session_id", token)

    def answer() -> List[Dict[str, Any]]:
        messages = httpx.get(f"{bot.base_url}/webhooks/web/history", timeout=10,
                             params={"session_id": token, "after": before["last_seq"]}).json()["messages"]
        return [m for m in messages if m["sender"] == "bot"]
    replies = wait_for(answer)
    assert replies, f"no answer to {text!r}\n{bot.log_tail()}"
    time.sleep(1.0)  # the rest of a multi-message answer
    return "\n".join(m["text"] for m in answer())


def sms_say(bot: BotServer, sms: FakeSmsGateways, text: str) -> str:
    """An SMS from C002's phone through the authenticated inbound webhook; the SMS answer."""
    before = len([d for d in sms.delivered if d["to"] == C002_PHONE_LOCAL or d["to"] == C002_PHONE])
    reply = httpx.get(f"{bot.base_url}/webhooks/sms/kavenegar/{INBOUND}", timeout=10, params={
        "from": C002_PHONE_LOCAL, "to": "10004346", "message": text, "messageid": uuid.uuid4().hex})
    assert reply.status_code == 200, reply.text

    def answer() -> List[Dict[str, Any]]:
        return [d for d in sms.delivered if d["to"] in (C002_PHONE_LOCAL, C002_PHONE)][before:]
    replies = wait_for(answer)
    assert replies, f"no SMS answer to {text!r}\n{bot.log_tail()}"
    time.sleep(1.0)
    return "\n".join(d["text"] for d in answer())


def customer_turn(bot: BotServer, conversation: str, text_like: str) -> Dict[str, Any]:
    """The touchpoint of the customer's turn (written asynchronously by the event broker)."""
    engine = sa.create_engine(bot.database_url, future=True)
    try:
        def row() -> Dict[str, Any]:
            with engine.connect() as conn:
                found = conn.execute(sa.text(
                    "SELECT customer_id, channel, language, journey_stage, intent, text FROM touchpoints "
                    "WHERE conversation_id = :c AND actor = 'customer' ORDER BY occurred_at DESC, id DESC"),
                    {"c": conversation}).mappings().all()
            return next((dict(r) for r in found if text_like in (r["text"] or "")), {})
        found = wait_for(row, 30)
        assert found, f"no touchpoint for {text_like!r} in {conversation}"
        return found
    finally:
        engine.dispose()


def test_language_and_stage_follow_the_customer_across_channels(bot: BotServer, sms: FakeSmsGateways) -> None:
    web_session = f"one_customer_e2e_web_{RUN}"
    # 1. On the website, signed in, Sara asks about shipping in Persian: consideration
    answer = web_say(bot, web_session, "هزینه ارسال به شیراز چقدره؟")
    assert has_persian_letters(answer), answer
    turn = customer_turn(bot, conversation_ref(f"web:{web_session}"), "شیراز")  # touchpoints store the reference
    assert (turn["customer_id"], turn["channel"], turn["language"], turn["journey_stage"]) == \
        ("C002", "web", "fa", "consideration")

    # 2. Later she sends an SMS with no words at all: the carrier's number identifies her,
    #    the bot answers in Persian (not her CRM language, English) and she is still in consideration
    answer = sms_say(bot, sms, "👍")
    assert has_persian_letters(answer), answer
    turn = customer_turn(bot, conversation_ref(f"sms:{C002_PHONE}"), "👍")  # touchpoints store the reference
    assert (turn["customer_id"], turn["channel"], turn["language"], turn["journey_stage"]) == \
        ("C002", "sms", "fa", "consideration")

    # 3. By SMS she asks for English ...
    answer = sms_say(bot, sms, "please answer in English")
    assert not has_persian_letters(answer), answer
    assert customer_turn(bot, conversation_ref(f"sms:{C002_PHONE}"), "English")["intent"] == "switch_language"

    # 4. ... so a new chat on the website answers in English even to a Persian hello, by name
    answer = web_say(bot, f"one_customer_e2e_web2_{RUN}", "سلام")
    assert not has_persian_letters(answer), answer
    assert "Sara" in answer, answer
    turn = customer_turn(bot, conversation_ref(f"web:one_customer_e2e_web2_{RUN}"), "سلام")
    assert (turn["customer_id"], turn["language"]) == ("C002", "en")
