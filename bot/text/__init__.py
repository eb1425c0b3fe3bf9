"""Text utilities shared by NLU, CRM import, channels and privacy masking."""

# The package's public modules (`from bot.text import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "catalogue",
    "formatting",
    "identifiers",
    "persian",
]
