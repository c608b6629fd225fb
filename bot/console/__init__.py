"""`orders-bot console`: the real app in a terminal, against a local Slack of its own."""
