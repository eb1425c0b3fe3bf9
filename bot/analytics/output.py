"""Printing metric lines as an aligned table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from typing import Any, Dict, List, Optional, Sequence

FORMATS = ("table", "csv", "json")
RATE_SUFFIXES = ("_rate", "conversion", "conversion_from_first", "csat_satisfied", "promoters", "detractors",
                 "uplift", "uplift_low", "uplift_high")


def cell(name: str, value: Any) -> str:
    """A human form of one value for the table."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return "; ".join(f"{v['step']} ({v['count']})" if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, float):
        if name.endswith(RATE_SUFFIXES):
            return f"{100 * value:.1f}%"
        if name.startswith("median_seconds"):
            return duration(value)
        return f"{value:.2f}"
    return str(value)


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(ch) or ch == "\u200c" else 1 for ch in text)


def render(lines: List[Dict[str, Any]], fmt: str = "table", columns: Optional[Sequence[str]] = None,
           meta: Optional[Dict[str, Any]] = None) -> str:
    columns = list(columns or (lines[0].keys() if lines else []))
    if fmt == "json":
        return json.dumps({**(meta or {}), "rows": lines}, ensure_ascii=False, indent=2, default=str)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for line in lines:
            writer.writerow([
                "" if line.get(c) is None else
                ("; ".join(f"{v['step']} ({v['count']})" for v in line[c]) if isinstance(line.get(c), list) else line[c])
                for c in columns])
        return buffer.getvalue()
    if fmt != "table":
        raise ValueError(f"format must be one of {FORMATS}")
    if not lines:
        return "(no rows)\n"
    cells = [[cell(c, line.get(c)) for c in columns] for line in lines]
    widths = [max(_width(c), *(_width(row[i]) for row in cells)) for i, c in enumerate(columns)]
    def fmt_row(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (widths[i] - _width(v)) for i, v in enumerate(values)).rstrip()
    out = [fmt_row(columns), fmt_row(["-" * w for w in widths])] + [fmt_row(r) for r in cells]
    return "\n".join(out) + "\n"
