"""Hamsafar's Rasa SDK action package (served by bot.runtime.action_server).

Thin actions: they read slots, call bot.crm / bot.identity and choose the
Persian or English text (bot/text/catalogue). See docs/dialogue.md.
"""

from actions import (  # noqa: F401  (register actions)
    advocacy, fallback, forms, greeting, handoff, journey, orders, repair, shop, turns,
)
