"""Hamsafar's Rasa SDK action package (served by bot.runtime.action_server).

Thin actions: they read slots, call bot.crm / bot.identity and choose the
Persian or English text (actions/texts.py). See docs/dialogue.md.
"""

from actions import advocacy, fallback, forms, greeting, handoff, journey, orders, shop  # noqa: F401  (register actions)
