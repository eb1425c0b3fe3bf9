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


UNIT_FA = {"conversation": "گفتگوها", "customer": "مشتریان شناخته‌شده"}
MODE_FA = {"any-order": "به هر ترتیب", "strict": "به ترتیب مراحل"}
# The headline funnel and the two views shown beside it (docs/metrics.md#funnel).
FUNNEL_VIEWS = (("conversation", "any-order"), ("customer", "any-order"), ("customer", "strict"))


def build_report(engine: Engine, filters: Filters = Filters(), journey: Optional[Journey] = None,
                 unit: str = "conversation", mode: str = "any-order", window_days: float = 30,
                 now: Optional[dt.datetime] = None) -> str:
    """The report. The headline funnel counts conversations reaching each stage in any order
    (what a day of mostly anonymous chats that start at consideration really shows); identified
    customers in any order and in strict journey order stand beside it."""
    journey = journey or load_journey()
    now = now or dt.datetime.utcnow().replace(microsecond=0)
    views = [(unit, mode)] + [v for v in FUNNEL_VIEWS if v != (unit, mode)]
    funnels = concurrently(engine, *[
        (lambda u=u, m=m: metrics.funnel(engine, journey, u, m, window_days, filters)) for u, m in views])
    funnel = funnels[0]
    goals, facts, daily, (count, first_at, last_at) = concurrently(
        engine,
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
    shown = f"{unit}s reaching each stage, {mode.replace('-', ' ')}"
    out.append(f'<p class="muted" id="funnel-shown">{esc(f"Shown: {shown}, within {window_days:g} days of their first staged message; beside it the other views. Strict order counts a unit at a stage only after every earlier stage, so chats that start at consideration count 0 past awareness there.")} '
               f'{fa(f"نمودار: {UNIT_FA[unit]} که به هر مرحله رسیده‌اند ({MODE_FA[mode]})، در {window_days:g} روز؛ نماهای دیگر در جدول.")}</p>')
    out.append(bar_funnel(funnel))
    headers = "".join(f"<th>{esc(u)}s, {esc(m)}</th>" for u, m in views)
    out.append(f"<table><tr><th>stage · مرحله</th><th></th>{headers}<th>conversion</th><th>drop-off</th>"
               "<th>median time from previous</th></tr>")
    for k, line in enumerate(funnel):
        median = line["median_seconds_from_previous"]
        cells = "".join(f"<td>{other[k]['units']}</td>" for other in funnels)
        out.append(f"<tr><td>{esc(line['title_en'])}</td><td>{fa(line['title_fa'])}</td>{cells}"
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
    out.append(journeys_section(engine, filters, now))
    out.append(f'<p class="muted">{esc("Definitions: docs/metrics.md, docs/orchestration.md.")} {fa("تعریف شاخص‌ها در docs/metrics.md")}</p>')
    out.append("</main></body></html>\n")
    return "\n".join(out)


# --------------------------------------------------------------------------- proactive journeys
def uplift_chart(lines: List[Dict[str, Any]], width: int = 860) -> str:
    """Uplift per journey with its 95 % interval: a dot and a whisker around zero."""
    lines = [l for l in lines if l["uplift"] is not None]
    if not lines:
        return '<p class="muted">–</p>'
    row_h, left, right = 34, 230, 190
    height = row_h * len(lines) + 24
    span = max(max(abs(l["uplift_low"]), abs(l["uplift_high"])) for l in lines) or 0.01
    plot = width - left - right

    def x(value: float) -> float:
        return left + plot / 2 + plot / 2 * value / span

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="uplift">',
             f'<line x1="{x(0):.1f}" y1="0" x2="{x(0):.1f}" y2="{height - 20}" stroke="#999" stroke-dasharray="3,3"/>',
             svg_text(x(0), height - 6, "0", 10, "middle", fill="#666"),
             svg_text(x(span), height - 6, pct(span, 0), 10, "end", fill="#666"),
             svg_text(x(-span), height - 6, pct(-span, 0), 10, "start", fill="#666")]
    for i, line in enumerate(lines):
        y = 12 + i * row_h
        colour = "#3a9d5d" if line["uplift_low"] > 0 else "#b5452f" if line["uplift_high"] < 0 else "#8c8c8c"
        parts.append(f'<line x1="{x(line["uplift_low"]):.1f}" y1="{y}" x2="{x(line["uplift_high"]):.1f}" y2="{y}" '
                     f'stroke="{colour}" stroke-width="3"><title>{esc(line["journey"])}</title></line>')
        parts.append(f'<circle cx="{x(line["uplift"]):.1f}" cy="{y}" r="5" fill="{colour}"/>')
        parts.append(svg_text(left - 8, y - 1, line["title_en"], 12, "end"))
        parts.append(svg_text(left - 8, y + 12, line["title_fa"], 11, "end", rtl=True, fill="#555"))
        parts.append(svg_text(width - right + 8, y + 4,
                              f"{pct(line['uplift'])} [{pct(line['uplift_low'])}, {pct(line['uplift_high'])}]", 11))
    parts.append("</svg>")
    return "".join(parts)


def journeys_section(engine: Engine, filters: Filters = Filters(), now: Optional[dt.datetime] = None) -> str:
    """Proactive journeys: entered, messaged, converted, hold-out, uplift; by channel and language; shop KPIs."""
    from bot.orchestration.definition import OrchestrationConfigError, load_book
    from bot.orchestration.stats import journey_stats, shop_kpis

    title = f'<section id="journeys"><h2>{both("Proactive journeys", "پیام‌های پیشدستانه (سفرهای خودکار)")}</h2>'
    try:
        book = load_book()
        lines = journey_stats(engine, book, now=now, since=filters.since, until=filters.until)
        kpis = shop_kpis(engine, now=now)
    except OrchestrationConfigError as error:
        return title + f"<p>{esc(f'orchestration.yml is not valid: {error}')}</p></section>"
    except Exception as error:  # noqa: BLE001 - a database without the journey tables: the rest of the report stands
        return title + f"<p>{esc(f'no journey figures ({type(error).__name__})')}</p></section>"
    out = [title, '<p class="muted">' + esc(
        "Conversion = the journey's goal reached within its window; rates count entries whose outcome is known "
        "(pending = still inside the window). Hold-out entries go through the journey without being messaged; "
        "uplift = conversion of the messaged − conversion of the hold-out, with its 95 % interval (Newcombe). "
        "Entries are dated by when they entered; channel and language filters do not apply here.") + "</p>"]
    out.append("<table><tr><th>journey</th><th></th><th>entered</th><th>hold-out</th><th>messaged</th><th>messages</th>"
               "<th>converted</th><th>pending</th><th>conversion</th><th>hold-out conv.</th><th>uplift [95 % CI]</th></tr>")
    for l in lines:
        ci = "–" if l["uplift"] is None else f"{pct(l['uplift'])} [{pct(l['uplift_low'])}, {pct(l['uplift_high'])}]"
        out.append(f"<tr><td>{esc(l['title_en'])}</td><td>{fa(l['title_fa'])}</td><td>{l['entered']}</td>"
                   f"<td>{l['holdout']}</td><td>{l['messaged']}</td><td>{l['messages']}</td><td>{l['converted']}</td>"
                   f"<td>{l['pending']}</td><td>{pct(l['conversion'])}</td><td>{pct(l['holdout_conversion'])}</td>"
                   f"<td>{esc(ci)}</td></tr>")
    out.append("</table>")
    out.append(f"<h3>{both('Uplift against the hold-out', 'اثر افزوده نسبت به گروه کنترل')}</h3>")
    out.append(uplift_chart(lines))
    out.append(f"<h3>{both('By channel of the first message', 'به تفکیک کانال نخستین پیام')}</h3>")
    out.append("<table><tr><th>journey</th><th>channel</th><th>entries</th><th>messages</th><th>converted</th><th>conversion</th></tr>")
    for l in lines:
        for channel, cell in l["by_channel"].items():
            out.append(f"<tr><td>{esc(l['journey'])}</td><td>{esc(channel)}</td><td>{cell['entered']}</td>"
                       f"<td>{cell['messages']}</td><td>{cell['converted']}</td><td>{pct(cell['conversion'])}</td></tr>")
    out.append("</table>")
    out.append(f"<h3>{both('By language', 'به تفکیک زبان')}</h3>")
    out.append("<table><tr><th>journey</th><th>language</th><th>messaged: entries</th><th>conversion</th>"
               "<th>hold-out: entries</th><th>conversion</th></tr>")
    for l in lines:
        for language, groups in l["by_language"].items():
            t, h = groups["treated"], groups["holdout"]
            out.append(f"<tr><td>{esc(l['journey'])}</td><td>{esc(language)}</td><td>{t['entered']}</td>"
                       f"<td>{pct(t['conversion'])}</td><td>{h['entered']}</td><td>{pct(h['conversion'])}</td></tr>")
    out.append("</table>")
    median = kpis["median_hours_to_resolution"]
    out.append('<div class="cards">')
    out.append(_card(f"Churn rate (no order in {kpis['churn_days']} days)", "نرخ ریزش", pct(kpis["churn_rate"]),
                     fa_pct(kpis["churn_rate"])))
    out.append(_card("Median time to resolve a ticket", "میانه زمان حل درخواست",
                     "–" if median is None else f"{median:.1f} h",
                     None if median is None else to_persian_digits(f"{median:.1f}") + " ساعت"))
    out.append("</div></section>")
    return "\n".join(out)
