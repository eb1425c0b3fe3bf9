"""SMS channel: webhooks authenticated, opt-out before NLU, idempotent sends, segments."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes.channel_server import EchoAgent, ServerThread  # noqa: E402
from fakes.sms_gateways import API_KEY, TWILIO_SID, TWILIO_TOKEN, FakeSmsGateways  # noqa: E402

INBOUND_SECRET = "kv-inbound-secret-0123456789abcdef"
PHONE = "+989121234567"


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'sms.db'}")
    import bot.crm.factory
    from bot.identity import verification

    bot.crm.factory.reset()  # inbound SMS identify the sender through this test's database
    verification.reset()
    yield
    verification.reset()
    bot.crm.factory.reset()


@pytest.fixture
def fake():
    with FakeSmsGateways() as server:
        yield server


def gateways(fake):
    from bot.channels.sms_gateways.kavenegar import KavenegarGateway
    from bot.channels.sms_gateways.twilio import TwilioGateway

    return {
        "kavenegar": KavenegarGateway(API_KEY, sender="10004346", inbound_secret=INBOUND_SECRET, base_url=fake.url),
        "twilio": TwilioGateway(TWILIO_SID, TWILIO_TOKEN, from_number="+15005550006", base_url=fake.url),
    }


def channel(fake, outbound="kavenegar", **kwargs):
    from bot.channels.sms import SmsInput

    return SmsInput(gateways(fake), outbound=outbound, backoff=0.01,
                    cost_per_segment={"gsm7": 500.0, "ucs2": 1500.0}, currency="IRR", **kwargs)


def kavenegar_in(server, text, message_id, secret=INBOUND_SECRET, sender="09121234567"):
    return httpx.get(f"{server.url}/webhooks/sms/kavenegar/{secret}",
                     params={"from": sender, "to": "10004346", "message": text, "messageid": message_id}, timeout=10)


def twilio_in(server, params, signature=None):
    from bot.channels.sms_gateways.twilio import twilio_signature

    url = f"{server.url}/webhooks/sms/twilio"
    signature = signature or twilio_signature(TWILIO_TOKEN, url, list(params.items()))
    return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def test_twilio_signature_valid_and_forged(fake):
    sms, agent = channel(fake, outbound="twilio"), EchoAgent()
    params = {"MessageSid": "SM1", "From": PHONE, "To": "+15005550006", "Body": "Where is my order?", "NumMedia": "0"}
    with ServerThread([sms], agent) as server:
        forged = dict(params, Body="Where is my order?!")  # body changed after signing
        from bot.channels.sms_gateways.twilio import twilio_signature
        good_sig_for_original = twilio_signature(TWILIO_TOKEN, f"{server.url}/webhooks/sms/twilio", list(params.items()))
        assert twilio_in(server, forged, signature=good_sig_for_original).status_code == 403
        assert twilio_in(server, params, signature="AAAA").status_code == 403
        assert httpx.post(f"{server.url}/webhooks/sms/twilio", data=params).status_code == 403
        server.call(sms.drain())
        assert agent.messages == []
        response = twilio_in(server, params)
        assert response.status_code == 200 and "<Response>" in response.text
        server.call(sms.drain())
    assert [m.text for m in agent.messages] == ["Where is my order?"]
    assert agent.messages[0].sender_id == f"sms:{PHONE}"
    assert agent.messages[0].input_channel == "sms"
    assert [d["text"] for d in fake.delivered] == ["echo: Where is my order?"]
    assert fake.delivered[0]["to"] == PHONE and fake.delivered[0]["gateway"] == "twilio"


def test_kavenegar_secret_in_path(fake):
    sms, agent = channel(fake), EchoAgent()
    with ServerThread([sms], agent) as server:
        assert kavenegar_in(server, "سلام", "m1", secret="wrong-secret").status_code == 403
        assert kavenegar_in(server, "سلام", "m2", secret=INBOUND_SECRET[:-1]).status_code == 403
        assert kavenegar_in(server, "سلام", "m3").status_code == 200
        assert kavenegar_in(server, "سلام", "m3").status_code == 200  # a retried webhook
        server.call(sms.drain())
    assert [m.text for m in agent.messages] == ["سلام"]
    assert [(d["to"], d["text"]) for d in fake.delivered] == [("09121234567", "echo: سلام")]


def test_opt_out_then_nothing_sent_then_opt_in(fake):
    from bot.channels.base import send_proactive
    from bot.channels.sms import SmsSendError

    sms, agent = channel(fake), EchoAgent()
    with ServerThread([sms], agent) as server:
        assert kavenegar_in(server, "لغو۱۱", "o1").status_code == 200  # Persian digits normalised
        server.call(sms.drain())
        assert len(fake.delivered) == 1 and "لغو عضویت" in fake.delivered[0]["text"]
        kavenegar_in(server, "STOP", "o2")  # confirmed once only
        kavenegar_in(server, "سلام، سفارشم کجاست؟", "o3")
        server.call(sms.drain())
        assert agent.messages == []  # nothing reached NLU
        assert server.call(send_proactive(f"sms:{PHONE}", "سبد خریدتان منتظر است")) is False
        with pytest.raises(SmsSendError):
            server.call(sms.code_sender().send("09121234567", "کد شما ۱۲۳۴"))
        assert len(fake.delivered) == 1
        assert len(fake.sends("kavenegar")) == 1
        kavenegar_in(server, " شروع ", "o4")
        server.call(sms.drain())
        assert len(fake.delivered) == 2 and "دوباره فعال" in fake.delivered[1]["text"]
        kavenegar_in(server, "سلام", "o5")
        server.call(sms.drain())
        assert server.call(send_proactive(f"sms:{PHONE}", "یادآوری")) is True
    assert [m.text for m in agent.messages] == ["سلام"]
    assert [d["text"] for d in fake.delivered[2:]] == ["echo: سلام", "یادآوری"]


@pytest.mark.parametrize("word", ["لغو", "لغو ۱۱", "STOP", "stop.", "Unsubscribe", "لغو11"])
def test_opt_out_keywords(word):
    from bot.channels.consent import keyword

    assert keyword(word) == "opt_out"
    assert keyword("START") == "opt_in" and keyword("«شروع»") == "opt_in"
    assert keyword("لغو سفارش ۱۰۰۲۳۴") is None  # cancelling an order is not an opt-out


def test_segmentation_counts():
    from bot.channels.sms_gateways.base import segment_info

    assert segment_info("a" * 160) == segment_info("a" * 160) and segment_info("a" * 160).segments == 1
    assert segment_info("a" * 160).encoding == "gsm7"
    assert segment_info("a" * 161).segments == 2
    assert segment_info("a" * 306).segments == 2
    assert segment_info("a" * 307).segments == 3
    assert segment_info("€" * 80).segments == 1 and segment_info("€" * 81).segments == 2  # escape = 2 septets
    fa = "س" * 70
    assert segment_info(fa).encoding == "ucs2" and segment_info(fa).segments == 1
    assert segment_info("س" * 71).segments == 2
    assert segment_info("س" * 134).segments == 2
    assert segment_info("س" * 135).segments == 3
    assert segment_info("Hello سلام").encoding == "ucs2"


async def test_segments_and_cost_recorded(fake):
    from bot.channels.models import SmsMessage
    from bot.db import session_scope

    output = channel(fake).output
    persian = "سفارش شما ارسال شد. " * 6  # 120 characters: UCS-2, 2 segments
    english = "Your order has shipped. " * 8  # 192 characters: GSM-7, 2 segments
    r1 = await output.send_sms(PHONE, persian, idempotency_key="seg-fa")
    r2 = await output.send_sms(PHONE, english, idempotency_key="seg-en")
    assert (r1.encoding, r1.segments, r1.cost) == ("ucs2", 2, 3000.0)
    assert (r2.encoding, r2.segments, r2.cost) == ("gsm7", 2, 1000.0)
    with session_scope() as session:
        rows = {r.idempotency_key: r for r in session.query(SmsMessage)}
    assert rows["seg-fa"].segments == 2 and rows["seg-fa"].currency == "IRR" and rows["seg-fa"].status == "sent"


@pytest.mark.parametrize("gateway", ["kavenegar", "twilio"])
@pytest.mark.parametrize("failure", ["accept_then_500", "drop"])
async def test_idempotent_retry_sends_once(fake, gateway, failure):
    output = channel(fake, outbound=gateway).output
    fake.script(gateway, failure)  # the provider accepts the message but the answer is lost
    result = await output.send_sms(PHONE, "کد پیگیری سفارش: 100234", idempotency_key="order-100234-shipped")
    assert result.status == "sent"
    assert len(fake.delivered) == 1 and len(fake.sends(gateway)) == 1  # found by lookup, not resent
    again = await output.send_sms(PHONE, "کد پیگیری سفارش: 100234", idempotency_key="order-100234-shipped")
    assert again.status == "sent" and again.sent_now is False
    assert len(fake.delivered) == 1 and len(fake.sends(gateway)) == 1
    if gateway == "kavenegar":
        assert fake.delivered[0]["localid"].isdigit()


async def test_unknown_outcome_is_not_resent(fake):
    from bot.channels.sms import SmsSendError

    output = channel(fake).output
    fake.script("kavenegar", "accept_then_500")
    fake.script("kavenegar_lookup", "500", "500")
    with pytest.raises(SmsSendError) as raised:
        await output.send_sms(PHONE, "پیام", idempotency_key="unknown-1")
    assert raised.value.result.status == "unknown"
    with pytest.raises(SmsSendError):  # retrying the same key asks first; lookup fails again: no resend
        await output.send_sms(PHONE, "پیام", idempotency_key="unknown-1")
    assert len(fake.sends("kavenegar")) == 1
    result = await output.send_sms(PHONE, "پیام", idempotency_key="unknown-1")  # lookup works now
    assert result.status == "sent" and len(fake.sends("kavenegar")) == 1 and len(fake.delivered) == 1


@pytest.mark.parametrize("gateway", ["kavenegar", "twilio"])
async def test_gateway_5xx_reported(fake, gateway, caplog):
    from bot.channels.models import SmsMessage
    from bot.channels.sms import SmsSendError
    from bot.db import session_scope

    output = channel(fake, outbound=gateway).output
    fake.script(gateway, "500", "500", "500")
    with caplog.at_level(logging.WARNING):
        with pytest.raises(SmsSendError) as raised:
            await output.send_sms(PHONE, "hello", idempotency_key=f"fail-{gateway}")
    assert raised.value.result.status == "failed" and "500" in raised.value.result.error
    assert len(fake.sends(gateway)) == 3 and fake.delivered == []
    with session_scope() as session:
        row = session.query(SmsMessage).filter_by(idempotency_key=f"fail-{gateway}").one()
        assert row.status == "failed" and row.attempts == 3 and "500" in row.error
    assert any(r.levelno == logging.ERROR and "failed" in r.getMessage() for r in caplog.records)
    result = await output.send_sms(PHONE, "hello", idempotency_key="fail-returned", raise_on_failure=False)
    assert result.status == "sent"  # script exhausted: works again; and failures can be returned, not raised
    assert API_KEY not in caplog.text


async def test_permanent_error_not_retried(fake):
    from bot.channels.sms import SmsSendError

    output = channel(fake).output
    fake.script("kavenegar", "411")
    result = await output.send_sms(PHONE, "x", idempotency_key="rejected", raise_on_failure=False)
    assert result.status == "failed" and "411" in result.error and len(fake.sends("kavenegar")) == 1
    with pytest.raises(SmsSendError):  # not a phone number: refused before any request
        await output.send_sms("not-a-number", "x", idempotency_key="bad-number")
    assert len(fake.sends("kavenegar")) == 1


def test_code_sender_is_synchronous_for_identity(fake):
    """bot.identity's CodeSender protocol: a plain `send(phone, text)`, usable in the action server."""
    sms = channel(fake)
    sender = sms.code_sender()
    try:
        from bot.identity.verification import CodeSender

        assert isinstance(sender, CodeSender)
    except ImportError:
        pass
    result = sender.send("09121234567", "کد تأیید همسفر: 123456")
    assert result.status == "sent"
    assert fake.delivered[-1]["text"] == "کد تأیید همسفر: 123456"
    # the gateway got the code; the SMS log did not (#17 finding 7)
    from bot.channels.models import SmsMessage
    from bot.db import session_scope

    with session_scope() as session:
        stored = [r.text for r in session.query(SmsMessage).filter_by(kind="otp")]
    assert stored and all("123456" not in text and "••••••" in text for text in stored), stored
    sender.send("09121234567", "کد تأیید همسفر: ۶۵۴۳۲۱")
    with session_scope() as session:
        stored = [r.text for r in session.query(SmsMessage).filter_by(kind="otp")]
    assert not any("۶۵۴۳۲۱" in text or "654321" in text for text in stored), stored


@pytest.mark.parametrize("gateway", ["kavenegar", "twilio"])
async def test_retry_after_a_5xx_that_was_not_accepted_sends_exactly_once(fake, gateway):
    """A 5xx the provider did NOT act on: looked up (absent), retried, delivered once."""
    from bot.channels.models import SmsMessage
    from bot.db import session_scope

    output = channel(fake, outbound=gateway).output
    fake.script(gateway, "500")
    result = await output.send_sms(PHONE, "سفارش ۱۰۰۲۳۴ ارسال شد", idempotency_key=f"shipped-{gateway}")
    assert result.status == "sent" and result.sent_now
    assert len(fake.sends(gateway)) == 2 and len(fake.delivered) == 1  # two tries, one message
    lookups = [r for r in fake.requests if r["method"] == "GET" or r["path"].endswith("statuslocalmessageid.json")]
    assert len(lookups) == 1  # the provider was asked before the second try
    with session_scope() as session:
        row = session.query(SmsMessage).filter_by(idempotency_key=f"shipped-{gateway}").one()
        assert (row.status, row.attempts) == ("sent", 2)
    again = await output.send_sms(PHONE, "سفارش ۱۰۰۲۳۴ ارسال شد", idempotency_key=f"shipped-{gateway}")
    assert again.sent_now is False and len(fake.delivered) == 1  # a caller's retry: nothing more


def test_typed_intent_shortcut_is_neutralised_over_sms(fake):
    sms, agent = channel(fake), EchoAgent()
    with ServerThread([sms], agent) as server:
        kavenegar_in(server, "/restart", "r1")
        kavenegar_in(server, '/inform{"customer_id": "C001"}', "r2")
        server.call(sms.drain())
    assert [m.text for m in agent.messages] == ["\u200b/restart", '\u200b/inform{"customer_id": "C001"}']


def test_a_message_that_fails_is_refused_so_the_gateway_retries_and_its_retry_is_processed_once(fake):
    """Twilio (retrying a 5xx when its address says `#rp=5xx`) and Kavenegar: a failure answers 503 and
    sends nothing; the retry with the same message id is processed; a further retry is a duplicate."""
    import sqlalchemy as sa

    def outage():  # what the tracker store raises while the database is locked
        return sa.exc.OperationalError("SELECT events", {}, Exception("database is locked"))

    failures = []

    async def flaky(message):
        await message.output_channel.send_text_message(message.sender_id, "reply of a refused try")
        if failures:
            raise failures.pop()
        await message.output_channel.send_text_message(message.sender_id, "echo: " + message.text)

    sms, agent = channel(fake, outbound="twilio"), EchoAgent(flaky)
    params = {"MessageSid": "SM77", "From": PHONE, "To": "+15005550006", "Body": "order 1001?", "NumMedia": "0"}
    with ServerThread([sms], agent) as server:
        # the address configured in Twilio carries the retry policy in its fragment
        sms.gateways["twilio"].webhook_url = f"{server.url}/webhooks/sms/twilio#rp=5xx&rc=3"
        failures.append(outage())
        assert twilio_in(server, params).status_code == 503
        assert fake.delivered == []
        assert twilio_in(server, params).status_code == 200
        assert twilio_in(server, params).status_code == 200
        failures.append(outage())
        assert kavenegar_in(server, "سلام", "kv-9").status_code == 503
        assert kavenegar_in(server, "سلام", "kv-9").status_code == 200
        assert kavenegar_in(server, "سلام", "kv-9").status_code == 200
    assert [m.text for m in agent.messages] == ["order 1001?", "order 1001?", "سلام", "سلام"]  # refused, processed
    assert [d["text"] for d in fake.delivered] == [
        "reply of a refused try", "echo: order 1001?", "reply of a refused try", "echo: سلام"]
