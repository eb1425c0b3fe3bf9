"""Human handoff: the queue (service), the bot-silencing policy, the frustration detector and the agent console."""

# The package's public modules (`from bot.handoff import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "cli",
    "config",
    "console",
    "conversation",
    "erasure",
    "models",
    "policy",
    "sentiment",
    "service",
    "texts",
]
