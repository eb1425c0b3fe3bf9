"""Hamsafar's Rasa SDK action package (served by bot.runtime.action_server).

Thin actions: they read slots, call bot.crm / bot.identity and choose the
Persian or English text (bot/text/catalogue). See docs/dialogue.md.
"""

from actions import (  # noqa: F401  (register actions)
    advocacy, fallback, forms, greeting, handoff, journey, orders, repair, shop, turns,
)

# The package's public modules (`from actions import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "advocacy",
    "budget",
    "common",
    "fallback",
    "forms",
    "greeting",
    "handoff",
    "journey",
    "orders",
    "proactive",
    "products",
    "profile",
    "repair",
    "shop",
    "turns",
]
