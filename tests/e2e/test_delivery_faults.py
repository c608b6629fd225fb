"""The delivery pipeline tried as bad luck would: a token refused for a while, a post that
landed but whose answer was lost while Slack cannot say so, a party's channel that refuses the
bot, one notice Slack refuses every time. Nothing is lost, nothing is posted twice, and someone
is told what to do."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.delivery.outbox import FAILED, PENDING, Failure
from orders_core.lifecycle import OrderStatus
from orders_core.models import OutboxItem
from tests.support.slackbot import TOKEN, Bot
from tests.support.world import World

PC = OrderStatus.PENDING_CONFIRMATION


def confirm(bot: Bot, world: World, user: str = "U0ANA") -> str:
    """Ana confirms an order from her list; its number."""
    number = world.order_in(PC)
    bot.ask(user, "list").click("order:confirm")
    return number


def cards_in(bot: Bot, channel: str) -> list[dict[str, object]]:
    """The top-level messages of a channel (cards, not their thread's news)."""
    return bot.channel(channel)


def deliver_all(bot: Bot, minutes: int = 30) -> None:
    """Let the outbox deliver everything due within `minutes`, moving the clock (no sleeps)."""
    bot.runtime.settle(30, fast_forward=bot.clock.advance, horizon=timedelta(minutes=minutes))


def items(bot: Bot, kind: str) -> list[OutboxItem]:
    """The outbox items of a kind."""
    with bot.db.read() as s:
        return list(
            s.scalars(select(OutboxItem).where(OutboxItem.kind == kind).order_by(OutboxItem.id))
        )


def test_a_token_refused_for_a_while_holds_the_cards_then_delivers_them(
    bot: Bot, world: World
) -> None:
    """invalid_auth for every call (a token being rotated): no card is given up; once the token
    works again, each card arrives once and shows the change."""
    refused = bot.slack.refuse("*", error="invalid_auth", token=TOKEN)
    numbers = [confirm(bot, world) for _ in range(3)]
    bot.runtime.worker.drain(10)
    held = items(bot, "post_card")  # one channel: its first card is tried, the others wait
    assert [i.status for i in held] == [PENDING] * 3
    assert held[0].last_failure == Failure.AUTH
    deliver_all(bot, minutes=5)  # the token is still refused: they wait, however long
    assert all(i.status == PENDING for i in items(bot, "post_card"))
    assert cards_in(bot, "C0PIXEL") == []
    refused.clear()
    deliver_all(bot)
    cards = cards_in(bot, "C0PIXEL")
    assert sorted(n for n in numbers if any(n in json.dumps(c) for c in cards)) == sorted(numbers)
    assert len(cards) == 3 and all("In Development" in json.dumps(c) for c in cards)


def test_a_lost_answer_while_slack_cannot_say_whether_it_landed_is_never_posted_twice(
    bot: Bot, world: World
) -> None:
    """The card's post lands but its answer is lost; the look-up for it answers 500, then 429:
    the card waits and looks again, and is there once."""
    bot.slack.lose_answer("chat.postMessage", channel="C0PIXEL", how="close")
    bot.slack.fail("conversations.history", status=500)
    bot.slack.fail("conversations.history", error="ratelimited", retry_after=2)
    number = confirm(bot, world)
    deliver_all(bot)
    cards = [c for c in cards_in(bot, "C0PIXEL") if number in json.dumps(c)]
    assert len(cards) == 1
    assert len(bot.slack.calls("conversations.history")) >= 3  # looked, failed twice, found it
    assert [i.status for i in items(bot, "post_card")] == ["done"]


def test_a_party_channel_that_refuses_the_bot_is_told_to_who_acted_and_to_the_party(
    bot: Bot, world: World
) -> None:
    """not_in_channel for the provider's channel: Ana, who confirmed, is told in her answer,
    and the provider's members by direct message, with what to do; the card is not retried."""
    bot.slack.refuse("chat.postMessage", error="not_in_channel", channel="C0PIXEL")
    number = confirm(bot, world)
    deliver_all(bot)
    [card] = items(bot, "post_card")
    assert card.status == FAILED and card.last_error == "C0PIXEL: not_in_channel"
    told = json.dumps(bot.slack.calls("response_url")[-1].args)
    assert f"could not post about *{number}*" in told and "/invite @orders" in told
    [dm] = bot.channel(bot.slack.dm_channel("U0PIA"))
    assert "not_in_channel" in json.dumps(dm) and "/invite @orders" in json.dumps(dm)


def test_a_notice_slack_refuses_every_time_is_set_aside_and_the_channel_goes_on(
    bot: Bot, world: World
) -> None:
    """500 every time for one order's card: after a few tries it is set aside (failed, with
    why) within minutes, and the next order's card in that channel is posted."""
    first = world.order_in(PC)
    second = world.order_in(PC)
    bot.slack.fail(
        "chat.postMessage", status=500, times=None, when=lambda a: first in json.dumps(a)
    )
    listing = bot.ask("U0ANA", f"view {first}")
    listing.click("order:confirm")
    bot.ask("U0ANA", f"view {second}").click("order:confirm")
    deliver_all(bot, minutes=10)
    cards = cards_in(bot, "C0PIXEL")
    assert [c for c in cards if second in json.dumps(c)] and not [
        c for c in cards if first in json.dumps(c)
    ]
    set_aside = [i for i in items(bot, "post_card") if i.status == FAILED]
    assert len(set_aside) == 1 and "500" in (set_aside[0].last_error or "")


def test_a_slack_outage_longer_than_five_tries_sets_nothing_aside(bot: Bot, world: World) -> None:
    """500 for everything, for ten minutes of tries: Slack is at fault, not the cards, so none
    is set aside (an item is, only while Slack answers the rest); once Slack is back, each card
    arrives once."""
    bot.slack.outage(500)
    numbers = [confirm(bot, world) for _ in range(2)]
    deliver_all(bot, minutes=10)
    held = items(bot, "post_card")
    assert [i.status for i in held] == [PENDING, PENDING]
    assert held[0].attempts >= 5, "the outage did not outlast five tries"
    bot.slack.recover()
    deliver_all(bot)
    cards = cards_in(bot, "C0PIXEL")
    assert len(cards) == 2 and all(any(n in json.dumps(c) for c in cards) for n in numbers)
    assert [i.status for i in items(bot, "post_card")] == ["done", "done"]
