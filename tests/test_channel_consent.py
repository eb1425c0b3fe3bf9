"""Consent is checked in one place (`bot.channels.consent.check_outbound`) that every
outbound path of every channel goes through: replies, buttons, custom JSON, images,
proactive sends, one-time codes and agent replies from the console.

Real outputs against the fake Telegram Bot API and the fake Kavenegar/Twilio servers;
the web widget's history table is the web channel's delivery.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes.channel_server import EchoAgent, ServerThread  # noqa: E402
from fakes.sms_gateways import API_KEY, FakeSmsGateways  # noqa: E402
from fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "7000003:AAH-consent-test-token"
PHONE = "+989121234567"
SESSION = "consent_session_000001"


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'consent.db'}")
    yield


def every_path(output, recipient):
    """Every way Rasa, the journeys and the console can make `output` send something."""
    return [
        ("send_text", lambda: output.send_text(recipient, "proactive text")),
        ("send_text_message", lambda: output.send_text_message(recipient, "reply text")),
        ("send_text_with_buttons", lambda: output.send_text_with_buttons(
            recipient, "choose", [{"title": "yes", "payload": "/affirm"}])),
        ("send_image_url", lambda: output.send_image_url(recipient, "https://shop.example/p.png")),
        ("send_custom_json", lambda: output.send_custom_json(recipient, {"text": "custom"})),
    ]


async def _run_all(paths):
    for _, call in paths:
        await call()


def test_sms_opted_out_gets_nothing_on_any_path():
    from bot.channels import consent
    from bot.channels.base import send_proactive
    from bot.channels.sms import SmsInput, SmsSendError
    from bot.channels.sms_gateways.kavenegar import KavenegarGateway
    from bot.handoff.conversation import deliver

    with FakeSmsGateways() as fake:
        sms = SmsInput({"kavenegar": KavenegarGateway(API_KEY, base_url=fake.url)}, outbound="kavenegar", backoff=0.01)
        with ServerThread([sms], EchoAgent()) as server:
            output = sms.output
            server.call(output.send_text(f"sms:{PHONE}", "before opting out"))
            assert len(fake.delivered) == 1
            consent.opt_out("sms", PHONE)
            reply_output = output.for_reply("kavenegar:in-1")
            paths = every_path(output, f"sms:{PHONE}") + every_path(reply_output, f"sms:{PHONE}") + [
                ("send_sms", lambda: output.send_sms(PHONE, "direct", idempotency_key="k1", raise_on_failure=False)),
                ("send_proactive", lambda: send_proactive(f"sms:{PHONE}", "journey reminder")),
                ("console reply", lambda: deliver(f"sms:{PHONE}", "agent reply")),
            ]
            server.call(_run_all(paths))
            with pytest.raises(SmsSendError):  # a one-time code is refused too, and says so
                server.call(sms.code_sender().asend(PHONE, "code 123456"))
            assert len(fake.delivered) == 1 and len(fake.sends("kavenegar")) == 1
            # the single exception: the one confirmation of the opt-out, once
            assert server.call(output.send_text(f"sms:{PHONE}", "confirmed", kind="opt_out_confirmation"))
            assert not server.call(output.send_text(f"sms:{PHONE}", "confirmed", kind="opt_out_confirmation"))
            assert len(fake.delivered) == 2
            consent.opt_in("sms", PHONE)
            assert server.call(send_proactive(f"sms:{PHONE}", "after opting in"))
    assert [d["text"] for d in fake.delivered] == ["before opting out", "confirmed", "after opting in"]


def test_telegram_stop_blocks_bot_initiated_paths_blocked_chat_blocks_all():
    from bot.channels import consent
    from bot.channels.base import send_proactive
    from bot.channels.telegram import HamsafarTelegramInput
    from bot.handoff.conversation import deliver

    with FakeTelegram(TOKEN) as fake:
        channel = HamsafarTelegramInput(TOKEN, "secret-xyz", base_url=fake.base_url)
        with ServerThread([channel], EchoAgent()) as server:
            output = channel.output
            consent.opt_out("telegram", "tg:555", source="command")  # the customer sent /stop
            proactive = every_path(output, "tg:555") + [
                ("request_contact", lambda: output.send_custom_json("tg:555", {"request_contact": True})),
                ("send_proactive", lambda: send_proactive("tg:555", "journey reminder")),
            ]
            server.call(_run_all(proactive))
            assert fake.sent("sendMessage") == []
            # replies to what the customer just wrote (and an agent answering them) still go
            server.call(output.for_reply().send_text_message("tg:555", "reply"))
            server.call(deliver("tg:555", "agent reply"))
            assert [p["text"] for p in fake.sent("sendMessage")] == ["reply", "agent reply"]
            # a chat that blocked the bot gets nothing at all, replies included
            consent.opt_out("telegram", "tg:556", source="blocked")
            blocked = every_path(output, "tg:556") + every_path(output.for_reply(), "tg:556") + [
                ("send_proactive", lambda: send_proactive("tg:556", "x")),
                ("console reply", lambda: deliver("tg:556", "agent reply")),
            ]
            server.call(_run_all(blocked))
    assert [int(p["chat_id"]) for p in fake.sent("sendMessage")] == [555, 555]


def test_web_opted_out_session_gets_no_bot_initiated_messages():
    from bot.channels import consent
    from bot.channels.base import send_proactive
    from bot.channels.web import WebInput, WebOutput, history

    channel = WebInput()
    with ServerThread([channel], EchoAgent()) as server:
        consent.opt_out("web", f"web:{SESSION}", source="api")
        paths = every_path(channel.output, f"web:{SESSION}") + [
            ("send_proactive", lambda: send_proactive(f"web:{SESSION}", "journey reminder")),
        ]
        server.call(_run_all(paths))
        assert history(SESSION) == []
        server.call(WebOutput(proactive=False).send_text_message(f"web:{SESSION}", "reply"))
    assert [m["text"] for m in history(SESSION)] == ["reply"]


def test_outputs_send_only_through_the_consent_check():
    """Structure: the base class's send_text (and SMS's send_sms) is the only door to a provider."""
    import inspect

    from bot.channels import base, sms, telegram, web

    assert "consent.check_outbound" in inspect.getsource(base.ProactiveOutput.send_text)
    assert "consent.check_outbound" in inspect.getsource(sms.SmsOutput.send_sms)
    assert "consent.check_outbound" in inspect.getsource(telegram.TelegramOutput.send_custom_json)
    for cls in (telegram.TelegramOutput, web.WebOutput):
        assert "send_text" not in cls.__dict__  # they inherit the checked send_text
    assert sms.SmsOutput.send_text is not base.ProactiveOutput.send_text
    assert "self.send_sms(" in inspect.getsource(sms.SmsOutput.send_text)
