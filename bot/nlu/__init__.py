"""Hamsafar's Rasa NLU pieces.

Rasa components live in `bot.nlu.components` (import that module, or name the
classes in config.yml as `bot.nlu.components.PersianNormaliser` etc.). The
plain-Python logic they wrap (`entities`, `language`, `catalogue`) imports no
Rasa, so the CLI and tests can use it cheaply.
"""

# The package's public modules (`from bot.nlu import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "catalogue",
    "cli",
    "components",
    "entities",
    "evaluate",
    "language",
    "linear_classifier",
    "lookup",
    "requests",
    "spacy_model",
    "spelling",
]
