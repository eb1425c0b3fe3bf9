"""The journey definition (journey.yml): stages, intent -> stage, intent -> goal."""

from bot.journey.definition import Goal, Journey, Stage, load_journey

__all__ = ["Goal", "Journey", "Stage", "load_journey"]
