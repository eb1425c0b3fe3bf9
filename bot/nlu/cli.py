"""`hamsafar eval nlu`: train on data/nlu, measure on tests/nlu_heldout (see bot.nlu.evaluate).

Imports no Rasa at import time (bot.cli imports every command module)."""

from __future__ import annotations

import argparse


def _eval_nlu(args: argparse.Namespace) -> int:
    from bot.nlu.evaluate import run

    run(model=args.model, out=args.out, heldout=args.heldout, keep_dir=args.keep_model_dir)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    evaluation = subparsers.add_parser("eval", help="measure the assistant")
    groups = evaluation.add_subparsers(dest="eval_command", metavar="WHAT")
    nlu = groups.add_parser("nlu", help="train an NLU model on data/nlu and evaluate it on tests/nlu_heldout")
    nlu.add_argument("--model", help="evaluate this trained model (.tar.gz) instead of training one")
    nlu.add_argument("--out", default="results/nlu_eval.json", help="write the figures as JSON here")
    nlu.add_argument("--heldout", help="folder of held-out YAML files, one per language (default tests/nlu_heldout)")
    nlu.add_argument("--keep-model-dir", help="train into this folder instead of a temporary one")
    nlu.set_defaults(func=_eval_nlu)
    evaluation.set_defaults(func=lambda args: (evaluation.print_help(), 2)[1])
