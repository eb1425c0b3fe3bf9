"""`hamsafar report`: one self-contained HTML file, charts drawn as inline SVG.

No scripts, no external CSS, fonts or images, no network: the file renders
offline and can be mailed. Every piece of text from the database passes
through `html.escape`, and customer text is never shown at all.
Labels are English and Persian; Persian labels are right-to-left with
Persian digits.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy.engine import Engine

from bot.analytics import metrics
from bot.analytics.data import Filters, concurrently, period
from bot.analytics.output import duration
from bot.journey import Journey, load_journey
from bot.text.persian import to_persian_digits

PALETTE = ("#2f6db5", "#e07b39", "#3a9d5d", "#b5452f", "#7d5ab5", "#8c8c8c", "#c9a227", "#2aa1a8")
OUTCOME_COLOURS = {"completed": "#3a9d5d", "failed": "#b5452f", "abandoned": "#e07b39", "open": "#c8c8c8"}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fa(text: Any) -> str:
    """A Persian label: escaped, Persian digits, right-to-left."""
    return f'<span class="fa" dir="rtl" lang="fa">{esc(to_persian_digits(str(text)))}</span>'


def both(en: str, fa_text: str) -> str:
    return f'<span class="en" lang="en">{esc(en)}</span> <span class="sep">·</span> {fa(fa_text)}'


def pct(value: Optional[float], digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def num(value: Optional[float], digits: int = 2) -> str:
    return "–" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def fa_pct(value: Optional[float]) -> str:
    return "–" if value is None else to_persian_digits(f"{100 * value:.1f}") + "٪"


# --------------------------------------------------------------------------- SVG primitives
def svg_text(x: float, y: float, text: str, size: int = 12, anchor: str = "start", rtl: bool = False,
             fill: str = "#222", weight: str = "normal") -> str:
    if rtl:
        text = to_persian_digits(text)
        # in right-to-left text "start" is the right edge
        anchor = {"start": "end", "end": "start"}.get(anchor, anchor)
    extra = ' direction="rtl" unicode-bidi="embed"' if rtl else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}"{extra}>{esc(text)}</text>')


def bar_funnel(lines: List[Dict[str, Any]], width: int = 860) -> str:
    row_h, left, right = 46, 190, 150
    height = row_h * len(lines) + 20
    top = max([l["units"] for l in lines] + [1])
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="funnel">']
    for i, line in enumerate(lines):
        y = 10 + i * row_h
        w = (width - left - right) * line["units"] / top
        x = left + ((width - left - right) - w) / 2
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{row_h - 12}" rx="4" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(svg_text(left - 10, y + 15, line["title_en"], 13, "end", weight="bold"))
        parts.append(svg_text(left - 10, y + 31, line["title_fa"], 12, "end", rtl=True))
        parts.append(svg_text(width - right + 10, y + 15, f"{line['units']}  ({pct(line['conversion_from_first'])})", 12))
        if line["conversion"] is not None:
            parts.append(svg_text(width - right + 10, y + 31, f"← {pct(line['conversion'])} of previous", 11, fill="#555"))
    parts.append("</svg>")
    return "".join(parts)


def bar_simple(items: Sequence[Tuple[str, str, float, str]], max_value: float, width: int = 860,
               colour: str = "#2f6db5") -> str:
    """Horizontal bars: (english label, persian label, value, value text)."""
    row_h, left, right = 34, 230, 110
    height = row_h * len(items) + 10
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img">']
    for i, (en, fa_label, value, shown) in enumerate(items):
        y = 5 + i * row_h
        w = (width - left - right) * (value / max_value if max_value else 0)
        parts.append(f'<rect x="{left}" y="{y}" width="{max(w, 0.5):.1f}" height="{row_h - 10}" rx="3" fill="{colour}"/>')
        parts.append(svg_text(left - 8, y + 11, en, 12, "end"))
        parts.append(svg_text(left - 8, y + 24, fa_label, 11, "end", rtl=True, fill="#555"))
        parts.append(svg_text(left + w + 6, y + 17, shown, 12))
    parts.append("</svg>")
    return "".join(parts)


def stacked_goals(lines: List[Dict[str, Any]], width: int = 860) -> str:
    lines = [l for l in lines if l["started"]]
    row_h, left, right = 34, 230, 70
    height = row_h * len(lines) + 10
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img">']
    for i, line in enumerate(lines):
        y = 5 + i * row_h
        total = max(line["started"], line["completed"] + line["failed"] + line["abandoned"])
        x = float(left)
        open_count = total - line["completed"] - line["failed"] - line["abandoned"]
        for key, count in (("completed", line["completed"]), ("failed", line["failed"]),
                           ("abandoned", line["abandoned"]), ("open", open_count)):
            w = (width - left - right) * count / total if total else 0
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 10}" fill="{OUTCOME_COLOURS[key]}">'
                             f'<title>{esc(key)}: {count}</title></rect>')
            x += w
        parts.append(svg_text(left - 8, y + 11, line["title_en"], 12, "end"))
        parts.append(svg_text(left - 8, y + 24, line["title_fa"], 11, "end", rtl=True, fill="#555"))
        parts.append(svg_text(width - right + 6, y + 17, pct(line["completion_rate"], 0), 12))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(days: List[str], series: Dict[str, List[float]], percent: bool = False, width: int = 860,
               height: int = 260) -> str:
    left, right, top, bottom = 50, 20, 15, 40
    ymax = max([v for values in series.values() for v in values] + [0.0001])
    if percent:
        ymax = min(1.0, ymax * 1.15)
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(days) - 1, 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img">']
    for k in range(5):
        value = ymax * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        parts.append(svg_text(left - 6, y + 4, pct(value, 0) if percent else f"{value:.0f}", 10, "end", fill="#666"))
    step = max(1, len(days) // 8)
    for i, day in enumerate(days):
        if i % step == 0:
            parts.append(svg_text(left + plot_w * i / n, height - bottom + 16, day[5:], 10, "middle", fill="#666"))
    for j, (name, values) in enumerate(series.items()):
        colour = PALETTE[j % len(PALETTE)]
        points = " ".join(f"{left + plot_w * i / n:.1f},{top + plot_h - plot_h * v / ymax:.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts.append(f'<rect x="{left + 10 + j * 130}" y="{height - 14}" width="10" height="10" fill="{colour}"/>')
        parts.append(svg_text(left + 24 + j * 130, height - 5, name, 11))
    parts.append("</svg>")
    return "".join(parts)


def rating_bars(counts: Dict[int, int], scale: Sequence[int], colour_of, width: int = 420, height: int = 200) -> str:
    left, bottom, top = 10, 30, 20
    top_count = max([counts.get(s, 0) for s in scale] + [1])
    bar_w = (width - 2 * left) / len(scale)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img">']
    for i, score in enumerate(scale):
        h = (height - bottom - top) * counts.get(score, 0) / top_count
        x = left + i * bar_w
        parts.append(f'<rect x="{x + 3:.1f}" y="{height - bottom - h:.1f}" width="{bar_w - 6:.1f}" height="{h:.1f}" fill="{colour_of(score)}"/>')
        parts.append(svg_text(x + bar_w / 2, height - bottom + 15, str(score), 11, "middle"))
        parts.append(svg_text(x + bar_w / 2, height - bottom - h - 4, str(counts.get(score, 0)), 10, "middle", fill="#555"))
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- the page
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Tahoma,sans-serif;margin:0;background:#f6f7f9;color:#222}
header{background:#1f3b5c;color:#fff;padding:18px 28px}header h1{margin:0 0 6px;font-size:22px}
main{max-width:940px;margin:0 auto;padding:10px 20px 40px}
section{background:#fff;border-radius:8px;padding:14px 18px;margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:17px;margin:4px 0 10px}.fa{font-family:Vazirmatn,Tahoma,"Noto Naskh Arabic",sans-serif}
.sep{color:#999}.chart{width:100%;height:auto}.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{flex:1 1 130px;background:#f0f4f9;border-radius:6px;padding:10px}.card b{display:block;font-size:22px}
.card small{display:block;color:#555}table{border-collapse:collapse;width:100%;font-size:12px}
th,td{border-bottom:1px solid #e6e6e6;padding:4px 6px;text-align:right}th:first-child,td:first-child,
th:nth-child(2),td:nth-child(2){text-align:left}.muted{color:#666;font-size:12px}.legend span{margin-right:12px}
.two{display:flex;flex-wrap:wrap;gap:16px}.two>div{flex:1 1 400px}
"""


def _card(en: str, fa_label: str, value: str, fa_value: Optional[str] = None) -> str:
    return (f'<div class="card"><b>{esc(value)}</b><small>{esc(en)}</small>'
            f'<small>{fa(fa_label)}{" " + fa(fa_value) if fa_value else ""}</small></div>')


def build_report(engine: Engine, filters: Filters = Filters(), journey: Optional[Journey] = None,
                 unit: str = "customer", mode: str = "strict", window_days: float = 30,
                 now: Optional[dt.datetime] = None) -> str:
    journey = journey or load_journey()
    now = now or dt.datetime.utcnow().replace(microsecond=0)
    funnel, goals, facts, daily, (count, first_at, last_at) = concurrently(
        engine,
        lambda: metrics.funnel(engine, journey, unit, mode, window_days, filters),
        lambda: metrics.goals(engine, journey, filters=filters),
        lambda: metrics.KpiFacts.load(engine, filters),
        lambda: metrics.daily(engine, filters),
        lambda: period(engine, filters))
    overall = (metrics.kpis(engine, (), facts=facts) or [{}])[0]
    by_channel = metrics.kpis(engine, ("channel", "language"), facts=facts)
    ratings = metrics.rating_distribution(facts)
    first = first_at.date().isoformat() if first_at else "–"
    last = last_at.date().isoformat() if last_at else "–"
    period_en = f"{filters.since or first} … {filters.until or last}"
    scope = ", ".join(f"{k}: {', '.join(v)}" for k, v in (("channels", filters.channels), ("languages", filters.languages)) if v)

    out: List[str] = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc('Hamsafar analytics report — گزارش تحلیلی همسفر')}</title>", f"<style>{CSS}</style></head><body>",
        f'<header><h1>{both("Hamsafar analytics report", "گزارش تحلیلی همسفر")}</h1>',
        f'<div>{both("Period " + period_en, "بازه " + period_en)} <span class="sep">·</span> '
        f'{esc(scope or "all channels and languages")} <span class="sep">·</span> '
        f'{esc(f"{count} touchpoints, generated {now.isoformat()} UTC")}</div></header><main>',
    ]
    # KPI cards
    out.append(f'<section><h2>{both("Key figures", "شاخص‌های کلیدی")}</h2><div class="cards">')
    out.append(_card("Conversations", "گفتگوها", str(overall.get("conversations", 0)),
                     to_persian_digits(str(overall.get("conversations", 0)))))
    out.append(_card("Goal completion", "تکمیل هدف", pct(overall.get("goal_completion_rate")), fa_pct(overall.get("goal_completion_rate"))))
    out.append(_card("Containment (no human)", "حل بدون اپراتور", pct(overall.get("containment_rate")), fa_pct(overall.get("containment_rate"))))
    out.append(_card("Fallback rate", "نرخ نفهمیدن", pct(overall.get("fallback_rate")), fa_pct(overall.get("fallback_rate"))))
    out.append(_card("Handoff rate", "نرخ ارجاع به اپراتور", pct(overall.get("handoff_rate")), fa_pct(overall.get("handoff_rate"))))
    csat = overall.get("csat_mean")
    out.append(_card("CSAT (mean of 1–5)", "رضایت (میانگین ۱ تا ۵)", num(csat), to_persian_digits(num(csat))))
    nps = overall.get("nps")
    out.append(_card("NPS", "خالص مروجان", num(nps, 0), to_persian_digits(num(nps, 0))))
    out.append("</div></section>")

    # funnel + stage conversion
    out.append(f'<section><h2>{both("Journey funnel", "قیف سفر مشتری")}</h2>')
    unit_fa = "واحد: " + ("مشتری" if unit == "customer" else "گفتگو")
    out.append(f'<p class="muted">{esc(f"Unit: {unit}; mode: {mode}; conversion window: {window_days:g} days.")} '
               f'{fa(unit_fa + f"؛ پنجره تبدیل: {window_days:g} روز")}</p>')
    out.append(bar_funnel(funnel))
    out.append("<table><tr><th>stage · مرحله</th><th></th><th>units</th><th>conversion</th><th>drop-off</th>"
               "<th>median time from previous</th></tr>")
    for line in funnel:
        median = line["median_seconds_from_previous"]
        out.append(f"<tr><td>{esc(line['title_en'])}</td><td>{fa(line['title_fa'])}</td><td>{line['units']}</td>"
                   f"<td>{pct(line['conversion'])}</td><td>{esc('–' if line['drop_off'] is None else line['drop_off'])}</td>"
                   f"<td>{esc(duration(median) if median is not None else '–')}</td></tr>")
    out.append("</table></section>")
    conv = [l for l in funnel if l["conversion"] is not None]
    out.append(f'<section><h2>{both("Stage-to-stage conversion", "نرخ تبدیل بین مراحل")}</h2>')
    out.append(bar_simple([(f"{funnel[l['order'] - 2]['title_en']} → {l['title_en']}",
                            f"{funnel[l['order'] - 2]['title_fa']} ← {l['title_fa']}", l["conversion"] or 0.0,
                            pct(l["conversion"])) for l in conv], 1.0, colour="#3a9d5d"))
    out.append("</section>")

    # goals
    out.append(f'<section><h2>{both("Goal completion", "تکمیل اهداف")}</h2><p class="legend muted">')
    for key, label in (("completed", "تکمیل"), ("failed", "ناموفق"), ("abandoned", "رها شده"), ("open", "باز")):
        out.append(f'<span><svg width="10" height="10"><rect width="10" height="10" fill="{OUTCOME_COLOURS[key]}"/></svg> '
                   f'{esc(key)} {fa(label)}</span>')
    out.append("</p>" + stacked_goals(goals))
    out.append("<table><tr><th>goal · هدف</th><th></th><th>started</th><th>completed</th><th>failed</th>"
               "<th>abandoned</th><th>abandoned at (intent → last bot action)</th></tr>")
    for g in goals:
        if not g["started"] and not g["abandoned"]:
            continue
        where = "; ".join(f"{s['step']} ({s['count']})" for s in g["abandoned_at"])
        out.append(f"<tr><td>{esc(g['title_en'])}</td><td>{fa(g['title_fa'])}</td><td>{g['started']}</td>"
                   f"<td>{g['completed']}</td><td>{g['failed']}</td><td>{g['abandoned']}</td><td>{esc(where)}</td></tr>")
    out.append("</table></section>")

    # daily volume and trends
    days = sorted({d["day"] for d in daily})
    channels = sorted({d["channel"] for d in daily})
    volume: Dict[str, List[float]] = {c: [0.0] * len(days) for c in channels}
    per_day: Dict[str, Dict[str, float]] = defaultdict(lambda: defaultdict(float))
    index = {d: i for i, d in enumerate(days)}
    for d in daily:
        volume[d["channel"]][index[d["day"]]] = d["conversations"]
        for key in ("conversations", "customer_messages", "fallbacks", "handoffs"):
            per_day[d["day"]][key] += d[key]
    out.append(f'<section><h2>{both("Daily conversations by channel", "گفتگوهای روزانه به تفکیک کانال")}</h2>')
    out.append(line_chart(days, volume) if days else "<p>–</p>")
    out.append("</section>")
    trends = {
        "fallback rate": [metrics.ratio(per_day[d]["fallbacks"], per_day[d]["customer_messages"]) or 0.0 for d in days],
        "handoff rate": [metrics.ratio(per_day[d]["handoffs"], per_day[d]["conversations"]) or 0.0 for d in days],
    }
    out.append(f'<section><h2>{both("Fallback and handoff trends", "روند نفهمیدن و ارجاع به اپراتور")}</h2>')
    out.append('<p class="muted">fallback rate = fallback customer messages ÷ customer messages; '
               'handoff rate = handoffs started ÷ active conversations, per UTC day.</p>')
    out.append((line_chart(days, trends, percent=True) if days else "<p>–</p>") + "</section>")

    # CSAT / NPS
    out.append(f'<section><h2>{both("Satisfaction: CSAT and NPS", "رضایت مشتری و خالص مروجان")}</h2><div class="two"><div>')
    out.append(f"<h3>{both('CSAT answers (1–5)', 'پاسخ‌های رضایت (۱ تا ۵)')}</h3>")
    out.append(rating_bars(ratings["csat"], range(1, 6), lambda s: "#3a9d5d" if s >= 4 else "#c9a227" if s == 3 else "#b5452f"))
    csat_note = f"mean {num(csat)}, satisfied (4–5) {pct(overall.get('csat_satisfied'))}, n = {overall.get('csat_responses', 0)}"
    out.append(f"<p>{esc(csat_note)}</p>")
    out.append("</div><div>")
    out.append(f"<h3>{both('NPS answers (0–10)', 'پاسخ‌های توصیه (۰ تا ۱۰)')}</h3>")
    out.append(rating_bars(ratings["nps"], range(0, 11), lambda s: "#3a9d5d" if s >= 9 else "#c9a227" if s >= 7 else "#b5452f"))
    nps_note = (f"NPS {num(nps, 0)} = promoters {pct(overall.get('promoters'))} − detractors "
                f"{pct(overall.get('detractors'))}, n = {overall.get('nps_responses', 0)}")
    out.append(f"<p>{esc(nps_note)}</p>")
    out.append("</div></div></section>")

    # channel x language table
    out.append(f'<section><h2>{both("By channel and language", "به تفکیک کانال و زبان")}</h2><table><tr>'
               "<th>channel</th><th>language</th><th>conversations</th><th>fallback</th><th>handoff</th>"
               "<th>goal completion</th><th>containment</th><th>CSAT</th><th>NPS</th></tr>")
    for k in by_channel:
        out.append(f"<tr><td>{esc(k['channel'])}</td><td>{esc(k['language'])}</td><td>{k['conversations']}</td>"
                   f"<td>{pct(k['fallback_rate'])}</td><td>{pct(k['handoff_rate'])}</td>"
                   f"<td>{pct(k['goal_completion_rate'])}</td><td>{pct(k['containment_rate'])}</td>"
                   f"<td>{num(k['csat_mean'])}</td><td>{num(k['nps'], 0)}</td></tr>")
    out.append("</table></section>")
    out.append(f'<p class="muted">{esc("Definitions: docs/metrics.md.")} {fa("تعریف شاخص‌ها در docs/metrics.md")}</p>')
    out.append("</main></body></html>\n")
    return "\n".join(out)
