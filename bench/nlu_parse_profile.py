"""Where a parse's time goes: wall time per NLU component of the trained model.

Loads the newest model in models/ (or --model), parses the held-out messages
(tests/nlu_heldout) one at a time as the server does, and times each pipeline
component's `process` with perf_counter (no profiler, so the figures are the
real cost, not cProfile's inflated Python overhead). Prints the median and
mean parse and, per component, its mean share; the rest is Rasa's graph
runner and logging. Log output is silenced, as in production at INFO level.

    .venv/bin/python bench/nlu_parse_profile.py [--model models/x.tar.gz] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import importlib
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

import yaml  # noqa: E402

SPENT: Dict[str, float] = collections.defaultdict(float)


def component_class(name: str) -> type:
    """The class behind a config.yml pipeline entry (our dotted path or a Rasa registry name)."""
    if "." in name:
        module, _, attribute = name.rpartition(".")
        return getattr(importlib.import_module(module), attribute)
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    return DefaultV1Recipe._from_registry(name).clazz


def time_process_of(cls: type) -> None:
    """Wrap `cls.process` so every call adds its wall time to SPENT[class name]."""
    original: Callable = cls.process

    def timed(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            SPENT[cls.__name__] += time.perf_counter() - start

    cls.process = timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    parser.add_argument("--repeat", type=int, default=1, help="parse the held-out set this many times")
    args = parser.parse_args()

    logging.disable(logging.INFO)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    import rasa.engine.recipes.default_recipe  # noqa: F401  (fills the component registry)
    from rasa.core.agent import Agent

    from bot.nlu.evaluate import load_heldout

    model = args.model or max((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, default=None)
    if model is None:
        sys.exit("no trained model in models/: run `hamsafar train` first")
    pipeline = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    for cls in {component_class(entry["name"]) for entry in pipeline}:
        time_process_of(cls)

    agent = Agent.load(str(model))
    texts: List[str] = [example.text for example in load_heldout()] * args.repeat

    async def parse_all() -> List[float]:
        for text in texts[:30]:  # warm-up: TensorFlow traces its graph on the first calls
            await agent.parse_message(text)
        SPENT.clear()
        walls = []
        for text in texts:
            start = time.perf_counter()
            await agent.parse_message(text)
            walls.append(time.perf_counter() - start)
        return walls

    walls = asyncio.run(parse_all())
    n = len(walls)
    print(f"model {model.name}: {n} parses, median {statistics.median(walls) * 1000:.2f} ms, "
          f"mean {statistics.mean(walls) * 1000:.2f} ms")
    total = sum(walls)
    for name, seconds in sorted(SPENT.items(), key=lambda item: -item[1]):
        print(f"  {name:<28} {seconds / n * 1000:6.2f} ms  {seconds / total:6.1%}")
    rest = total - sum(SPENT.values())
    print(f"  {'(graph runner, rest)':<28} {rest / n * 1000:6.2f} ms  {rest / total:6.1%}")


if __name__ == "__main__":
    main()
