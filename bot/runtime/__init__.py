"""Set-up, training and process supervision behind `hamsafar setup/train/run/chat`."""

# The package's public modules (`from bot.runtime import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "action_server",
    "action_threads",
    "chat",
    "cli",
    "collector",
    "log_redaction",
    "message_costs",
    "model_loading",
    "quiet_warnings",
    "rasa_server",
    "request_limits",
    "setup",
    "supervisor",
    "topology",
    "warm_up",
]
