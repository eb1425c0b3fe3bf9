"""Measure bot.handoff.sentiment on real Persian customer feedback (SnappFood, HAPPY/SAD).

The detector is trained only on our own data (bot/handoff/data/); SnappFood is used
to MEASURE it. The split is the one `../shared/benchdata/to_rasa.py` makes (sha1 of
the comment, 20% test); we report on `test` (and on `train` as a second sample,
which we never trained on either).

    .venv/bin/python bench/sentiment_snappfood.py [--data ../shared/benchdata] [--split test|train|all]

Positive class = SAD (label_id 1). Reported:
* `negative`: the detector's label is "negative" -> precision / recall / F1 of SAD;
* `frustrated`: the (stricter) hand-off trigger -> precision / recall of SAD, and its rate;
* accuracy of label "negative" vs not against SAD vs HAPPY.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load(data_root: Path, split: str):
    path = data_root / "snappfood_sentiment" / "snappfood_kaggle_20pct_split.csv"
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            label = str(row["label_id"]).strip()
            if label not in ("0", "1"):
                continue
            h = int(hashlib.sha1(("snappfood\x00" + row["comment"]).encode("utf-8")).hexdigest()[:8], 16) / float(0xFFFFFFFF)
            part = "test" if h < 0.2 else "train"
            if split in ("all", part):
                rows.append((" ".join(row["comment"].split()), label == "1"))
    return rows


def prf(predicted, gold):
    tp = sum(1 for p, g in zip(predicted, gold) if p and g)
    fp = sum(1 for p, g in zip(predicted, gold) if p and not g)
    fn = sum(1 for p, g in zip(predicted, gold) if not p and g)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "predicted": tp + fp}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "benchdata"))
    parser.add_argument("--split", default="test", choices=["test", "train", "all"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from bot.handoff.sentiment import SentimentModel

    rows = load(Path(args.data), args.split)
    started = time.perf_counter()
    model = SentimentModel()
    results = model.analyse_many([t for t, _ in rows])
    seconds = time.perf_counter() - started
    gold = [g for _, g in rows]
    negative = [r["label"] == "negative" for r in results]
    frustrated = [r["frustrated"] for r in results]
    report = {
        "split": args.split, "examples": len(rows), "sad": sum(gold),
        "negative_vs_sad": prf(negative, gold),
        "accuracy": round(sum(1 for p, g in zip(negative, gold) if p == g) / len(rows), 4),
        "frustrated_vs_sad": prf(frustrated, gold),
        "frustrated_rate": round(sum(frustrated) / len(rows), 4),
        "ms_per_message": round(1000 * seconds / max(1, len(rows)), 3),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"SnappFood {args.split}: {report['examples']} comments, {report['sad']} SAD")
        n, f = report["negative_vs_sad"], report["frustrated_vs_sad"]
        print(f"label=negative  precision {n['precision']:.3f}  recall {n['recall']:.3f}  F1 {n['f1']:.3f}  "
              f"accuracy {report['accuracy']:.3f}")
        print(f"frustrated      precision {f['precision']:.3f}  recall {f['recall']:.3f}  "
              f"(flags {report['frustrated_rate']:.1%} of comments)")
        print(f"{report['ms_per_message']} ms per comment (incl. training on our data)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
