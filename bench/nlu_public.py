"""Our NLU pipeline (config.yml) against Rasa's default pipeline on public data sets.

Data: ../shared/benchdata beside the project (or $HAMSAFAR_BENCHDATA) (BANKING77, MASSIVE fa-IR, MASSIVE en-US), converted
with its to_rasa.py. Both pipelines are trained on each data set's train split and
scored on its test split in the same run; accuracy and macro-F1 (sklearn) are
printed next to the published figures from the benchdata README.

    .venv/bin/python bench/nlu_public.py                                  # full run (long on 2 cores)
    .venv/bin/python bench/nlu_public.py --limit-per-intent 20 --epochs 20 --datasets massive_fa

"Rasa default" is the pipeline `rasa init` writes (rasa/cli/initial_project/config.yml,
commented out there and used when the pipeline is empty): WhitespaceTokenizer,
RegexFeaturizer, LexicalSyntacticFeaturizer, CountVectors word + char_wb 1-4,
DIETClassifier (100 epochs), EntitySynonymMapper, ResponseSelector, FallbackClassifier 0.3.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
BENCHDATA = Path(os.environ.get("HAMSAFAR_BENCHDATA",
                                str(PROJECT_ROOT.parent / "shared" / "benchdata")))

DATASETS = {"banking77": "en", "massive_fa": "fa", "massive_en": "en"}
PUBLISHED = {  # accuracy on the test split, from benchdata/README.md
    "banking77": "BERT-Large 93.66, USE+ConveRT 93.36",
    "massive_fa": "mBERT 87.79, XLM-R base 85.44",
    "massive_en": "-",
}
RASA_DEFAULT_PIPELINE = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector", "epochs": 100},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]


def our_pipeline() -> List[dict]:
    import yaml

    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    return config["pipeline"]


def write_config(path: Path, pipeline: List[dict], language: str, epochs: Optional[int]) -> None:
    import yaml

    pipeline = copy.deepcopy(pipeline)
    for component in pipeline:
        if epochs and component["name"] in ("DIETClassifier", "ResponseSelector"):
            component["epochs"] = epochs
        if component["name"] == "SpacyNLP":
            from bot.nlu.spacy_model import ensure_blank_spacy_model

            component["model"] = str(ensure_blank_spacy_model())
    config = {"recipe": "default.v1", "assistant_id": "bench", "language": language, "pipeline": pipeline,
              "policies": []}
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")


def read_examples(path: Path) -> List[tuple]:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().read(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


def train_and_test(config: Path, train: Path, test: Path, out: Path) -> Dict[str, float]:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from sklearn.metrics import accuracy_score, f1_score

    start = time.monotonic()
    model = train_nlu(config=str(config), nlu_data=str(train), output=str(out), fixed_model_name=config.stem)
    train_s = time.monotonic() - start
    agent = Agent.load(model)
    examples = read_examples(test)

    async def parse_all() -> List[dict]:
        return [await agent.parse_message(text) for text, _ in examples]

    start = time.monotonic()
    parsed = asyncio.run(parse_all())
    predicted = [(p.get("intent") or {}).get("name") or "" for p in parsed]
    # The best real intent, as if there were no FallbackClassifier.
    top_intent = [
        next((r["name"] for r in p.get("intent_ranking", []) if r["name"] != "nlu_fallback"), "") for p in parsed
    ]
    test_s = time.monotonic() - start
    gold = [intent for _, intent in examples]
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=sorted(set(gold)), average="macro", zero_division=0)),
        "accuracy_without_fallback": float(accuracy_score(gold, top_intent)),
        "macro_f1_without_fallback": float(
            f1_score(gold, top_intent, labels=sorted(set(gold)), average="macro", zero_division=0)),
        "train_seconds": round(train_s, 1),
        "test_ms_per_example": round(1000 * test_s / max(1, len(examples)), 2),
        "fallback_rate": sum(p == "nlu_fallback" for p in predicted) / max(1, len(predicted)),
        "train_examples": len(read_examples(train)),
        "test_examples": len(examples),
    }


def write_json(path: Path, args: argparse.Namespace, datasets: List[str], results: Dict[str, Dict[str, dict]]) -> None:
    settings = {"limit_per_intent": args.limit_per_intent, "test_limit_per_intent": args.test_limit_per_intent,
                "epochs": args.epochs, "datasets": datasets, "pipelines": args.pipelines}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"settings": settings, "results": results}, indent=2), encoding="utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="banking77,massive_fa,massive_en")
    parser.add_argument("--limit-per-intent", type=int, help="train examples per intent (quick run)")
    parser.add_argument("--test-limit-per-intent", type=int, help="test examples per intent (quick run)")
    parser.add_argument("--epochs", type=int, help="override DIET/ResponseSelector epochs of both pipelines")
    parser.add_argument("--pipelines", default="hamsafar,rasa_default")
    parser.add_argument("--work-dir", help="keep converted data and models here")
    parser.add_argument("--json", default=str(PROJECT_ROOT / "results" / "bench_nlu_public.json"))
    args = parser.parse_args(argv)

    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.chdir(PROJECT_ROOT)
    from bot.nlu.evaluate import quiet_rasa

    quiet_rasa()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="hamsafar-bench-"))
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    command = [sys.executable, str(BENCHDATA / "to_rasa.py"), "--out", str(work / "data"), "--datasets", ",".join(datasets)]
    if args.limit_per_intent:
        command += ["--limit-per-intent", str(args.limit_per_intent)]
    if args.test_limit_per_intent:
        command += ["--test-limit-per-intent", str(args.test_limit_per_intent)]
    subprocess.run(command, check=True)

    pipelines = {"hamsafar": our_pipeline(), "rasa_default": RASA_DEFAULT_PIPELINE}
    chosen = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    results: Dict[str, Dict[str, dict]] = {}
    for dataset in datasets:
        results[dataset] = {}
        for name in chosen:
            config = work / f"{dataset}-{name}.yml"
            write_config(config, pipelines[name], DATASETS[dataset], args.epochs)
            print(f"== {dataset} / {name}: training", flush=True)
            results[dataset][name] = train_and_test(
                config, work / "data" / dataset / "train.yml", work / "data" / dataset / "test.yml", work / "models")
            print(f"   {json.dumps(results[dataset][name])}", flush=True)
            write_json(Path(args.json), args, datasets, results)  # after each run: a long run may be cut short

    print()
    print("accuracy/macro-F1 count nlu_fallback as wrong; 'no-fb' columns use the best real intent instead")
    print(f"{'data set':<12} {'pipeline':<13} {'accuracy':>8} {'macro-F1':>8} {'acc no-fb':>9} {'F1 no-fb':>8} "
          f"{'train s':>8}  published accuracy (%)")
    for dataset, by_pipeline in results.items():
        for name, r in by_pipeline.items():
            print(f"{dataset:<12} {name:<13} {r['accuracy']:>8.4f} {r['macro_f1']:>8.4f} "
                  f"{r['accuracy_without_fallback']:>9.4f} {r['macro_f1_without_fallback']:>8.4f} "
                  f"{r['train_seconds']:>8.0f}  {PUBLISHED.get(dataset, '-')}")
    write_json(Path(args.json), args, datasets, results)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
