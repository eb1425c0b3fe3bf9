"""`hamsafar eval nlu`: train an NLU-only model on data/nlu and measure it on
the held-out set tests/nlu_heldout/{fa,en}.yml.

Reported: intent macro-F1 overall, per language (file) and per journey stage;
stage accuracy (the stage of the predicted intent — what the parse's
`journey_stage` says — against the gold intent's stage, "none" for general
intents and nlu_fallback), and beside it a strict stage accuracy that counts
every nlu_fallback as wrong (so a fallback on a general intent earns nothing);
entity precision/recall/F1 per entity type with
values compared in canonical form (bot.nlu.entities.canonical_value); the ten
most confused intent pairs; the median parse time; and how many held-out
messages also occur in data/nlu (compared normalised: short common messages
such as "hi" or "where is my order?" are bound to) together with the intent
and stage figures on the remaining, unseen messages — the better guide to
messages nobody has written down yet. Macro-F1 is averaged over the intents present in
the gold labels of the subset (sklearn).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bot import settings

HELDOUT_DIR = settings.PROJECT_ROOT / "tests" / "nlu_heldout"
TRAINING_DIR = settings.PROJECT_ROOT / "data" / "nlu"
NONE_STAGE = "none"


@dataclass
class Example:
    """One held-out NLU example: text, expected intent, language and entities."""

    text: str
    intent: str
    language: str
    entities: List[Tuple[str, str]] = field(default_factory=list)


@dataclass
class Prediction:
    """What the trained pipeline said about one example, and how long it took."""

    intent: str
    confidence: float
    stage: Optional[str]
    language: Optional[str]
    entities: List[Tuple[str, str]]
    ms: float


def load_heldout(directory: Path = HELDOUT_DIR) -> List[Example]:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    examples: List[Example] = []
    for path in sorted(Path(directory).glob("*.yml")):
        language = path.stem  # fa.yml / en.yml
        data = RasaYAMLReader().read(str(path))
        for message in data.intent_examples:
            text = message.get("text")
            entities = [
                (e["entity"], str(e.get("value", text[e["start"]:e["end"]])))
                for e in (message.get("entities") or [])
            ]
            examples.append(Example(text, message.get("intent"), language, entities))
    return examples


def _comparable(text: str) -> str:
    from bot.text.persian import normalise

    return " ".join(normalise(text).lower().strip(" .!?؟،,").split())


def training_overlap(examples: List[Example], training_dir: Path = TRAINING_DIR) -> List[str]:
    """Held-out texts that also appear (normalised) among the training examples."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    trained = set()
    for path in sorted(Path(training_dir).glob("*.yml")):
        data = RasaYAMLReader().read(str(path))
        trained.update(_comparable(m.get("text")) for m in data.intent_examples)
    return [e.text for e in examples if _comparable(e.text) in trained]


def train_model(out_dir: Path, config: str = "config.yml", nlu_data: str = "data/nlu") -> Path:
    from rasa.model_training import train_nlu

    from bot.nlu.spacy_model import ensure_blank_spacy_model

    ensure_blank_spacy_model()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = train_nlu(config=config, nlu_data=nlu_data, output=str(out_dir), fixed_model_name="nlu-eval")
    if not result:
        raise RuntimeError("NLU training failed")
    return Path(result)


def parse_all(model: Path, texts: List[str]) -> List[dict]:
    """Parse every text with the model; adds `_ms` (wall time of the parse)."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))

    async def run() -> List[dict]:
        results = []
        await agent.parse_message("warm up")
        for text in texts:
            start = time.perf_counter()
            parsed = await agent.parse_message(text)
            parsed["_ms"] = (time.perf_counter() - start) * 1000
            results.append(parsed)
        return results

    return asyncio.run(run())


def to_prediction(parsed: dict) -> Prediction:
    from bot.nlu.entities import canonical_value

    intent = parsed.get("intent") or {}
    return Prediction(
        intent=intent.get("name") or "",
        confidence=float(intent.get("confidence") or 0.0),
        stage=parsed.get("journey_stage"),
        language=parsed.get("language"),
        entities=[(e["entity"], canonical_value(e["entity"], str(e.get("value", "")))) for e in parsed.get("entities", [])],
        ms=parsed.get("_ms", 0.0),
    )


def macro_f1(gold: List[str], pred: List[str]) -> Optional[float]:
    from sklearn.metrics import f1_score

    if not gold:
        return None
    return float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0))


def entity_scores(examples: List[Example], predictions: List[Prediction]) -> Dict[str, dict]:
    from bot.nlu.entities import canonical_value

    tp: Counter = Counter()
    n_gold: Counter = Counter()
    n_pred: Counter = Counter()
    for example, prediction in zip(examples, predictions):
        gold = Counter((name, canonical_value(name, value)) for name, value in example.entities)
        pred = Counter(prediction.entities)
        for (name, _), count in gold.items():
            n_gold[name] += count
        for (name, _), count in pred.items():
            n_pred[name] += count
        for key, count in (gold & pred).items():
            tp[key[0]] += count
    scores = {}
    for name in sorted(set(n_gold) | set(n_pred)):
        precision = tp[name] / n_pred[name] if n_pred[name] else 0.0
        recall = tp[name] / n_gold[name] if n_gold[name] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                        "support": n_gold[name], "predicted": n_pred[name]}
    return scores


def evaluate(examples: List[Example], predictions: List[Prediction]) -> dict:
    from bot.journey import load_journey
    from bot.nlu.entities import canonical_value

    journey = load_journey()
    gold = [e.intent for e in examples]
    pred = [p.intent for p in predictions]
    report: dict = {"examples": len(examples)}
    report["intent_macro_f1"] = macro_f1(gold, pred)
    report["intent_accuracy"] = sum(g == p for g, p in zip(gold, pred)) / len(gold) if gold else None
    report["intent_macro_f1_by_language"] = {
        lang: macro_f1([g for g, e in zip(gold, examples) if e.language == lang],
                       [p for p, e in zip(pred, examples) if e.language == lang])
        for lang in sorted({e.language for e in examples})
    }
    gold_stages = [journey.stage_of_intent(g) or NONE_STAGE for g in gold]
    report["intent_macro_f1_by_stage"] = {
        stage: macro_f1([g for g, s in zip(gold, gold_stages) if s == stage],
                        [p for p, s in zip(pred, gold_stages) if s == stage])
        for stage in journey.stage_names + [NONE_STAGE]
    }
    pred_stages = [p.stage or NONE_STAGE for p in predictions]
    report["stage_accuracy"] = sum(g == p for g, p in zip(gold_stages, pred_stages)) / len(gold) if gold else None
    report["stage_accuracy_fallback_wrong"] = (
        sum(g == s and p != "nlu_fallback" for g, s, p in zip(gold_stages, pred_stages, pred)) / len(gold) if gold else None
    )
    report["language_accuracy"] = (
        sum(p.language == e.language for p, e in zip(predictions, examples)) / len(examples) if examples else None
    )
    report["entities"] = entity_scores(examples, predictions)
    confusions = Counter((g, p) for g, p in zip(gold, pred) if g != p)
    report["top_confusions"] = [{"gold": g, "predicted": p, "count": n} for (g, p), n in confusions.most_common(10)]
    report["fallback_rate"] = sum(p == "nlu_fallback" for p in pred) / len(pred) if pred else None
    times = [p.ms for p in predictions]
    report["median_parse_ms"] = statistics.median(times) if times else None
    report["errors"] = [
        {"text": e.text, "language": e.language, "gold": e.intent, "predicted": p.intent,
         "confidence": round(p.confidence, 3)}
        for e, p in zip(examples, predictions) if e.intent != p.intent
    ]
    report["entity_errors"] = []
    for e, p in zip(examples, predictions):
        gold_set = sorted((n, canonical_value(n, v)) for n, v in e.entities)
        if gold_set != sorted(p.entities):
            report["entity_errors"].append({"text": e.text, "gold": gold_set, "predicted": sorted(p.entities)})
    return report


def format_report(report: dict) -> str:
    def pct(value: Optional[float]) -> str:
        return "  n/a" if value is None else f"{value:.3f}"

    lines = [f"held-out examples: {report['examples']}",
             f"intent macro-F1: {pct(report['intent_macro_f1'])}   accuracy: {pct(report['intent_accuracy'])}"
             f"   fallback rate: {pct(report['fallback_rate'])}"]
    for lang, value in report["intent_macro_f1_by_language"].items():
        lines.append(f"  {lang}: {pct(value)}")
    lines.append("intent macro-F1 by stage:")
    for stage, value in report["intent_macro_f1_by_stage"].items():
        lines.append(f"  {stage:<14} {pct(value)}")
    lines.append(f"stage accuracy: {pct(report['stage_accuracy'])}"
                 f"   (nlu_fallback always wrong: {pct(report.get('stage_accuracy_fallback_wrong'))})"
                 f"   language accuracy: {pct(report['language_accuracy'])}")
    lines.append("entities:            P      R      F1   gold  pred")
    for name, s in report["entities"].items():
        lines.append(f"  {name:<15} {s['precision']:.3f}  {s['recall']:.3f}  {s['f1']:.3f}  {s['support']:>4}  {s['predicted']:>4}")
    lines.append("most confused intent pairs (gold -> predicted):")
    for c in report["top_confusions"]:
        lines.append(f"  {c['count']:>3}  {c['gold']} -> {c['predicted']}")
    lines.append(f"median parse time: {report['median_parse_ms']:.1f} ms")
    if "training_overlap" in report:
        lines.append(f"held-out messages also in data/nlu: {len(report['training_overlap'])}")
    unseen = report.get("unseen")
    if unseen:
        by_language = ", ".join(f"{lang} {pct(v)}" for lang, v in unseen["intent_macro_f1_by_language"].items())
        lines.append(f"on the other {unseen['examples']}: intent macro-F1 {pct(unseen['intent_macro_f1'])} ({by_language}),"
                     f" stage accuracy {pct(unseen['stage_accuracy'])}")
    return "\n".join(lines)


def quiet_rasa() -> None:
    import logging

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bot.runtime.quiet_warnings import keep_quiet_after_rasa_configures, quiet_third_party_deprecations

    quiet_third_party_deprecations()
    keep_quiet_after_rasa_configures()   # Rasa's own set-up below would put its "once" filter in front again
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def run(model: Optional[str], out: Optional[str], heldout: Optional[str] = None, keep_dir: Optional[str] = None) -> dict:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    quiet_rasa()
    os.chdir(settings.PROJECT_ROOT)  # config.yml names the spaCy model relative to the project root
    examples = load_heldout(Path(heldout) if heldout else HELDOUT_DIR)
    if model:
        model_path = Path(model)
    else:
        out_dir = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="hamsafar-nlu-eval-"))
        start = time.monotonic()
        model_path = train_model(out_dir)
        print(f"trained {model_path} in {time.monotonic() - start:.0f}s", flush=True)
    parsed = parse_all(model_path, [e.text for e in examples])
    predictions = [to_prediction(p) for p in parsed]
    report = evaluate(examples, predictions)
    report["model"] = str(model_path)
    report["training_overlap"] = training_overlap(examples)
    seen = set(report["training_overlap"])
    unseen = [(e, p) for e, p in zip(examples, predictions) if e.text not in seen]
    if unseen:
        subset = evaluate([e for e, _ in unseen], [p for _, p in unseen])
        report["unseen"] = {key: subset[key] for key in (
            "examples", "intent_macro_f1", "intent_macro_f1_by_language", "stage_accuracy",
            "stage_accuracy_fallback_wrong", "fallback_rate")}
    print(format_report(report))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"wrote {out}")
    return report
