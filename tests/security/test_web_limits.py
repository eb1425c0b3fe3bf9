"""The widget's limits and lost messages (issue 17, web parts of findings 9 and 11).

Real Sanic handlers on 127.0.0.1, real SQLite (PostgreSQL for the blocked-query test, which
needs a lock that stops readers), Debian's chromium for the widget. Each test fails on the
code before: the rate limit was keyed by the client-chosen session id alone and forgot every
bucket at 50,000 entries; event streams read the database on the event loop and had no cap;
a message whose handling failed was answered 200 and lost.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List

import httpx
import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakes.channel_server import EchoAgent, ServerThread  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'web-limits.db'}")
    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
    yield
    from bot.db import dispose_engines

    dispose_engines()


def _web(**kwargs: Any) -> Any:
    from bot.channels.web import WebInput

    return WebInput(**kwargs)


def _post(server: ServerThread, session: str, text: str = "سلام", headers: Any = None) -> httpx.Response:
    return httpx.post(f"{server.url}/webhooks/web/messages", json={"session_id": session, "text": text},
                      headers=headers or {}, timeout=15)


# ------------------------------------------------------------------ rate limits (finding 9)
def test_new_session_ids_do_not_escape_the_limit_of_one_address() -> None:
    channel = _web(rate_burst=100, address_burst=5, address_per_seconds=60)
    with ServerThread([channel], EchoAgent()) as server:
        codes = [_post(server, f"rotating_session_{i:04d}").status_code for i in range(8)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
        # a spoofed X-Forwarded-For does not help: no proxy is trusted (SANIC_PROXIES_COUNT unset)
        assert _post(server, "rotating_session_9999", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429


def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit() -> None:
    channel = _web(rate_burst=100, address_burst=3, address_per_seconds=60)
    with ServerThread([channel], EchoAgent()) as server:
        server.app.config.PROXIES_COUNT = 1  # Sanic's setting (SANIC_PROXIES_COUNT), as docs/handoff.md
        alice = {"X-Forwarded-For": "198.51.100.7"}
        bob = {"X-Forwarded-For": "198.51.100.8"}
        assert [_post(server, f"alice_session_{i:06d}", headers=alice).status_code for i in range(4)] == [200] * 3 + [429]
        assert _post(server, "bob_session_0000001", headers=bob).status_code == 200


def test_one_conversation_is_limited_too() -> None:
    channel = _web(rate_burst=2, rate_per_seconds=60, address_burst=100)
    with ServerThread([channel], EchoAgent()) as server:
        assert [_post(server, "one_busy_session_01").status_code for _ in range(3)] == [200, 200, 429]
        assert _post(server, "another_session_0001").status_code == 200


def test_the_limiter_is_bounded_and_an_active_abuser_stays_limited() -> None:
    from bot.channels.web._limits import RateLimiter

    limiter = RateLimiter(burst=1, per_seconds=3600)
    assert limiter.allow("abuser") is None and limiter.allow("abuser") is not None
    for i in range(60000):  # far past the old "forget everything at 50,000"
        limiter.allow(f"k{i}")
        if i % 500 == 0:
            assert limiter.allow("abuser") is not None, f"forgotten after {i} other keys"
    assert len(limiter.state) <= 20000  # the default bound


# ------------------------------------------------------------------ event streams (finding 9)
def _open_stream(url: str, into: List[int]) -> threading.Thread:
    def run() -> None:
        try:
            with httpx.stream("GET", url, timeout=20) as reply:
                into.append(reply.status_code)
                for _ in reply.iter_lines():
                    pass
        except httpx.HTTPError:
            pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_live_connections_are_capped_per_address_and_overall() -> None:
    channel = _web(streams_per_address=2, streams_total=3, sse_lifetime=3, address_burst=100)
    with ServerThread([channel], EchoAgent()) as server:
        statuses: List[int] = []
        for i in range(2):
            _open_stream(f"{server.url}/webhooks/web/events?session_id=stream_session_{i:05d}", statuses)
        deadline = time.monotonic() + 10
        while len(statuses) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        third = httpx.get(f"{server.url}/webhooks/web/events", params={"session_id": "stream_session_00009"}, timeout=10)
        assert statuses == [200, 200] and third.status_code == 429 and third.json()["error"] == "rate_limited"
        server.app.config.PROXIES_COUNT = 1
        other = {"X-Forwarded-For": "198.51.100.20"}
        with httpx.stream("GET", f"{server.url}/webhooks/web/events", params={"session_id": "stream_session_00010"},
                          headers=other, timeout=10) as reply:
            assert reply.status_code == 200  # the third overall
            fourth = httpx.get(f"{server.url}/webhooks/web/events", params={"session_id": "stream_session_00011"},
                               headers={"X-Forwarded-For": "198.51.100.21"}, timeout=10)
            assert fourth.status_code == 429  # over the total
        time.sleep(3.5)  # the streams end (sse_lifetime): the slots are free again
        assert httpx.get(f"{server.url}/webhooks/web/history", params={"session_id": "stream_session_00009"}).status_code == 200
        assert channel._streams == {}


def test_an_event_stream_waiting_on_the_database_does_not_stop_the_server(
        fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A locked table (a slow or blipping database) holds the stream's query; every other request still answers."""
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", fresh_postgres_url)
    from bot.channels.web import append_message

    append_message("locked_stream_session", "bot", "سلام")
    channel = _web(poll_interval=0.2)
    with ServerThread([channel], EchoAgent()) as server:
        assert httpx.get(f"{server.url}/webhooks/web/history", params={"session_id": "locked_stream_session"}).status_code == 200
        engine = sa.create_engine(fresh_postgres_url, future=True)
        with engine.connect() as conn:
            transaction = conn.begin()
            conn.execute(sa.text("LOCK TABLE web_messages IN ACCESS EXCLUSIVE MODE"))
            statuses: List[int] = []
            _open_stream(f"{server.url}/webhooks/web/events?session_id=locked_stream_session", statuses)
            time.sleep(1.0)  # the stream is now waiting for the lock
            started = time.monotonic()
            health = httpx.get(f"{server.url}/webhooks/web/", timeout=10)
            waited = time.monotonic() - started
            time.sleep(0.5)
            transaction.rollback()
        engine.dispose()
        assert health.status_code == 200 and waited < 1.0, f"the server was blocked for {waited:.1f} s"


# ------------------------------------------------------------------ lost messages (finding 11)
def test_a_message_the_bot_could_not_handle_is_refused_not_lost() -> None:
    calls: List[str] = []

    async def flaky(message: Any) -> None:
        calls.append(message.text)
        if len(calls) == 1:
            raise RuntimeError("tracker store unavailable")
        await message.output_channel.send_text_message(message.sender_id, "دریافت شد")

    channel = _web()
    with ServerThread([channel], EchoAgent(flaky)) as server:
        failed = _post(server, "flaky_backend_session", "سفارش ۱۰۰۲ کجاست؟")
        assert failed.status_code == 503 and failed.json() == {
            "ok": False, "error": "processing_failed",
            "detail": "the message could not be handled; nothing was kept, please send it again"}
        history = httpx.get(f"{server.url}/webhooks/web/history", params={"session_id": "flaky_backend_session"}).json()
        assert history["messages"] == []  # refused: nothing half-kept
        again = _post(server, "flaky_backend_session", "سفارش ۱۰۰۲ کجاست؟")
        assert again.status_code == 200
        texts = [m["text"] for m in httpx.get(f"{server.url}/webhooks/web/history",
                                              params={"session_id": "flaky_backend_session"}).json()["messages"]]
        assert texts == ["سفارش ۱۰۰۲ کجاست؟", "دریافت شد"]
        assert calls == ["سفارش ۱۰۰۲ کجاست؟", "سفارش ۱۰۰۲ کجاست؟"]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")
@pytest.mark.parametrize("lang, expected", [
    ("fa", "پیام شما پردازش نشد. متن را نگه داشتیم؛ لطفاً دوباره بفرستید."),
    ("en", "Your message could not be processed. We kept the text; please send it again.")])
def test_the_widget_tells_the_customer_to_retry_and_keeps_the_text(lang: str, expected: str) -> None:
    from playwright.sync_api import sync_playwright

    failures = {"left": 1}

    async def flaky(message: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database blip")
        await message.output_channel.send_text_message(message.sender_id, "OK")

    ARTIFACTS.mkdir(exist_ok=True)
    with ServerThread([_web()], EchoAgent(flaky)) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless", "--disable-gpu"])
        try:
            page = browser.new_page(locale="fa-IR" if lang == "fa" else "en-US")
            page.goto(f"{server.url}/webhooks/web/demo?lang={lang}")
            page.locator(".hs-launcher").click()
            box = page.locator(".hs-input")
            text = "سفارشم کی می‌رسد؟" if lang == "fa" else "When does my order arrive?"
            box.fill(text)
            box.press("Enter")
            page.locator(".hs-status").filter(has_text=expected).wait_for(timeout=10000)
            assert box.input_value() == text  # kept for the retry
            assert page.locator(".hs-msg.hs-customer").count() == 0  # not shown as sent
            page.screenshot(path=str(ARTIFACTS / f"web_widget_retry_{lang}.png"))
            box.press("Enter")  # the retry goes through
            page.locator(".hs-msg.hs-bot", has_text="OK").wait_for(timeout=10000)
            assert page.locator(".hs-msg.hs-customer .hs-text").all_inner_texts() == [text]
        finally:
            browser.close()
