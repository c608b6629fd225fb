"""Shortcuts (issue 20: 2), over signed HTTP: *New service order* from anywhere, and *Add to an
order…* on a message, with its type-ahead picker."""

from __future__ import annotations

import json
from typing import Any

from orders_core.lifecycle import Note, OrderStatus
from tests.e2e.test_market_and_providers import order_form_inputs
from tests.support.slackbot import Bot
from tests.support.world import World

PC = OrderStatus.PENDING_CONFIRMATION
WORDS = "The client wants <!channel> dark mode & a “café” theme — 生日快乐 🎉 <@U0EVIL>"
SENT = WORDS.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
"""WORDS as Slack sends a message's text."""


def test_new_service_order_opens_the_form_for_a_merchant(bot: Bot, world: World) -> None:
    """A merchant's member gets the order form and places an order from it."""
    assert (
        bot.sender.global_shortcut(
            team_id="T0TEST", user_id="U0ANA", callback_id="order_new"
        ).status
        == 200
    )
    form = bot.modal("U0ANA")
    assert form["callback_id"] == "order_place"
    bot.submit("U0ANA", order_form_inputs(form))
    bot.settle()
    assert bot.status_of("SO-000001") is OrderStatus.NEW


def test_new_service_order_tells_a_provider_or_a_stranger_why_not(bot: Bot, world: World) -> None:
    """No form: a small modal that says why, for a provider and for someone of no party."""
    for user, says in (("U0PIA", "merchant"), ("U0NOBODY", "not a member")):
        bot.sender.global_shortcut(team_id="T0TEST", user_id=user, callback_id="order_new")
        modal = bot.modal(user)
        assert modal["title"]["text"] == "Not possible" and says in json.dumps(modal), modal
    assert bot.status_of("SO-000001") is None


def picked(bot: Bot, user: str, typed: str) -> list[str]:
    """What the picker offers `user` for `typed` (the option texts)."""
    response = bot.sender.block_suggestion(
        team_id="T0TEST",
        user_id=user,
        view=bot.modal(user),
        block_id="order",
        action_id="order_pick",
        value=typed,
    )
    assert response.status == 200
    return [o["text"]["text"] for o in response.json()["options"]]


def test_add_a_message_to_an_open_order(bot: Bot, world: World) -> None:
    """The picker offers the party's open orders by number or by words; the chosen order's
    timeline keeps the message's text exactly, its file and a link back; the author of the
    shortcut is told."""
    open_order = world.place(mini_program="Łódź Bar").order.code
    world.order_in(OrderStatus.COMPLETED)
    world.place("U0BOB", mini_program="Bolt Buns")  # another merchant's
    message = bot.slack.user_message("C0ACME", "U0BEN", SENT)
    message["files"] = [
        {"id": "F0MOCK", "name": "dark <mode>.png", "permalink": "https://files.test/F0MOCK"}
    ]
    url = bot.slack.new_response_url(channel="C0ACME", user="U0ANA", team_id="T0TEST")
    response = bot.sender.message_shortcut(
        team_id="T0TEST",
        user_id="U0ANA",
        channel_id="C0ACME",
        message=message,
        callback_id="order_attach",
        response_url=url,
    )
    assert response.status == 200
    assert "dark mode &amp;" in json.dumps(bot.modal("U0ANA"))
    assert picked(bot, "U0ANA", "") == [f"{open_order} · Łódź Bar"]
    assert picked(bot, "U0ANA", "lodz") == [f"{open_order} · Łódź Bar"]
    assert picked(bot, "U0ANA", "1") == [f"{open_order} · Łódź Bar"]
    assert picked(bot, "U0ANA", "buns") == []
    answer = bot.submit(
        "U0ANA", {"order": {"text": "x", "value": "1"}, "note": "For the design review"}
    )
    assert answer == {}, answer
    bot.settle()
    entry = bot.timeline(open_order)[-1]
    assert entry.action is Note.SLACK_MESSAGE and entry.actor_user_id == "U0ANA"
    assert entry.reason is not None and entry.reason.startswith("For the design review")
    assert (
        WORDS in entry.reason
        and "https://" in entry.reason
        and "/archives/C0ACME/p" in entry.reason
    )
    assert [f.name for f in entry.files] == ["dark <mode>.png"]
    told = bot.slack.wait_for(lambda: bot.slack.response_messages(url) or None)
    assert f"Added to the timeline of *{open_order}*" in json.dumps(told)


def test_refusals_keep_nothing(bot: Bot, world: World) -> None:
    """A finished order, another party's order, a forged form: the field says why, nothing kept;
    a message the bot cannot read: what to do instead."""
    world.place()
    done = world.order_in(OrderStatus.COMPLETED)
    theirs = world.place("U0BOB").order.code
    message = bot.slack.user_message("C0ACME", "U0BEN", "hello")
    bot.sender.message_shortcut(
        team_id="T0TEST",
        user_id="U0ANA",
        channel_id="C0ACME",
        message=message,
        callback_id="order_attach",
    )
    view = bot.modal("U0ANA")
    before = {n: len(bot.timeline(n)) for n in ("SO-000001", done, theirs)}
    for value, says in ((done[3:], "pick an order still open"), (theirs[3:], "There is no order")):
        answer = bot.submit("U0ANA", {"order": {"text": "x", "value": str(int(value))}})
        assert says in json.dumps(answer), answer
    forged = {**view, "private_metadata": json.dumps({"link": "https://evil.test", "text": "x"})}
    response = bot.sender.view_submission(
        team_id="T0TEST",
        user_id="U0ANA",
        view=forged,
        inputs={"order": {"text": "x", "value": "1"}},
    )
    assert "out of date" in response.body
    assert {n: len(bot.timeline(n)) for n in before} == before


def test_a_message_the_bot_cannot_read_is_answered_with_what_to_do(bot: Bot, world: World) -> None:
    """A direct message (or a private channel the bot is not in): no picker, what to do."""
    world.place()
    unread: dict[str, Any] = {
        "type": "message",
        "user": "U0BEN",
        "text": "hi",
        "ts": "1700000000.000100",
    }
    bot.sender.message_shortcut(
        team_id="T0TEST",
        user_id="U0ANA",
        channel_id="D0SECRET",
        message=unread,
        callback_id="order_attach",
    )
    modal = bot.modal("U0ANA")
    assert modal["title"]["text"] == "Not possible"
    assert "I can't read messages in that conversation" in json.dumps(modal)
