"""Touchpoint events: every turn, bot-initiated, agent and transition message as one row.

The `touchpoints` table (`models`) is this package's; `bot/analytics/` reads it too, as the
analysts' documented interface (docs/touchpoints.md). Everyone else goes through:

* `queries`   — named reads (a customer's latest stage and language, goal transitions, the
                conversations the agent console lists, a conversation's state, abandoned goals);
* `store`     — `insert_rows` / `insert_rows_in`: idempotent writes (a journey's own rows);
* `recorder`, `broker`, `consumer`, `tracker_store`, `turn_order` — how Rasa's events become rows;
* `privacy`   — masking and the pseudonymous conversation references rows are stored under;
* `erasure`   — `hamsafar erase` and its registry of every package's eraser (`ERASERS`).

tests/test_layering.py fails an import of the model, or SQL on the table, anywhere else.
"""

# The package's public modules (`from bot.touchpoints import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "assembler",
    "broker",
    "cli",
    "consumer",
    "erasure",
    "models",
    "privacy",
    "queries",
    "recorder",
    "store",
    "tracker_store",
    "turn_order",
]
