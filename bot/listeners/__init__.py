"""Bolt listeners, one module per Slack surface, each with `register(app, deps)`."""

from __future__ import annotations

COMMAND = "/orders"
BOT_EVENTS = ("app_home_opened", "app_uninstalled", "tokens_revoked")
