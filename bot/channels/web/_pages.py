"""What a browser loads besides the API: the widget's files (bot/channels/web_static/) and the demo shop page."""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Dict, List

from bot import settings
from bot.text.catalogue import text as catalogue_text
from bot.text.formatting import PERSIAN_THOUSANDS, format_toman
from bot.text.persian import to_persian_digits

STATIC_DIR = Path(__file__).resolve().parent.parent / "web_static"

# The demo page's own policy: its script is the widget from this server, nothing else.
DEMO_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self'")


def _products(limit: int = 6) -> List[Dict[str, str]]:
    path = settings.DEMO_SHOP_DIR / "products.csv"
    try:
        with path.open(encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("stock", "0") != "0"]
    except OSError:
        rows = []
    return rows[:limit] or [
        {"sku": "MOB-SAM-A55", "name_fa": "گوشی سامسونگ گلکسی A55", "name_en": "Samsung Galaxy A55", "price": "28900000"},
    ]


def _fa_digits(value: str) -> str:
    return to_persian_digits(value.replace(",", PERSIAN_THOUSANDS))


def demo_page(lang: str = "fa") -> str:
    """The demo shop: a few products and the one-tag widget (Persian RTL; `?lang=en` for English)."""
    english = lang == "en"
    language = "en" if english else "fa"
    cards = []
    for product in _products():
        name = product.get("name_en" if english else "name_fa") or product.get("sku", "")
        try:
            price = format_toman(int(product.get("price", "0")), language)
        except ValueError:
            raw = product.get("price", "")
            price = catalogue_text("money.toman", language, amount=raw if english else _fa_digits(raw))
        cards.append(
            f'<article class="product"><h2>{html.escape(name)}</h2>'
            f'<p class="sku" dir="ltr">{html.escape(product.get("sku", ""))}</p>'
            f'<p class="price">{html.escape(price)}</p></article>'
        )
    title = catalogue_text("web.demo_title", language)
    intro = catalogue_text("web.demo_intro", language)
    return f"""<!doctype html>
<html lang="{'en' if english else 'fa'}" dir="{'ltr' if english else 'rtl'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
 body {{ margin: 0; font-family: Vazirmatn, Vazir, "Noto Naskh Arabic", "Noto Sans Arabic", Tahoma, "Segoe UI", sans-serif;
        background: #f6f7fb; color: #1d2330; }}
 header {{ background: #0f766e; color: #fff; padding: 1rem 1.5rem; }}
 main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 1rem; padding: 1.5rem; }}
 .product {{ background: #fff; border-radius: 12px; padding: 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.08); }}
 .product h2 {{ font-size: 1rem; margin: 0 0 .5rem; }}
 .sku {{ color: #667085; font-size: .8rem; margin: 0; text-align: start; }}
 .price {{ color: #0f766e; font-weight: bold; }}
</style>
</head>
<body>
<header><h1>{title}</h1><p>{intro}</p></header>
<main>{''.join(cards)}</main>
<script src="widget.js" data-lang="{'en' if english else 'fa'}" defer></script>
</body>
</html>"""
