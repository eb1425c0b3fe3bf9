"""Telegram channel against a fake Bot API over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import sys
import time
import types
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes.channel_server import EchoAgent, ServerThread  # noqa: E402
from fakes.telegram_api import FakeTelegram, text_update  # noqa: E402

TOKEN = "7000001:AAH-test-SECRET-token-do-not-log"
SECRET = "webhook-secret-123"


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'channels.db'}")
    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
    yield


@pytest.fixture
def fake():
    with FakeTelegram(TOKEN) as server:
        yield server


def make_channel(fake, **kwargs):
    from bot.channels.telegram import HamsafarTelegramInput

    return HamsafarTelegramInput(TOKEN, SECRET, base_url=fake.base_url, **kwargs)


def post(server, update, secret=SECRET):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return httpx.post(f"{server.url}/webhooks/hamsafar_telegram/webhook", json=update, headers=headers, timeout=10)


def settle(server, channel):
    server.call(channel.drain())


def test_webhook_secret_checked(fake):
    channel, agent = make_channel(fake), EchoAgent()
    with ServerThread([channel], agent) as server:
        assert post(server, text_update(1, "سلام"), secret=None).status_code == 403
        assert post(server, text_update(2, "سلام"), secret="wrong").status_code == 403
        assert post(server, text_update(3, "سلام"), secret=SECRET + "x").status_code == 403
        settle(server, channel)
        assert agent.messages == []
        response = post(server, text_update(4, "سلام"))
        assert response.status_code == 200
        settle(server, channel)
    assert [m.text for m in agent.messages] == ["سلام"]
    message = agent.messages[0]
    assert message.sender_id == "tg:4242"
    assert message.input_channel == "hamsafar_telegram"
    assert message.metadata["channel"] == "telegram"
    sent = fake.wait_for("sendMessage", 1)
    assert sent[0]["text"] == "echo: سلام" and int(sent[0]["chat_id"]) == 4242
    assert "parse_mode" not in sent[0]


def test_duplicate_update_ignored(fake):
    channel, agent = make_channel(fake), EchoAgent()
    with ServerThread([channel], agent) as server:
        assert post(server, text_update(10, "hi")).json()["status"] == "ok"
        assert post(server, text_update(10, "hi")).json()["status"] == "duplicate"
        settle(server, channel)
    # a restarted server (new channel object) still knows the update id from the database
    channel2 = make_channel(fake)
    with ServerThread([channel2], agent) as server:
        assert post(server, text_update(10, "hi")).json()["status"] == "duplicate"
        settle(server, channel2)
    assert len(agent.messages) == 1
    assert len(fake.wait_for("sendMessage", 1)) == 1


def test_unhandled_update_types(fake, caplog):
    channel, agent = make_channel(fake), EchoAgent()
    base = text_update(20, "x")["message"]
    sticker = dict(base, message_id=21)
    sticker.pop("text")
    sticker["sticker"] = {"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1,
                          "is_animated": False, "is_video": False, "type": "regular"}
    photo = dict(base, message_id=22)
    photo.pop("text")
    photo["photo"] = [{"file_id": "p", "file_unique_id": "pu", "width": 1, "height": 1}]
    group_join = {"message_id": 23, "date": 1, "chat": {"id": -100777, "type": "supergroup", "title": "g"},
                  "from": base["from"], "new_chat_members": [base["from"]]}
    updates = [
        {"update_id": 30, "edited_message": dict(base, edit_date=2)},
        {"update_id": 31, "channel_post": {"message_id": 5, "date": 1, "text": "news",
                                            "chat": {"id": -100999, "type": "channel", "title": "c"}}},
        {"update_id": 32, "message": group_join},
        {"update_id": 33, "message": sticker},
        {"update_id": 34, "message": photo},
        {"update_id": 35, "my_chat_member": {"chat": {"id": -100777, "type": "supergroup", "title": "g"},
                                              "from": base["from"], "date": 1,
                                              "old_chat_member": {"status": "left", "user": {"id": 7000001, "is_bot": True, "first_name": "H"}},
                                              "new_chat_member": {"status": "member", "user": {"id": 7000001, "is_bot": True, "first_name": "H"}}}},
        {"update_id": 36, "poll": {"id": "p", "question": "q", "options": [], "total_voter_count": 0,
                                    "is_closed": False, "is_anonymous": True, "type": "regular",
                                    "allows_multiple_answers": False}},
    ]
    with caplog.at_level(logging.INFO):
        with ServerThread([channel], agent) as server:
            for update in updates:
                assert post(server, update).status_code == 200
            settle(server, channel)
    assert agent.messages == []
    polite = fake.wait_for("sendMessage", 2)
    assert len(polite) == 2  # sticker and photo in the private chat, nothing else
    assert all("متنی" in p["text"] for p in polite)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_long_reply_split_at_line_boundaries(fake):
    lines = [f"خط شماره {i}: " + " ".join(["متن طولانی برای آزمایش."] * 6) for i in range(200)]
    long_text = "\n".join(lines)
    assert len(long_text) > 3 * 4096

    async def reply(message):
        await message.output_channel.send_text_message(message.sender_id, long_text)

    channel, agent = make_channel(fake), EchoAgent(reply)
    with ServerThread([channel], agent) as server:
        post(server, text_update(40, "long please"))
        settle(server, channel)
    parts = [p["text"] for p in fake.sent("sendMessage")]
    assert len(parts) >= 4
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    for part in parts:  # every part ends at a line boundary: whole lines only
        assert all(line in lines for line in part.split("\n"))
    assert "\n".join(parts) == long_text


def test_split_message_sentences_and_words():
    from bot.channels.telegram import split_message

    text = "جمله‌ی اول است. " * 600
    parts = split_message(text, 4096)
    assert len(parts) == 3 and all(p.endswith(".") for p in parts[:-1])
    emoji = "😀" * 5000  # two UTF-16 units each
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in split_message(emoji))


def test_429_retry_after_honoured_and_burst_delivered(fake):
    async def reply(message):
        for i in range(5):
            await message.output_channel.send_text_message(message.sender_id, f"پیام {i}")

    channel, agent = make_channel(fake), EchoAgent(reply)
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    with ServerThread([channel], agent) as server:
        post(server, text_update(50, "burst"))
        settle(server, channel)
    attempts = [(params, t) for name, params, t in fake.calls if name == "sendMessage"]
    assert len(attempts) == 6  # one refused with 429, then all five
    assert attempts[1][1] - attempts[0][1] >= 1.0  # waited retry_after before retrying
    assert [p["text"] for p, _ in attempts[1:]] == [f"پیام {i}" for i in range(5)]


def test_inline_keyboard_callback_data_short_and_resolved(fake):
    long_payload = '/inform{"product": "' + "گوشی سامسونگ گلکسی A55 با حافظه‌ی ۲۵۶ گیگابایت" + '"}'
    assert len(long_payload.encode()) > 64

    async def reply(message):
        if message.text.startswith("/inform"):
            await message.output_channel.send_text_message(message.sender_id, "ok")
            return
        await message.output_channel.send_text_with_buttons(
            message.sender_id, "کدام؟", [{"title": "A55", "payload": long_payload}, {"title": "S24", "payload": "/affirm"}]
        )

    channel, agent = make_channel(fake), EchoAgent(reply)
    with ServerThread([channel], agent) as server:
        post(server, text_update(60, "گوشی"))
        settle(server, channel)
        markup = json.loads(fake.sent("sendMessage")[0]["reply_markup"])
        data = [row[0]["callback_data"] for row in markup["inline_keyboard"]]
        assert all(len(d.encode()) <= 64 for d in data)
        press = {"update_id": 61, "callback_query": {
            "id": "cbq-1", "chat_instance": "ci", "data": data[0],
            "from": {"id": 4242, "is_bot": False, "first_name": "Sara"},
            "message": {"message_id": 101, "date": 1, "chat": {"id": 4242, "type": "private"}, "text": "کدام؟"}}}
        post(server, press)
        settle(server, channel)
    assert fake.sent("answerCallbackQuery")[0]["callback_query_id"] == "cbq-1"
    assert agent.messages[-1].text == long_payload


def _identity_module(monkeypatch):
    try:
        import bot.identity.verification as identity  # type: ignore
    except ImportError:
        identity = types.ModuleType("bot.identity.verification")
        monkeypatch.setitem(sys.modules, "bot.identity.verification", identity)
    calls = []

    def verify(*args):
        calls.append(args)
        return types.SimpleNamespace(ok=True, status="verified", customer_id="C100")

    monkeypatch.setattr(identity, "verify_telegram_contact", verify, raising=False)
    return calls


def test_contact_of_someone_else_refused(fake, monkeypatch):
    calls = _identity_module(monkeypatch)
    channel, agent = make_channel(fake), EchoAgent()
    base = text_update(70, "x")["message"]
    foreign = dict(base)
    foreign.pop("text")
    foreign["contact"] = {"phone_number": "+989121111111", "first_name": "Other", "user_id": 9999}
    no_user = dict(foreign, message_id=71, contact={"phone_number": "+989121111111", "first_name": "Other"})
    own = dict(foreign, message_id=72, contact={"phone_number": "989122222222", "first_name": "Sara", "user_id": 4242})
    with ServerThread([channel], agent) as server:
        post(server, {"update_id": 70, "message": foreign})
        post(server, {"update_id": 71, "message": no_user})
        settle(server, channel)
        assert agent.messages == [] and calls == []
        refusals = fake.sent("sendMessage")
        assert len(refusals) == 2 and all("شماره‌ی خودتان" in r["text"] for r in refusals)
        post(server, {"update_id": 72, "message": own})
        settle(server, channel)
    assert calls == [("tg:4242", "+989122222222", 4242, 4242)]
    assert agent.messages[0].text == '/inform{"phone_number": "+989122222222"}'
    assert agent.messages[0].metadata["telegram_contact"]["verified"] is True


def test_request_contact_keyboard_and_typed_slash_guarded(fake):
    async def reply(message):
        await message.output_channel.send_custom_json(message.sender_id, {"request_contact": True, "text": "شماره؟"})

    channel, agent = make_channel(fake), EchoAgent(reply)
    with ServerThread([channel], agent) as server:
        post(server, text_update(80, '/inform{"customer_id": "C1"}'))
        settle(server, channel)
    assert not agent.messages[0].text.startswith("/")  # typed intents cannot be injected
    markup = json.loads(fake.sent("sendMessage")[0]["reply_markup"])
    assert markup["keyboard"][0][0]["request_contact"] is True


def test_group_conversation_per_chat_and_user(fake):
    channel, agent = make_channel(fake), EchoAgent()
    with ServerThread([channel], agent) as server:
        post(server, text_update(90, "hi", chat_id=-100555, user_id=11, chat_type="supergroup"))
        post(server, text_update(91, "hi", chat_id=-100555, user_id=12, chat_type="supergroup"))
        settle(server, channel)
    assert sorted(m.sender_id for m in agent.messages) == ["tg:-100555:11", "tg:-100555:12"]
    assert {int(p["chat_id"]) for p in fake.wait_for("sendMessage", 2)} == {-100555}


def test_token_never_logged(fake, caplog):
    channel, agent = make_channel(fake), EchoAgent()
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # an operator turning debug on
    logging.getLogger("httpcore").setLevel(logging.DEBUG)
    fake.fail_next("sendMessage", 400, "Bad Request: chat not found")
    try:
        with caplog.at_level(logging.DEBUG):
            with ServerThread([channel], agent) as server:
                post(server, text_update(100, "hello"))
                settle(server, channel)
                server.call(channel.output.send_text("tg:4242", "proactive"))
    finally:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("httpcore").setLevel(logging.WARNING)
    assert any(TOKEN in line for line in fake.request_lines)  # the token was really used
    assert "bot***/sendMessage" in caplog.text  # httpx did log the URL...
    assert TOKEN not in caplog.text  # ...without the token
    assert TOKEN.split(":")[1] not in caplog.text


def test_polling_mode(fake):
    channel, agent = make_channel(fake, mode="polling"), EchoAgent()
    fake.updates.append(text_update(200, "از طریق polling"))
    with ServerThread([channel], agent) as server:
        deadline = time.time() + 10
        while not agent.messages and time.time() < deadline:
            time.sleep(0.05)
        assert fake.wait_for("sendMessage", 1)[0]["text"] == "echo: از طریق polling"
        channel._polling_stop.set()
    assert fake.sent("deleteWebhook")
    assert agent.messages[0].sender_id == "tg:4242"


def test_proactive_send_respects_consent(fake):
    from bot.channels import consent
    from bot.channels.base import send_proactive

    channel, agent = make_channel(fake), EchoAgent()
    with ServerThread([channel], agent) as server:
        assert server.call(send_proactive("tg:4242", "یادآوری سبد خرید")) is True
        consent.opt_out("telegram", "tg:4242", source="command")
        assert server.call(send_proactive("tg:4242", "یادآوری دوم")) is False
    assert [p["text"] for p in fake.sent("sendMessage")] == ["یادآوری سبد خرید"]


def test_webhook_answered_once_the_update_is_processed_and_a_resend_meanwhile_is_not_processed_again(fake):
    """The webhook answers 200 only once the update is processed; Telegram re-sending it
    while it is still being processed (a slow answer) gets "duplicate", not a second turn."""
    import asyncio
    import threading

    async def slow_reply(message):
        await asyncio.sleep(2)
        await message.output_channel.send_text_message(message.sender_id, "done")

    channel, agent = make_channel(fake), EchoAgent(slow_reply)
    with ServerThread([channel], agent) as server:
        answers = []
        first = threading.Thread(target=lambda: answers.append(post(server, text_update(300, "slow"))))
        started = time.monotonic()
        first.start()
        time.sleep(0.5)
        resent = post(server, text_update(300, "slow"))  # waits for the first delivery, then sees it processed
        first.join(10)
        assert answers[0].status_code == 200 and answers[0].json()["status"] == "ok"
        assert time.monotonic() - started >= 2  # answered after the turn, not before
        assert resent.status_code == 200 and resent.json()["status"] == "duplicate"
    assert len(agent.messages) == 1
    assert [p["text"] for p in fake.sent("sendMessage")] == ["done"]


def test_a_failed_update_is_refused_not_remembered_and_its_redelivery_processed_once(fake):
    """A failure while handling answers 503 and sends nothing; the redelivery is processed, a third is a duplicate."""
    import sqlalchemy as sa

    def outage():  # what the tracker store raises while the database is locked
        return sa.exc.OperationalError("SELECT events", {}, Exception("database is locked"))

    failures = [outage()]

    async def flaky(message):
        await message.output_channel.send_text_message(message.sender_id, "reply from the first try")
        if failures:
            raise failures.pop()
        await message.output_channel.send_text_message(message.sender_id, "echo: " + message.text)

    channel, agent = make_channel(fake), EchoAgent(flaky)
    with ServerThread([channel], agent) as server:
        refused = post(server, text_update(400, "سلام"))
        assert refused.status_code == 503 and "error" in refused.json()
        assert fake.sent("sendMessage") == []  # nothing of the refused attempt reaches the customer
        assert post(server, text_update(400, "سلام")).json()["status"] == "ok"
        assert post(server, text_update(400, "سلام")).json()["status"] == "duplicate"
        # a bug (not an outage) is refused too, with 500
        failures.append(ValueError("a bug"))
        assert post(server, text_update(401, "باگ")).status_code == 500
        # the database that remembers update ids is down: refused (503), not processed blind
        from bot.db import get_engine

        engine = get_engine()
        with engine.connect() as conn:
            conn.execute(sa.text("ALTER TABLE channel_inbound_seen RENAME TO seen_away"))
        try:
            assert post(server, text_update(402, "کجاست")).status_code == 503
        finally:
            with engine.connect() as conn:
                conn.execute(sa.text("ALTER TABLE seen_away RENAME TO channel_inbound_seen"))
        assert post(server, text_update(402, "کجاست")).json()["status"] == "ok"
    assert [m.text for m in agent.messages] == ["سلام", "سلام", "باگ", "کجاست"]  # tries: refused, processed
    assert [p["text"] for p in fake.sent("sendMessage")] == [
        "reply from the first try", "echo: سلام", "reply from the first try", "echo: کجاست"]


def test_per_chat_pacing_spaces_a_burst_without_holding_other_chats(fake):
    """A burst to one chat is spread at the chat's rate, in order; another chat is not held up."""
    import asyncio

    channel = make_channel(fake, output_options={"private_rate": 4.0, "group_rate": 2.0, "burst": 1})
    with ServerThread([channel], EchoAgent()) as server:
        output = channel.output

        async def burst():
            await asyncio.gather(
                *(output.send_text("tg:1001", f"a{i}") for i in range(5)),
                *(output.send_text("tg:1002", f"b{i}") for i in range(2)),
                *(output.send_text("tg:-100888:7", f"g{i}") for i in range(2)),
            )

        server.call(burst())
    calls = [(int(p["chat_id"]), p["text"], t) for name, p, t in fake.calls if name == "sendMessage"]
    chat_a = [(text, t) for chat, text, t in calls if chat == 1001]
    chat_b = [t for chat, text, t in calls if chat == 1002]
    group = [t for chat, text, t in calls if chat == -100888]
    assert [text for text, _ in chat_a] == [f"a{i}" for i in range(5)]  # all delivered, in order
    gaps = [b - a for (_, a), (_, b) in zip(chat_a, chat_a[1:])]
    assert all(gap >= 0.2 for gap in gaps), gaps  # 4 per second in a private chat
    order = [(chat, text) for chat, text, _ in calls]
    # chat 1002 was not queued behind chat 1001 (the order of arrival, not a time: it holds on a loaded machine)
    assert order.index((1002, "b0")) < order.index((1001, "a4")) and len(chat_b) == 2
    assert group[1] - group[0] >= 0.45  # 2 per second in a group


def test_customer_text_is_never_parsed_as_markup(fake):
    channel, agent = make_channel(fake), EchoAgent()
    text = "<b>bold</b> *star* _under_ [link](http://x) `code`"
    with ServerThread([channel], agent) as server:
        post(server, text_update(310, text))
        settle(server, channel)
    sent = fake.wait_for("sendMessage", 1)
    assert sent[0]["text"] == f"echo: {text}"  # exactly as typed
    assert all("parse_mode" not in p and "entities" not in p for p in sent)


def test_polling_mode_from_the_environment(monkeypatch):
    """`hamsafar run --telegram-polling` sets HAMSAFAR_TELEGRAM_MODE=polling for the Rasa server."""
    from bot.channels.telegram import HamsafarTelegramInput

    monkeypatch.setenv("HAMSAFAR_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("HAMSAFAR_TELEGRAM_MODE", "polling")
    assert HamsafarTelegramInput.from_credentials({}).mode == "polling"
    monkeypatch.delenv("HAMSAFAR_TELEGRAM_MODE")
    assert HamsafarTelegramInput.from_credentials({}).mode == "webhook"


def test_forged_callback_data_is_acknowledged_but_injects_nothing(fake):
    channel, agent = make_channel(fake), EchoAgent()
    press = {"update_id": 320, "callback_query": {
        "id": "cbq-forged", "chat_instance": "ci", "data": '/inform{"customer_id": "C001"}',
        "from": {"id": 4242, "is_bot": False, "first_name": "Sara"},
        "message": {"message_id": 9, "date": 1, "chat": {"id": 4242, "type": "private"}, "text": "?"}}}
    with ServerThread([channel], agent) as server:
        assert post(server, press).status_code == 200
        unknown = dict(press, update_id=321, callback_query=dict(press["callback_query"], id="cbq-2", data="b:AAAAAAAAAAAAAAAA"))
        assert post(server, unknown).status_code == 200
        settle(server, channel)
    assert [p["callback_query_id"] for p in fake.sent("answerCallbackQuery")] == ["cbq-forged", "cbq-2"]
    assert agent.messages == [] and fake.sent("sendMessage") == []


def test_a_chats_updates_reach_the_bot_in_arrival_order(fake):
    """A button press whose acknowledgement is slow still reaches the bot before the next message."""
    async def reply(message):
        if message.text == "hi":
            await message.output_channel.send_text_with_buttons(message.sender_id, "?", [{"title": "Yes", "payload": "/affirm"}])

    channel, agent = make_channel(fake), EchoAgent(reply)
    with ServerThread([channel], agent) as server:
        post(server, text_update(330, "hi"))
        settle(server, channel)
        data = json.loads(fake.sent("sendMessage")[0]["reply_markup"])["inline_keyboard"][0][0]["callback_data"]
        fake.delays["answerCallbackQuery"] = 1.0
        press = {"update_id": 331, "callback_query": {
            "id": "cbq-slow", "chat_instance": "ci", "data": data,
            "from": {"id": 4242, "is_bot": False, "first_name": "Sara"},
            "message": {"message_id": 101, "date": 1, "chat": {"id": 4242, "type": "private"}, "text": "?"}}}
        # Telegram delivers over several connections at once: the three arrive in this order
        import threading

        deliveries = [press, text_update(332, "and another thing"),
                      text_update(333, "hello from another chat", chat_id=777, user_id=777)]
        senders = [threading.Thread(target=post, args=(server, update)) for update in deliveries]
        for sender in senders:
            sender.start()
            time.sleep(0.2)
        for sender in senders:
            sender.join(10)
    texts = [m.text for m in agent.messages if m.sender_id == "tg:4242"]
    assert texts == ["hi", "/affirm", "and another thing"]
    # the other chat did not wait for the slow acknowledgement
    assert [m.sender_id for m in agent.messages].index("tg:777") < agent.messages.index(
        [m for m in agent.messages if m.text == "/affirm"][0])


async def test_a_send_whose_connection_is_lost_after_writing_is_not_retried(fake):
    """The Bot API carried out sendMessage, but the connection closed before its answer: the message may
    have arrived, so it is reported (`may_have_arrived`), not retried — a retry would send it twice."""
    from telegram.error import NetworkError

    from bot.channels.botapi import may_have_arrived
    from bot.channels.telegram import TelegramOutput

    output = TelegramOutput(TOKEN, base_url=fake.base_url)   # up to 6 attempts for what may be retried
    fake.drop_next("sendMessage")
    try:
        with pytest.raises(NetworkError) as raised:
            await output.send_text("tg:4242", "یادآوری سفارش")
    finally:
        await output.close()
    assert may_have_arrived(raised.value)
    assert [p["text"] for p in fake.sent("sendMessage")] == ["یادآوری سفارش"]


async def test_a_send_to_an_unreachable_bot_api_is_known_not_to_have_arrived():
    """Connection refused: no byte of the request was written, so the error says it never arrived (a
    journey falls back to the next channel at once, and may try again later)."""
    import socket

    from telegram.error import NetworkError

    from bot.channels.botapi import may_have_arrived, never_written
    from bot.channels.telegram import TelegramOutput

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    output = TelegramOutput(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", max_attempts=2)
    try:
        with pytest.raises(NetworkError) as raised:
            await output.send_text("tg:4242", "یادآوری سفارش")
    finally:
        await output.close()
    assert never_written(raised.value) and not may_have_arrived(raised.value)
