"""A Slack outage under load: 200 actions while Slack answers 500, rate-limits and times out.

Every state change is kept; after recovery every message shows the final status, and each
notification is delivered once (a timed-out post that did land is found again, not re-posted).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.delivery.outbox import Failure
from bot.ui.orders import ButtonValue
from orders_core.db import Database
from orders_core.lifecycle import Action, OrderStatus
from orders_core.models import Order, OrderEvent, OutboxItem
from tests.support.slackbot import Bot, running_bot
from tests.support.world import TEAM, World, build_world

ACTIONS = 200
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
"""Before the wall clock, which the local Slack's message timestamps follow: a look-up for an
earlier post reads the channel from when its item was queued."""


@pytest.fixture
def world(db: Database) -> World:
    """The test world."""
    return build_world(db)


@pytest.fixture
def bot(db: Database, world: World) -> Iterator[Bot]:
    """The bot, with a 1-second Slack timeout so that slow answers become timeouts quickly; its
    clock moves only when the test moves it, so the outage lasts as long on every machine (on
    the wall clock, a loaded machine stretched it past the five tries that set an item aside)."""
    with running_bot(db, slack_timeout_seconds=1, start=START) as running:
        yield running


def confirm_click(bot: Bot, number: int, user: str) -> str:
    """A signed click on Confirm in the order's detail (an ephemeral); its response_url."""
    url = bot.slack.new_response_url(channel="C0ACME", user=user, team_id=TEAM)
    value = ButtonValue(number, 2, {"k": "detail"}).encode()
    response = bot.sender.block_action(
        team_id=TEAM, user_id=user, action_id="order:confirm", value=value, text="Confirm",
        channel_id="C0ACME", response_url=url, is_ephemeral=True, message_ts="1.1",
    )  # fmt: skip
    assert response.status == 200
    return url


def unclear_posts(bot: Bot) -> int:
    """Card posts whose last try ended without an answer (they may have landed)."""
    with bot.db.read() as s:
        failures = s.scalars(
            select(OutboxItem.last_failure).where(
                OutboxItem.kind == "post_card", OutboxItem.attempts > 0
            )
        ).all()
    return sum(1 for f in failures if f == Failure.UNCLEAR)


def test_200_actions_through_an_outage(bot: Bot, world: World) -> None:
    """500s, then 429s with Retry-After, then timeouts; then recovery: nothing lost, nothing twice."""
    numbers = [int(world.order_in(OrderStatus.PENDING_CONFIRMATION)[3:]) for _ in range(ACTIONS)]
    for user in ("U0ANA", "U0BEN", "U0PIA"):  # their Home tabs are open (drawn anew when reopened)
        bot.sender.app_home_opened(team_id=TEAM, user_id=user)
    bot.settle()
    bot.slack.outage(500)
    urls: dict[int, str] = {}
    lock = threading.Lock()

    def click(chunk: list[int]) -> None:
        for i, n in enumerate(chunk):
            url = confirm_click(bot, n, "U0ANA" if i % 2 else "U0BEN")
            with lock:
                urls[n] = url

    first, second, third = numbers[:80], numbers[80:140], numbers[140:]
    for batch, before in ((first, None), (second, "ratelimit"), (third, "timeout")):
        if before == "ratelimit":
            bot.slack.recover()
            bot.slack.fail("*", error="ratelimited", retry_after=1, times=60)
        elif before == "timeout":
            bot.slack.clear_faults()
            bot.slack.delay("chat.postMessage", 2.0, times=6)  # longer than the client's 1 s
            bot.slack.delay("response_url", 2.0, times=6)
        threads = [threading.Thread(target=click, args=(batch[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        bot.runtime.worker.run_once()

    # While Slack is still slow, the channel's queue moves on (past its one-post-a-second pacing)
    # until a card post has timed out: its retry must look for it before posting again. (The
    # clicks alone may finish before the channel's next post is due.)
    for _ in range(12):
        if unclear_posts(bot):
            break
        bot.clock.advance(timedelta(seconds=5))
        bot.runtime.worker.run_once()
    assert unclear_posts(bot), "no card post timed out while Slack was slow"

    # Every state change is kept, once.
    with bot.db.read() as s:
        statuses = Counter(s.scalars(select(Order.status)))
        confirms = s.scalar(
            select(func.count()).select_from(OrderEvent).where(OrderEvent.action == Action.CONFIRM)
        )
    assert statuses == {OrderStatus.IN_DEVELOPMENT: ACTIONS} and confirms == ACTIONS

    # Slack comes back: deliver everything (moving the clock through the backoffs), once the
    # slow calls it was still carrying out when the bot gave up on them have been carried out.
    bot.slack.clear_faults()
    bot.slack.wait_for(lambda: bot.slack.in_flight == 0, timeout=10)
    for _ in range(40):
        bot.settle(60)
        with bot.db.read() as s:
            pending = s.scalar(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending")
            )
        if not pending:
            break
        # Simulated time may only run ahead once Slack has finished what it was still carrying out.
        bot.slack.wait_for(lambda: bot.slack.in_flight == 0, timeout=10)
        bot.clock.advance(timedelta(seconds=301))
    with bot.db.read() as s:
        states = Counter(s.scalars(select(OutboxItem.status)))
        failed = s.execute(
            select(OutboxItem.kind, OutboxItem.attempts, OutboxItem.last_error).where(
                OutboxItem.status == "failed"
            )
        ).all()
    assert states.get("pending", 0) == 0 and states.get("failed", 0) == 0, (states, failed)

    # The timed-out posts had landed: their retries found them instead of posting again.
    assert bot.slack.calls("conversations.history"), "no retry looked for an earlier post"

    # Every message shows the final status, each delivered once.
    cards = bot.channel("C0PIXEL")
    per_order = Counter(json.loads(json.dumps(c["blocks"]))[1]["block_id"] for c in cards)
    assert len(cards) == ACTIONS and set(per_order.values()) == {1}
    assert all("In Development" in json.dumps(c) for c in cards)
    for n, url in urls.items():
        shown = bot.slack.response_messages(url)
        assert (
            shown
            and "In Development" in json.dumps(shown[-1])
            and f"SO-{n:06d}" in json.dumps(shown[-1])
        )
    for user in ("U0ANA", "U0BEN", "U0PIA"):  # each Home, opened now, shows where things stand
        before = bot.slack.home_view(user)
        bot.sender.app_home_opened(team_id=TEAM, user_id=user)
        bot.settle()
        home = json.dumps(bot.slack.home_view(user))
        assert home != json.dumps(before)
        assert "Pending Confirmation *0*" in home and f"In Development *{ACTIONS}*" in home
