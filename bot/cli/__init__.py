"""`orders-bot`: run the bot, and onboard workspaces, parties, members and services.

Every listing takes `--json` for scripts. A mistake an admin can make ends in one line on
stderr saying what was wrong, and exit status 1; nothing is written. Exit status 2: the bot
cannot start or reach what it needs (a setting, the database, its schema, Slack).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.cli import onboarding, operations, orders, reminders, serving
from bot.cli.common import app

__all__ = ["app", "main", "onboarding", "operations", "orders", "reminders", "serving"]


def main(argv: Sequence[str] | None = None) -> None:
    """The console script's entry point."""
    app(args=list(argv) if argv is not None else sys.argv[1:], prog_name="orders-bot")
