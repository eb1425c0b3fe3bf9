"""A journey started by what a customer did in a conversation (issue 18: our actions emit the events).

An order placed through the REST channel of a real `hamsafar run` is left unpaid; `hamsafar journeys
run-due` in the shop's next open hour after the journey's wait texts that customer the payment reminder
with the order's number. No journey row is written by hand: the order comes from the place-order action.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import free_port
from tests.fakes.sms_gateways import FakeSmsGateways
from tests.support.bot_server import BotServer
from tests.support.conversations import Conversation, Player, Turn
from tests.test_conversation_repair import bot_environment


def test_an_order_placed_in_a_conversation_gets_the_payment_reminder(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main
    from bot.orchestration.definition import load_book
    from bot.orchestration.schedule import SendingWindow

    url = f"sqlite:///{tmp_path / 'hamsafar.db'}"
    with FakeSmsGateways() as sms:
        bot = BotServer(url, free_port(), free_port(), tmp_path / "bot.log", extra_env=bot_environment(sms)).start()
        player = Player(bot, sms, url)
        try:
            # the scanner's first look: what is in the shop already is not news
            assert main(["journeys", "run-due", "--database-url", url]) == 0
            order = Conversation(
                id="journey-from-a-conversation", kind="tracking", language="en", customer={"order": "delivered"},
                turns=[Turn("I want to buy the pars khazar kettle", says=["mobile number"]),
                       Turn("{phone}", says=["6-digit code"]), Turn("{code}", says=["Shall I place"]),
                       Turn("yes please", says=[r"Order \d+ is placed"])],
                outcome={"orders_placed": 1, "handoff": False})
            result = player.play(order)
            assert result.ok, result.report()
        finally:
            player.close()
            bot.stop()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        placed = conn.execute(sa.text(
            "SELECT o.order_id, o.created_at, c.phone FROM orders o JOIN customers c ON c.customer_id = o.customer_id "
            "WHERE o.status = 'pending_payment' ORDER BY o.created_at DESC LIMIT 1")).mappings().one()
    engine.dispose()
    created = dt.datetime.fromisoformat(str(placed["created_at"])).replace(tzinfo=dt.timezone.utc)
    capsys.readouterr()
    monkeypatch.setenv("HAMSAFAR_DEMO_CODES", "log")   # no gateway in this process: the SMS is printed
    assert main(["journeys", "run-due", "--now", (created + dt.timedelta(minutes=1)).isoformat(),
                 "--database-url", url]) == 0
    # the reminder waits an hour, then for the shop's open hours
    when = SendingWindow(load_book().settings).next_allowed(created + dt.timedelta(hours=1, minutes=5))
    assert main(["journeys", "run-due", "--now", when.isoformat(), "--database-url", url]) == 0
    out = capsys.readouterr().out
    from bot.text.persian import to_persian_digits

    number = str(placed["order_id"])
    # (the demo shop's own orders start their journeys too: only this order's messages are looked at)
    about_it = [line for line in out.splitlines() if line.startswith("[hamsafar demo] SMS to")
                and (number in line or to_persian_digits(number) in line)]
    assert len(about_it) == 1, out
    assert f"/pay/{number}" in about_it[0], about_it   # the payment reminder, with the order's own link
