"""Web sessions end (issue 17, finding 2).

Real Sanic handlers on 127.0.0.1 (tests/fakes/channel_server.py), the real identity module
against the demo shop's CRM in SQLite (and PostgreSQL when HAMSAFAR_TEST_POSTGRES_URL is set),
and Debian's chromium for the widget. Each test fails on the code before web sessions: the
widget kept its id in localStorage and on `window.Hamsafar.session`, nothing rotated or
expired, there was no /session or /logout, a second signed identity was ignored and any
origin was allowed.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conftest import postgres_url  # noqa: E402
from fakes.channel_server import EchoAgent, ServerThread  # noqa: E402

SECRET = "web-sessions-identity-secret-0123456789"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
DATABASES = ["sqlite"] + (["postgresql"] if postgres_url() else [])


@pytest.fixture(params=DATABASES)
def shop(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo shop (customers C001, C002) in a fresh database; the web identity secret set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'web-sessions.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)
    monkeypatch.setenv("HAMSAFAR_WEB_IDENTITY_SECRET", SECRET)
    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
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
    from bot.db import dispose_engines

    dispose_engines()


def identity(customer_id: str) -> Dict[str, Any]:
    from bot.identity.verification import web_identity_for

    return web_identity_for(customer_id, secret=SECRET)


def customer_of(conversation_key: str) -> Any:
    from bot.identity.verification import customer_for

    return customer_for(f"web:{conversation_key}")


def web_client(server: ServerThread) -> httpx.Client:
    """A client that keeps cookies, like the widget's browser."""
    return httpx.Client(base_url=f"{server.url}/webhooks/web", timeout=15)


def texts(client: httpx.Client, **params: Any) -> Any:
    reply = client.get("/history", params=params)
    return reply.status_code, [m["text"] for m in reply.json().get("messages", [])]


# ------------------------------------------------------------------ the token is a secret
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")
def test_the_widget_keeps_its_session_token_out_of_the_page(shop: str) -> None:
    from playwright.sync_api import sync_playwright

    with ServerThread([_web()], EchoAgent()) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(locale="fa-IR")
            page.goto(f"{server.url}/webhooks/web/demo")
            page.get_by_role("button", name="گفتگو با دستیار فروشگاه").click()
            page.get_by_label("پیام شما").fill("سلام")
            page.get_by_label("پیام شما").press("Enter")
            page.locator(".hs-msg.hs-bot").first.wait_for(timeout=10000)
            [cookie] = [c for c in page.context.cookies() if c["name"] == "hamsafar_web"]
            token = cookie["value"]
            assert cookie["httpOnly"] and len(token) >= 40
            readable = page.evaluate("""() => JSON.stringify({
                hamsafar: window.Hamsafar, cookie: document.cookie,
                local: Object.assign({}, localStorage), session: Object.assign({}, sessionStorage),
                globals: Object.keys(window).filter(k => /hamsafar/i.test(k))})""")
            assert token not in readable, readable
            assert page.evaluate("window.Hamsafar && window.Hamsafar.session") is None
            assert "hamsafar.session" not in page.evaluate("Object.keys(localStorage)")
        finally:
            browser.close()


def _web(**kwargs: Any) -> Any:
    from bot.channels.web import WebInput

    return WebInput(**kwargs)


def test_the_token_is_rotated_on_verification_and_the_old_one_opens_nothing(shop: str) -> None:
    channel = _web()
    with ServerThread([channel], EchoAgent()) as server, web_client(server) as client:
        old = "client_chosen_session_0001"
        first = client.post("/messages", json={"session_id": old, "text": "سلام"})
        assert first.status_code == 200 and "session_id" not in first.json()  # not verified: no rotation
        verified = client.post("/messages", json={"session_id": old, "text": "سفارشم", "identity": identity("C001")})
        assert verified.status_code == 200, verified.text
        new = verified.json()["session_id"]
        assert new != old
        assert customer_of(old) == "C001"  # the conversation (web:<first id>) goes on, verified
        assert texts(client, session_id=new) == (200, ["سلام", "echo: سلام", "سفارشم", "echo: سفارشم"])
        assert texts(client, session_id=old)[0] == 401
        refused = client.post("/messages", json={"session_id": old, "text": "still me?"})
        assert refused.status_code == 401 and refused.json()["error"] == "session_ended"
        # the widget's form: the cookie is rotated too
        client.post("/session", json={"lang": "fa"})
        before = client.cookies["hamsafar_web"]
        started = client.post("/session", json={"lang": "fa", "identity": identity("C002")})
        assert started.json()["verified"] is True
        after = client.cookies["hamsafar_web"]
        assert after != before
        with web_client(server) as stale:
            stale.cookies.set("hamsafar_web", before, domain="127.0.0.1", path="/webhooks/web")
            assert stale.get("/history").status_code == 401
        assert client.get("/history").status_code == 200


# ------------------------------------------------------------------ verified state expires
def test_verified_state_ends_after_the_idle_limit(shop: str) -> None:
    from bot.channels.web import SessionLimits

    agent = EchoAgent()
    channel = _web(limits=SessionLimits(verified_idle=dt.timedelta(seconds=2), verified_max=dt.timedelta(hours=1)))
    with ServerThread([channel], agent) as server, web_client(server) as client:
        assert client.post("/session", json={"lang": "fa", "identity": identity("C001")}).json()["verified"]
        assert client.post("/messages", json={"text": "سفارش ۱۰۰۲ کجاست؟"}).status_code == 200
        conversation = agent.messages[-1].sender_id
        assert customer_of(conversation[4:]) == "C001"
        time.sleep(1.2)
        assert client.post("/messages", json={"text": "هنوز هستم"}).status_code == 200  # activity: the clock restarts
        time.sleep(2.5)
        expired = client.post("/messages", json={"text": "و حالا؟"})
        assert expired.status_code == 401 and expired.json()["error"] == "session_expired"
        assert customer_of(conversation[4:]) is None  # the verification is gone, not just hidden
        # the widget starts again: a fresh conversation that asks to verify again, nothing of the old one
        again = client.post("/session", json={"lang": "fa"}).json()
        assert again == {"ok": True, "verified": False, "notice": "expired"}
        status, shown = texts(client)
        assert status == 200 and shown == ["نشست قبلی شما به پایان رسید. برای دیدن سفارش‌هایتان دوباره هویت خود را تأیید کنید."]
        assert client.post("/messages", json={"text": "سفارشم؟"}).status_code == 200
        fresh = agent.messages[-1].sender_id
        assert fresh != conversation and customer_of(fresh[4:]) is None  # a new tracker: no customer_id slot


def test_verified_state_ends_after_the_absolute_limit_even_when_active(shop: str) -> None:
    from bot.channels.web import SessionLimits

    channel = _web(limits=SessionLimits(verified_idle=dt.timedelta(hours=1), verified_max=dt.timedelta(seconds=2)))
    with ServerThread([channel], EchoAgent()) as server, web_client(server) as client:
        token = "absolute_limit_session_01"
        rotated = client.post("/messages", json={"session_id": token, "text": "hi", "identity": identity("C002")})
        token = rotated.json()["session_id"]
        deadline = time.monotonic() + 5
        codes = []
        while time.monotonic() < deadline and (not codes or codes[-1] == 200):
            codes.append(client.post("/messages", json={"session_id": token, "text": "still here"}).status_code)
            time.sleep(0.4)
        assert codes[-1] == 401 and codes.count(200) >= 3
        assert customer_of("absolute_limit_session_01") is None


def test_limits_come_from_credentials_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.channels.web import WebInput

    monkeypatch.setenv("HAMSAFAR_WEB_VERIFIED_IDLE_MINUTES", "5")
    channel = WebInput.from_credentials({"verified_max_hours": 2, "allowed_origins": "https://shop.example, https://m.shop.example"})
    assert channel.limits.verified_idle == dt.timedelta(minutes=5)
    assert channel.limits.verified_max == dt.timedelta(hours=2)
    assert channel.allowed_origins == ["https://shop.example", "https://m.shop.example"]
    monkeypatch.delenv("HAMSAFAR_WEB_VERIFIED_IDLE_MINUTES")
    defaults = WebInput.from_credentials({})
    assert (defaults.limits.verified_idle, defaults.limits.verified_max) == (dt.timedelta(minutes=30), dt.timedelta(hours=12))


# ------------------------------------------------------------------ forget me / log out
def test_logout_ends_the_session_on_the_server(shop: str) -> None:
    channel = _web()
    with ServerThread([channel], EchoAgent()) as server, web_client(server) as client:
        client.post("/session", json={"lang": "en", "identity": identity("C001")})
        assert client.post("/messages", json={"text": "where is order 1002?"}).status_code == 200
        old_token = client.cookies["hamsafar_web"]
        [conversation] = {m for m in _conversations()}
        assert customer_of(conversation) == "C001"
        out = client.post("/logout", json={})
        assert out.status_code == 200 and client.cookies["hamsafar_web"] != old_token
        assert customer_of(conversation) is None
        assert texts(client) == (200, [])  # a fresh, empty conversation
        with web_client(server) as stale:
            stale.cookies.set("hamsafar_web", old_token, domain="127.0.0.1", path="/webhooks/web")
            assert stale.get("/history").status_code == 401
            assert stale.post("/messages", json={"text": "again"}).status_code == 401


def _conversations() -> set:
    from bot.channels.models import WebMessage
    from bot.db import session_scope

    with session_scope() as session:
        return {row.session_id for row in session.query(WebMessage).all()}


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")
@pytest.mark.parametrize("lang, label, direction", [("fa", "خروج و فراموشی", "rtl"), ("en", "Forget me / log out", "ltr")])
def test_the_forget_me_button_clears_the_chat_for_the_next_visitor(shop: str, lang: str, label: str, direction: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with ServerThread([_web()], EchoAgent()) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(locale="fa-IR" if lang == "fa" else "en-US", viewport={"width": 360, "height": 640})
            page.goto(f"{server.url}/webhooks/web/demo?lang={lang}")
            page.locator(".hs-launcher").click()
            page.locator(".hs-input").fill("my secret order 1002")
            page.locator(".hs-input").press("Enter")
            page.locator(".hs-msg.hs-bot").first.wait_for(timeout=10000)
            [conversation] = _conversations()
            button = page.get_by_role("button", name=label)
            assert button.is_visible() and page.locator(".hamsafar-widget").get_attribute("dir") == direction
            assert button.bounding_box()["height"] >= 44
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            button.click()
            page.locator(".hs-status").filter(has_text="log" if lang == "en" else "خارج").wait_for(timeout=10000)
            assert page.locator(".hs-msg").count() == 0
            page.screenshot(path=str(ARTIFACTS / f"web_widget_forget_me_{lang}.png"))
            page.reload()  # the next visitor on this computer
            page.locator(".hs-log").wait_for(state="attached")
            time.sleep(1.5)
            assert "secret order" not in (page.locator(".hs-log").text_content() or "")
            # the conversation key opens nothing: it is no token (a dot is outside the token's alphabet)
            assert httpx.get(f"{server.url}/webhooks/web/history", params={"session_id": conversation}).status_code == 400
        finally:
            browser.close()


# ------------------------------------------------------------------ another customer signs in
def test_a_signed_identity_for_another_customer_starts_a_fresh_conversation(shop: str) -> None:
    agent = EchoAgent()
    with ServerThread([_web()], agent) as server, web_client(server) as client:
        client.post("/session", json={"lang": "fa", "identity": identity("C001")})
        assert client.post("/messages", json={"text": "سفارش علی"}).status_code == 200
        first = agent.messages[-1].sender_id
        first_token = client.cookies["hamsafar_web"]
        switched = client.post("/session", json={"lang": "fa", "identity": identity("C002")}).json()
        assert switched == {"ok": True, "verified": True, "notice": "replaced"}
        status, shown = texts(client)
        assert status == 200 and "سفارش علی" not in shown and len(shown) == 1  # only the notice
        assert client.post("/messages", json={"text": "سفارش سارا"}).status_code == 200
        second = agent.messages[-1].sender_id
        assert second != first and customer_of(second[4:]) == "C002" and customer_of(first[4:]) is None
        with web_client(server) as stale:
            stale.cookies.set("hamsafar_web", first_token, domain="127.0.0.1", path="/webhooks/web")
            assert stale.get("/history").status_code == 401
        # the API form: a message carrying the other customer's identity
        api = "api_identity_switch_0001"
        token = client.post("/messages", json={"session_id": api, "text": "a", "identity": identity("C001")}).json()["session_id"]
        moved = client.post("/messages", json={"session_id": token, "text": "b", "identity": identity("C002")})
        assert moved.status_code == 200 and moved.json()["session_id"] != token
        assert customer_of(agent.messages[-1].sender_id[4:]) == "C002" and agent.messages[-1].sender_id != f"web:{api}"
        assert texts(client, session_id=moved.json()["session_id"])[1][-2:] == ["b", "echo: b"]
        assert texts(client, session_id=token)[0] == 401


# ------------------------------------------------------------------ origins
def test_only_configured_origins_get_cors_and_may_post(shop: str) -> None:
    channel = _web(allowed_origins=["https://shop.example"])
    with ServerThread([channel, ], EchoAgent()) as server, web_client(server) as client:
        good = client.options("/messages", headers={"Origin": "https://shop.example"})
        assert good.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert good.headers["Access-Control-Allow-Credentials"] == "true"
        evil = client.options("/messages", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in evil.headers
        refused = client.post("/messages", json={"session_id": "origin_test_session_01", "text": "hi"},
                              headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403 and refused.json()["error"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert client.get("/history", params={"session_id": "origin_test_session_01"},
                          headers={"Origin": "https://evil.example"}).status_code == 403
        assert _conversations() == set()  # nothing stored
        ok = client.post("/messages", json={"session_id": "origin_test_session_01", "text": "hi"},
                         headers={"Origin": "https://shop.example"})
        assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        own = client.post("/messages", json={"session_id": "origin_test_session_01", "text": "from the demo page"},
                          headers={"Origin": server.url})
        assert own.status_code == 200  # the bot's own pages (the demo shop)
    with ServerThread([_web()], EchoAgent()) as server, web_client(server) as client:  # nothing configured
        reply = client.options("/messages", headers={"Origin": "https://shop.example"})
        assert "Access-Control-Allow-Origin" not in reply.headers
        assert client.post("/session", json={}, headers={"Origin": "https://shop.example"}).status_code == 403
    assert _web(allowed_origins="*").allowed_origins == []  # '*' is never honoured (credentials)


# ------------------------------------------------------------------ opaque references
def test_web_conversations_are_opaque_references_outside_the_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.touchpoints import privacy

    monkeypatch.setenv("HAMSAFAR_PSEUDONYM_KEY", "web-ref-test-key")
    ref = privacy.conversation_ref("web:w.secretconversationkey")
    assert ref.startswith("web:ref-") and "secretconversationkey" not in ref and privacy.is_conversation_ref(ref)
    assert privacy.conversation_ref("web:w.secretconversationkey") == ref == privacy.conversation_ref(ref)
    assert privacy.conversation_ref("web:w.another") != ref
    assert privacy.stored_conversation_ids(["web:w.secretconversationkey"]) == {"web:w.secretconversationkey", ref}


def test_the_agent_console_shows_a_reference_and_still_replies_to_the_right_conversation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_handoff_support import PASSWORD, FakeCRM, attach, console_server, login

    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'console.db'}")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_HOURS", "always")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", "")
    monkeypatch.setenv("HAMSAFAR_PSEUDONYM_KEY", "console-ref-test-key")
    crm = FakeCRM()
    import bot.crm.factory

    monkeypatch.setattr(bot.crm.factory, "get_crm", lambda *a, **k: crm)
    from bot.channels.web import append_message, history
    from bot.handoff import service

    service.create_agent("alice", PASSWORD, "agent", "Alice")
    key = "w.rawkeyofthewidget0123"
    append_message(key, "customer", "یک نفر کمکم کند")
    outcome = service.request_handoff(f"web:{key}", channel="web", language="fa", reason="requested")
    with console_server() as server:
        attach(server)
        alice = login(server, "alice")
        queue = alice.get("api/queue")
        assert queue.status_code == 200 and key not in queue.text and "web:ref-" in queue.text
        assert alice.post(f"api/handoffs/{outcome.handoff_id}/claim", json={}).status_code == 200
        view = alice.get(f"api/handoffs/{outcome.handoff_id}")
        assert key not in view.text and view.json()["handoff"]["conversation_id"].startswith("web:ref-")
        assert key not in alice.get(f"api/handoffs/{outcome.handoff_id}/customer").text
        sent = alice.post(f"api/handoffs/{outcome.handoff_id}/reply", json={"text": "سلام، مینا هستم"})
        assert sent.status_code == 200 and sent.json()["delivered"] is True and key not in sent.text
    assert [m["text"] for m in history(key) if m["sender"] == "agent"][-1] == "سلام، مینا هستم"
