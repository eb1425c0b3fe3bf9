"""Who is this conversation? Verification of customers (bot.identity.verification)."""
