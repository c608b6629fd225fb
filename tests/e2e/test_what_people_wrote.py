"""What people typed comes back as text, whole, and cards say when: over signed requests."""

from __future__ import annotations

import re
from datetime import UTC
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from bot.console.render import unescape
from bot.ui.format import escape
from orders_core.lifecycle import Action, OrderStatus
from orders_core.models import Order
from tests.support.slackbot import Bot
from tests.support.world import World

LONG_REASON = ("The stamp <card> & the café's 🎉 reward — 生日快乐 — is wrong. " * 60)[
    :2996
] + " END"
FILE_NAME = "stamps <v2>|final&.png"


@pytest.mark.parametrize(
    ("text", "typed"),
    [
        ("view <!channel> urgent", "<!channel> urgent"),
        ("search <@U0EVIL>", "<@U0EVIL>"),
        ("view <!here>", "<!here>"),
        ("search <!subteam^S0TEAM|@admins>", "<!subteam^S0TEAM|@admins>"),
        ("view <#C0EVIL>", "<#C0EVIL>"),
        ("search <http://evil.test|SO-000001>", "<http://evil.test|SO-000001>"),
    ],
)
def test_what_was_typed_is_answered_as_text(bot: Bot, world: World, text: str, typed: str) -> None:
    """`/orders view <!channel> urgent`: the refusal quotes it escaped, so nobody is notified."""
    answer = bot.ask("U0ANA", text)
    assert typed not in answer.text
    assert escape(typed) in answer.text
    assert "no order" in answer.text or "No order of yours matches" in answer.text


def test_a_long_reason_and_its_file_are_shown_whole(bot: Bot, world: World) -> None:
    """Rejecting an approval with 3,000 characters (`<&>`, accents, emoji, CJK) and a file whose
    name has `<>|&`: the detail, as a message and as a modal, shows all of the reason and a
    working link to the file."""
    number = world.order_in(OrderStatus.UNDER_APPROVAL)
    bot.ask("U0ANA", "list").click("order:reject_approval")
    assert bot.submit("U0ANA", {"reason": LONG_REASON, "files": [FILE_NAME]}) == {}
    bot.settle()
    [stored] = bot.timeline(number)[-1].files
    assert bot.timeline(number)[-1].reason == LONG_REASON

    message = bot.ask("U0ANA", f"view {number}").message
    bot.ask("U0ANA", "list").click("order:open")
    modal = bot.modal("U0ANA")
    for surface in (message, modal):
        sections = [b["text"]["text"] for b in surface["blocks"] if "text" in b]
        assert all(len(t) <= 3000 for t in sections)
        joined = "".join(sections)
        assert escape(LONG_REASON) in joined
        links = re.findall(r"<(https://[^<>|]*)\|([^<>|]*)>", joined)
        assert [(unquote(unescape(url)), unescape(label)) for url, label in links] == [
            (stored.permalink, FILE_NAME.replace("|", "¦"))
        ]


def test_a_card_says_since_when_its_order_is_waiting(bot: Bot, world: World) -> None:
    """The card posted in the merchant's channel on Accept says "since <date>", not "for 1 min",
    which would still say so tomorrow."""
    number = world.order_in(OrderStatus.NEW)
    bot.ask("U0PIA", "list").click("order:accept")
    bot.settle()
    with bot.db.read() as s:
        changed = s.scalar(select(Order.status_changed_at).where(Order.number == int(number[3:])))
    assert changed is not None and bot.timeline(number)[-1].action is Action.ACCEPT
    card = str(bot.channel("C0ACME")[-1]["blocks"])
    epoch = int(changed.replace(tzinfo=changed.tzinfo or UTC).timestamp())
    assert f"Pending Confirmation since <!date^{epoch}^" in card
    assert not re.search(r"\bfor \d+ (min|h|days)\b", card)
