"""A merchant manages orders from Slack: signed requests over HTTP, Slack played by LocalSlack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.ui.orders import ButtonValue
from orders_core.db import Database
from orders_core.lifecycle import Action, OrderStatus
from tests.support.slackbot import Bot, buttons, running_bot
from tests.support.world import OTHER_TEAM, STRANGER_WORKSPACE_MEMBER, TEAM, World

PC = OrderStatus.PENDING_CONFIRMATION
UA = OrderStatus.UNDER_APPROVAL


# -- the slash command ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "help", "HELP"])
def test_help_shows_usage_and_the_callers_counts(bot: Bot, world: World, text: str) -> None:
    """Usage, and the caller's party with its count of orders per status."""
    world.order_in(PC)
    world.order_in(PC)
    world.order_in(UA)
    answer = bot.ask("U0BEN", text)
    assert "/orders list" in answer.text and "/orders search" in answer.text
    assert "Acme Coffee" in answer.text and "merchant" in answer.text
    assert "Pending Confirmation *2*" in answer.text and "Under Approval *1*" in answer.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("list", {PC, UA, OrderStatus.NEW}),
        ("list all", {PC, UA, OrderStatus.NEW}),
        ("list pending confirmation", {PC}),
        ("list Under-Approval", {UA}),
        ("list pending_confirmation under approval", {PC, UA}),
        ("list new", {OrderStatus.NEW}),
    ],
)
def test_list_filters_by_status_newest_first(
    bot: Bot, world: World, text: str, expected: set[OrderStatus]
) -> None:
    """Status names in any spelling, several at once; newest first."""
    made = {status: world.order_in(status) for status in (OrderStatus.NEW, PC, UA)}
    answer = bot.ask("U0ANA", text)
    shown = [n for n in (f"SO-{i:06d}" for i in range(3, 0, -1)) if n in answer.text]
    assert shown == [made[s] for s in (UA, PC, OrderStatus.NEW) if s in expected]


def test_a_list_row_shows_what_the_seed_lists(bot: Bot, world: World) -> None:
    """Number (a button), service, the other party, mini program, status icon and name, time in it."""
    number = world.order_in(PC)
    answer = bot.ask("U0ANA", "list")
    text = answer.text
    for part in (
        number,
        "Loyalty",
        "Blue Pixel Studio",
        "Acme Rewards",
        ":hourglass_flowing_sand: Pending Confirmation for",
        "Accepted by <@U0PIA>",
    ):
        assert part in text, part
    assert (("order:open", number)) in buttons(answer.message)
    assert [
        b for b in buttons(answer.message) if b[0].startswith("order:") and b[0] != "order:open"
    ] == [
        ("order:confirm", "Confirm"),
        ("order:reject", "Reject"),
    ]


def test_the_filter_select_and_the_next_page(bot: Bot, world: World) -> None:
    """More than a page gives Next page (a keyset cursor); the select re-renders the list."""
    numbers = [world.order_in(PC) for _ in range(12)]
    world.order_in(UA)
    first = bot.ask("U0ANA", "list pending confirmation")
    assert numbers[-1] in first.text and numbers[1] not in first.text
    page2 = first.click("list:page:next")
    message = bot.slack.wait_for(
        lambda: page2.current().message if numbers[0] in page2.current().text else None
    )
    assert numbers[1] in json.dumps(message) and numbers[-1] not in json.dumps(message)
    filtered = first.click("list:filter", choice="under_approval")
    current = bot.slack.wait_for(
        lambda: filtered.current() if "Under Approval for" in filtered.current().text else None
    )
    assert "SO-000013" in current.text and numbers[-1] not in current.text


@pytest.mark.parametrize("text", ["search 12", "search SO-00001", "find so-12"])
def test_search_by_number_and_prefix(bot: Bot, world: World, text: str) -> None:
    """Exact number first, then numbers that start with it."""
    for _ in range(12):
        world.place()
    answer = bot.ask("U0ANA", text)
    assert "SO-000012" in answer.text
    if "00001" in text:
        assert "SO-000010" in answer.text and "SO-000001" in answer.text


def test_search_by_words_any_accent_a_page_at_a_time(bot: Bot, world: World) -> None:
    """`/orders search lodz cafe` finds `Łódź Café` orders, newest first; Next page keeps the
    search; the provider finds them by the merchant's name; another merchant finds nothing."""
    made = [world.place(mini_program=f"Łódź Café {k}").order.code for k in range(12)]
    other = world.place(mini_program="Warsaw Bar").order.code
    first = bot.ask("U0ANA", "search lodz CAFE")
    assert "orders matching *lodz CAFE*" in first.text
    assert made[-1] in first.text and made[2] in first.text
    assert made[1] not in first.text and other not in first.text
    page2 = first.click("list:page:next")
    message = bot.slack.wait_for(
        lambda: page2.current().message if made[0] in page2.current().text else None
    )
    assert made[1] in json.dumps(message) and made[2] not in json.dumps(message)
    assert made[0] in bot.ask("U0PIA", "search acme café 0").text
    assert "No order of yours matches" in bot.ask("U0BOB", "search lodz").text


@pytest.mark.parametrize("text", ["view SO-000001", "view 1", "SO-000001", "1", "show so-1"])
def test_view_shows_every_field_and_the_timeline(bot: Bot, world: World, text: str) -> None:
    """The detail: fields, the timeline with who and when, the buttons at the top."""
    number = world.order_in(UA)
    answer = bot.ask("U0ANA", text)
    for part in (
        number,
        "Acme Rewards",
        "Loyalty",
        "Blue Pixel Studio",
        "ana@acme.test",
        "Stamp card",
        "Alipay+",
        "Timeline",
    ):
        assert part in answer.text, part
    for who, what in (
        ("U0ANA", "placed"),
        ("U0PIA", "accepted"),
        ("U0ANA", "confirmed"),
        ("U0PIA", "submitted for approval"),
    ):
        assert f"<@{who}> *{what}*" in answer.text
    assert [b for b in buttons(answer.message) if b[0] != "order:open"][:2] == [
        ("order:approve", "Approve"),
        ("order:reject_approval", "Reject"),
    ]


@pytest.mark.parametrize(
    ("user", "team", "text", "says"),
    [
        ("U0ANA", "T0TEST", "frobnicate", "I don't know `/orders frobnicate`"),
        ("U0ANA", "T0TEST", "list shipped", "I don't know the status `shipped`"),
        ("U0ANA", "T0TEST", "view SO-000999", "There is no order SO-000999"),
        ("U0ANA", "T0TEST", "search nowhere", "No order of yours matches `nowhere`"),
        ("U0ANA", "T0TEST", "search \u200b", "Search by number or by words"),
        ("U0ANA", "T0TEST", "search 999", "No order of yours matches `999`"),
        ("U0ANA", "T0TEST", "view", "Which order?"),
        ("U0NOBODY", "T0TEST", "list", "is not a member of any merchant or service provider"),
        ("U0ANA", "T0UNKNOWN", "list", "This Slack workspace (T0UNKNOWN) is not onboarded"),
        (STRANGER_WORKSPACE_MEMBER, OTHER_TEAM, "view 1", "There is no order SO-000001"),
        ("U0BOB", "T0TEST", "view 1", "There is no order SO-000001"),
        (
            "U0ANA",
            "T0TEST",
            "list <!channel> & <@U0BEN>",
            "I don't know the status `&lt;!channel&gt;`",
        ),
    ],
)
def test_mistakes_get_a_short_answer(
    bot: Bot, world: World, user: str, team: str, text: str, says: str
) -> None:
    """What was wrong and what would work, ephemeral; never a stack trace, never silence."""
    world.order_in(PC)
    answer = bot.ask(user, text, team=team)
    assert says in answer.text
    assert "Traceback" not in answer.text
    assert answer.message.get("response_type", "ephemeral") == "ephemeral"


def test_a_command_with_the_word_payload_is_understood(bot: Bot, world: World) -> None:
    """slack-bolt drops form bodies that merely contain "payload"; ours reads them."""
    answer = bot.ask("U0ANA", "search payload")
    assert "No order of yours matches `payload`" in answer.text


# -- the detail modal ----------------------------------------------------------------------------


def test_clicking_an_order_number_opens_the_detail_modal(bot: Bot, world: World) -> None:
    """views.open with the order's detail and its buttons."""
    number = world.order_in(PC)
    bot.ask("U0ANA", "list").click("order:open")
    modal = bot.modal("U0ANA")
    assert modal["title"]["text"] == number
    assert "Timeline" in json.dumps(modal)
    assert ("order:confirm", "Confirm") in buttons(modal)


def test_confirm_from_the_detail_modal_updates_it(bot: Bot, world: World) -> None:
    """The modal the user acted from shows the new status, and loses its buttons."""
    number = world.order_in(PC)
    bot.ask("U0ANA", "list").click("order:open")
    modal = bot.modal("U0ANA")
    response = bot.sender.click_in_view(
        team_id="T0TEST", user_id="U0ANA", action_id="order:confirm", view=modal
    )
    assert response.status == 200
    bot.settle()
    updated = bot.slack.view(modal["id"])
    assert updated is not None and "In Development" in json.dumps(updated)
    assert not [b for b in buttons(updated) if b[0] == "order:confirm"]
    assert bot.status_of(number) is OrderStatus.IN_DEVELOPMENT


# -- the actions ---------------------------------------------------------------------------------


def test_confirm_from_the_list(bot: Bot, world: World) -> None:
    """One click: In Development in the database, the list redrawn in place, the provider told."""
    number = world.order_in(PC)
    answer = bot.ask("U0BEN", "list pending confirmation")
    clicked = answer.click("order:confirm")
    bot.settle()
    assert bot.status_of(number) is OrderStatus.IN_DEVELOPMENT
    redrawn = clicked.current()
    assert "In Development" in redrawn.text and "Confirmed by <@U0BEN>" in redrawn.text
    assert not [b for b in buttons(redrawn.message) if b[0] in ("order:confirm", "order:reject")]
    provider_channel = bot.channel("C0PIXEL")
    assert len(provider_channel) == 1
    assert f"Acme Coffee* confirmed *{number}*" in provider_channel[0][
        "text"
    ] or "Acme Coffee confirmed" in json.dumps(provider_channel[0])
    assert ("order:submit_for_approval", "Submit for approval") in buttons(provider_channel[0])


def test_reject_with_an_optional_reason(bot: Bot, world: World) -> None:
    """Reject opens a modal; the reason may be empty; the order is Canceled and the provider told why."""
    number = world.order_in(PC)
    bot.ask("U0ANA", "list").click("order:reject")
    modal = bot.modal("U0ANA")
    assert modal["submit"]["text"] == "Reject"
    reason = next(b for b in modal["blocks"] if b.get("block_id") == "reason")
    assert reason["optional"] is True and reason["element"]["multiline"] is True
    assert bot.submit("U0ANA", {"reason": "Budget moved to next quarter <&>"}) == {}
    bot.settle()
    assert bot.status_of(number) is OrderStatus.CANCELED
    assert bot.timeline(number)[-1].reason == "Budget moved to next quarter <&>"
    notice = json.dumps(bot.channel("C0PIXEL")[-1])
    assert f"rejected *{number}*: Budget moved to next quarter &lt;&amp;&gt;" in notice


def test_reject_without_a_reason(bot: Bot, world: World) -> None:
    """An empty optional reason is fine."""
    number = world.order_in(PC)
    bot.ask("U0ANA", "list").click("order:reject")
    bot.modal("U0ANA")
    bot.submit("U0ANA", {})
    bot.settle()
    assert bot.status_of(number) is OrderStatus.CANCELED
    assert bot.timeline(number)[-1].reason is None


def test_approve(bot: Bot, world: World) -> None:
    """One click with a confirm dialog: Completed."""
    number = world.order_in(UA)
    answer = bot.ask("U0ANA", "list under approval")
    approve = next(
        e
        for b in answer.message["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == "order:approve"
    )
    assert approve["confirm"]["confirm"]["text"] == "Approve"
    answer.click("order:approve")
    bot.settle()
    assert bot.status_of(number) is OrderStatus.COMPLETED


def test_reject_an_approval_needs_a_reason_and_keeps_files(bot: Bot, world: World) -> None:
    """A blank reason is refused inside the modal; with one, files' ids, names, types, sizes, links are kept."""
    number = world.order_in(UA)
    bot.ask("U0ANA", "list").click("order:reject_approval")
    modal = bot.modal("U0ANA")
    assert any(b.get("block_id") == "files" for b in modal["blocks"])
    answer = bot.submit("U0ANA", {"reason": "   \n  "})
    assert answer["response_action"] == "errors" and "reason" in answer["errors"]
    assert "A reason is required" in answer["errors"]["reason"]
    assert bot.status_of(number) is UA
    answer = bot.submit(
        "U0ANA", {"reason": "The birthday reward is missing.", "files": ["screen.png", "notes.pdf"]}
    )
    assert answer == {}
    bot.settle()
    assert bot.status_of(number) is OrderStatus.IN_DEVELOPMENT
    last = bot.timeline(number)[-1]
    assert (
        last.action is Action.REJECT_APPROVAL and last.reason == "The birthday reward is missing."
    )
    assert [f.name for f in last.files] == ["screen.png", "notes.pdf"]
    for f in last.files:
        assert (
            f.slack_file_id.startswith("F")
            and f.mimetype
            and f.size > 0
            and f.permalink.startswith("https://")
        )
    card = json.dumps(bot.channel("C0PIXEL")[-1])
    assert "The birthday reward is missing." in card


# -- after every action --------------------------------------------------------------------------


def test_every_posted_card_about_the_order_is_kept_true(bot: Bot, world: World) -> None:
    """A card posted earlier in the provider's channel is redrawn when the merchant acts again."""
    number = world.order_in(UA)
    bot.ask("U0ANA", "list").click("order:reject_approval")
    bot.modal("U0ANA")
    bot.submit("U0ANA", {"reason": "Missing the birthday reward"})
    bot.settle()
    card = bot.channel("C0PIXEL")[-1]
    assert ("order:submit_for_approval", "Submit for approval") in buttons(card)
    world.act("U0PIA", number, Action.SUBMIT_FOR_APPROVAL)  # the provider resubmits (outside Slack)
    bot.ask("U0ANA", "list").click("order:approve")
    bot.settle()
    redrawn = bot.slack.message("C0PIXEL", card["ts"])
    assert redrawn is not None and "Completed" in json.dumps(redrawn)
    assert not [b for b in buttons(redrawn) if b[0] not in ("order:open", "message:open")]
    assert len(bot.slack.calls("chat.update")) >= 1


def test_a_stale_button_changes_nothing_and_says_who_acted(bot: Bot, world: World) -> None:
    """Ben's list was drawn before Ana confirmed: his click is refused, told why, and redrawn."""
    number = world.order_in(PC)
    bens = bot.ask("U0BEN", "list")
    bot.ask("U0ANA", "list").click("order:reject")
    bot.modal("U0ANA")
    bot.submit("U0ANA", {"reason": "No budget"})
    bot.settle()
    before = bot.timeline(number)
    clicked = bens.click("order:confirm")
    bot.settle()
    assert bot.status_of(number) is OrderStatus.CANCELED and bot.timeline(number) == before
    said = bot.slack.wait_for(
        lambda: [
            m
            for m in bot.slack.response_messages(clicked.url)
            if "it was rejected by" in json.dumps(m)
        ]
    )
    assert f"{number} is Canceled: it was rejected by <@U0ANA>" in json.dumps(said[-1])
    assert "Canceled" in clicked.current().text


def test_a_double_click_applies_once(bot: Bot, world: World) -> None:
    """Two deliveries of the same click: one timeline entry, one notice to the provider."""
    number = world.order_in(PC)
    answer = bot.ask("U0ANA", "list")
    answer.click("order:confirm")
    answer.click("order:confirm")
    bot.settle()
    assert [e.action for e in bot.timeline(number)].count(Action.CONFIRM) == 1
    assert len(bot.channel("C0PIXEL")) == 1


# -- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "team", "says"),
    [
        ("U0PIA", "T0TEST", "Only Acme Coffee (the merchant) can confirm"),
        ("U0BOB", "T0TEST", "There is no order SO-000001"),
        ("U0RAJ", "T0TEST", "There is no order SO-000001"),
        (STRANGER_WORKSPACE_MEMBER, OTHER_TEAM, "There is no order SO-000001"),
        ("U0NOBODY", "T0TEST", "is not a member"),
    ],
)
def test_only_the_orders_merchant_may_confirm(
    bot: Bot, world: World, user: str, team: str, says: str
) -> None:
    """A forged click by anyone else is refused ephemerally and changes nothing."""
    number = world.order_in(PC)
    anas = bot.ask("U0ANA", "list")
    url = bot.slack.new_response_url(channel="C0ORDERS", user=user, team_id=team)
    bot.sender.click(
        team_id=team,
        user_id=user,
        channel_id="C0ORDERS",
        message=anas.message,
        action_id="order:confirm",
        ephemeral=True,
        response_url=url,
    )
    said = bot.slack.wait_for(lambda: bot.slack.response_messages(url))
    assert says in json.dumps(said)
    bot.settle()
    assert bot.status_of(number) is PC and len(bot.timeline(number)) == 2
    assert bot.channel("C0PIXEL") == []


def test_a_forged_button_value_is_refused(bot: Bot, world: World) -> None:
    """A value that is not ours, or names another order of another merchant, changes nothing."""
    number = world.order_in(PC)
    url = bot.slack.new_response_url(channel="C0ORDERS", user="U0ANA", team_id="T0TEST")
    bot.sender.block_action(
        team_id="T0TEST",
        user_id="U0ANA",
        action_id="order:confirm",
        value="{not json",
        response_url=url,
        channel_id="C0ORDERS",
    )
    said = bot.slack.wait_for(lambda: bot.slack.response_messages(url))
    assert "not one of ours" in json.dumps(said)
    assert bot.status_of(number) is PC


# -- Slack correctness ---------------------------------------------------------------------------


def test_a_bad_signature_or_an_old_timestamp_is_refused(bot: Bot, world: World) -> None:
    """401, and nothing changes."""
    import time

    number = world.order_in(PC)
    answer = bot.ask("U0ANA", "list")
    for options in (
        {"bad_signature": True},
        {"sign": False},
        {"timestamp": int(time.time()) - 6 * 60},
    ):
        response = bot.sender.click(
            team_id="T0TEST",
            user_id="U0ANA",
            channel_id="C0ORDERS",
            message=answer.message,
            action_id="order:confirm",
            ephemeral=True,
            response_url=answer.url,
            **options,  # type: ignore[arg-type]
        )
        assert response.status == 401
    bot.settle()
    assert bot.status_of(number) is PC


def test_a_slack_outage_during_an_action_loses_nothing(bot: Bot, world: World) -> None:
    """The new status survives a Slack outage; the messages catch up after recovery, once each."""
    number = world.order_in(UA)
    answer = bot.ask("U0ANA", "list")
    bot.slack.outage(500)
    clicked = answer.click("order:approve")
    bot.slack.wait_for(lambda: bot.status_of(number) is OrderStatus.COMPLETED)
    bot.runtime.worker.run_once()
    assert bot.channel("C0PIXEL") == []
    bot.slack.recover()
    from sqlalchemy import update

    from orders_core.models import OutboxItem

    with bot.db.transaction() as s:  # skip the backoff wait rather than sleep through it
        s.execute(update(OutboxItem).values(next_attempt_at=bot.clock.now()))
    bot.settle()
    assert bot.status_of(number) is OrderStatus.COMPLETED
    assert "Completed" in clicked.current().text
    posted = bot.channel("C0PIXEL")
    assert len(posted) == 1 and "Completed" in json.dumps(posted[0])
    ok_posts = [c for c in bot.slack.calls("chat.postMessage") if c.ok]
    assert len(ok_posts) == 1


def test_the_ack_does_not_wait_for_slack(bot: Bot, world: World) -> None:
    """The HTTP answer to a click comes back while the Slack calls it causes are still pending."""
    world.order_in(PC)
    answer = bot.ask("U0ANA", "list")
    bot.slack.delay("response_url", 2.0)
    url = bot.slack.new_response_url(
        channel="C0ORDERS",
        user="U0ANA",
        team_id="T0TEST",
        message_ts=answer.message["ts"],
        ephemeral=True,
    )
    response = bot.sender.click(
        team_id="T0TEST",
        user_id="U0ANA",
        channel_id="C0ORDERS",
        message=answer.message,
        action_id="order:confirm",
        ephemeral=True,
        response_url=url,
    )
    assert response.status == 200
    assert bot.slack.response_messages(url)[0]["ts"] == answer.message["ts"]  # not yet redrawn
    assert "Confirmed" not in json.dumps(bot.slack.response_messages(url))


def test_a_click_is_applied_and_acked_while_every_delivery_thread_waits_on_slack(
    db: Database, world: World
) -> None:
    """Every outbox thread is stuck on a slow Slack: a Confirm is still applied before its ack
    (the order is In Development when the answer comes back), and Reject's modal and `/orders
    remind`'s open at once (opened in the request's own thread: a trigger_id lasts 3 s)."""
    with running_bot(db, outbox_threads=2) as bot:
        orders = [world.order_in(PC) for _ in range(4)]
        answer = bot.ask("U0ANA", "list")
        bot.slack.delay("response_url", 3.0, times=None)
        bot.slack.delay("chat.postMessage", 3.0, times=None)
        click_confirm(bot, answer, orders[0])  # its redraw and its card take both threads
        bot.slack.wait_for(lambda: items_in_hand(bot) >= 2, description="both threads busy")
        response = click_confirm(bot, answer, orders[2])
        assert response.status == 200
        assert bot.status_of(orders[2]) is OrderStatus.IN_DEVELOPMENT  # kept before the ack
        answer.click("order:reject", value=button_value(answer, orders[3], "order:reject"))
        assert bot.modal("U0ANA")["submit"]["text"] == "Reject"
        response = bot.sender.slash_command(
            team_id=TEAM, user_id="U0BEN", text="remind", channel_id="C0ORDERS",
            response_url=bot.slack.new_response_url(channel="C0ORDERS", user="U0BEN", team_id=TEAM),
        )  # fmt: skip
        assert response.status == 200
        assert "remind" in json.dumps(bot.modal("U0BEN")).lower()
        assert items_in_hand(bot) >= 2  # the slow deliveries are still waiting
        bot.slack.clear_faults()


def items_in_hand(bot: Bot) -> int:
    """Outbox items a delivery thread holds right now."""
    from sqlalchemy import func, select

    from orders_core.models import OutboxItem

    with bot.db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(OutboxItem.status == "pending", OutboxItem.locked_until.is_not(None))
            )
            or 0
        )


def button_value(answer: Any, number: str, action_id: str) -> str:
    """The value of an order's button in a list message."""
    for block in answer.message["blocks"]:
        for element in block.get("elements") or []:
            value = ButtonValue.decode(element.get("value"))
            if element.get("action_id") == action_id and value and value.number == int(number[3:]):
                return str(element["value"])
    raise AssertionError(f"no {action_id} for {number}")


def click_confirm(bot: Bot, answer: Any, number: str) -> Any:
    """Confirm one order of a list message."""
    return bot.sender.click(
        team_id=TEAM, user_id="U0ANA", channel_id="C0ORDERS", message=answer.message,
        action_id="order:confirm", value=button_value(answer, number, "order:confirm"),
        ephemeral=True, response_url=answer.url,
    )  # fmt: skip


def test_a_refusal_under_a_field_is_plain_text(bot: Bot, world: World) -> None:
    """Slack shows a modal's field errors as plain text: who acted first is named without
    mrkdwn (no `<@U…>` or `<!date^…>` showing raw), and nothing changes."""
    from datetime import UTC, datetime

    from orders_core.orders import act

    number = world.order_in(UA)
    bot.ask("U0ANA", "list").click("order:reject_approval")
    bot.modal("U0ANA")
    with world.db.transaction() as s:  # Ben approves it meanwhile
        act(s, world.caller("U0BEN"), number, Action.APPROVE, now=datetime.now(UTC))
    answer = bot.submit("U0ANA", {"reason": "Too late"})
    said = answer["errors"]["reason"]
    assert f"{number} is Completed: it was approved by U0BEN on " in said, said
    assert "<" not in said and "&" not in said
    assert bot.status_of(number) is OrderStatus.COMPLETED
