"""Hamsafar (همسفر): a Persian/English customer-journey assistant on Rasa 3.6."""

__version__ = "0.1.0"

# The package's public modules (`from bot import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "analytics",
    "channels",
    "cli",
    "crm",
    "db",
    "dialogue",
    "handoff",
    "identity",
    "journey",
    "nlu",
    "orchestration",
    "runtime",
    "schema",
    "settings",
    "stores",
    "text",
    "touchpoints",
]
