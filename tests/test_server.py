"""End-to-end: `hamsafar run` for real on loopback, talked to through the REST channel.

The same tests run against SQLite and, when HAMSAFAR_TEST_POSTGRES_URL is
set, PostgreSQL (the tracker store and our data follow HAMSAFAR_DATABASE_URL).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import sqlalchemy as sa

from bot.text.persian import has_persian_letters
from tests.conftest import PROJECT_ROOT, free_port, postgres_url
from tests.support import own_warning
from tests.support.bot_server import BotServer, texts

pytestmark = pytest.mark.skipif(
    not list((PROJECT_ROOT / "models").glob("*.tar.gz")),
    reason="no trained model: run `hamsafar setup` (scripts/test.sh does)",
)


def _fresh_postgres() -> str:
    base = postgres_url()
    name = f"hamsafar_e2e_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(url: str) -> None:
    base = postgres_url()
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'hamsafar.db'}"
        return
    if not postgres_url():
        pytest.skip("HAMSAFAR_TEST_POSTGRES_URL is not set")
    url = _fresh_postgres()
    yield url
    _drop_postgres(url)


@pytest.fixture(scope="module")
def bot(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    folder = tmp_path_factory.mktemp("logs")
    # endpoints.yml, but a lock store that raises one deprecation warning of ours while Rasa starts
    endpoints = own_warning.endpoints_with_warning_lock_store(PROJECT_ROOT, folder)
    server = BotServer(database_url, free_port(), free_port(), folder / "bot.log",
                       extra_env={"HAMSAFAR_ENDPOINTS": str(endpoints),
                                  "HAMSAFAR_WEB_ALLOWED_ORIGINS": SHOP_PAGE}).start()
    yield server
    server.stop()


SHOP_PAGE = "http://shop.example"


def test_the_widgets_preflight_from_the_shops_page_is_allowed_and_others_are_not(bot: BotServer) -> None:
    """A widget on the shop's own domain POSTs JSON with its cookie: the browser asks first (OPTIONS),
    and Rasa's server answers that itself (sanic_cors), before the channel's routes."""
    url = f"{bot.base_url}/webhooks/web/messages"
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = httpx.options(url, headers={"Origin": SHOP_PAGE, **asked}, timeout=10)
    assert allowed.status_code in (200, 204)
    assert allowed.headers.get("access-control-allow-origin") == SHOP_PAGE
    assert allowed.headers.get("access-control-allow-credentials") == "true"
    assert "POST" in allowed.headers.get("access-control-allow-methods", "")
    other = httpx.options(url, headers={"Origin": "http://evil.example", **asked}, timeout=10)
    assert "access-control-allow-origin" not in other.headers
    # the request itself: the channel's own CORS headers, once (a doubled header is refused by browsers)
    opened = httpx.post(f"{bot.base_url}/webhooks/web/session", json={}, headers={"Origin": SHOP_PAGE}, timeout=30)
    assert opened.status_code == 200, opened.text
    assert opened.headers.get_list("access-control-allow-origin") == [SHOP_PAGE]


def count_events(database_url: str) -> int:
    engine = sa.create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT COUNT(*) FROM events")).scalar_one()
    finally:
        engine.dispose()


def conversation_texts(database_url: str, conversation_id: str) -> list[str]:
    """User texts of one conversation, read straight from Rasa's SQL tracker store."""
    engine = sa.create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
                {"s": conversation_id},
            ).scalars().all()
    finally:
        engine.dispose()
    return [json.loads(row)["text"] for row in rows]


def test_persian_greeting_gets_a_persian_reply(bot: BotServer) -> None:
    reply = texts(bot.send(f"fa-{uuid.uuid4().hex[:6]}", "سلام وقت بخیر"))
    assert reply.strip(), "the bot said nothing"
    assert has_persian_letters(reply), reply


def test_english_greeting_gets_an_english_reply(bot: BotServer) -> None:
    reply = texts(bot.send(f"en-{uuid.uuid4().hex[:6]}", "hello there"))
    assert reply.strip()
    assert not has_persian_letters(reply), reply


def test_persian_question_with_arabic_letters_and_digits_is_understood(bot: BotServer) -> None:
    reply = texts(bot.send(f"fa-{uuid.uuid4().hex[:6]}", "شماره تماس و آدرس فروشگاه رو ميشه بگيد؟"))
    assert has_persian_letters(reply)
    assert any(ch in reply for ch in "۰۱۲۳۴۵۶۷۸۹"), "contact info in Persian should carry Persian digits: " + reply


@pytest.mark.parametrize(
    "body, status, code",
    [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_json"),
        (json.dumps({"message": "hi"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": 42, "message": "hi"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": "telegram:1", "message": "hi"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": "a", "message": "   "}).encode(), 400, "empty_message"),
        (json.dumps({"sender": "a", "message": 7}).encode(), 400, "empty_message"),
        (json.dumps({"sender": "a", "message": "\u200c\u200d\u200b"}).encode(), 400, "empty_message"),   # invisible only
        (json.dumps({"sender": "a", "message": "x" * 5_000}).encode(), 413, "message_too_long"),   # over 4,000 characters
        # refused by the REST route's body limit before it is read (bot/runtime/request_limits.py)
        (json.dumps({"sender": "a", "message": "x" * 1_000_000}).encode(), 413, "body_too_large"),
        (b'{"sender": "a", "message": "\xff\xfe"}', 400, "invalid_utf8"),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_writes_nothing(bot: BotServer, database_url: str, body: bytes, status: int, code: str) -> None:
    before = count_events(database_url)
    reply = bot.post_raw(body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"] == code
    assert count_events(database_url) == before
    # ...and the server keeps answering other conversations.
    assert texts(bot.send(f"ok-{uuid.uuid4().hex[:6]}", "hi")).strip()


def test_rest_callers_cannot_choose_the_channel_or_identity(bot: BotServer, database_url: str) -> None:
    sender = f"id-{uuid.uuid4().hex[:6]}"
    body = {"sender": sender, "message": "hello", "input_channel": "telegram", "metadata": {"customer_id": "C001"}}
    assert httpx.post(bot.base_url + "/webhooks/rest/webhook", json=body, timeout=60).status_code == 200
    engine = sa.create_engine(database_url, future=True)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user'"),
                            {"s": f"rest:{sender}"}).scalars().all()
    engine.dispose()
    assert rows, "the message was not stored under rest:<sender>"
    event = json.loads(rows[-1])
    assert event["input_channel"] == "rest"
    assert "customer_id" not in (event.get("metadata") or {})  # only Rasa's own metadata is kept


def test_rasa_http_api_is_not_exposed(bot: BotServer) -> None:
    assert httpx.get(bot.base_url + "/conversations/x/tracker", timeout=10).status_code == 404
    assert httpx.get(bot.base_url + "/status", timeout=10).status_code == 404


def test_action_server_refuses_calls_without_the_token(bot: BotServer) -> None:
    reply = httpx.post(f"http://127.0.0.1:{bot.actions_port}/webhook", json={"next_action": "action_shop_info"}, timeout=10)
    assert reply.status_code == 401


def test_a_rest_conversation_produces_exactly_the_expected_touchpoints(bot: BotServer, database_url: str) -> None:
    sender = f"tp-{uuid.uuid4().hex[:6]}"
    bot.send(sender, "سلام")
    bot.send(sender, "شماره تماس فروشگاه چنده؟ شماره من ۰۹۱۲۳۴۵۶۷۸۹ هست")
    bot.send(sender, "خداحافظ")
    engine = sa.create_engine(database_url, future=True)
    deadline = time.monotonic() + 30
    query = sa.text("SELECT actor, channel, intent, journey_stage, language, goal, goal_status, text, actions, latency_ms "
                    "FROM touchpoints WHERE conversation_id = :c ORDER BY occurred_at, id")
    while True:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query, {"c": f"rest:{sender}"}).mappings()]
        if len([r for r in rows if r["actor"] == "customer"]) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    engine.dispose()
    customer = [r for r in rows if r["actor"] == "customer"]
    assert [r["intent"] for r in customer] == ["greet", "ask_contact_info", "goodbye"], customer
    assert all(r["channel"] == "rest" for r in rows)
    assert customer[0]["language"] == "fa" and customer[1]["journey_stage"] == "awareness"
    assert "[phone]" in customer[1]["text"] and "۰۹۱۲" not in customer[1]["text"]
    assert all(r["latency_ms"] is not None and r["latency_ms"] >= 0 for r in customer)
    actions = customer[1]["actions"]
    assert "action_shop_info" in (json.loads(actions) if isinstance(actions, str) else actions)
    system = [r for r in rows if r["actor"] == "system"]
    assert [(r["goal"], r["goal_status"]) for r in system][:2] == [("learn_about_shop", "started"), ("learn_about_shop", "completed")], system


# How the warnings module prints a deprecation raised inside an installed package
# ("…/site-packages/packaging/markers.py:125: PyparsingDeprecationWarning: …").
THIRD_PARTY_DEPRECATION = re.compile(r"[/\\](site|dist)-packages[/\\]\S+:\d+: \w*(Deprecation|MovedIn\d+|RemovedIn\d+)\w*Warning: ")


def test_a_start_shows_our_deprecation_warnings_but_no_third_party_ones(bot: BotServer) -> None:
    """Both servers' output, from `hamsafar run` to "Hamsafar is running" (bot/runtime/quiet_warnings.py)."""
    log = bot.log_path.read_text(errors="replace")
    assert "Hamsafar is running" in log
    assert own_warning.MESSAGE in log, "our own deprecation warning was filtered too"
    assert [line for line in log.splitlines() if THIRD_PARTY_DEPRECATION.search(line)] == []


# The lifecycle test stops the module's server, so it must stay the last test of
# this file. One test rather than three because every server start costs 30-60 s:
# Ctrl-C on the module's server, a restart on the same database, a crash of the
# restarted server's action server.
def test_ctrl_c_then_restart_keeps_the_conversation_and_a_dead_action_server_stops_all(
        bot: BotServer, database_url: str, tmp_path: Path) -> None:
    import psutil  # installed with Rasa

    sender = f"restart-{uuid.uuid4().hex[:6]}"
    bot.send(sender, "I want to track my order")

    # Ctrl-C stops the supervisor and both servers cleanly.
    children = psutil.Process(bot.process.pid).children()
    assert len(children) == 2
    assert bot.stop(signal.SIGINT) == 0
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]

    # A restart on the same database carries the conversation on.
    second = BotServer(database_url, free_port(), free_port(), tmp_path / "second.log").start()
    try:
        second.send(sender, "thanks")
        assert conversation_texts(database_url, f"rest:{sender}") == ["I want to track my order", "thanks"]

        # If the action server dies, the supervisor stops Rasa too and exits non-zero.
        children = psutil.Process(second.process.pid).children()
        action_server = next(c for c in children if "bot.runtime.action_server" in " ".join(c.cmdline()))
        action_server.kill()
        assert second.process.wait(timeout=60) != 0
        time.sleep(1)
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    finally:
        second.stop()
