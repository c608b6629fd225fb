"""Database round trips of one click, counted (issue 19): ack to the last Slack call.

Every statement the engine sends is counted (SQLAlchemy's before_cursor_execute), in the
request thread and in the deliveries; the worker is driven by the test, so an idle poll of the
outbox (which finds nothing) is not counted as part of the click.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from orders_core.db import Database
from orders_core.lifecycle import OrderStatus
from tests.e2e.test_market_and_providers import place
from tests.support.slackbot import Bot, blocks_text, running_bot
from tests.support.world import World


class Statements:
    """The SQL statements an engine sent while counting."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.counting = False

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.counting:
            self.sent.append(
                threading.current_thread().name[:12] + " " + " ".join(statement.split())[:100]
            )

    @contextmanager
    def counted(self) -> Iterator[list[str]]:
        """Count what the block sends; the list of statements (kept, for a failure's message)."""
        start = len(self.sent)
        self.counting = True
        found: list[str] = []
        try:
            yield found
        finally:
            self.counting = False
            found.extend(self.sent[start:])


def deliver_all(bot: Bot, statements: Statements) -> list[str]:
    """Deliver every queued item (the coalesced ones too: the clock is moved to them), counting
    the statements of the batches that delivered something."""
    sent: list[str] = []
    for _ in range(20):
        with statements.counted() as batch:
            worked = bot.runtime.worker.run_once()
        if worked:
            sent += batch
            continue
        due = bot.runtime.outbox.next_due(timedelta(minutes=1))
        if due is None:
            return sent
        bot.clock.advance(max(timedelta(0), due - bot.clock.now()) + timedelta(milliseconds=1))
    raise AssertionError("the outbox never emptied")


CONFIRM_STATEMENTS = 16
"""One Confirm, ack to last Slack call, measured 16 (issue 19 asked for 10; the closing note
says why not): the ack's transaction 6 (who clicked, the order, its update, its timeline entry,
the messages that show it, one INSERT of everything to deliver), the outbox's claim 4 (the due
items, the rate budgets locked, spent, the lease), the clicked card redrawn 2 (the message, the
order), the other party's card 2 (the order, the news kept on it), done 2 (the channel's next
post spaced out, the items)."""


@pytest.fixture
def quiet_bot(pg_db: Database) -> Iterator[Bot]:
    """The bot on PostgreSQL, its outbox delivered by the test alone."""
    with running_bot(pg_db, worker=False, start=datetime(2026, 12, 7, 9, 0, tzinfo=UTC)) as running:
        yield running


@pytest.mark.postgres
def test_one_confirm_from_the_merchants_card_in_few_statements_on_postgresql(
    quiet_bot: Bot, world_pg: World
) -> None:
    """As in a workspace: the order placed from Slack (its card in the provider's channel),
    accepted from that card (its card in the merchant's channel), then confirmed from it."""
    bot = quiet_bot
    statements = Statements()
    place(bot)
    deliver_all(bot, statements)
    provider_card = bot.channel("C0PIXEL")[-1]
    bot.click_posted("U0PIA", "C0PIXEL", provider_card["ts"], "order:accept")
    deliver_all(bot, statements)
    merchant_card = bot.channel("C0ACME")[-1]
    bot.clock.advance(timedelta(seconds=30))  # a person reads the card before clicking

    event.listen(bot.db.engine, "before_cursor_execute", statements)
    try:
        with statements.counted() as ack:
            bot.click_posted("U0ANA", "C0ACME", merchant_card["ts"], "order:confirm")
        delivery = deliver_all(bot, statements)
    finally:
        event.remove(bot.db.engine, "before_cursor_execute", statements)

    assert bot.status_of("SO-000001") is OrderStatus.IN_DEVELOPMENT
    for channel in ("C0ACME", "C0PIXEL"):  # both cards redrawn in place, none posted
        (card,) = bot.channel(channel)
        assert "In Development" in blocks_text(card), channel
    (news,) = bot.thread("C0PIXEL", provider_card["ts"])[-1:]
    assert "confirmed" in blocks_text(news)
    every = ack + delivery
    assert len(every) <= CONFIRM_STATEMENTS, "\n".join(every)
    assert len(ack) <= 6, "\n".join(ack)
