"""One customer across channels: a Telegram user, a web visitor and a phone number
become the same CRM customer once verified, and every turn says its channel.

Real channels (Telegram against the fake Bot API, the web widget API, SMS against the
fake Kavenegar), real `bot.identity` and the SQL CRM seeded with the demo shop.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes.channel_server import EchoAgent, ServerThread  # noqa: E402
from fakes.sms_gateways import API_KEY, FakeSmsGateways  # noqa: E402
from fakes.telegram_api import FakeTelegram, text_update  # noqa: E402

TOKEN = "7000002:AAH-one-customer-test-token"
SECRET = "webhook-secret-one-customer"
INBOUND = "kv-inbound-one-customer-0123456789"
SESSION = "one_customer_web_session_01"
PHONE_LOCAL = "09121234567"  # demo shop customer C001
PHONE = "+989121234567"


@pytest.fixture
def shop(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'one.db'}"
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)
    monkeypatch.setenv("HAMSAFAR_WEB_IDENTITY_SECRET", "one-customer-web-secret")
    monkeypatch.delenv("HAMSAFAR_CRM_BACKEND", raising=False)
    import bot.crm.factory
    from bot.crm.importer import seed_demo
    from bot.identity import verification

    bot.crm.factory.reset()
    verification.reset()
    seed_demo(url, shift_to_today=False)
    yield url
    verification.reset()
    bot.crm.factory.reset()


def test_telegram_web_and_sms_are_one_customer(shop):
    from bot.channels.sms import SmsInput
    from bot.channels.sms_gateways.kavenegar import KavenegarGateway
    from bot.channels.telegram import HamsafarTelegramInput
    from bot.channels.web import WebInput
    from bot.identity.verification import customer_for, web_identity_for
    from bot.touchpoints.assembler import TurnAssembler

    agent = EchoAgent()
    with FakeTelegram(TOKEN) as telegram, FakeSmsGateways() as gateways:
        tg = HamsafarTelegramInput(TOKEN, SECRET, base_url=telegram.base_url)
        web = WebInput()
        sms = SmsInput({"kavenegar": KavenegarGateway(API_KEY, inbound_secret=INBOUND, base_url=gateways.url)},
                       outbound="kavenegar", backoff=0.01)
        with ServerThread([tg, web, sms], agent) as server:
            # Telegram: the user shares their own contact
            contact = text_update(500, "x")["message"]
            contact.pop("text")
            contact["contact"] = {"phone_number": PHONE_LOCAL, "first_name": "Ali", "user_id": 4242}
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            assert httpx.post(f"{server.url}/webhooks/hamsafar_telegram/webhook", headers=headers, timeout=10,
                              json={"update_id": 500, "message": contact}).status_code == 200
            server.call(tg.drain())
            # web: the shop's page passes the signed identity of its logged-in customer
            identity = web_identity_for("C001")
            assert httpx.post(f"{server.url}/webhooks/web/messages", timeout=10, json={
                "session_id": SESSION, "text": "سلام", "identity": identity}).status_code == 200
            server.call(web.drain())
            # SMS: a message from the customer's number (authenticated webhook)
            assert httpx.get(f"{server.url}/webhooks/sms/kavenegar/{INBOUND}", timeout=10, params={
                "from": PHONE_LOCAL, "to": "10004346", "message": "سفارشم کجاست؟", "messageid": "in-1"}).status_code == 200
            server.call(sms.drain())
            # a stranger's number stays unknown
            httpx.get(f"{server.url}/webhooks/sms/kavenegar/{INBOUND}", timeout=10, params={
                "from": "09120000001", "to": "10004346", "message": "سلام", "messageid": "in-2"})
            server.call(sms.drain())

    by_channel = {m.input_channel: m for m in reversed(agent.messages)}  # the first of each channel
    assert set(by_channel) == {"hamsafar_telegram", "web", "sms"}
    assert by_channel["hamsafar_telegram"].metadata["telegram_contact"]["verified"] is True
    assert by_channel["web"].metadata["web_identity"]["verified"] is True
    assert by_channel["sms"].metadata["sms_identity"] == {"phone": PHONE, "verified": True, "status": "verified"}
    # one customer behind the three conversations
    conversations = ["tg:4242", f"web:{SESSION}", f"sms:{PHONE}"]
    assert [m.sender_id for m in agent.messages[:3]] == conversations
    assert [customer_for(c) for c in conversations] == ["C001", "C001", "C001"]
    assert customer_for("sms:+989120000001") is None
    stranger = [m for m in agent.messages if m.sender_id == "sms:+989120000001"][0]
    assert stranger.metadata["sms_identity"]["verified"] is False
    # every turn's touchpoint names the channel it came through
    labels = []
    for message in agent.messages[:3]:
        assembler = TurnAssembler()
        assembler.feed({"sender_id": message.sender_id, "event": "user", "timestamp": 1.0, "text": message.text,
                        "input_channel": message.input_channel, "message_id": "m1",
                        "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []}})
        rows = assembler.feed({"sender_id": message.sender_id, "event": "action", "timestamp": 2.0,
                               "name": "action_listen"})
        labels += [row["channel"] for row in rows if row["actor"] == "customer"]
    assert labels == ["telegram", "web", "sms"]
