"""Customers' multi-turn conversations, end to end: digressions, corrections, "buy it", switching, leaving.

Each conversation of tests/conversations/*.yml (format: tests/support/conversations.py)
is played through the REST channel of one real `hamsafar run` (fresh SQLite
database with the demo shop, one-time codes read from a fake Kavenegar on
127.0.0.1, a 24/7 support desk so that handoffs do not depend on the clock),
and checked where its outcome is recorded: the replies (no internal values,
the conversation's language, what must be said), the touchpoints table (goal
completed / abandoned / not started, handoff), the orders and tickets tables.

The tuning set is played in two halves, each by its own bot: this module plays the
first, tests/test_conversation_repair_second_half.py the second, so that the two
pytest workers play them at the same time (the set takes about five minutes on one
bot). The halves alternate within each repair kind and language.

The held-out set (tests/conversations/heldout, never used while tuning) is not
played here: `bench/conversations.py` measures it (success per repair kind and
language, target 95%), so that nothing is tuned on it by running the tests.
"""

from __future__ import annotations

from typing import Dict, Iterator, List

import pytest

from tests.conftest import PROJECT_ROOT, free_port
from tests.fakes.sms_gateways import API_KEY, FakeSmsGateways
from tests.support.bot_server import BotServer
from tests.support.conversations import (
    Conversation, Player, Result, heldout_set, play_all, success_rates, tuning_set,
)

pytestmark = pytest.mark.skipif(
    not list((PROJECT_ROOT / "models").glob("*.tar.gz")),
    reason="no trained model: run `hamsafar setup` (scripts/test.sh does)",
)

TUNING = tuning_set()
_BY_KIND = sorted(TUNING, key=lambda c: (c.kind, c.language, c.id))
FIRST_HALF, SECOND_HALF = _BY_KIND[0::2], _BY_KIND[1::2]
HELDOUT_TARGET = 0.95   # bench/conversations.py


def bot_environment(sms: FakeSmsGateways) -> Dict[str, str]:
    return {"HAMSAFAR_SMS_GATEWAY": "kavenegar", "HAMSAFAR_KAVENEGAR_API_KEY": API_KEY, "HAMSAFAR_OTP_PEPPER": "test-pepper-of-this-run",
            "HAMSAFAR_KAVENEGAR_BASE_URL": sms.url, "HAMSAFAR_KAVENEGAR_SENDER": "10004346",
            "HAMSAFAR_HANDOFF_HOURS": "always", "HAMSAFAR_HANDOFF_DAYS_OFF": ""}


def start_player(tmp_path_factory: pytest.TempPathFactory, name: str, sms: FakeSmsGateways) -> tuple:
    folder = tmp_path_factory.mktemp(name)
    database_url = f"sqlite:///{folder / 'hamsafar.db'}"
    bot = BotServer(database_url, free_port(), free_port(), folder / "bot.log", extra_env=bot_environment(sms)).start()
    return bot, Player(bot, sms, database_url)


@pytest.fixture(scope="module")
def sms() -> Iterator[FakeSmsGateways]:
    with FakeSmsGateways() as gateways:
        yield gateways


def played(tmp_path_factory: pytest.TempPathFactory, sms: FakeSmsGateways, name: str,
           conversations: List[Conversation]) -> Iterator[Dict[str, Result]]:
    """`conversations` played once against their own bot, three at a time (a module fixture's body)."""
    bot, player = start_player(tmp_path_factory, name, sms)
    try:
        yield play_all(player, conversations)
    finally:
        player.close()
        bot.stop()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, sms: FakeSmsGateways) -> Iterator[Dict[str, Result]]:
    """The first half of the tuning set."""
    yield from played(tmp_path_factory, sms, "conversations", FIRST_HALF)


def test_the_sets_are_large_and_varied_enough() -> None:
    """At least 150 tuning and 50 held-out conversations, every repair kind in both languages."""
    heldout = heldout_set()
    assert len(TUNING) >= 150 and len(heldout) >= 50, (len(TUNING), len(heldout))
    kinds = {"reference", "interruption", "switch", "correction", "closing", "frustration", "clarification",
             "multi", "repeat", "tracking"}
    for conversations in (TUNING, heldout):
        assert {(c.kind, c.language) for c in conversations} >= {(k, lang) for k in kinds for lang in ("fa", "en")}
    assert not {c.id for c in TUNING} & {c.id for c in heldout}
    # written independently: no held-out conversation repeats a tuning one (single lines may
    # coincide — both sets start from the issue's own examples)
    tuning = {tuple(t.user for t in c.turns) for c in TUNING}
    assert not [c.id for c in heldout if tuple(t.user for t in c.turns) in tuning]


# What a customer must never get, in any conversation: these are strict.
NEVER = ("leaked internal text", "reply not in Persian", "reply not in English", "no reply", "request failed")
# Success floors of each half of the tuning set, a little under what the whole set reached
# when these were set (2026-12-07: 651 conversations, all but 2 clarification ones succeeded;
# at the day's last session 698, all but 2 of batch b18; a half has about 25 per kind). A change that loses conversations
# fails here; the per-conversation reports say which and why.
OVERALL_FLOOR = 0.95
PER_KIND_FLOOR = 0.8


def _reports(results: Dict[str, Result], failed: List[str]) -> str:
    return "\n\n".join(results[i].report() for i in failed)


def test_no_conversation_leaks_internals_or_switches_language(results: Dict[str, Result]) -> None:
    """No None, slot or action names, placeholders or tracebacks, no reply in the wrong
    language, no turn left unanswered — in any conversation, whether it reached its goal or not."""
    bad = [i for i, r in results.items() if any(n in f for f in r.failures for n in NEVER)]
    assert not bad, _reports(results, bad)


def test_tuning_set_success_rates(results: Dict[str, Result]) -> None:
    """The share of this half's conversations that go right end to end (every reply and every
    recorded outcome), overall and per repair kind (both languages)."""
    table = success_rates(list(results.values()))
    failed = sorted(i for i, r in results.items() if not r.ok)
    summary = ", ".join(f"{k}: {v['ok']}/{v['total']}" for k, v in sorted(table.items()) if k.endswith("/all"))
    print(f"tuning set: {summary}")
    low = {k: v["rate"] for k, v in table.items() if k.endswith("/all") and k != "all/all" and v["rate"] < PER_KIND_FLOOR}
    assert table["all/all"]["rate"] >= OVERALL_FLOOR and not low, \
        f"{summary}\nbelow the floor: {low}\n\n{_reports(results, failed)}"
