"""Bale channel against a fake Bale Bot API over real HTTP on 127.0.0.1.

The fake (`tests/fakes/telegram_api.FakeBale`) does what Bale documents where it
differs from Telegram: setWebhook takes only `url` (deliveries carry no secret
header), getUpdates answers at once. Identity checks run against the real
`bot.identity` and the SQL CRM seeded with the demo shop.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes.channel_server import EchoAgent, ServerThread, free_port  # noqa: E402
from fakes.telegram_api import FakeBale, callback_update, contact_update, text_update  # noqa: E402

TOKEN = "1843000111:bale-test-SECRET-token-do-not-log"
SECRET = "bale-path-secret-0123456789abcdefXYZ"
PROVIDER = "6037990011112222"       # the shop's card (wallet invoices)
C001_PHONE = "989121234567"          # demo customer C001, as Bale sends a contact (no +)


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """SQLite with the demo shop; the real CRM and identity modules."""
    url = f"sqlite:///{tmp_path / 'bale.db'}"
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)
    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
    monkeypatch.setenv("HAMSAFAR_WEB_IDENTITY_SECRET", "bale-test-web-secret")
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


@pytest.fixture
def fake():
    with FakeBale(TOKEN) as server:
        yield server


def make_channel(fake, **kwargs):
    from bot.channels.bale import HamsafarBaleInput

    return HamsafarBaleInput(TOKEN, SECRET, base_url=fake.base_url, **kwargs)


def post(server, update, secret=SECRET, headers=None):
    path = "/webhooks/hamsafar_bale/webhook" + (f"/{secret}" if secret is not None else "")
    return httpx.post(server.url + path, json=update, headers=headers or {}, timeout=10)


def settle(server, channel):
    server.call(channel.drain())


# ----------------------------------------------------------------------------- webhook
def test_webhook_registered_with_the_secret_in_its_address_and_checked(shop, fake, caplog):
    port = free_port()
    channel = make_channel(fake, webhook_url=f"http://127.0.0.1:{port}/webhooks/hamsafar_bale/webhook")
    agent = EchoAgent()
    with caplog.at_level(logging.DEBUG):
        with ServerThread([channel], agent, port=port) as server:
            # what Bale was told: the address with the secret, nothing Bale does not document
            registered = fake.wait_for("setWebhook", 1)[0]
            assert registered["url"] == f"http://127.0.0.1:{port}/webhooks/hamsafar_bale/webhook/{SECRET}"
            assert "secret_token" not in registered and "allowed_updates" not in registered
            # missing, wrong, almost right secrets; Telegram's header does not count on Bale
            assert post(server, text_update(1, "سلام"), secret=None).status_code == 403
            assert post(server, text_update(2, "سلام"), secret="wrong").status_code == 403
            assert post(server, text_update(3, "سلام"), secret=SECRET[:-1]).status_code == 403
            assert post(server, text_update(4, "سلام"), secret=SECRET + "x").status_code == 403
            assert post(server, text_update(5, "سلام"), secret=None,
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}).status_code == 403
            settle(server, channel)
            assert agent.messages == []
            # Bale delivering to the registered address (no header) is accepted
            assert fake.push(text_update(6, "سلام، وقت بخیر")).status_code == 200
            settle(server, channel)
    assert [m.text for m in agent.messages] == ["سلام، وقت بخیر"]
    message = agent.messages[0]
    assert (message.sender_id, message.input_channel, message.metadata["channel"]) == \
        ("bale:4242", "hamsafar_bale", "bale")
    assert message.metadata["bale"]["chat_id"] == 4242
    sent = fake.wait_for("sendMessage", 1)
    assert sent[0]["text"] == "echo: سلام، وقت بخیر" and int(sent[0]["chat_id"]) == 4242
    assert "parse_mode" not in sent[0]
    assert SECRET not in caplog.text and TOKEN not in caplog.text  # neither secret reaches a log line
    assert any(TOKEN in line for line in fake.request_lines)       # ... though the token was used


def test_webhook_without_a_configured_secret_refuses_everything(shop, fake):
    from bot.channels.bale import HamsafarBaleInput

    channel, agent = HamsafarBaleInput(TOKEN, None, base_url=fake.base_url), EchoAgent()
    with ServerThread([channel], agent) as server:
        for secret in (None, "", "anything"):
            assert post(server, text_update(10, "سلام"), secret=secret).status_code in (403, 404)
        settle(server, channel)
    assert agent.messages == []


def test_duplicate_and_malformed_updates(shop, fake):
    channel, agent = make_channel(fake), EchoAgent()
    with ServerThread([channel], agent) as server:
        assert post(server, text_update(20, "hi")).json()["status"] == "ok"
        assert post(server, text_update(20, "hi")).json()["status"] == "duplicate"
        bad = httpx.post(f"{server.url}/webhooks/hamsafar_bale/webhook/{SECRET}", content=b"{not json",
                         headers={"Content-Type": "application/json"}, timeout=10)
        assert bad.status_code == 400
        settle(server, channel)
    assert len(agent.messages) == 1


def test_bale_and_telegram_update_ids_do_not_collide(shop, fake):
    """The two platforms number their updates independently: update 30 on each is handled once each."""
    from bot.channels.telegram import HamsafarTelegramInput
    from fakes.telegram_api import FakeTelegram

    agent = EchoAgent()
    with FakeTelegram("7000009:AAH-collide-token") as telegram:
        tg = HamsafarTelegramInput("7000009:AAH-collide-token", "tg-secret-collide", base_url=telegram.base_url)
        bale = make_channel(fake)
        with ServerThread([tg, bale], agent) as server:
            assert post(server, text_update(30, "from bale")).json()["status"] == "ok"
            reply = httpx.post(f"{server.url}/webhooks/hamsafar_telegram/webhook", json=text_update(30, "from tg"),
                               headers={"X-Telegram-Bot-Api-Secret-Token": "tg-secret-collide"}, timeout=10)
            assert reply.json()["status"] == "ok"
            settle(server, bale)
            settle(server, tg)
    assert sorted((m.sender_id, m.text) for m in agent.messages) == [("bale:4242", "from bale"), ("tg:4242", "from tg")]
    assert [p["text"] for p in fake.sent("sendMessage")] == ["echo: from bale"]
    assert [p["text"] for p in telegram.sent("sendMessage")] == ["echo: from tg"]


# ----------------------------------------------------------------------------- polling
def test_polling_without_long_polling_does_not_spin(shop, fake):
    async def reply(message):
        if message.text.startswith("/"):
            return
        await message.output_channel.send_text_with_buttons(message.sender_id, f"echo: {message.text}",
                                                            [{"title": "بله", "payload": "/affirm"}])

    channel, agent = make_channel(fake, mode="polling"), EchoAgent(reply)
    fake.updates.append(text_update(40, "از طریق polling"))
    with ServerThread([channel], agent) as server:
        deadline = time.time() + 10
        while not agent.messages and time.time() < deadline:
            time.sleep(0.05)
        first = fake.wait_for("sendMessage", 1)[0]
        assert first["text"] == "echo: از طریق polling"
        # one batch: an update without an id, and a press without chat_instance (as Bale may send it)
        data = json.loads(first["reply_markup"])["inline_keyboard"][0][0]["callback_data"]
        fake.updates.extend([{"message": {"text": "no id"}}, callback_update(41, data, chat_instance=None)])
        deadline = time.time() + 10
        while len(agent.messages) < 2 and time.time() < deadline:
            time.sleep(0.05)
        polls_before = len(fake.sent("getUpdates"))
        time.sleep(2.5)  # the fake answers at once, as Bale documents no long polling
        polls = len(fake.sent("getUpdates")) - polls_before
        fake.updates.append(text_update(42, "دومی"))
        deadline = time.time() + 5
        while len(agent.messages) < 3 and time.time() < deadline:
            time.sleep(0.05)
        while int(fake.sent("getUpdates")[-1].get("offset") or 0) != 43 and time.time() < deadline:
            time.sleep(0.05)  # an update is confirmed once it was processed
        channel._polling_stop.set()
    assert polls <= 4, polls  # about one poll a second, not hundreds
    assert fake.sent("deleteWebhook")
    assert all("allowed_updates" not in p for p in fake.sent("getUpdates"))
    assert [m.text for m in agent.messages] == ["از طریق polling", "/affirm", "دومی"]
    assert [p["callback_query_id"] for p in fake.sent("answerCallbackQuery")] == ["cbq-41"]
    assert int(fake.sent("getUpdates")[-1]["offset"]) == 43  # confirmed what it handled


def test_polling_mode_and_variables_from_the_environment(monkeypatch):
    """`hamsafar run --bale-polling` sets HAMSAFAR_BALE_MODE=polling for the Rasa server."""
    from bot.channels.bale import HamsafarBaleInput
    from bot.runtime import cli

    monkeypatch.setenv("HAMSAFAR_BALE_TOKEN", TOKEN)
    monkeypatch.setenv("HAMSAFAR_BALE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("HAMSAFAR_BALE_MODE", "polling")
    monkeypatch.delenv("HAMSAFAR_BALE_API_BASE_URL", raising=False)
    channel = HamsafarBaleInput.from_credentials({})
    assert (channel.mode, channel.webhook_secret, channel.output.invoices) == ("polling", SECRET, None)
    assert channel.output.base_url is None  # the default: https://tapi.bale.ai/bot
    monkeypatch.delenv("HAMSAFAR_BALE_MODE")
    assert HamsafarBaleInput.from_credentials({}).mode == "webhook"
    import argparse

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    assert parser.parse_args(["run", "--bale-polling"]).bale_polling is True


def test_the_default_api_address_is_bales(shop):
    """Without a base URL the bot calls https://tapi.bale.ai/bot<token>/ (files: /file/bot<token>/)."""
    from bot.channels.bale import BaleOutput
    from bot.channels.telegram import TelegramOutput

    built = BaleOutput(TOKEN).new_bot()
    assert built.base_url == f"https://tapi.bale.ai/bot{TOKEN}"
    assert built.base_file_url == f"https://tapi.bale.ai/file/bot{TOKEN}"
    local = BaleOutput(TOKEN, base_url="http://127.0.0.1:9/bot").new_bot()
    assert (local.base_url, local.base_file_url) == (f"http://127.0.0.1:9/bot{TOKEN}", f"http://127.0.0.1:9/file/bot{TOKEN}")
    assert TelegramOutput(TOKEN).new_bot().base_url == f"https://api.telegram.org/bot{TOKEN}"


# ----------------------------------------------------------------------------- conversation
def test_buttons_and_presses_without_chat_instance(shop, fake):
    """Inline keyboards with short callback ids; a press is acknowledged and its payload reaches the bot."""
    long_payload = '/inform{"product": "' + "گوشی سامسونگ گلکسی A55 با حافظه‌ی ۲۵۶ گیگابایت" + '"}'

    async def reply(message):
        if message.text.startswith("/inform"):
            await message.output_channel.send_text_message(message.sender_id, "انتخاب شد")
            return
        await message.output_channel.send_text_with_buttons(
            message.sender_id, "کدام گوشی؟", [{"title": "A55", "payload": long_payload}, {"title": "S24", "payload": "/affirm"}])

    channel, agent = make_channel(fake), EchoAgent(reply)
    with ServerThread([channel], agent) as server:
        post(server, text_update(50, "گوشی می‌خواهم"))
        settle(server, channel)
        markup = json.loads(fake.sent("sendMessage")[0]["reply_markup"])
        data = [row[0]["callback_data"] for row in markup["inline_keyboard"]]
        assert [row[0]["text"] for row in markup["inline_keyboard"]] == ["A55", "S24"]
        assert all(d.startswith("b:") and len(d.encode()) <= 64 for d in data)
        post(server, callback_update(51, data[0], chat_instance=None))  # Bale may leave it out
        post(server, callback_update(52, '/inform{"customer_id": "C001"}', chat_instance=None))  # forged
        settle(server, channel)
    assert [p["callback_query_id"] for p in fake.sent("answerCallbackQuery")] == ["cbq-51", "cbq-52"]
    assert [m.text for m in agent.messages] == ["گوشی می‌خواهم", long_payload]
    assert fake.sent("sendMessage")[-1]["text"] == "انتخاب شد"


def test_a_chats_updates_reach_the_bot_in_arrival_order(shop, fake):
    async def reply(message):
        if message.text == "سلام":
            await message.output_channel.send_text_with_buttons(message.sender_id, "?", [{"title": "بله", "payload": "/affirm"}])

    channel, agent = make_channel(fake), EchoAgent(reply)
    with ServerThread([channel], agent) as server:
        post(server, text_update(60, "سلام"))
        settle(server, channel)
        data = json.loads(fake.sent("sendMessage")[0]["reply_markup"])["inline_keyboard"][0][0]["callback_data"]
        fake.delays["answerCallbackQuery"] = 1.0
        post(server, callback_update(61, data))
        post(server, text_update(62, "یک چیز دیگر"))
        settle(server, channel)
    assert [m.text for m in agent.messages] == ["سلام", "/affirm", "یک چیز دیگر"]


def test_unsupported_updates_get_a_polite_answer_or_are_ignored(shop, fake, caplog):
    channel, agent = make_channel(fake), EchoAgent()
    base = text_update(70, "x")["message"]
    photo = dict(base, message_id=71)
    photo.pop("text")
    photo["photo"] = [{"file_id": "p", "file_unique_id": "pu", "width": 1, "height": 1}]
    voice = dict(base, message_id=72)
    voice.pop("text")
    voice["voice"] = {"file_id": "v", "file_unique_id": "vu", "duration": 2}
    updates = [
        {"update_id": 71, "message": photo},
        {"update_id": 72, "message": voice},
        {"update_id": 73, "edited_message": dict(base, edit_date=2)},
        {"update_id": 74, "channel_post": {"message_id": 5, "date": 1, "text": "news",
                                            "chat": {"id": -100999, "type": "channel", "title": "c"}}},
        {"update_id": 75, "something_bale_adds_later": {"id": 1}},
    ]
    with caplog.at_level(logging.INFO):
        with ServerThread([channel], agent) as server:
            for update in updates:
                assert post(server, update).status_code == 200
            settle(server, channel)
    assert agent.messages == []
    polite = fake.wait_for("sendMessage", 2)
    assert [p["text"] for p in polite] == ["فعلاً فقط پیام متنی را می‌توانم بخوانم؛ لطفاً سؤالتان را بنویسید."] * 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_long_reply_split_at_the_limit(shop, fake):
    lines = [f"بند {i}: " + " ".join(["این جمله برای آزمودن پیام بلند است."] * 5) for i in range(150)]
    long_text = "\n".join(lines)
    assert len(long_text) > 3 * 4096

    async def reply(message):
        await message.output_channel.send_text_message(message.sender_id, long_text)

    channel, agent = make_channel(fake), EchoAgent(reply)
    with ServerThread([channel], agent) as server:
        post(server, text_update(80, "همه را بگو"))
        settle(server, channel)
    parts = [p["text"] for p in fake.sent("sendMessage")]
    assert len(parts) >= 4
    assert all(len(p) <= 4096 and len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert all(line in lines for part in parts for line in part.split("\n"))  # whole lines only
    assert "\n".join(parts) == long_text


# ----------------------------------------------------------------------------- rate limits and errors
def test_429_with_and_without_retry_after_and_other_errors(shop, fake):
    async def reply(message):
        for i in range(3):
            await message.output_channel.send_text_message(message.sender_id, f"پیام {i}")

    channel, agent = make_channel(fake), EchoAgent(reply)
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    fake.fail_next("sendMessage", 429, "bot limit exceed")   # python-bale-bot's text for Bale's limit; no retry_after
    fake.fail_next("sendMessage", 502, "Bad Gateway")
    with ServerThread([channel], agent) as server:
        post(server, text_update(90, "سه پیام بده"))
        settle(server, channel)
    attempts = [(p["text"], t) for name, p, t in fake.calls if name == "sendMessage"]
    assert len(attempts) == 6  # three refused, then all three delivered, in order
    assert attempts[1][1] - attempts[0][1] >= 1.0  # waited retry_after
    assert [text for text, _ in attempts[3:]] == ["پیام 0", "پیام 1", "پیام 2"]


def test_a_bad_request_is_reported_not_repeated_and_a_blocked_chat_opts_out(shop, fake):
    from bot.channels import consent
    from bot.channels.base import send_proactive

    channel = make_channel(fake)
    with ServerThread([channel], EchoAgent()) as server:
        fake.fail_next("sendMessage", 400, "Bad Request: no such group or user")
        with pytest.raises(Exception):
            server.call(channel.output.send_text("bale:5555", "سلام"))
        assert len(fake.sent("sendMessage")) == 1  # not retried
        fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        assert server.call(send_proactive("bale:6666", "یادآوری")) is True  # attempted
        assert consent.opt_out_source("bale", "bale:6666") == "blocked"
        assert server.call(send_proactive("bale:6666", "یادآوری دوم")) is False  # nothing more to a blocked chat
    assert len(fake.sent("sendMessage")) == 2


# ----------------------------------------------------------------------------- identity
def test_contact_of_someone_else_is_refused_and_the_own_verifies(shop, fake):
    from bot.identity.verification import customer_for

    channel, agent = make_channel(fake), EchoAgent()
    with ServerThread([channel], agent) as server:
        post(server, contact_update(100, C001_PHONE, contact_user_id=9999))   # C001's number, someone else's contact
        post(server, contact_update(101, C001_PHONE, contact_user_id=None))   # typed in by hand
        settle(server, channel)
        assert agent.messages == [] and customer_for("bale:4242") is None
        refusals = fake.sent("sendMessage")
        assert len(refusals) == 2 and all("شماره‌ی خودتان" in r["text"] for r in refusals)
        post(server, contact_update(102, C001_PHONE, contact_user_id=4242))
        settle(server, channel)
    assert agent.messages[0].text == '/inform{"phone_number": "+989121234567"}'
    assert agent.messages[0].metadata["bale_contact"] == {"phone": "+989121234567", "verified": True}
    assert customer_for("bale:4242") == "C001"
    # the Bale user is remembered as a Bale user, not as the Telegram user with the same number
    assert customer_for("bale:other-chat", channel="bale", external_id="4242") == "C001"
    assert customer_for("tg:4242", channel="telegram", external_id="4242") is None


def test_the_same_customer_on_bale_and_on_the_web(shop, fake):
    """A Bale user verified by contact and a signed-in web visitor are one CRM customer; touchpoints say bale/web."""
    from bot.channels.web import WebInput
    from bot.identity.verification import customer_for, web_identity_for
    from bot.touchpoints.assembler import TurnAssembler

    bale, web, agent = make_channel(fake), WebInput(), EchoAgent()
    with ServerThread([bale, web], agent) as server:
        post(server, contact_update(110, C001_PHONE, contact_user_id=4242))
        settle(server, bale)
        assert httpx.post(f"{server.url}/webhooks/web/messages", timeout=10, json={
            "session_id": "bale_and_web_session_01", "text": "سلام", "identity": web_identity_for("C001")}).status_code == 200
        server.call(web.drain())
    conversations = [m.sender_id for m in agent.messages]
    assert conversations == ["bale:4242", "web:bale_and_web_session_01"]
    assert [customer_for(c) for c in conversations] == ["C001", "C001"]
    labels = []
    for message in agent.messages:
        assembler = TurnAssembler()
        assembler.feed({"sender_id": message.sender_id, "event": "user", "timestamp": 1.0, "text": message.text,
                        "input_channel": message.input_channel, "message_id": "m1",
                        "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []}})
        rows = assembler.feed({"sender_id": message.sender_id, "event": "action", "timestamp": 2.0, "name": "action_listen"})
        labels += [row["channel"] for row in rows if row["actor"] == "customer"]
    assert labels == ["bale", "web"]


# ----------------------------------------------------------------------------- consent
def test_stop_and_start_govern_proactive_messages(shop, fake):
    from bot.channels.base import send_proactive

    channel, agent = make_channel(fake), EchoAgent()
    with ServerThread([channel], agent) as server:
        post(server, text_update(120, "/stop"))
        settle(server, channel)
        assert server.call(send_proactive("bale:4242", "سبد خریدتان منتظر شماست")) is False
        post(server, text_update(121, "/start"))
        settle(server, channel)
        assert server.call(send_proactive("bale:4242", "سبد خریدتان منتظر شماست")) is True
    texts = [p["text"] for p in fake.sent("sendMessage")]
    assert texts[0].startswith("دیگر پیامی به ابتکار ما") and texts[-1] == "سبد خریدتان منتظر شماست"
    assert [m.text for m in agent.messages] == ["/greet"]


# ----------------------------------------------------------------------------- handoff
def test_an_agents_reply_is_delivered_to_bale(shop, fake, monkeypatch):
    from bot.handoff import service
    from tests.test_handoff_support import PASSWORD, attach, console_server, login

    monkeypatch.setenv("HAMSAFAR_HANDOFF_HOURS", "always")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", "")
    service.create_agent("maryam", PASSWORD, "agent", "مریم")
    make_channel(fake)  # registers the Bale output, as the Rasa server does from credentials.yml
    outcome = service.request_handoff("bale:4242", channel="bale", language="fa", journey_stage="retention",
                                      reason="requested", customer_id="C001", summary="سفارش نرسیده")
    with console_server() as server:
        attach(server)
        maryam = login(server, "maryam")
        assert maryam.post(f"api/handoffs/{outcome.handoff_id}/claim", json={}).json()["delivered"] is True
        assert maryam.post(f"api/handoffs/{outcome.handoff_id}/reply",
                           json={"text": "سلام، مریم هستم. سفارشتان را بررسی می‌کنم. <b>۱</b>"}).json()["delivered"] is True
    sent = fake.wait_for("sendMessage", 2)
    assert [int(p["chat_id"]) for p in sent] == [4242, 4242]
    assert "مریم" in sent[0]["text"]
    assert sent[1]["text"] == "سلام، مریم هستم. سفارشتان را بررسی می‌کنم. <b>۱</b>"
    assert all("parse_mode" not in p for p in sent)


# ----------------------------------------------------------------------------- wallet invoices
def _wallet(monkeypatch, on=True):
    from bot.channels.botapi import InvoiceSettings
    from bot.channels.botapi import BALE

    if on:
        monkeypatch.setenv("HAMSAFAR_BALE_PAYMENTS", "wallet")
        monkeypatch.setenv("HAMSAFAR_BALE_PROVIDER_TOKEN", PROVIDER)
    return InvoiceSettings.from_env(BALE)


def _order_for_c001():
    from bot.crm.base import CartItem
    from bot.crm.factory import get_crm

    crm = get_crm()
    product = next(p for p in crm.list_products(in_stock_only=True))
    return crm.create_order("C001", [CartItem(product.sku, 1)])


def _invoice_reply(order):
    from bot.channels.botapi import invoice_json

    async def reply(message):
        if message.text.startswith("/inform"):
            await message.output_channel.send_custom_json(message.sender_id, invoice_json(
                order.order_id, order.total, "سفارش همسفر", "fa"))
    return reply


def _pre_checkout(update_id, order_id, amount, user_id=4242, currency="IRR"):
    return {"update_id": update_id, "pre_checkout_query": {
        "id": f"pcq-{update_id}", "from": {"id": user_id, "is_bot": False, "first_name": "Sara"},
        "currency": currency, "total_amount": amount, "invoice_payload": f"order:{order_id}"}}


def _paid(update_id, order_id, amount, charge):
    update = text_update(update_id, "", language_code=None)
    update["message"].pop("text")
    update["message"]["successful_payment"] = {
        "currency": "IRR", "total_amount": amount, "invoice_payload": f"order:{order_id}",
        "telegram_payment_charge_id": charge, "provider_payment_charge_id": f"p-{charge}"}
    return update


def test_wallet_invoice_for_an_order_checked_before_payment_and_recorded_once(shop, fake, monkeypatch):
    import sqlalchemy as sa

    from bot.db import get_engine

    invoices = _wallet(monkeypatch)
    order = _order_for_c001()
    rial = order.total * 10
    channel = make_channel(fake, invoices=invoices)
    with ServerThread([channel], EchoAgent(_invoice_reply(order))) as server:
        post(server, contact_update(130, C001_PHONE, contact_user_id=4242))  # verified C001, then the invoice
        settle(server, channel)
        invoice = fake.wait_for("sendInvoice", 1)[0]
        assert (invoice["payload"], invoice["currency"], invoice["provider_token"]) == (f"order:{order.order_id}", "IRR", PROVIDER)
        assert json.loads(invoice["prices"])[0]["amount"] == rial  # Toman in the CRM, Rial on Bale
        assert int(invoice["chat_id"]) == 4242 and "سفارش" in invoice["description"]
        # before money moves: a wrong amount, another currency, a stranger, an unknown order are refused
        post(server, _pre_checkout(131, order.order_id, rial - 10))
        post(server, _pre_checkout(132, order.order_id, rial, currency="USD"))
        post(server, _pre_checkout(133, order.order_id, rial, user_id=777))
        post(server, _pre_checkout(134, "999999", rial))
        post(server, _pre_checkout(135, order.order_id, rial))
        settle(server, channel)
        answers = {p["pre_checkout_query_id"]: json.loads(p["ok"]) for p in fake.sent("answerPreCheckoutQuery")}
        assert answers == {"pcq-131": False, "pcq-132": False, "pcq-133": False, "pcq-134": False, "pcq-135": True}
        assert all(p.get("error_message") for p in fake.sent("answerPreCheckoutQuery") if not json.loads(p["ok"]))
        # paid: recorded once per charge, confirmed once
        post(server, _paid(136, order.order_id, rial, "charge-1"))
        post(server, _paid(137, order.order_id, rial, "charge-1"))  # the same charge reported again
        settle(server, channel)
    confirmations = [p["text"] for p in fake.sent("sendMessage") if "دریافت شد" in p["text"]]
    assert len(confirmations) == 1 and "تومان" in confirmations[0]
    query = sa.text("SELECT channel, order_id, amount, currency, conversation_id FROM messenger_payments")
    with get_engine().connect() as conn:
        rows = conn.execute(query).all()
    assert [tuple(r) for r in rows] == [("bale", order.order_id, rial, "IRR", "bale:4242")]
    # erasing the customer unlinks the payment from the Bale conversation; the shop's books keep it
    from bot.touchpoints.erasure import erase_customer

    assert erase_customer("C001")["messenger_payments"] == 1
    with get_engine().connect() as conn:
        rows = conn.execute(query).all()
    assert [tuple(r) for r in rows] == [("bale", order.order_id, rial, "IRR", "erased")]


def test_a_payment_report_that_does_not_match_its_order_is_kept_but_not_confirmed(shop, fake, monkeypatch):
    """With the webhook's secret, a successful_payment from a stranger's chat, or for less than the
    order's total, is no confirmation to send: kept for the staff, not told as "received"."""
    import sqlalchemy as sa

    from bot.db import get_engine

    order = _order_for_c001()
    rial = order.total * 10
    channel = make_channel(fake, invoices=_wallet(monkeypatch))
    with ServerThread([channel], EchoAgent(_invoice_reply(order))) as server:
        stranger = _paid(140, order.order_id, rial, "charge-x")
        stranger["message"]["from"]["id"] = stranger["message"]["chat"]["id"] = 555   # not C001's chat
        post(server, stranger)
        post(server, contact_update(141, C001_PHONE, contact_user_id=4242))   # C001 verified on this chat
        settle(server, channel)
        post(server, _paid(142, order.order_id, 10, "charge-y"))   # C001's chat, 1 Toman
        settle(server, channel)
    assert not [p for p in fake.sent("sendMessage") if "دریافت شد" in p["text"]]
    with get_engine().connect() as conn:
        kept = conn.execute(sa.text("SELECT charge_id FROM messenger_payments ORDER BY charge_id")).scalars().all()
    assert kept == ["charge-x", "charge-y"]


def test_wallet_invoices_are_off_unless_the_shop_turns_them_on(shop, fake, monkeypatch):
    from bot.channels.botapi import TELEGRAM
    from bot.channels.botapi import InvoiceSettings

    assert _wallet(monkeypatch, on=False) is None
    monkeypatch.setenv("HAMSAFAR_BALE_PAYMENTS", "wallet")
    from bot.channels.botapi import BALE

    assert InvoiceSettings.from_env(BALE) is None  # no provider token: stays off
    monkeypatch.setenv("HAMSAFAR_BALE_PROVIDER_TOKEN", PROVIDER)
    assert InvoiceSettings.from_env(TELEGRAM) is None  # Telegram has no wallet invoices here
    order = _order_for_c001()
    channel = make_channel(fake)  # built without invoices
    with ServerThread([channel], EchoAgent(_invoice_reply(order))) as server:
        post(server, contact_update(140, C001_PHONE, contact_user_id=4242))
        settle(server, channel)
    assert fake.sent("sendInvoice") == []


def test_invoice_parameters_follow_bales_limits(shop):
    from bot.channels.botapi import InvoiceSettings, invoice_json
    from bot.channels.botapi.payments import invoice_parameters

    shop_card = InvoiceSettings(PROVIDER)
    params = invoice_parameters(invoice_json("100123", 1_250_000, "لپ‌تاپ " * 20, "fa")["invoice"], shop_card)
    assert len(params["title"]) <= 32 and len(params["description"]) <= 255
    assert "۱۰۰۱۲۳" in params["description"] and "۱٬۲۵۰٬۰۰۰ تومان" in params["description"]
    assert params["prices"][0].amount == 12_500_000 and params["currency"] == "IRR"
    english = invoice_parameters(invoice_json("100123", 990, "Laptop", "en")["invoice"], shop_card)
    assert english["description"] == "Payment for order 100123: 990 Toman"
    for bad in ({"order_id": "", "total_toman": 5}, {"order_id": "1", "total_toman": 0},
                {"order_id": "1", "total_toman": "many"}, {"order_id": "9" * 65, "total_toman": 5}):
        assert invoice_parameters(bad, shop_card) is None
