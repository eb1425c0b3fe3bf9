"""Success rate of multi-turn customer conversations, per repair kind and language.

Plays a conversation set (default: the held-out set, tests/conversations/heldout,
never used while tuning) through the REST channel of a real `hamsafar run`
(fresh SQLite database, demo shop, fake Kavenegar on 127.0.0.1 for the
one-time codes, 24/7 support desk) and prints, for each repair kind and
language, the conversations that succeeded — every reply right (language,
what must be said, no internal values) and the outcome recorded right
(touchpoint goals, orders, tickets, handoff). Needs a trained model in models/.

    .venv/bin/python bench/conversations.py                 # held-out set
    .venv/bin/python bench/conversations.py --set tuning    # the set the tests use
    .venv/bin/python bench/conversations.py --show-failures

Exit code 0 when at least 95% succeed (the issue's target), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402
from tests.fakes.sms_gateways import FakeSmsGateways  # noqa: E402
from tests.support.bot_server import BotServer  # noqa: E402
from tests.support.conversations import Player, heldout_set, play_all, success_rates, tuning_set  # noqa: E402
from tests.test_conversation_repair import HELDOUT_TARGET, bot_environment  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("heldout", "tuning"), default="heldout")
    parser.add_argument("--show-failures", action="store_true", help="print each failed conversation's transcript")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not list((ROOT / "models").glob("*.tar.gz")):
        print("no trained model in models/: run `.venv/bin/hamsafar train` first", file=sys.stderr)
        return 2
    conversations = heldout_set() if args.set == "heldout" else tuning_set()
    with tempfile.TemporaryDirectory() as work, FakeSmsGateways() as sms:
        database_url = f"sqlite:///{Path(work) / 'hamsafar.db'}"
        bot = BotServer(database_url, free_port(), free_port(), Path(work) / "bot.log",
                        extra_env=bot_environment(sms)).start()
        player = Player(bot, sms, database_url)
        started = time.monotonic()
        try:
            results = list(play_all(player, conversations).values())
        finally:
            player.close()
            bot.stop()
        seconds = time.monotonic() - started
    table = success_rates(results)
    print(f"{args.set} set: {len(results)} conversations, {sum(len(c.turns) for c in conversations)} customer "
          f"messages, played in {seconds:.0f} s\n")
    print(f"{'repair kind':<15} {'fa':>12} {'en':>12} {'all':>12}")
    for kind in sorted({r.conversation.kind for r in results}) + ["all"]:
        cells = []
        for language in ("fa", "en", "all"):
            entry = table.get(f"{kind}/{language}")
            cells.append(f"{entry['ok']}/{entry['total']} {entry['rate']:.0%}" if entry else "-")
        print(f"{kind:<15} {cells[0]:>12} {cells[1]:>12} {cells[2]:>12}")
    failed = [r for r in results if not r.ok]
    print(f"\nfailed: {', '.join(r.conversation.id for r in failed) or 'none'}")
    if args.show_failures:
        for result in failed:
            print("\n" + result.report())
    if args.json:
        args.json.write_text(json.dumps({"set": args.set, "seconds": round(seconds, 1), "rates": table,
                                         "failed": [r.conversation.id for r in failed]}, indent=1), encoding="utf-8")
    return 0 if table["all/all"]["rate"] >= HELDOUT_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
