"""Conversation-funnel analytics over the `touchpoints` table (docs/metrics.md).

* `data`     — filters (date range, channel, language) and loading rows
* `metrics`  — funnel, goal outcomes, KPIs (fallback, handoff, containment, CSAT, NPS), daily series
* `views`    — SQL views for BI tools (docs/sql/views.sql), created by `create_views(engine)`
* `report`   — one self-contained HTML file with inline SVG charts
* `simulate` — deterministic synthetic journeys written as touchpoint rows
* `cli`      — `hamsafar analytics …`, `hamsafar report`, `hamsafar simulate`
"""

# The package's public modules (`from bot.analytics import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "cli",
    "data",
    "metrics",
    "output",
    "report",
    "simulate",
    "views",
]
