"""Website widget channel: validation, history across reloads/restarts, live push, browser."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes.channel_server import EchoAgent, ServerThread  # noqa: E402

SESSION = "sess_" + "a1b2c3d4e5f6a7b8"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'web.db'}")
    yield


def web(**kwargs):
    from bot.channels.web import WebInput

    return WebInput(**kwargs)


def count_rows():
    from bot import schema
    from bot.channels.models import WebMessage

    with schema.session() as session:
        return session.query(WebMessage).count()


def post(server, body, raw=None):
    url = f"{server.url}/webhooks/web/messages"
    if raw is not None:
        return httpx.post(url, content=raw, headers={"Content-Type": "application/json"}, timeout=10)
    return httpx.post(url, json=body, timeout=10)


def only_conversation():
    """The one conversation key of this test's database (web:<key> is its Rasa conversation)."""
    from bot.channels.models import WebMessage
    from bot.db import session_scope

    with session_scope() as session:
        [key] = {row.session_id for row in session.query(WebMessage).all()}
    return key


def wait_history(server, session_id, count, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        messages = httpx.get(f"{server.url}/webhooks/web/history", params={"session_id": session_id}).json()["messages"]
        if len(messages) >= count:
            return messages
        time.sleep(0.05)
    return messages


def test_validation_errors_write_nothing():
    channel, agent = web(), EchoAgent()
    cases = [
        (None, b"{not json", 400, "malformed_json"),
        (None, b"[1, 2]", 400, "malformed_json"),
        (None, b'{"session_id": "' + SESSION.encode() + b'", "text": "\xff\xfe bad"}', 400, "invalid_utf8"),
        ({"text": "سلام"}, None, 400, "invalid_session_id"),
        ({"session_id": 12345678901234567, "text": "سلام"}, None, 400, "invalid_session_id"),
        ({"session_id": "short", "text": "سلام"}, None, 400, "invalid_session_id"),
        ({"session_id": "../../etc/passwd/xxxxxxxx", "text": "سلام"}, None, 400, "invalid_session_id"),
        ({"session_id": SESSION}, None, 400, "invalid_text"),
        ({"session_id": SESSION, "text": 42}, None, 400, "invalid_text"),
        ({"session_id": SESSION, "text": "   \n\t "}, None, 400, "empty_text"),
        ({"session_id": SESSION, "text": "\u200c\u064b\ufeff"}, None, 400, "empty_text"),   # ZWNJ, a vowel mark, BOM
        ({"session_id": SESSION, "text": "س" * 4001}, None, 413, "text_too_long"),
        ({"session_id": SESSION, "payload": "/affirm"}, None, 400, "unknown_payload"),
        (None, b'{"session_id": "' + SESSION.encode() + b'", "text": "\\ud800"}', 400, "invalid_utf8"),
    ]
    with ServerThread([channel], agent) as server:
        for body, raw, status, code in cases:
            response = post(server, body, raw)
            assert response.status_code == status, (body, raw, response.text)
            assert response.json()["error"] == code
        assert post(server, {"session_id": SESSION, "text": "س" * 4000}).status_code == 200
        server.call(channel.drain())
    assert count_rows() == 2  # only the valid message and its echo
    assert len(agent.messages) == 1


def test_history_survives_reload_and_restart():
    channel, agent = web(), EchoAgent()
    with ServerThread([channel], agent) as server:
        assert post(server, {"session_id": SESSION, "text": "سلام، سفارشم کجاست؟"}).json()["message"]["seq"] == 1
        messages = wait_history(server, SESSION, 2)
        assert [(m["seq"], m["sender"], m["text"]) for m in messages] == [
            (1, "customer", "سلام، سفارشم کجاست؟"), (2, "bot", "echo: سلام، سفارشم کجاست؟")]
    assert agent.messages[0].sender_id == f"web:{SESSION}" and agent.messages[0].input_channel == "web"
    with ServerThread([web()], EchoAgent()) as server:  # a restarted server, the same database
        messages = wait_history(server, SESSION, 2)
        assert [m["seq"] for m in messages] == [1, 2]
        after = httpx.get(f"{server.url}/webhooks/web/history", params={"session_id": SESSION, "after": 1}).json()
        assert [m["seq"] for m in after["messages"]] == [2] and after["last_seq"] == 2
        other = httpx.get(f"{server.url}/webhooks/web/history", params={"session_id": "b" * 32}).json()
        assert other["messages"] == []


def _read_events(url, headers, stop_after, timeout=10):
    events, current = [], {}
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and current:
                events.append(current)
                current = {}
                if len([e for e in events if "id" in e]) >= stop_after:
                    break
    return events


def test_live_push_and_reconnect_without_loss_or_duplicates():
    from bot.channels.base import send_proactive
    from bot.channels.web import send_agent_message

    channel, agent = web(), EchoAgent()
    with ServerThread([channel], agent) as server:
        url = f"{server.url}/webhooks/web/events?session_id={SESSION}&after=0"
        got = []
        reader = threading.Thread(target=lambda: got.extend(_read_events(url, {}, 3)))
        reader.start()
        time.sleep(0.5)
        post(server, {"session_id": SESSION, "text": "hello"})  # seq 1 customer, seq 2 bot echo
        time.sleep(0.3)
        assert server.call(send_agent_message(f"web:{SESSION}", "Agent Mina here"))  # seq 3, pushed live
        reader.join(10)
        assert [(e["id"], e["data"]["sender"]) for e in got if "id" in e] == [(1, "customer"), (2, "bot"), (3, "agent")]
        # connection dropped; meanwhile a bot-initiated message is written
        assert server.call(send_proactive(f"web:{SESSION}", "سبد خریدتان منتظر شماست"))  # seq 4
        # EventSource reconnects with Last-Event-ID: 3 (its URL still says after=0)
        again = _read_events(url, {"Last-Event-ID": "3"}, 1)
        assert [(e["id"], e["data"]["text"]) for e in again if "id" in e] == [(4, "سبد خریدتان منتظر شماست")]
    assert [e for e in got if e.get("event") == "typing"]  # typing indicator events were pushed


def test_button_payloads_and_rate_limit():
    async def reply(message):
        await message.output_channel.send_text_with_buttons(
            message.sender_id, "کدام؟", [{"title": "بله", "payload": "/affirm"}, {"title": "خیر", "payload": "/deny"}])

    channel, agent = web(rate_burst=3, rate_per_seconds=60), EchoAgent(reply)
    with ServerThread([channel], agent) as server:
        post(server, {"session_id": SESSION, "text": "/inform{\"customer_id\": \"C1\"}"})
        messages = wait_history(server, SESSION, 2)
        assert messages[1]["buttons"][0] == {"title": "بله", "payload": "/affirm"}
        pressed = post(server, {"session_id": SESSION, "payload": "/affirm", "title": "بله"})
        assert pressed.status_code == 200 and pressed.json()["message"]["text"] == "بله"
        assert post(server, {"session_id": SESSION, "text": "third"}).status_code == 200
        limited = post(server, {"session_id": SESSION, "text": "fourth"})
        assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
        assert "Retry-After" in limited.headers
        assert post(server, {"session_id": "c" * 20, "text": "other session"}).status_code == 200
        server.call(channel.drain())
    assert not agent.messages[0].text.startswith("/")  # typed intent syntax is neutralised
    assert agent.messages[1].text == "/affirm"  # a button the bot offered is passed as its payload


def test_signed_identity_passed_to_identity_module(monkeypatch):
    import types

    try:
        import bot.identity.verification as identity
    except ImportError:
        identity = types.ModuleType("bot.identity.verification")
        monkeypatch.setitem(sys.modules, "bot.identity.verification", identity)
    calls = []

    def verify(conversation_id, customer_id, expires, signature, **kwargs):
        calls.append((conversation_id, customer_id, expires, signature))
        return types.SimpleNamespace(ok=signature == "good", status="verified" if signature == "good" else "invalid_signature")

    monkeypatch.setattr(identity, "verify_web_identity", verify, raising=False)
    channel, agent = web(), EchoAgent()
    with ServerThread([channel], agent) as server:
        post(server, {"session_id": SESSION, "text": "hi", "identity": {"customer_id": "C7", "expires": "1", "signature": "bad"}})
        post(server, {"session_id": SESSION, "text": "hi", "identity": {"customer_id": "C7", "expires": "1", "signature": "good"}})
        server.call(channel.drain())
    assert calls[0] == (f"web:{SESSION}", "C7", "1", "bad")
    assert agent.messages[0].metadata["web_identity"]["verified"] is False
    assert agent.messages[1].metadata["web_identity"] == {"customer_id": "C7", "verified": True, "status": "verified"}


def test_demo_page_and_widget_served():
    with ServerThread([web()], EchoAgent()) as server:
        page = httpx.get(f"{server.url}/webhooks/web/demo")
        assert page.status_code == 200 and 'dir="rtl"' in page.text and 'lang="fa"' in page.text
        assert page.text.count('<script src="widget.js"') == 1
        js = httpx.get(f"{server.url}/webhooks/web/widget.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert "innerHTML" not in js.text and "insertAdjacentHTML" not in js.text
        assert httpx.get(f"{server.url}/webhooks/web/widget.css").status_code == 200


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")
def test_browser_widget_persian_rtl_and_no_html_injection():
    from playwright.sync_api import sync_playwright

    async def reply(message):
        if message.text.startswith("سلام"):
            await message.output_channel.send_text_with_buttons(
                message.sender_id, "سلام! به همسفر خوش آمدید. چه کمکی از دستم برمی‌آید؟",
                [{"title": "پیگیری سفارش", "payload": "/track_order"}])
        else:
            await message.output_channel.send_text_message(message.sender_id, f"گفتید: {message.text}")

    ARTIFACTS.mkdir(exist_ok=True)
    channel, agent = web(), EchoAgent(reply)
    with ServerThread([channel], agent) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 800}, locale="fa-IR")
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{server.url}/webhooks/web/demo")
            page.get_by_role("button", name="گفتگو با دستیار فروشگاه").click()
            box = page.get_by_label("پیام شما")
            box.fill("سلام، گوشی سامسونگ دارید؟")
            box.press("Enter")
            reply_bubble = page.locator(".hs-msg.hs-bot").first
            reply_bubble.wait_for(timeout=10000)
            assert "خوش آمدید" in reply_bubble.inner_text()
            widget = page.locator(".hamsafar-widget")
            assert widget.get_attribute("dir") == "rtl"
            assert reply_bubble.locator(".hs-text").evaluate("e => getComputedStyle(e).direction") == "rtl"
            assert page.locator(".hs-log").get_attribute("aria-live") == "polite"
            assert "Vazirmatn" in widget.evaluate("e => getComputedStyle(e).fontFamily")  # Persian font stack
            page.screenshot(path=str(ARTIFACTS / "web_widget_persian.png"))

            attack = '<img src=x onerror="window.__pwned=1;alert(1)">'
            box.fill(attack)
            page.get_by_role("button", name="ارسال").click()
            page.locator(".hs-msg.hs-bot").nth(1).wait_for(timeout=10000)
            customer = page.locator(".hs-msg.hs-customer .hs-text").nth(1)
            assert customer.inner_text() == attack  # shown as text
            assert page.locator(".hs-log img").count() == 0  # never parsed as HTML
            assert page.evaluate("window.__pwned") is None and dialogs == []
            page.screenshot(path=str(ARTIFACTS / "web_widget_injection_as_text.png"))

            page.get_by_role("button", name="پیگیری سفارش").click()  # a bot button
            page.locator(".hs-msg.hs-bot").nth(2).wait_for(timeout=10000)

            page.reload()  # history survives the reload (the session cookie)
            page.locator(".hs-msg").nth(5).wait_for(timeout=10000)
            seqs = page.locator(".hs-msg").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
            assert seqs == [1, 2, 3, 4, 5, 6]  # in order, none duplicated
            page.screenshot(path=str(ARTIFACTS / "web_widget_after_reload.png"))
        finally:
            browser.close()
    assert agent.messages[2].text == "/track_order"


BROWSER_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def _seqs(page):
    return page.locator(".hs-msg").evaluate_all("els => els.map(e => Number(e.dataset.seq))")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")
def test_browser_widget_keyboard_screen_reader_phone_live_push_and_reconnect():
    """Keyboard only, accessible names, a phone-sized screen, mixed-direction text, bot- and
    agent-initiated messages pushed live, and a dropped connection (server restart) that
    loses and duplicates nothing."""
    from playwright.sync_api import sync_playwright

    from bot.channels.base import send_proactive
    from bot.channels.web import append_message, send_agent_message

    async def reply(message):
        await message.output_channel.send_text_message(
            message.sender_id, "گوشی Samsung Galaxy A55 موجود است؛ قیمت ۲۸٬۹۰۰٬۰۰۰ تومان.")

    ARTIFACTS.mkdir(exist_ok=True)
    channel, agent = web(), EchoAgent(reply)
    server = ServerThread([channel], agent).__enter__()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            try:
                page = browser.new_page(viewport={"width": 360, "height": 640}, locale="fa-IR")
                page.goto(f"{server.url}/webhooks/web/demo")
                launcher = page.get_by_role("button", name="گفتگو با دستیار فروشگاه")
                launcher.wait_for()
                # keyboard only: Tab reaches the launcher, Enter opens, focus goes to the labelled box
                page.keyboard.press("Tab")
                assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "گفتگو با دستیار فروشگاه"
                page.keyboard.press("Enter")
                assert launcher.get_attribute("aria-expanded") == "true"
                assert page.evaluate("document.activeElement.id") == page.get_by_label("پیام شما").get_attribute("id")
                page.keyboard.type("سلام")
                page.keyboard.press("Enter")
                bot_bubble = page.locator(".hs-msg.hs-bot .hs-text").first
                bot_bubble.wait_for(timeout=10000)
                # screen reader: the log announces additions politely; every control has a name
                log = page.get_by_role("log", name="گفتگو")
                assert log.get_attribute("aria-live") == "polite"
                assert page.get_by_role("dialog", name="همسفر، دستیار فروشگاه").is_visible()
                assert page.get_by_role("button", name="ارسال").is_visible()
                assert page.get_by_role("button", name="بستن گفتگو").is_visible()
                # mixed text: a Persian sentence with a Latin product name stays right-to-left
                assert bot_bubble.evaluate("e => getComputedStyle(e).direction") == "rtl"
                # fits the phone: the panel is inside the viewport and nothing scrolls sideways
                box = page.locator(".hs-panel").bounding_box()
                assert box["x"] >= 0 and box["y"] >= 0
                assert box["x"] + box["width"] <= 360 and box["y"] + box["height"] <= 640
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
                send_box = page.get_by_role("button", name="ارسال").bounding_box()
                assert send_box["x"] + send_box["width"] <= 360 and send_box["height"] >= 44  # a finger-sized target
                assert page.evaluate("window.Hamsafar.session") is None  # the token is no page variable
                session = only_conversation()  # the conversation the widget's (HttpOnly) session opened
                # pushed live, without reloading: a bot-initiated message, then an agent (English: ltr)
                assert server.call(send_proactive(f"web:{session}", "سبد خریدتان هنوز منتظر شماست."))
                page.locator(".hs-msg.hs-bot", has_text="سبد خرید").wait_for(timeout=10000)
                assert server.call(send_agent_message(f"web:{session}", "Hi, this is Mina from support."))
                agent_text = page.locator(".hs-msg.hs-agent .hs-text").first
                agent_text.wait_for(timeout=10000)
                assert agent_text.evaluate("e => getComputedStyle(e).direction") == "ltr"
                page.screenshot(path=str(ARTIFACTS / "web_widget_phone_live_push.png"))
                assert _seqs(page) == [1, 2, 3, 4]

                # the connection drops: the server stops; meanwhile a message is written
                server.__exit__(None, None, None)
                page.locator(".hs-status").filter(has_text="اتصال").wait_for(timeout=20000)
                append_message(session, "bot", "پیامی که هنگام قطع اتصال نوشته شد.")  # seq 5
                server = ServerThread([web()], EchoAgent(reply), port=server.port).__enter__()
                page.locator(".hs-msg", has_text="هنگام قطع اتصال").wait_for(timeout=40000)
                assert server.call(send_proactive(f"web:{session}", "و این یکی پس از اتصال دوباره."))  # seq 6
                page.locator(".hs-msg", has_text="پس از اتصال دوباره").wait_for(timeout=10000)
                assert _seqs(page) == [1, 2, 3, 4, 5, 6]  # nothing lost, nothing twice
                page.screenshot(path=str(ARTIFACTS / "web_widget_after_reconnect.png"))

                # Escape closes the panel and gives focus back to the launcher
                page.get_by_label("پیام شما").focus()
                page.keyboard.press("Escape")
                assert page.locator(".hs-panel").is_hidden()
                assert launcher.get_attribute("aria-expanded") == "false"
                assert page.evaluate("document.activeElement.classList.contains('hs-launcher')")
            finally:
                browser.close()
    finally:
        server.__exit__(None, None, None)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")
def test_browser_widget_english_ltr_with_buttons():
    from playwright.sync_api import sync_playwright

    async def reply(message):
        if message.text == "/track_order":
            await message.output_channel.send_text_message(message.sender_id, "Your order number, please?")
        else:
            await message.output_channel.send_text_with_buttons(
                message.sender_id, "Hello! How can I help?", [{"title": "Track my order", "payload": "/track_order"},
                                                              {"title": "Talk to a person", "payload": "/request_human"}])

    ARTIFACTS.mkdir(exist_ok=True)
    channel, agent = web(), EchoAgent(reply)
    with ServerThread([channel], agent) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
            page.goto(f"{server.url}/webhooks/web/demo?lang=en")
            page.get_by_role("button", name="Chat with the shop assistant").click()
            widget = page.locator(".hamsafar-widget")
            assert widget.get_attribute("dir") == "ltr" and widget.get_attribute("lang") == "en"
            box = page.get_by_label("Your message")
            box.fill("Hi, do you sell Samsung phones?")
            box.press("Enter")
            greeting = page.locator(".hs-msg.hs-bot .hs-text").first
            greeting.wait_for(timeout=10000)
            assert greeting.inner_text() == "Hello! How can I help?"
            assert greeting.evaluate("e => getComputedStyle(e).direction") == "ltr"
            assert "Vazirmatn" not in widget.evaluate("e => getComputedStyle(e).fontFamily")
            page.get_by_role("button", name="Track my order").click()
            page.locator(".hs-msg.hs-bot", has_text="order number").wait_for(timeout=10000)
            texts = page.locator(".hs-msg .hs-text").all_inner_texts()
            assert texts == ["Hi, do you sell Samsung phones?", "Hello! How can I help?", "Track my order",
                             "Your order number, please?"]
            page.screenshot(path=str(ARTIFACTS / "web_widget_english.png"))
        finally:
            browser.close()
    assert [m.text for m in agent.messages] == ["Hi, do you sell Samsung phones?", "/track_order"]
