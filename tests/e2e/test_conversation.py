"""Order numbers written in conversation (issue 20: 1): signed `message` events over HTTP, the
answers read back from LocalSlack as people would see them."""

from __future__ import annotations

from datetime import timedelta

from orders_core.lifecycle import OrderStatus
from tests.support.slackbot import Bot, blocks_text, buttons
from tests.support.world import OTHER_TEAM, STRANGER_WORKSPACE_MEMBER, World

PC = OrderStatus.PENDING_CONFIRMATION
ELSEWHERE = "C0LOUNGE"


def cards_in_thread(bot: Bot, channel: str, ts: str) -> list[dict[str, object]]:
    """The bot's replies in the thread of (channel, ts)."""
    bot.settle()
    return [m for m in bot.thread(channel, ts) if m.get("bot_id")]


def test_in_a_partys_channel_the_card_answers_in_the_thread(bot: Bot, world: World) -> None:
    """The merchant's channel gets the merchant's buttons; the provider's, the provider's."""
    number = world.order_in(PC)
    said = bot.say("U0BEN", "C0ACME", f"Ana, can you look at {number.lower()} today?")
    [card] = cards_in_thread(bot, "C0ACME", said["ts"])
    assert number in blocks_text(card) and "Pending Confirmation" in blocks_text(card)
    assert ("order:confirm", "Confirm") in buttons(card)
    said = bot.say("U0PIA", "C0PIXEL", f"Waiting on them for {number}.")
    [card] = cards_in_thread(bot, "C0PIXEL", said["ts"])
    assert number in blocks_text(card)
    assert not [b for b in buttons(card) if b[0] in ("order:confirm", "order:reject")]


def test_once_per_thread_within_an_hour_and_never_twice_for_a_retry(bot: Bot, world: World) -> None:
    """The same order again in the thread, or Slack delivering the event again: no second card;
    an hour later, or in a new message (its own thread), a card again."""
    number = world.order_in(PC)
    said = bot.say("U0ANA", "C0ACME", f"{number} first")
    bot.say("U0ANA", "C0ACME", "", retry_of=said)
    bot.say("U0BEN", "C0ACME", f"about {number} again", thread_ts=said["ts"])
    assert len(cards_in_thread(bot, "C0ACME", said["ts"])) == 1
    other = bot.say("U0ANA", "C0ACME", f"and {number} here")
    assert len(cards_in_thread(bot, "C0ACME", other["ts"])) == 1
    bot.clock.advance(timedelta(hours=1, minutes=1))
    bot.say("U0BEN", "C0ACME", f"{number}, still?", thread_ts=said["ts"])
    assert len(cards_in_thread(bot, "C0ACME", said["ts"])) == 2


def test_elsewhere_only_a_member_of_a_party_sees_it_and_only_they(bot: Bot, world: World) -> None:
    """Another channel: the author, if theirs, alone gets the card; a stranger, another
    merchant, another workspace: nothing posted, nothing to say the order exists."""
    number = world.order_in(PC)
    bot.say("U0ANA", ELSEWHERE, f"see {number}")
    bot.settle()
    [card] = bot.slack.ephemerals(ELSEWHERE, "U0ANA")
    assert number in blocks_text(card) and ("order:confirm", "Confirm") in buttons(card)
    for user, team in (
        ("U0BOB", "T0TEST"),
        ("U0NOBODY", "T0TEST"),
        (STRANGER_WORKSPACE_MEMBER, OTHER_TEAM),
    ):
        bot.say(user, ELSEWHERE, f"what is {number}?", team=team)
    bot.settle()
    assert len(bot.slack.ephemerals()) == 1
    assert not [m for m in bot.slack.channel_messages(ELSEWHERE) if m.get("bot_id")]
    assert not bot.slack.calls("chat.postMessage")


def test_code_edits_bots_and_replies_to_the_bots_cards_are_left_alone(
    bot: Bot, world: World
) -> None:
    """`SO-…` in code, an edited message, another bot's post, a reply under the bot's own card;
    and an order of another party written in a party's channel."""
    number = world.order_in(PC)
    theirs = world.place("U0BOB").order.code  # Bolt Bakery's order
    for text in (f"`{number}`", f"```\n{number}\n```", f"x{number}", f"https://x.test/{number}"):
        bot.say("U0ANA", "C0ACME", text)
    bot.say("U0ANA", "C0ACME", f"what about {theirs}?")
    edited = bot.slack.user_message("C0ACME", "U0ANA", f"{number} edited")
    bot.sender.message(
        team_id="T0TEST",
        channel="C0ACME",
        message={"subtype": "message_changed", "message": edited, "ts": edited["ts"]},
    )
    bot.sender.message(
        team_id="T0TEST",
        channel="C0ACME",
        message={**bot.slack.user_message("C0ACME", "U0ANA", number), "bot_id": "B0OTHER"},
    )
    bot.settle()
    assert not bot.slack.calls("chat.postMessage") and not bot.slack.ephemerals()
    # The bot's own card (posted on an action), and a reply under it naming its order.
    said = bot.say("U0ANA", "C0ACME", number)
    [card] = cards_in_thread(bot, "C0ACME", said["ts"])
    bot.say("U0BEN", "C0ACME", f"{number} is this one", thread_ts=said["ts"])
    bot.say("U0BEN", "C0ACME", f"{number} is this one", thread_ts=card["ts"])
    assert len(cards_in_thread(bot, "C0ACME", said["ts"])) == 1
    assert len(bot.slack.calls("chat.postMessage")) == 1


def test_at_most_three_orders_for_one_message(bot: Bot, world: World) -> None:
    """Five numbers written (one twice): the first three distinct orders are answered."""
    numbers = [world.order_in(PC) for _ in range(5)]
    said = bot.say("U0ANA", "C0ACME", " ".join([numbers[0], numbers[0], *numbers[1:]]))
    shown = [blocks_text(c) for c in cards_in_thread(bot, "C0ACME", said["ts"])]
    assert [n for n in numbers if any(n in t for t in shown)] == numbers[:3]


def test_a_card_in_a_thread_is_kept_true(bot: Bot, world: World) -> None:
    """Confirm clicked on the card in the thread: it shows In Development, without buttons to
    confirm; the provider's card in its own thread follows."""
    number = world.order_in(PC)
    mine = bot.say("U0ANA", "C0ACME", f"{number}?")
    theirs = bot.say("U0PIA", "C0PIXEL", f"{number}?")
    [card] = cards_in_thread(bot, "C0ACME", mine["ts"])
    response = bot.click_posted("U0ANA", "C0ACME", card["ts"], "order:confirm")
    assert response.status == 200
    bot.settle()
    assert bot.status_of(number) is OrderStatus.IN_DEVELOPMENT
    for channel, said in (("C0ACME", mine), ("C0PIXEL", theirs)):
        [now] = cards_in_thread(bot, channel, said["ts"])
        assert "In Development" in blocks_text(now)
        assert ("order:confirm", "Confirm") not in buttons(now)
