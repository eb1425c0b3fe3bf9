"""Who is this conversation? Verification of customers (bot.identity.verification)."""

# The package's public modules (`from bot.identity import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "erasure",
    "models",
    "profile",
    "verification",
]
