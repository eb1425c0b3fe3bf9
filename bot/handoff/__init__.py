"""Human handoff: the queue (service), the bot-silencing policy, the frustration detector and the agent console."""
