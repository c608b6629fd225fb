"""End-to-end fixtures: the bot in HTTP mode with a local Slack, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orders_core.db import Database
from tests.support.slackbot import Bot, running_bot


@pytest.fixture
def bot(db: Database) -> Iterator[Bot]:
    """The bot, running, with the test world onboarded (see the `world` fixture)."""
    with running_bot(db) as running:
        yield running
