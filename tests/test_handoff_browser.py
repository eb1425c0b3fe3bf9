"""End to end on a real `hamsafar run`: a customer in the web widget and an agent in the console.

Needs a trained model in models/ whose config has `bot.handoff.policy.HandoffPolicy`
(and `bot.handoff.sentiment.SentimentAnalyzer`), the console in credentials.yml,
and Debian's chromium. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import tarfile
import time
from pathlib import Path

import httpx
import pytest

from tests.support.bot_server import PROJECT_ROOT, BotServer

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
PASSWORD = "correct horse battery"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def newest_model():
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def model_has_handoff_policy(path: Path) -> bool:
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            if member.name.lstrip("./") == "metadata.json":
                return b"HandoffPolicy" in archive.extractfile(member).read()
    return False


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    model = newest_model()
    if model is None:
        pytest.skip("no trained model in models/ (hamsafar train)")
    if not model_has_handoff_policy(model):
        pytest.skip("the newest model was trained without bot.handoff.policy.HandoffPolicy in config.yml")
    if "AgentConsoleInput" not in (PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8"):
        pytest.skip("credentials.yml lacks bot.handoff.console.AgentConsoleInput")
    tmp = tmp_path_factory.mktemp("handoff_e2e")
    url = f"sqlite:///{tmp / 'e2e.db'}"
    os.environ["HAMSAFAR_DATABASE_URL"] = url
    from bot.handoff import service

    service.create_agent("alice", PASSWORD, "agent", "Alice")
    service.create_agent("ana", PASSWORD, "analyst", "Ana")
    server = BotServer(url, _free_port(), _free_port(), tmp / "server.log", extra_env={
        "HAMSAFAR_HANDOFF_HOURS": "always", "HAMSAFAR_HANDOFF_DAYS_OFF": "", "HAMSAFAR_HANDOFF_CLAIM_TIMEOUT": "900"})
    server.start()
    try:
        yield server
    finally:
        server.stop()
        os.environ.pop("HAMSAFAR_DATABASE_URL", None)


def test_restart_typed_during_handoff_does_not_bring_the_bot_back(bot):
    reply = bot.send("restart-user", "میخوام با اپراتور صحبت کنم")
    assert any("صف" in m.get("text", "") for m in reply), reply
    assert bot.send("restart-user", "/restart") == []         # no restart, no bot answer
    assert bot.send("restart-user", "/session_start") == []
    assert bot.send("restart-user", "سلام") == []             # still with a person
    from bot.handoff import service

    assert service.open_handoff("rest:restart-user")["status"] == "waiting"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")
def test_customer_and_agent_in_the_browser(bot):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    attack = '<img src=x onerror="window.__pwned=1;alert(1)">'
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            customer = browser.new_context(viewport={"width": 420, "height": 820}, locale="fa-IR").new_page()
            agent = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            dialogs = []
            for page in (customer, agent):
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            # customer asks for a person
            customer.goto(f"{bot.base_url}/webhooks/web/demo")
            customer.get_by_role("button", name="گفتگو با دستیار فروشگاه").click()
            box = customer.get_by_label("پیام شما")
            box.fill("میخوام با اپراتور صحبت کنم")
            box.press("Enter")
            queued = customer.locator(".hs-msg.hs-bot").first
            queued.wait_for(timeout=30000)
            assert "صف" in queued.inner_text()
            bots_before = customer.locator(".hs-msg.hs-bot").count()
            box.fill(attack)
            box.press("Enter")
            customer.locator(".hs-msg.hs-customer").nth(1).wait_for(timeout=10000)
            customer.screenshot(path=str(ARTIFACTS / "handoff_customer_waiting.png"))

            # agent logs in, sees the queue, claims, reads the history
            agent.goto(f"{bot.base_url}/webhooks/handoff/console")
            agent.fill("#login-name", "alice")
            agent.fill("#login-password", PASSWORD)
            agent.click("#login-submit")
            agent.locator("#app-view").wait_for(state="visible", timeout=15000)
            assert agent.locator("#report-view").is_hidden()  # reports are for analysts and admins
            # the REST test of this module left its own conversation in the queue too
            item = agent.locator("#queue li", has_text="web").first
            item.wait_for(timeout=15000)
            item.click()
            agent.locator("#claim").click()
            agent.locator("#reply-form").wait_for(state="visible", timeout=15000)
            agent.locator("#transcript li.customer", has_text="اپراتور").first.wait_for(timeout=15000)
            agent.locator("#transcript li.customer", has_text="onerror").first.wait_for(timeout=15000)
            transcript = agent.locator("#transcript").inner_text()
            assert "request_human" in transcript and attack in transcript   # intents shown; the payload is text
            assert agent.locator("#transcript img").count() == 0
            assert agent.evaluate("window.__pwned") is None
            agent.screenshot(path=str(ARTIFACTS / "handoff_console_claimed.png"))

            # while handed off the customer's messages are recorded and appear live in the console
            box.fill("هنوز منتظرم، لطفاً زودتر")
            box.press("Enter")
            agent.locator("#transcript li.customer", has_text="هنوز منتظرم").wait_for(timeout=15000)
            assert agent.locator("#transcript li.customer", has_text="هنوز منتظرم").count() == 1

            # the bot stayed silent in the handed-off conversation
            time.sleep(2)  # a late bot reply would have arrived by now
            assert customer.locator(".hs-msg.hs-bot").count() == bots_before

            # agent replies; the customer sees it live
            agent.fill("#reply-text", "سلام، من آلیس هستم؛ سفارشتان را بررسی می‌کنم.")
            agent.click("#reply-send")
            customer.locator(".hs-msg.hs-agent", has_text="آلیس هستم").wait_for(timeout=15000)
            customer.screenshot(path=str(ARTIFACTS / "handoff_customer_sees_agent.png"))
            agent.locator("#transcript li.agent", has_text="آلیس هستم").wait_for(timeout=15000)

            # hand back; the bot answers the next message
            agent.click("#handback")
            customer.locator(".hs-msg", has_text="دستیار همسفر").last.wait_for(timeout=15000)
            bots_now = customer.locator(".hs-msg.hs-bot").count()
            box.fill("سلام")
            box.press("Enter")
            customer.locator(".hs-msg.hs-bot").nth(bots_now).wait_for(timeout=30000)
            customer.screenshot(path=str(ARTIFACTS / "handoff_bot_resumes.png"))
            agent.screenshot(path=str(ARTIFACTS / "handoff_console_handed_back.png"))
            assert dialogs == []

            # an analyst sees the aggregate report only: no queue, no transcript, no customer
            analyst = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
            analyst.goto(f"{bot.base_url}/webhooks/handoff/console")
            analyst.fill("#login-name", "ana")
            analyst.fill("#login-password", PASSWORD)
            analyst.click("#login-submit")
            analyst.locator("#report", has_text="total").wait_for(timeout=15000)
            assert analyst.locator("#app-view").is_hidden() and analyst.locator("#admin-box").is_hidden()
            report = analyst.locator("#report").inner_text()
            assert "web:" not in report and "rest:" not in report and "اپراتور" not in report
            analyst.screenshot(path=str(ARTIFACTS / "handoff_console_analyst.png"))
        finally:
            browser.close()
