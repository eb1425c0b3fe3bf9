"""Proactive journeys: the right message, at the right time, on the right channel.

`bot.journey` reads journey.yml (stages, intents, goals: what the customer
does); this package runs `orchestration.yml` (what the shop sends first):

* `definition` — load and check the journeys (triggers, steps, goals, hold-out);
* `models` — the work tables (events, entries, messages) in our database;
* `events` — `emit()`: an event enters, advances, converts or ends entries;
* `watch` — events from our SQL CRM (orders, tickets, feedback, stock, segments);
* `webhooks` — events from WooCommerce webhooks and the REST backend;
* `schedule` — quiet hours and days off in the shop's time zone;
* `runner` — claims due entries (row locks) and runs their steps, exactly once;
* `delivery` — channel choice, consent, sending, the conversation and touchpoints;
* `templates` — messages per language with Jalali dates and Toman amounts;
* `stats` — entered / messaged / converted, hold-out and uplift;
* `channel` — the Rasa input channel: webhook routes and the background runner;
* `cli` — `hamsafar journeys list | preview | run-due | stats`.
"""

# The package's public modules (`from bot.orchestration import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "answers",
    "channel",
    "cli",
    "definition",
    "delivery",
    "engine",
    "erasure",
    "events",
    "models",
    "runner",
    "schedule",
    "stats",
    "templates",
    "watch",
    "webhooks",
]
