"""Text nobody can read or store: NUL and lone surrogates are dropped at the door (never an HTTP
500), and a required reason or name made only of invisible characters is refused inside the
modal — on SQLite and PostgreSQL, through signed requests to the running bot."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Unpack
from urllib.parse import urlencode

from sqlalchemy import select

from bot.console.localslack import SlackSender
from bot.console.localslack.sender import AppResponse, SendOptions
from orders_core.lifecycle import OrderStatus
from orders_core.models import Order, ReminderPolicy
from tests.support.slackbot import SIGNING_SECRET, Bot
from tests.support.world import TEAM, World

UA = OrderStatus.UNDER_APPROVAL
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
UNSTORABLE = "\x00\udfff\ud800"
"""NUL, then a low and a high surrogate: in that order they are no pair, but two lone ones."""


class AsciiSender(SlackSender):
    """Sends payloads as ASCII-only JSON, the way a lone surrogate reaches an app at all: as the
    escape `\\ud800` (the sender's UTF-8 form encoding could not carry the character itself)."""

    def send_interaction(
        self, payload: Mapping[str, Any], **options: Unpack[SendOptions]
    ) -> AppResponse:
        """POST payload=<ASCII JSON>."""
        encoded = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
        return self.send(
            urlencode({"payload": encoded}), "application/x-www-form-urlencoded", **options
        )


def submit(bot: Bot, user: str, inputs: dict[str, Any]) -> AppResponse:
    """Submit `user`'s top modal with `inputs`, escaped as ASCII JSON; the raw answer."""
    sender = AsciiSender(bot.server.url, SIGNING_SECRET, local_slack=bot.slack)
    return sender.view_submission(team_id=TEAM, user_id=user, view=bot.modal(user), inputs=inputs)


def answer_of(response: AppResponse) -> dict[str, Any]:
    """The app's JSON answer, after checking it answered at all (200, not a 500)."""
    assert response.status == 200, (response.status, response.body)
    return response.json()


def open_reason_modal(bot: Bot, user: str, action: str) -> None:
    """`/orders list`, then the action's button on the only order: its modal opens."""
    bot.ask(user, "list").click(f"order:{action}")
    bot.modal(user)


# -- NUL and lone surrogates (issue 17, point 18) -------------------------------------------------


def test_nul_and_lone_surrogates_in_a_reason_are_dropped(bot: Bot, world: World) -> None:
    """The reason is kept without them, the order moves on, the provider reads the reason."""
    number = world.order_in(UA)
    open_reason_modal(bot, "U0ANA", "reject_approval")
    answer = answer_of(submit(bot, "U0ANA", {"reason": f"Broken{UNSTORABLE} build\x00"}))
    assert answer == {}
    bot.settle()
    assert bot.status_of(number) is OrderStatus.IN_DEVELOPMENT
    assert bot.timeline(number)[-1].reason == "Broken build"
    assert "Broken build" in json.dumps(bot.channel("C0PIXEL")[-1])


def test_a_reason_of_nothing_but_nul_and_surrogates_is_refused_in_the_modal(
    bot: Bot, world: World
) -> None:
    """What is left is nothing: a required reason is missing, said on the reason field."""
    number = world.order_in(UA)
    open_reason_modal(bot, "U0ANA", "reject_approval")
    answer = answer_of(submit(bot, "U0ANA", {"reason": UNSTORABLE * 3}))
    assert answer["response_action"] == "errors"
    assert "A reason is required" in answer["errors"]["reason"]
    assert bot.status_of(number) is UA


def test_nul_and_lone_surrogates_in_the_order_form_are_dropped(bot: Bot, world: World) -> None:
    """Every field of the order form is stored without them."""
    bot.ask("U0ANA", "services").click("service:order")
    form = bot.modal("U0ANA")
    apps_block = next(b["block_id"] for b in form["blocks"] if b["block_id"].startswith("apps:"))
    answer = answer_of(
        submit(
            bot,
            "U0ANA",
            {
                "mini_program": f"Acme{UNSTORABLE} Rewards",
                apps_block: ["Alipay+"],
                "contact_name": f"Ana\x00 Lim{UNSTORABLE}",
                "contact": f"ana@acme.test{UNSTORABLE}",
                "requirements": f"Stamp card\x00: 10 coffees{UNSTORABLE}",
            },
        )
    )
    assert answer.get("response_action") == "update", answer
    with bot.db.read() as s:
        order = s.scalars(select(Order)).one()
        assert (order.mini_program, order.contact_name, order.contact, order.requirements) == (
            "Acme Rewards",
            "Ana Lim",
            "ana@acme.test",
            "Stamp card: 10 coffees",
        )


def test_nul_and_lone_surrogates_in_the_reminder_form_are_dropped(bot: Bot, world: World) -> None:
    """The reminder form: a time zone and times with them are read without them and saved."""
    bot.sender.slash_command(team_id=TEAM, user_id="U0ANA", text="remind", channel_id="C0ACME")
    listing = bot.modal("U0ANA")
    bot.sender.click_in_view(team_id=TEAM, user_id="U0ANA", action_id="remind:add", view=listing)
    bot.slack.wait_for(lambda: len(bot.slack.open_views("U0ANA")) == 2)
    answer = answer_of(
        submit(
            bot,
            "U0ANA",
            {"time_zone": f"Asia/Singapore{UNSTORABLE}", "times": f"09:30\x00, 14:00{UNSTORABLE}"},
        )
    )
    assert answer == {}
    with bot.db.read() as s:
        policy = s.scalars(select(ReminderPolicy)).one()
        assert (policy.time_zone, policy.times) == ("Asia/Singapore", ["09:30", "14:00"])


def test_nul_in_a_slash_command_gets_an_answer(bot: Bot, world: World) -> None:
    """`/orders view` with a NUL in the number is read without it."""
    number = world.order_in(UA)
    answer = bot.ask("U0ANA", f"view {number}\x00")
    assert number in answer.text and "Under Approval" in answer.text


# -- invisible text (issue 17, point 20) --------------------------------------------------------


def test_a_required_reason_of_zero_width_characters_is_refused(bot: Bot, world: World) -> None:
    """Reject an approval with only zero-width characters (and spaces): refused on the field."""
    number = world.order_in(UA)
    open_reason_modal(bot, "U0ANA", "reject_approval")
    answer = answer_of(submit(bot, "U0ANA", {"reason": f"{ZERO_WIDTH} \n{ZERO_WIDTH}"}))
    assert answer["response_action"] == "errors"
    assert "A reason is required" in answer["errors"]["reason"]
    assert bot.status_of(number) is UA
    assert bot.timeline(number)[-1].action.value == "submit_for_approval"


def test_a_cancel_reason_of_zero_width_characters_is_refused(bot: Bot, world: World) -> None:
    """The provider's Cancel, whose reason is required too."""
    number = world.order_in(OrderStatus.IN_DEVELOPMENT)
    open_reason_modal(bot, "U0PIA", "cancel")
    answer = answer_of(submit(bot, "U0PIA", {"reason": "\u2060\ufeff\u200b"}))
    assert answer["response_action"] == "errors"
    assert "A reason is required" in answer["errors"]["reason"]
    assert bot.status_of(number) is OrderStatus.IN_DEVELOPMENT


def test_an_optional_reason_of_zero_width_characters_is_no_reason(bot: Bot, world: World) -> None:
    """Reject (optional reason) with only invisible characters: rejected, with no reason kept."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    open_reason_modal(bot, "U0ANA", "reject")
    assert answer_of(submit(bot, "U0ANA", {"reason": ZERO_WIDTH})) == {}
    bot.settle()
    assert bot.status_of(number) is OrderStatus.CANCELED
    assert bot.timeline(number)[-1].reason is None


def test_invisible_names_in_the_order_form_are_refused(bot: Bot, world: World) -> None:
    """A mini program and a contact name made of invisible characters: each refused on its
    field, nothing placed."""
    bot.ask("U0ANA", "services").click("service:order")
    form = bot.modal("U0ANA")
    apps_block = next(b["block_id"] for b in form["blocks"] if b["block_id"].startswith("apps:"))
    answer = answer_of(
        submit(
            bot,
            "U0ANA",
            {
                "mini_program": ZERO_WIDTH,
                apps_block: ["Alipay+"],
                "contact_name": "\ufeff \u200b\u3164",
                "contact": "ana@acme.test",
            },
        )
    )
    assert answer["response_action"] == "errors"
    assert answer["errors"]["mini_program"] == "Enter the mini program name."
    assert answer["errors"]["contact_name"] == "Enter the contact name."
    with bot.db.read() as s:
        assert s.scalars(select(Order)).all() == []
