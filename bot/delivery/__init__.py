"""Delivering to Slack: the outbox, what each kind of item does, and the Slack clients."""
