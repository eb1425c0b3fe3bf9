"""End to end on a real `hamsafar run`: webhooks over HTTP, the background runner, the conversation.

* A WooCommerce `order.updated` webhook (the order now `shipped`, with its tracking
  meta) posted with a forged signature is refused; the signed one starts the
  shipping journey; the same body again (new delivery id) and the same delivery id
  change nothing. The server's runner sends the SMS through the Kavenegar protocol
  to the fake gateway, once.
* A customer chatting in the website widget (signed identity of C002) gets the
  shipping update from the REST backend's signed event in that same widget session,
  and the message is in the conversation's Rasa tracker with the journey metadata.
* The answers to a proactive message, through the real dialogue: «نه ممنون» gets
  the decline reply (that journey stops); "stop sending these" in the widget and
  by SMS opts the conversation out (the one consent record) and is confirmed —
  by SMS too, where the opt-out lets exactly that one confirmation through.

The journeys file is the shipped one with the sending window opened to all hours,
so the test does not depend on the time of day in Tehran.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any, Iterator

import httpx
import pytest
import sqlalchemy as sa

from bot.identity.verification import web_identity_for
from bot.touchpoints.privacy import conversation_ref
from tests.conftest import PROJECT_ROOT, free_port
from tests.fakes.sms_gateways import API_KEY, FakeSmsGateways
from tests.support.bot_server import BotServer

pytestmark = pytest.mark.skipif(
    not list((PROJECT_ROOT / "models").glob("*.tar.gz")),
    reason="no trained model: run `hamsafar setup` (scripts/test.sh does)",
)

WOO_SECRET = "woo-webhook-secret-server-test"
EVENTS_SECRET = "rest-events-secret-server-test"
WEB_SECRET = "journeys-server-web-secret"
SMS_INBOUND_SECRET = "journeys-server-kavenegar-inbound-secret-0123456789"


@pytest.fixture(scope="module")
def sms() -> Iterator[FakeSmsGateways]:
    with FakeSmsGateways() as gateways:
        yield gateways


@pytest.fixture(scope="module")
def bot(sms: FakeSmsGateways, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    folder = tmp_path_factory.mktemp("journeys-server")
    book = (PROJECT_ROOT / "orchestration.yml").read_text(encoding="utf-8")
    book = book.replace('send_window: {from: "09:00", to: "21:00"}', 'send_window: {from: "00:00", to: "24:00"}')
    book = book.replace("days_off: [fri]", "days_off: []")
    book = book.replace('holidays: ["01-01", "01-02", "01-03", "01-04", "01-12", "01-13"]', "holidays: []")
    assert "24:00" in book and "days_off: []" in book
    (folder / "orchestration.yml").write_text(book, encoding="utf-8")
    env = {"HAMSAFAR_JOURNEYS": "on", "HAMSAFAR_JOURNEYS_INTERVAL": "1",
           "HAMSAFAR_ORCHESTRATION_FILE": str(folder / "orchestration.yml"),
           "HAMSAFAR_WOOCOMMERCE_WEBHOOK_SECRET": WOO_SECRET, "HAMSAFAR_JOURNEY_EVENTS_SECRET": EVENTS_SECRET,
           "HAMSAFAR_WEB_IDENTITY_SECRET": WEB_SECRET,
           "HAMSAFAR_SMS_GATEWAY": "kavenegar", "HAMSAFAR_KAVENEGAR_API_KEY": API_KEY, "HAMSAFAR_OTP_PEPPER": "test-pepper-of-this-run",
           "HAMSAFAR_KAVENEGAR_BASE_URL": sms.url, "HAMSAFAR_KAVENEGAR_SENDER": "10004346",
           "HAMSAFAR_KAVENEGAR_INBOUND_SECRET": SMS_INBOUND_SECRET}
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


def woo_post(bot: BotServer, record: dict, secret: str = WOO_SECRET, delivery: str = "") -> httpx.Response:
    body = json.dumps(record, ensure_ascii=False).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return httpx.post(f"{bot.base_url}/webhooks/journeys/woocommerce", content=body, timeout=30, headers={
        "Content-Type": "application/json", "User-Agent": "WooCommerce/9.8.0 Hookshot (WordPress/6.8)",
        "X-WC-Webhook-Source": "https://shop.example.ir/", "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "updated", "X-WC-Webhook-Signature": signature,
        "X-WC-Webhook-ID": "3", "X-WC-Webhook-Delivery-ID": delivery or uuid.uuid4().hex})


def test_woocommerce_webhook_over_http_forged_valid_replayed_then_one_sms(bot: BotServer, sms: FakeSmsGateways) -> None:
    health = httpx.get(f"{bot.base_url}/webhooks/journeys/", timeout=10).json()
    assert health["status"] == "ok" and health["runner"] is True
    record = {
        "id": 7301, "status": "shipped", "currency": "IRT", "customer_id": 0, "total": "2950000",
        "date_created_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 86400)),
        "date_modified_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "billing": {"first_name": "Nima", "last_name": "Rad", "phone": "09127770001", "email": "nima@example.com"},
        "line_items": [{"id": 1, "name": "هدفون جی‌بی‌ال", "sku": "AUD-JBL-T520", "quantity": 1, "price": 2950000}],
        "meta_data": [{"id": 1, "key": "_tracking_number", "value": "TPX-88231"},
                      {"id": 2, "key": "_tracking_provider", "value": "تیپاکس"},
                      {"id": 3, "key": "hamsafar_language", "value": "fa"}],
    }
    forged = woo_post(bot, record, secret="not-the-secret")
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_signature"
    valid = woo_post(bot, record, delivery="delivery-1")
    assert valid.status_code == 200 and valid.json()["entered"] == 1, valid.text
    assert woo_post(bot, record, delivery="delivery-1").json()["duplicate"] is True
    assert woo_post(bot, record).json()["events"] == 0

    def ours():  # type: ignore[no-untyped-def]
        return [d for d in sms.delivered if d["to"] == "09127770001"]

    found = wait_for(ours, 30)
    assert len(found) == 1 and "TPX-88231" in found[0]["text"] and found[0]["text"].startswith("Nima عزیز")
    time.sleep(3)  # a few more runner passes: still once
    assert len(ours()) == 1


def test_rest_event_reaches_the_customer_in_the_open_web_widget(bot: BotServer) -> None:
    session = f"journeysession{uuid.uuid4().hex[:12]}"
    identity = web_identity_for("C002", secret=WEB_SECRET)
    sent = httpx.post(f"{bot.base_url}/webhooks/web/messages", timeout=30,
                      json={"session_id": session, "text": "hello", "identity": identity})
    assert sent.status_code == 200, sent.text
    token = sent.json().get("session_id", session)   # the token is rotated when the signed identity verifies
    wait_for(lambda: [m for m in httpx.get(f"{bot.base_url}/webhooks/web/history", params={"session_id": token},
                                           timeout=10).json()["messages"] if m["sender"] == "bot"], 60)
    order = {"order_id": "910001", "customer_id": "C002", "status": "shipped", "total": 7350000,
             "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400)),
             "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "tracking_code": "HMS-424242", "carrier": "پیک همسفر", "items": [{"sku": "ACC-ANK-PB", "quantity": 1}]}
    body = json.dumps({"type": "order.updated", "order": order}).encode()
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(EVENTS_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    answer = httpx.post(f"{bot.base_url}/webhooks/journeys/events", content=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Hamsafar-Timestamp": stamp, "X-Hamsafar-Signature": signature,
        "X-Hamsafar-Event-Id": f"evt-{session}"})
    assert answer.status_code == 200 and answer.json()["entered"] == 1, answer.text

    def update():  # type: ignore[no-untyped-def]
        messages = httpx.get(f"{bot.base_url}/webhooks/web/history", params={"session_id": token}, timeout=10).json()
        return [m for m in messages["messages"] if "HMS-424242" in m["text"]]

    [message] = wait_for(update, 30)
    assert message["sender"] == "bot" and message["text"].startswith("Hi Sara")
    engine = sa.create_engine(bot.database_url)

    def stored():  # type: ignore[no-untyped-def]
        """The message's turn in the tracker and its touchpoint (the widget may show it first)."""
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'bot'"),
                                {"s": f"web:{session}"}).scalars().all()
            touchpoint = conn.execute(sa.text(
                "SELECT actor, channel, journey, journey_step FROM touchpoints WHERE conversation_id = :c "
                "AND journey IS NOT NULL"), {"c": conversation_ref(f"web:{session}")}).all()   # the reference
        metadata = [json.loads(r)["metadata"] for r in rows if "hamsafar_journey" in json.loads(r).get("metadata", {})]
        return (metadata, touchpoint) if metadata and touchpoint else None

    found = wait_for(stored, 30)
    engine.dispose()
    assert found, "the proactive message's turn or touchpoint was never stored"
    metadata, touchpoint = found
    assert metadata[-1]["hamsafar_journey"]["order_id"] == "910001"
    assert metadata[-1]["hamsafar_journey"]["expects"]["slots"] == {"order_id": "910001"}
    assert ("system", "web", "shipping_updates", "shipped") in touchpoint

    # the customer answers "no thanks" in the widget: the real dialogue ends that journey for them
    said = httpx.post(f"{bot.base_url}/webhooks/web/messages", timeout=30,
                      json={"session_id": token, "text": "no thanks", "identity": identity})
    assert said.status_code == 200, said.text

    def declined():  # type: ignore[no-untyped-def]
        engine = sa.create_engine(bot.database_url)
        with engine.connect() as conn:
            exit_reason = conn.execute(sa.text(
                "SELECT exit_reason FROM journey_entries WHERE journey = 'shipping_updates' AND order_id = '910001'")).scalar()
            stages = conn.execute(sa.text(
                "SELECT journey_stage FROM touchpoints WHERE conversation_id = :c AND actor = 'customer' "
                "AND text LIKE '%no thanks%'"), {"c": conversation_ref(f"web:{session}")}).scalars().all()
        engine.dispose()
        return (exit_reason, stages) if exit_reason and stages else None

    assert wait_for(declined, 30) == ("declined", ["retention"])   # the shipped note's stage (track_order)


def rest_event(bot: BotServer, order: dict, event_id: str) -> httpx.Response:
    """The REST backend's signed `order.updated` event (docs/orchestration.md)."""
    body = json.dumps({"type": "order.updated", "order": order}).encode()
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(EVENTS_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return httpx.post(f"{bot.base_url}/webhooks/journeys/events", content=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Hamsafar-Timestamp": stamp, "X-Hamsafar-Signature": signature,
        "X-Hamsafar-Event-Id": event_id})


def shipped(order_id: str, customer_id: str, tracking: str) -> dict:
    return {"order_id": order_id, "customer_id": customer_id, "status": "shipped", "total": 2950000,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400)),
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tracking_code": tracking, "carrier": "پیک همسفر", "items": [{"sku": "AUD-JBL-T520", "quantity": 1}]}


def exit_reason(bot: BotServer, order_id: str) -> Any:
    engine = sa.create_engine(bot.database_url)
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT exit_reason FROM journey_entries WHERE order_id = :o"),
                             {"o": order_id}).scalar()
    engine.dispose()
    return found


def test_no_thanks_then_stop_sending_these_in_the_widget_get_their_own_replies(bot: BotServer) -> None:
    from bot.channels import consent

    session = f"declinesession{uuid.uuid4().hex[:12]}"
    identity = web_identity_for("C001", secret=WEB_SECRET)
    said = httpx.post(f"{bot.base_url}/webhooks/web/messages", timeout=30,
                      json={"session_id": session, "text": "سلام", "identity": identity})
    assert said.status_code == 200, said.text
    token = said.json().get("session_id", session)

    def history() -> list:
        return httpx.get(f"{bot.base_url}/webhooks/web/history", params={"session_id": token},
                         timeout=10).json()["messages"]

    def bot_after(text: str) -> Any:
        """The bot's messages after the customer's `text` (once there is one)."""
        messages = history()
        at = max((i for i, m in enumerate(messages) if m["sender"] == "customer" and m["text"] == text), default=None)
        later = [m["text"] for m in messages[at + 1:] if m["sender"] == "bot"] if at is not None else []
        return later or None

    assert wait_for(lambda: [m for m in history() if m["sender"] == "bot"], 60)
    assert rest_event(bot, shipped("910201", "C001", "HMS-DECLINE-1"), f"evt-{session}-1").json()["entered"] == 1
    assert wait_for(lambda: [m for m in history() if "HMS-DECLINE-1" in m["text"]], 30)
    httpx.post(f"{bot.base_url}/webhooks/web/messages", timeout=30,
               json={"session_id": token, "text": "نه ممنون", "identity": identity})
    replies = wait_for(lambda: bot_after("نه ممنون"), 60)
    assert replies[0] == "باشه، دیگر درباره این موضوع پیامی برایتان نمی‌فرستم. اگر کاری داشتید همین‌جا هستم.", replies
    assert wait_for(lambda: exit_reason(bot, "910201"), 30) == "declined"
    assert not consent.is_opted_out("web", f"web:{session}")   # a no is not an opt-out

    assert rest_event(bot, shipped("910202", "C001", "HMS-DECLINE-2"), f"evt-{session}-2").json()["entered"] == 1
    assert wait_for(lambda: [m for m in history() if "HMS-DECLINE-2" in m["text"]], 30)
    httpx.post(f"{bot.base_url}/webhooks/web/messages", timeout=30,
               json={"session_id": token, "text": "stop sending these", "identity": identity})
    replies = wait_for(lambda: bot_after("stop sending these"), 60)
    assert replies and replies[0].startswith("Done — you won't get any more reminders or offers from us here"), replies
    assert wait_for(lambda: exit_reason(bot, "910202"), 30) == "declined"
    engine = sa.create_engine(bot.database_url)
    with engine.connect() as conn:   # the one consent record, as every send reads it
        opted = conn.execute(sa.text("SELECT channel, opted_out, source FROM channel_consent WHERE address = :a"),
                             {"a": session}).all()
    engine.dispose()
    assert [tuple(row) for row in opted] == [("web", True, "keyword")]


def test_stop_sending_these_by_sms_opts_the_number_out_and_confirms_it_once(bot: BotServer,
                                                                            sms: FakeSmsGateways) -> None:
    phone = "09191112233"   # C003, a Persian-speaking customer of the demo shop

    def texts() -> list:
        return [d["text"] for d in sms.delivered if d["to"] == phone]

    assert rest_event(bot, shipped("910301", "C003", "HMS-SMS-STOP"), "evt-sms-stop").json()["entered"] == 1
    assert wait_for(lambda: [t for t in texts() if "HMS-SMS-STOP" in t], 30)
    before = len(texts())
    answered = httpx.get(f"{bot.base_url}/webhooks/sms/kavenegar/{SMS_INBOUND_SECRET}", timeout=60, params={
        "from": phone, "to": "10004346", "message": "دیگه پیام نده", "messageid": "in-stop-1"})
    assert answered.status_code == 200, answered.text
    confirmation = "لغو عضویت انجام شد؛ دیگر پیامکی از ما دریافت نمی‌کنید. برای عضویت دوباره «شروع» را بفرستید."
    assert wait_for(lambda: texts()[before:], 30) == [confirmation]
    assert wait_for(lambda: exit_reason(bot, "910301"), 30) == "declined"
    engine = sa.create_engine(bot.database_url)
    with engine.connect() as conn:
        opted = conn.execute(sa.text("SELECT opted_out, confirmation_sent FROM channel_consent "
                                     "WHERE channel = 'sms' AND address = '+989191112233'")).all()
    engine.dispose()
    assert [tuple(row) for row in opted] == [(True, True)]
    # the number gets nothing more: not the next shipping update, not a reply to another message
    assert rest_event(bot, shipped("910302", "C003", "HMS-SMS-AFTER"), "evt-sms-after").json()["entered"] == 1
    httpx.get(f"{bot.base_url}/webhooks/sms/kavenegar/{SMS_INBOUND_SECRET}", timeout=60, params={
        "from": phone, "to": "10004346", "message": "سفارشم کجاست؟", "messageid": "in-stop-2"})
    time.sleep(4)   # a few runner passes
    assert texts()[before:] == [confirmation]
    assert wait_for(lambda: exit_reason(bot, "910302"), 30) == "opted_out"
