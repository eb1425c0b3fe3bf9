"""End to end on Bale: `hamsafar run --bale-polling` against a fake Bale Bot API on 127.0.0.1.

A real `hamsafar run` (trained model, action server, SQLite seeded with the demo shop)
polls the fake Bale API (which, like Bale, answers getUpdates at once) and answers
through it. A customer chats in Persian, taps an inline button, shares their own
contact and so becomes demo customer C001, whose order the bot then tracks; the same
customer signed in on the shop's website is the same CRM customer, and every turn's
touchpoint names its channel (`bale`, `web`).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List

import httpx
import pytest
import sqlalchemy as sa

from bot.identity.verification import web_identity_for
from bot.text.persian import has_persian_letters
from bot.touchpoints.privacy import conversation_ref
from tests.conftest import PROJECT_ROOT, free_port
from tests.fakes.telegram_api import FakeBale, callback_update, contact_update, text_update
from tests.support.bot_server import BotServer

pytestmark = pytest.mark.skipif(
    not list((PROJECT_ROOT / "models").glob("*.tar.gz")),
    reason="no trained model: run `hamsafar setup` (scripts/test.sh does)",
)

TOKEN = "1843000222:bale-e2e-token-do-not-log"
WEB_SECRET = "bale-e2e-web-secret"
CHAT = 731000  # the customer's Bale user id = private chat id
C001_PHONE = "989121234567"
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def bale() -> Iterator[FakeBale]:
    with FakeBale(TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def bot(bale: FakeBale, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    folder = tmp_path_factory.mktemp("bale-e2e")
    env = {"HAMSAFAR_BALE_TOKEN": TOKEN, "HAMSAFAR_BALE_API_BASE_URL": bale.base_url,
           "HAMSAFAR_WEB_IDENTITY_SECRET": WEB_SECRET, "HAMSAFAR_TELEGRAM_TOKEN": ""}
    server = BotServer(f"sqlite:///{folder / 'hamsafar.db'}", free_port(), free_port(), folder / "bot.log",
                       extra_env=env, extra_args=["--bale-polling"]).start()
    yield server
    server.stop()


def wait_for(what: Callable[[], Any], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = what()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


class BaleChat:
    """One Bale user talking to the bot through the fake API's update queue."""

    def __init__(self, bot: BotServer, fake: FakeBale) -> None:
        self.bot, self.fake = bot, fake
        self.next_update = 1000

    def _replies_after(self, count: int) -> List[Dict[str, Any]]:
        return [p for p in self.fake.sent("sendMessage") if int(p["chat_id"]) == CHAT][count:]

    def send(self, update_of: Callable[[int], Dict[str, Any]], expect_answer: bool = True) -> List[Dict[str, Any]]:
        """Queue an update for getUpdates; the bot's messages in answer to it."""
        before = len(self._replies_after(0))
        self.next_update += 1
        self.fake.updates.append(update_of(self.next_update))
        replies = wait_for(lambda: self._replies_after(before), 60 if expect_answer else 15)
        assert replies or not expect_answer, f"no Bale answer to update {self.next_update}\n{self.bot.log_tail()}"
        time.sleep(1.5)  # the rest of a multi-message answer
        return self._replies_after(before)

    def say(self, text: str) -> List[Dict[str, Any]]:
        return self.send(lambda n: text_update(n, text, chat_id=CHAT, user_id=CHAT))


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    found = []
    for message in messages:
        if message.get("reply_markup"):
            found += [row[0] for row in json.loads(message["reply_markup"]).get("inline_keyboard", [])]
    return found


def customer_turns(bot: BotServer, conversation: str) -> List[Dict[str, Any]]:
    engine = sa.create_engine(bot.database_url, future=True)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(
                "SELECT customer_id, channel, language, intent, text FROM touchpoints "
                "WHERE conversation_id = :c AND actor = 'customer' ORDER BY occurred_at, id"),
                {"c": conversation}).mappings()]
    finally:
        engine.dispose()


def test_a_persian_conversation_on_bale_with_buttons_contact_and_the_website(bot: BotServer, bale: FakeBale) -> None:
    chat = BaleChat(bot, bale)
    # polling starts in the background once the server is up: wait for it, do not race it
    assert wait_for(lambda: bale.sent("deleteWebhook"), 60), "polling starts by removing a webhook"
    assert all("allowed_updates" not in p for p in bale.sent("getUpdates"))

    # 1. a Persian greeting is answered in Persian
    answer = texts(chat.say("سلام"))
    assert has_persian_letters(answer), answer

    # 2. browsing laptops offers products as inline buttons; a tap opens the product (price in Toman)
    offered = chat.say("لپ تاپ هاتون رو نشونم بده")
    choices = buttons(offered)
    assert choices and all(b["callback_data"].startswith("b:") for b in choices), offered
    details = chat.send(lambda n: callback_update(n, choices[0]["callback_data"], chat_id=CHAT, user_id=CHAT,
                                                  chat_instance=None))
    assert f"cbq-{chat.next_update}" in [p["callback_query_id"] for p in bale.sent("answerCallbackQuery")]
    assert "تومان" in texts(details), texts(details)
    assert all("parse_mode" not in p for p in bale.sent("sendMessage"))

    # 3. someone else's contact is refused; the customer's own makes them C001, whose order is tracked
    refused = texts(chat.send(lambda n: contact_update(n, C001_PHONE, contact_user_id=CHAT + 1, chat_id=CHAT, user_id=CHAT)))
    assert "شماره‌ی خودتان" in refused, refused
    chat.send(lambda n: contact_update(n, C001_PHONE, contact_user_id=CHAT, chat_id=CHAT, user_id=CHAT),
              expect_answer=False)  # what the dialogue says to a shared number is its own business
    tracked = texts(chat.say("سفارش ۱۰۰۰۰۴ کجاست؟"))
    assert "ارسال‌شده" in tracked, tracked  # C001's shipped order, shown only to its verified owner

    # 4. the same customer signed in on the website
    session = f"bale_e2e_web_{RUN}"
    posted = httpx.post(f"{bot.base_url}/webhooks/web/messages", timeout=10, json={
        "session_id": session, "text": "سلام", "identity": web_identity_for("C001", secret=WEB_SECRET)})
    assert posted.status_code == 200, posted.text

    # every turn is a touchpoint naming its channel; both conversations are C001's
    bale_turns = wait_for(lambda: [t for t in customer_turns(bot, f"bale:{CHAT}") if "۱۰۰۰۰۴" in (t["text"] or "")], 30)
    assert bale_turns and bale_turns[-1]["customer_id"] == "C001" and bale_turns[-1]["channel"] == "bale", bale_turns
    assert {t["channel"] for t in customer_turns(bot, f"bale:{CHAT}")} == {"bale"}
    web_turns = wait_for(lambda: customer_turns(bot, conversation_ref(f"web:{session}")), 30)   # stored as its reference
    assert web_turns and (web_turns[-1]["customer_id"], web_turns[-1]["channel"]) == ("C001", "web"), web_turns
    assert TOKEN not in (bot.log_path.read_text(errors="replace"))
