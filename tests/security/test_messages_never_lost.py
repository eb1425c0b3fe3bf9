"""No message is lost, or processed on an empty conversation, when the database blips (issue 17 finding 11).

A real `hamsafar run` (trained model, action server) on its own PostgreSQL database,
with Telegram in webhook mode against the fake Bot API (`tests/fakes/telegram_api.py`,
which delivers updates to the webhook as Telegram does). A customer becomes demo
customer C001 by sharing their own contact and asks for a person, so their
conversation holds `customer_id` and `handoff_active`. Then the database fails for a
moment, three real ways:

* the conversation table is locked (reads time out): Rasa cannot read the conversation;
* the conversation table is locked for writes only: Rasa reads, decides, cannot save;
* the whole database goes away (connections terminated, new ones refused).

Each time the first delivery must get a non-2xx answer (Telegram's webhook retry then
delivers it again) and reach the customer with nothing; the redelivery after the
database is back is processed once (a third delivery is a duplicate); the stored
conversation keeps `customer_id` and `handoff_active` and holds the message once.
The REST channel answers 503 with a JSON error and then, asked again, the bot's reply.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import PROJECT_ROOT, free_port, postgres_url
from tests.fakes.telegram_api import FakeTelegram, contact_update, text_update
from tests.support.bot_server import BotServer

pytestmark = [
    pytest.mark.skipif(not list((PROJECT_ROOT / "models").glob("*.tar.gz")),
                       reason="no trained model: run `hamsafar setup` (scripts/test.sh does)"),
    pytest.mark.skipif(not postgres_url(), reason="HAMSAFAR_TEST_POSTGRES_URL is not set"),
]

TOKEN = "7000001:never-lost-token-do-not-log"
SECRET = "never-lost-webhook-secret"
CHAT = 5151000
C001_PHONE = "989121234567"
LOCK_TIMEOUT = "2s"  # the bot's statements give up on a locked table after this


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A PostgreSQL database of this module's own, whose sessions give up on a lock after LOCK_TIMEOUT."""
    name = f"hamsafar_lost_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url(), isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET lock_timeout = \'{LOCK_TIMEOUT}\''))
    try:
        yield postgres_url().rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def bot(database: str, telegram: FakeTelegram, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    folder = tmp_path_factory.mktemp("never-lost")
    port = free_port()
    env = {
        "HAMSAFAR_TELEGRAM_TOKEN": TOKEN, "HAMSAFAR_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "HAMSAFAR_TELEGRAM_API_BASE_URL": telegram.base_url,
        "HAMSAFAR_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/webhooks/hamsafar_telegram/webhook",
        "HAMSAFAR_BALE_TOKEN": "", "HAMSAFAR_HANDOFF_HOURS": "always", "HAMSAFAR_HANDOFF_DAYS_OFF": "none",
    }
    server = BotServer(database, port, free_port(), folder / "bot.log", extra_env=env).start()
    deadline = time.monotonic() + 60
    while not telegram.webhook.get("url") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert telegram.webhook.get("secret_token") == SECRET, server.log_tail()
    yield server
    server.stop()
    assert TOKEN not in server.log_path.read_text(errors="replace")


# ----------------------------------------------------------------------------- helpers
class Customer:
    """Demo customer C001 on Telegram; each update gets a fresh update_id unless one is given."""

    def __init__(self, bot: BotServer, telegram: FakeTelegram) -> None:
        self.bot, self.telegram = bot, telegram
        self.next_id = 900_000

    def replies(self) -> List[Dict[str, Any]]:
        return [p for p in self.telegram.sent("sendMessage") if int(p["chat_id"]) == CHAT]

    def deliver(self, update: Dict[str, Any]) -> httpx.Response:
        """Telegram posting one update to the webhook (it waits up to a minute for the answer)."""
        return self.telegram.push(update, timeout=60)

    def new_update(self, make: Callable[[int], Dict[str, Any]]) -> Dict[str, Any]:
        self.next_id += 1
        return make(self.next_id)


def stored(bot: BotServer, conversation: str) -> Any:
    """The conversation as Rasa's tracker store holds it (read with Rasa's own store)."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    store = SQLTrackerStore(Domain.load(str(PROJECT_ROOT / "domain.yml")), host=bot.database_url)
    try:
        import asyncio

        return asyncio.run(store.retrieve(conversation))
    finally:
        store.engine.dispose()


def user_texts(tracker: Any) -> List[str]:
    return [e.text for e in tracker.events if e.type_name == "user"]


def wait_for(what: Callable[[], Any], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = what()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


@contextlib.contextmanager
def table_locked(bot: BotServer, mode: str) -> Iterator[None]:
    """Hold `LOCK TABLE events IN <mode> MODE` (Rasa's conversation table) until the block ends."""
    engine = sa.create_engine(bot.database_url, future=True)
    conn = engine.connect()
    transaction = conn.begin()
    conn.execute(sa.text(f"LOCK TABLE events IN {mode} MODE"))
    try:
        yield
    finally:
        transaction.rollback()
        conn.close()
        engine.dispose()


@contextlib.contextmanager
def database_gone(bot: BotServer) -> Iterator[None]:
    """Every connection to the bot's database terminated and new ones refused, until the block ends."""
    name = bot.database_url.rsplit("/", 1)[1]
    admin = sa.create_engine(postgres_url(), isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                     {"n": name})
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


# ----------------------------------------------------------------------------- the test
def test_a_database_blip_loses_no_message_and_never_answers_from_an_empty_conversation(
        bot: BotServer, telegram: FakeTelegram) -> None:
    customer = Customer(bot, telegram)
    conversation = f"tg:{CHAT}"

    # C001 shares their own contact, then asks for a person: the state a blip must not lose
    contact = customer.new_update(lambda n: contact_update(n, C001_PHONE, contact_user_id=CHAT, chat_id=CHAT,
                                                           user_id=CHAT))
    assert customer.deliver(contact).status_code == 200
    assert customer.deliver(customer.new_update(
        lambda n: text_update(n, "می‌خواهم با یک اپراتور صحبت کنم", chat_id=CHAT, user_id=CHAT))).status_code == 200
    before = wait_for(lambda: stored(bot, conversation))  # (the old channel answered before processing)
    before = wait_for(lambda: (lambda t: t if t.get_slot("handoff_active") else None)(stored(bot, conversation))) or before
    assert before.get_slot("customer_id") == "C001", user_texts(before)
    assert before.get_slot("handoff_active") is True, bot.log_tail()

    blips = [
        ("read", lambda: table_locked(bot, "ACCESS EXCLUSIVE"), "سفارشم کی میرسه؟"),
        ("save", lambda: table_locked(bot, "SHARE"), "هنوز منتظرم"),
        ("gone", lambda: database_gone(bot), "کسی هست؟"),
    ]
    for kind, blip, text in blips:
        update = customer.new_update(lambda n: text_update(n, text, chat_id=CHAT, user_id=CHAT))
        replies_before = len(customer.replies())
        with blip():
            refused = customer.deliver(update)
            assert refused.status_code in (500, 503), (kind, refused.status_code, refused.text)
            time.sleep(1)
            assert len(customer.replies()) == replies_before, (kind, customer.replies()[replies_before:])

        # Telegram's retries after the database is back: processed, once (a pooled connection the outage
        # killed may fail one more attempt, which is refused like the first)
        again = customer.deliver(update)
        for _ in range(4):
            if again.status_code not in (500, 503):
                break
            time.sleep(1)
            again = customer.deliver(update)
        assert again.status_code == 200 and again.json()["status"] == "ok", (kind, again.text, bot.log_tail())
        third = customer.deliver(update)
        assert third.status_code == 200 and third.json()["status"] == "duplicate", (kind, third.text)

        after = stored(bot, conversation)
        assert user_texts(after).count(text) == 1, (kind, user_texts(after))
        assert after.get_slot("customer_id") == "C001", kind
        assert after.get_slot("handoff_active") is True, kind

    # REST: a clear 503 with a JSON error while the conversation cannot be read, the reply once it can
    sender = f"never_lost_{uuid.uuid4().hex[:6]}"
    assert bot.send(sender, "سلام")  # the conversation exists
    with table_locked(bot, "ACCESS EXCLUSIVE"):
        answer = httpx.post(bot.base_url + "/webhooks/rest/webhook", json={"sender": sender, "message": "سلام"},
                            timeout=60)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "unavailable" and answer.headers.get("Retry-After")
    assert bot.send(sender, "سلام")  # sent again: answered
    rest_turns = user_texts(stored(bot, f"rest:{sender}"))
    assert rest_turns == ["سلام", "سلام"], rest_turns

    log = bot.log_path.read_text(errors="replace")
    assert "Falling back to use the 'InMemoryTrackerStore'" not in log
    assert TOKEN not in log and SECRET not in log
