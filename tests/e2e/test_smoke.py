"""Smoke: /orders list answers with the caller's orders."""

from __future__ import annotations

from orders_core.lifecycle import OrderStatus
from tests.support.slackbot import Bot, buttons
from tests.support.world import World


def test_list(bot: Bot, world: World) -> None:
    """A merchant member lists pending confirmation orders and sees Confirm and Reject."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    answer = bot.ask("U0ANA", "list pending confirmation")
    assert number in answer.text
    assert ("order:confirm", "Confirm") in buttons(answer.message)
    clicked = answer.click("order:confirm")
    bot.settle()
    print(clicked.current().text)
    print(bot.slack.describe_calls())
