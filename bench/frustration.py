"""Precision of the frustration hand-off on the turns of real-looking conversations.

The frustration detector (bot.handoff.sentiment) hands a customer to a person.
It must fire on upset customers and never on ordinary conversational turns —
goodbyes, thanks, "what?", corrections, mild confusion. This measures it on
the customer turns of the multi-turn conversation sets (tests/conversations,
tuning and held-out), labelled by those conversations themselves:

* upset: in a conversation that expects a hand-off (`handoff: true`), the turn
  after which the bot goes silent (or the last turn);
* ordinary: every turn of a conversation that expects no hand-off.

For each turn it reports the detector alone (`frustrated` of the parse) and
the decision the dialogue takes (bot.handoff.policy: no hand-off on
conversational intents — goodbye, thanks, yes/no, greetings, plain answers —
nor on a repeat or a correction), with the intents of the trained model in
models/. Prints precision, recall and the false alarms by kind of turn.

    .venv/bin/python bench/frustration.py [--set all|tuning|heldout] [--show]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")   # Rasa's structured debug lines would drown the figures

from bot.dialogue import cues  # noqa: E402
from bot.handoff.policy import CONVERSATIONAL_INTENTS  # noqa: E402
from tests.support.conversations import Conversation, heldout_set, tuning_set  # noqa: E402


def labelled_turns(conversations: List[Conversation]) -> List[Tuple[str, bool, str]]:
    """(text, upset, kind of turn) for every customer turn with words."""
    turns: List[Tuple[str, bool, str]] = []
    for conversation in conversations:
        expects_handoff = bool(conversation.outcome.get("handoff"))
        silent_from = next((i for i, t in enumerate(conversation.turns) if t.silent), len(conversation.turns))
        for index, turn in enumerate(conversation.turns):
            text = turn.user
            if "{" in text or not any(ch.isalpha() for ch in text):
                continue   # placeholders (phone, code, order number) and bare numbers
            if expects_handoff:
                if index == silent_from - 1:
                    turns.append((text, True, "upset"))
                continue
            kind = ("goodbye" if cues.says_goodbye(text) else "what?" if cues.asks_to_repeat(text)
                    else "correction" if cues.is_correction(text) else "other")
            turns.append((text, False, kind))
    return turns


async def parse_all(texts: List[str]) -> List[dict]:
    from rasa.core.agent import load_agent

    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    agent = await load_agent(str(models[-1]))
    return [await agent.parse_message(text) for text in texts]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("all", "tuning", "heldout"), default="all")
    parser.add_argument("--show", action="store_true", help="print every false alarm and every miss")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    conversations = (tuning_set() if args.set in ("all", "tuning") else []) + \
        (heldout_set() if args.set in ("all", "heldout") else [])
    turns = labelled_turns(conversations)
    parses = asyncio.run(parse_all([t for t, _, _ in turns]))
    rows = []
    for (text, upset, kind), parse in zip(turns, parses):
        detector = bool((parse.get("sentiment") or {}).get("frustrated"))
        intent = (parse.get("intent") or {}).get("name")
        repair = cues.asks_to_repeat(text) or cues.is_correction(text)
        decision = detector and intent not in CONVERSATIONAL_INTENTS and not repair
        rows.append((text, upset, kind, detector, decision, intent))
    print(f"{len(rows)} customer turns ({sum(r[1] for r in rows)} upset) from {len(conversations)} conversations "
          f"({args.set} set)\n")
    print(f"{'':<22}{'flagged':>9}{'true':>7}{'precision':>11}{'recall':>8}")
    for name, column in (("detector alone", 3), ("hand-off decision", 4)):
        flagged = [r for r in rows if r[column]]
        true = sum(r[1] for r in flagged)
        upset = sum(r[1] for r in rows)
        precision = true / len(flagged) if flagged else float("nan")
        recall = true / upset if upset else float("nan")
        print(f"{name:<22}{len(flagged):>9}{true:>7}{precision:>11.3f}{recall:>8.3f}")
    print("\nfalse alarms of the hand-off decision on ordinary turns, by kind:")
    kinds = Counter(r[2] for r in rows if not r[1])
    alarms = Counter(r[2] for r in rows if not r[1] and r[4])
    for kind in sorted(kinds):
        print(f"  {kind:<12} {alarms[kind]:>3} / {kinds[kind]}")
    if args.show:
        for text, upset, kind, detector, decision, intent in rows:
            if decision != upset:
                print(f"  {'MISS' if upset else 'FALSE ALARM'} [{intent}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
