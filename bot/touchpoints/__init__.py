"""Touchpoint events: every turn, bot-initiated, agent and transition message as one row."""
