"""Messages between the two parties of an order (issue 20: 3), over signed HTTP: the card's
*Message* button and `/orders message`, what each channel's card thread shows, the timeline."""

from __future__ import annotations

import json

from bot.ui.format import escape
from orders_core.lifecycle import Note, OrderStatus
from tests.support.slackbot import Bot, blocks_text
from tests.support.world import World

PC = OrderStatus.PENDING_CONFIRMATION
WORDS = ("Can we move the review <!channel> & <@U0EVIL> to Friday? Ça va — 生日快乐 🎉 " * 50)[
    :2996
] + " END"


def thread_of_card(bot: Bot, channel: str, number: str) -> list[dict[str, object]]:
    """The replies under the order's card in a channel (its top-level message)."""
    bot.settle()
    [card] = [m for m in bot.channel(channel) if m.get("bot_id") and number in blocks_text(m)]
    return bot.thread(channel, str(card["ts"]))


def test_a_message_from_the_card_reaches_the_other_party_and_the_timeline(
    bot: Bot, world: World
) -> None:
    """3,000 characters with `<!channel>`, `<@U…>`, `&`, accents, CJK and emoji: shown exactly,
    escaped (nobody pinged), in Blue Pixel's card thread as received and in Acme's as sent;
    the timeline keeps the text as written; the status stays."""
    number = world.order_in(PC)
    said = bot.say("U0ANA", "C0ACME", f"{number}?")
    bot.settle()
    [card] = [m for m in bot.thread("C0ACME", said["ts"]) if m.get("bot_id")]
    assert bot.click_posted("U0ANA", "C0ACME", str(card["ts"]), "message:open").status == 200
    assert "Message to Blue Pixel Studio" in json.dumps(bot.modal("U0ANA"))
    assert bot.submit("U0ANA", {"message": WORDS, "files": ["mockup <v2>.png"]}) == {}
    [received] = thread_of_card(bot, "C0PIXEL", number)
    assert "mockup &lt;v2&gt;.png" in json.dumps(received["blocks"], ensure_ascii=False)
    shown = json.dumps(received["blocks"], ensure_ascii=False)
    assert "Acme Coffee" in shown and "<@U0ANA>" in shown and "wrote about" in shown
    assert escape(WORDS[:200]) in shown and "<!channel>" not in shown and "<@U0EVIL>" not in shown
    assert "END" in shown
    [sent] = thread_of_card(bot, "C0ACME", number)
    assert "sent *Blue Pixel Studio* a message" in json.dumps(sent["blocks"])
    entry = bot.timeline(number)[-1]
    assert entry.action is Note.MESSAGE and entry.reason == WORDS and entry.actor_user_id == "U0ANA"
    assert [f.name for f in entry.files] == ["mockup <v2>.png"]
    assert bot.status_of(number) is PC
    assert "sent a message" in bot.ask("U0PIA", f"view {number}").text


def test_orders_message_opens_the_form_with_the_text(bot: Bot, world: World) -> None:
    """`/orders message SO-… TEXT`: the form holds TEXT; sent, it reaches the merchant's
    channel from the provider."""
    number = world.order_in(PC)
    bot.sender.slash_command(
        team_id="T0TEST",
        user_id="U0PIA",
        text=f"message {number} Is the logo final?",
        channel_id="C0PIXEL",
    )
    form = bot.modal("U0PIA")
    assert "Is the logo final?" in json.dumps(form)
    assert bot.submit("U0PIA", {"message": "Is the logo final?"}) == {}
    [received] = thread_of_card(bot, "C0ACME", number)
    assert "Blue Pixel Studio" in blocks_text(received) and "Is the logo final?" in blocks_text(
        received
    )


def test_refusals_change_nothing(bot: Bot, world: World) -> None:
    """Another party's order, no order named, an empty message, a forged form: a clear answer,
    no timeline entry, nothing posted."""
    number = world.order_in(PC)
    before = len(bot.timeline(number))
    assert "There is no order" in bot.ask("U0BOB", f"message {number} hello").text
    assert "Which order?" in bot.ask("U0ANA", "message hello").text
    bot.sender.slash_command(
        team_id="T0TEST", user_id="U0ANA", text=f"message {number}", channel_id="C0ACME"
    )
    answer = bot.submit("U0ANA", {"message": "   \u200b "})
    assert "Write a message" in json.dumps(answer)
    view = bot.modal("U0ANA")
    forged = {**view, "private_metadata": json.dumps({"order": 1})}
    response = bot.sender.view_submission(
        team_id="T0TEST", user_id="U0ANA", view=forged, inputs={"message": "hi"}
    )
    assert "out of date" in response.body
    bot.settle()
    assert len(bot.timeline(number)) == before
    assert not bot.slack.calls("chat.postMessage")


def test_a_form_sent_twice_is_one_message(bot: Bot, world: World) -> None:
    """Slack delivering the same submission again (the same view): one entry, one post each."""
    number = world.order_in(PC)
    bot.sender.slash_command(
        team_id="T0TEST", user_id="U0ANA", text=f"message {number} once", channel_id="C0ACME"
    )
    view = bot.modal("U0ANA")
    for _ in range(2):
        response = bot.sender.view_submission(
            team_id="T0TEST", user_id="U0ANA", view=view, inputs={"message": "once"}
        )
        assert response.status == 200
    assert len(thread_of_card(bot, "C0PIXEL", number)) == 1
    assert [e.action for e in bot.timeline(number)].count(Note.MESSAGE) == 1


def click_offer(
    bot: Bot, user: str, offer: dict[str, object], action_id: str, as_user: str | None = None
) -> str:
    """Click a button of an ephemeral offer; the response_url its answer comes back on."""
    url = bot.slack.new_response_url(
        channel="C0ACME", user=user, team_id="T0TEST", message_ts=str(offer["ts"]), ephemeral=True
    )
    response = bot.sender.click(
        team_id="T0TEST",
        user_id=as_user or user,
        channel_id="C0ACME",
        message=offer,
        action_id=action_id,
        ephemeral=True,
        response_url=url,
    )
    assert response.status == 200
    bot.settle()
    return url


def test_a_reply_under_the_card_crosses_only_when_its_author_sends_it(
    bot: Bot, world: World
) -> None:
    """Replies in a card's thread stay internal; each author is offered, alone and once, to send
    theirs across; only the author's own click sends it, kept on the timeline."""
    number = world.order_in(PC)
    bot.sender.slash_command(
        team_id="T0TEST", user_id="U0PIA", text=f"message {number} Logo?", channel_id="C0PIXEL"
    )
    bot.submit("U0PIA", {"message": "Logo?"})
    bot.settle()
    [card] = [m for m in bot.channel("C0ACME") if m.get("bot_id") and number in blocks_text(m)]
    # As Slack sends a message's text: `<` and `>` typed are `&lt;` and `&gt;`.
    said = bot.say("U0BEN", "C0ACME", "Ana, is the &lt;logo&gt; final?", thread_ts=str(card["ts"]))
    bot.say("U0BEN", "C0ACME", "", retry_of=said)
    bot.say("U0ANA", "C0ACME", "Internal: not yet", thread_ts=str(card["ts"]))
    bot.settle()
    [offer] = bot.slack.ephemerals("C0ACME", "U0BEN")
    assert "Send to Blue Pixel Studio" in json.dumps(offer)
    assert len(bot.slack.ephemerals("C0ACME", "U0ANA")) == 1
    pixel_before = len(thread_of_card(bot, "C0PIXEL", number))
    click_offer(bot, "U0BEN", offer, "message:forward", as_user="U0ANA")  # not her reply
    assert len(thread_of_card(bot, "C0PIXEL", number)) == pixel_before
    url = click_offer(bot, "U0BEN", offer, "message:forward")
    click_offer(bot, "U0BEN", offer, "message:forward")  # twice: one message
    crossed = thread_of_card(bot, "C0PIXEL", number)[pixel_before:]
    assert len(crossed) == 1 and "Ana, is the &lt;logo&gt; final?" in json.dumps(crossed[0])
    assert "Internal: not yet" not in json.dumps(thread_of_card(bot, "C0PIXEL", number))
    assert "Sent to *Blue Pixel Studio*" in json.dumps(bot.slack.response_messages(url))
    entry = bot.timeline(number)[-1]
    assert entry.action is Note.MESSAGE and entry.actor_user_id == "U0BEN"
    assert entry.reason == "Ana, is the <logo> final?"
    [ana_offer] = bot.slack.ephemerals("C0ACME", "U0ANA")
    kept = click_offer(bot, "U0ANA", ana_offer, "message:keep")
    assert "Kept in your channel" in json.dumps(bot.slack.response_messages(kept))
    assert len(thread_of_card(bot, "C0PIXEL", number)) == pixel_before + 1
