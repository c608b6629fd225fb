"""The Service Market, placing orders, the provider's actions, and the Home tab — end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orders_core.lifecycle import Action, OrderStatus
from tests.support.slackbot import Bot, blocks_text, buttons
from tests.support.world import TEAM, World

GOOD = {
    "mini_program": "Acme Rewards",
    "apps": ["Alipay+"],
    "contact_name": "Ana Lim",
    "contact": "ana@acme.test",
    "requirements": "Stamp card: 10 coffees, the 11th free.",
}


def order_form_inputs(view: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """GOOD inputs, keyed as the form names its blocks (the apps block is named after its service)."""
    inputs = {**GOOD, **changes}
    apps_block = next(
        (b["block_id"] for b in view["blocks"] if str(b.get("block_id", "")).startswith("apps:")),
        None,
    )
    apps = inputs.pop("apps")
    if apps_block is not None:
        inputs[apps_block] = apps
    return inputs


def place(bot: Bot, user: str = "U0ANA", **changes: Any) -> Any:
    """Open the Service Market, press Order on the first card, fill the form, submit."""
    market = bot.ask(user, "services")
    market.click("service:order")
    form = bot.modal(user)
    return bot.submit(user, order_form_inputs(form, **changes))


# -- Service Market ------------------------------------------------------------------------------


def test_the_market_shows_only_online_services(bot: Bot, world: World) -> None:
    """Name, provider, industry, description, apps, payment terms and an Order button; no Withdrawn."""
    answer = bot.ask("U0ANA", "services")
    for part in ("Loyalty", "Blue Pixel Studio", "F&amp;B", "Stamps", "Alipay+, GCash", "30/70"):
        assert part in answer.text, part
    assert "Coupons" not in answer.text
    assert buttons(answer.message).count(("service:order", "Order")) == 1


def test_a_provider_sees_the_market_without_order_buttons(bot: Bot, world: World) -> None:
    """Only merchants order."""
    answer = bot.ask("U0PIA", "services")
    assert "Loyalty" in answer.text and ("service:order", "Order") not in buttons(answer.message)


def test_ordering_a_withdrawn_service_by_a_forged_value_is_refused(bot: Bot, world: World) -> None:
    """The button's value is re-checked: the service must still be Online."""
    url = bot.slack.new_response_url(channel="C0ORDERS", user="U0ANA", team_id=TEAM)
    bot.sender.block_action(
        team_id=TEAM,
        user_id="U0ANA",
        action_id="service:order",
        value=str(world.withdrawn_service_id),
        response_url=url,
        channel_id="C0ORDERS",
    )
    said = bot.slack.wait_for(lambda: bot.slack.response_messages(url))
    assert "Coupons is Withdrawn: only Online services can be ordered" in json.dumps(said)
    assert bot.slack.open_views("U0ANA") == []


def test_a_forged_service_in_the_form_is_refused_inside_the_modal(bot: Bot, world: World) -> None:
    """A submitted service id that is not Online gets an error on the service block; nothing placed."""
    bot.ask("U0ANA", "services").click("service:order")
    form = bot.modal("U0ANA")
    values = {
        "service": {
            "service": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "x"},
                    "value": str(world.withdrawn_service_id),
                },
            }
        }
    }
    answer = bot.sender.view_submission(
        team_id=TEAM, user_id="U0ANA", view=form, inputs=order_form_inputs(form), values=values
    ).json()
    assert answer["response_action"] == "errors"
    assert "only Online services can be ordered" in answer["errors"]["service"]
    assert bot.timeline("SO-000001") == []


# -- placing an order ----------------------------------------------------------------------------


def test_the_order_form(bot: Bot, world: World) -> None:
    """Service preselected, its apps as a multi-select, contact, requirements; switching service redraws apps."""
    bot.ask("U0ANA", "services").click("service:order")
    form = bot.modal("U0ANA")
    service = next(b for b in form["blocks"] if b["block_id"] == "service")
    assert service["element"]["initial_option"]["value"] == str(world.online_service_id)
    apps = next(b for b in form["blocks"] if b["block_id"].startswith("apps:"))
    assert [o["value"] for o in apps["element"]["options"]] == ["Alipay+", "GCash"]
    labels = [b["label"]["text"] for b in form["blocks"] if b["type"] == "input"]
    assert labels == [
        "Service",
        "Mini program name",
        "Applicable apps",
        "Contact name",
        "Contact (phone or email)",
        "Requirements",
    ]


@pytest.mark.parametrize(
    ("changes", "block", "says"),
    [
        ({"mini_program": "  "}, "mini_program", "Enter the mini program name."),
        (
            {"contact": "call me"},
            "contact",
            "Enter a phone number (+65 6123 4567) or an email address",
        ),
        ({"contact_name": ""}, "contact_name", "Enter the contact name."),
    ],
)
def test_invalid_fields_are_refused_inside_the_modal(
    bot: Bot, world: World, changes: dict[str, Any], block: str, says: str
) -> None:
    """response_action errors on the field's own block; nothing is placed."""
    answer = place(bot, **changes)
    assert answer["response_action"] == "errors"
    assert says in answer["errors"][block]
    assert bot.timeline("SO-000001") == []


def test_new_with_a_service_name_opens_the_form_with_it(bot: Bot, world: World) -> None:
    """`/orders new loy` finds Loyalty; an unknown name lists what can be ordered."""
    url = bot.slack.new_response_url(channel="C0ORDERS", user="U0ANA", team_id=TEAM)
    bot.sender.slash_command(team_id=TEAM, user_id="U0ANA", text="new loy", response_url=url)
    form = bot.modal("U0ANA")
    assert form["callback_id"] == "order_place"
    answer = bot.ask("U0ANA", "new Coupons")
    assert "No Online service is called `Coupons`. You can order: `Loyalty`" in answer.text
    answer = bot.ask("U0PIA", "new")
    assert "Only merchants can order services" in answer.text


def test_placing_an_order(bot: Bot, world: World) -> None:
    """New in the database; the modal confirms; the merchant gets an ephemeral; the provider a card."""
    answer = place(bot)
    assert answer["response_action"] == "update"
    assert "SO-000001" in json.dumps(answer["view"])
    bot.settle()
    assert bot.status_of("SO-000001") is OrderStatus.NEW
    ephemeral = bot.slack.ephemerals(channel="C0ORDERS", user="U0ANA")
    assert ephemeral and "SO-000001" in json.dumps(ephemeral[-1])
    card = bot.channel("C0PIXEL")[-1]
    assert "Acme Rewards" in json.dumps(card)
    assert [b for b in buttons(card) if b[0] not in ("order:open", "message:open")] == [
        ("order:accept", "Accept"),
        ("order:decline", "Reject"),
    ]
    assert ("message:open", "Message") in buttons(card)  # to write to Acme Coffee about it
    placed = bot.timeline("SO-000001")[0]
    assert (placed.action, placed.actor_user_id) == (Action.PLACE, "U0ANA")


# -- the provider's actions ----------------------------------------------------------------------


def test_accept_from_the_providers_card(bot: Bot, world: World) -> None:
    """New → Pending Confirmation; the merchant's channel gets the card with Confirm and Reject."""
    number = world.order_in(OrderStatus.NEW)
    bot.ask("U0PIA", "list").click("order:accept")
    bot.settle()
    assert bot.status_of(number) is OrderStatus.PENDING_CONFIRMATION
    card = bot.channel("C0ACME")[-1]
    assert [b for b in buttons(card) if b[0] not in ("order:open", "message:open")] == [
        ("order:confirm", "Confirm"),
        ("order:reject", "Reject"),
    ]
    assert "Blue Pixel Studio* accepted" in json.dumps(card)


def test_decline_with_an_optional_reason(bot: Bot, world: World) -> None:
    """The provider's Reject: New → Canceled, reason kept, merchant told."""
    number = world.order_in(OrderStatus.NEW)
    bot.ask("U0PIA", "list").click("order:decline")
    bot.submit("U0PIA", {"reason": "We are fully booked."})
    bot.settle()
    assert bot.status_of(number) is OrderStatus.CANCELED
    assert bot.timeline(number)[-1].reason == "We are fully booked."
    assert "We are fully booked." in json.dumps(bot.channel("C0ACME")[-1])


def test_submit_for_approval_with_a_note_and_a_build(bot: Bot, world: World) -> None:
    """In Development → Under Approval, files kept; the merchant's channel gets Approve and Reject."""
    number = world.order_in(OrderStatus.IN_DEVELOPMENT)
    bot.ask("U0PIA", "list").click("order:submit_for_approval")
    modal = bot.modal("U0PIA")
    assert any(b.get("block_id") == "files" for b in modal["blocks"])
    bot.submit("U0PIA", {"reason": "Build 1.0", "files": ["acme-rewards-1.0.zip"]})
    bot.settle()
    assert bot.status_of(number) is OrderStatus.UNDER_APPROVAL
    last = bot.timeline(number)[-1]
    assert last.reason == "Build 1.0" and [f.name for f in last.files] == ["acme-rewards-1.0.zip"]
    card = bot.channel("C0ACME")[-1]
    assert [b for b in buttons(card) if b[0] not in ("order:open", "message:open")] == [
        ("order:approve", "Approve"),
        ("order:reject_approval", "Reject"),
    ]


def test_cancel_needs_a_reason(bot: Bot, world: World) -> None:
    """A blank reason is refused inside the modal; with one, the order is Canceled."""
    number = world.order_in(OrderStatus.IN_DEVELOPMENT)
    bot.ask("U0PIA", "list").click("order:cancel")
    answer = bot.submit("U0PIA", {"reason": " "})
    assert (
        answer["response_action"] == "errors"
        and "A reason is required" in answer["errors"]["reason"]
    )
    assert bot.status_of(number) is OrderStatus.IN_DEVELOPMENT
    bot.submit("U0PIA", {"reason": "The merchant stopped answering."})
    bot.settle()
    assert bot.status_of(number) is OrderStatus.CANCELED


@pytest.mark.parametrize(
    ("status", "user", "action", "says"),
    [
        (
            OrderStatus.NEW,
            "U0ANA",
            "order:accept",
            "Only Blue Pixel Studio (the service provider) can accept",
        ),
        (
            OrderStatus.PENDING_CONFIRMATION,
            "U0PIA",
            "order:confirm",
            "Only Acme Coffee (the merchant) can confirm",
        ),
        (
            OrderStatus.IN_DEVELOPMENT,
            "U0ANA",
            "order:cancel",
            "Only Blue Pixel Studio (the service provider) can cancel",
        ),
    ],
)
def test_the_wrong_party_is_refused(
    bot: Bot, world: World, status: OrderStatus, user: str, action: str, says: str
) -> None:
    """A merchant pressing Accept, a provider pressing Confirm: refused, nothing changes."""
    number = world.order_in(status)
    owner = "U0PIA" if user == "U0ANA" else "U0ANA"
    message = bot.ask(owner, "list").message
    forged = json.loads(json.dumps(message).replace('"order:open"', '"x"'))
    value = next(
        e["value"]
        for b in message["blocks"]
        for e in [b.get("accessory") or {}]
        if e.get("action_id") == "order:open"
    )
    forged["blocks"].append(
        {
            "type": "actions",
            "block_id": "forged",
            "elements": [
                {
                    "type": "button",
                    "action_id": action,
                    "text": {"type": "plain_text", "text": "x"},
                    "value": value,
                }
            ],
        }
    )
    url = bot.slack.new_response_url(channel="C0ORDERS", user=user, team_id=TEAM)
    bot.sender.click(
        team_id=TEAM,
        user_id=user,
        channel_id="C0ORDERS",
        message=forged,
        action_id=action,
        ephemeral=True,
        response_url=url,
    )
    said = bot.slack.wait_for(lambda: bot.slack.response_messages(url))
    assert says in json.dumps(said)
    assert bot.status_of(number) is status


# -- App Home ------------------------------------------------------------------------------------


def open_home(bot: Bot, user: str) -> dict[str, Any]:
    """The user opens the Home tab; what it shows."""
    before = bot.slack.home_view(user)
    bot.sender.app_home_opened(team_id=TEAM, user_id=user)
    return bot.slack.wait_for(lambda: (h := bot.slack.home_view(user)) and h != before and h)


def test_home_shows_counts_what_waits_and_what_changed(bot: Bot, world: World) -> None:
    """Counts per status; waiting on you, oldest first, with buttons; recent changes with who."""
    older = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    newer = world.order_in(OrderStatus.UNDER_APPROVAL)
    world.order_in(OrderStatus.NEW)
    home = open_home(bot, "U0BEN")
    text = json.dumps(home)
    assert "Acme Coffee" in text
    for count in ("New *1*", "Pending Confirmation *1*", "Under Approval *1*", "Completed *0*"):
        assert count in text, count
    assert "*Waiting on you* (2)" in text
    assert text.index(f"*{older}*") < text.index(f"*{newer}*")
    assert ("order:confirm", "Confirm") in buttons(home) and (
        "order:approve",
        "Approve",
    ) in buttons(home)
    assert "Recently changed" in text and "Submitted for approval by <@U0PIA>" in text
    provider = json.dumps(open_home(bot, "U0PIA"))
    assert "*Waiting on you* (1)" in provider


def test_home_for_a_stranger_explains_onboarding(bot: Bot, world: World) -> None:
    """Someone who belongs to no party sees how to get onboarded."""
    home = json.dumps(open_home(bot, "U0NOBODY"))
    assert (
        "not a member of a merchant or service provider" in home and "orders-bot member add" in home
    )


def test_home_is_redrawn_for_who_acted_from_it_and_drawn_anew_when_opened(
    bot: Bot, world: World
) -> None:
    """Ana confirms from her Home tab: her Home is redrawn at once. The others' Home tabs are
    not republished on the change (whatever the size of the teams, an action costs a bounded
    number of Slack calls); each shows the change when its person opens Home again."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    home = open_home(bot, "U0ANA")
    open_home(bot, "U0BEN")
    open_home(bot, "U0PIA")
    published = len(bot.slack.calls("views.publish"))
    bot.sender.click_in_view(team_id=TEAM, user_id="U0ANA", action_id="order:confirm", view=home)
    bot.settle()
    assert bot.status_of(number) is OrderStatus.IN_DEVELOPMENT
    after = bot.slack.calls("views.publish")[published:]
    assert [c.args.get("user_id") for c in after] == ["U0ANA"]
    assert "Confirmed by <@U0ANA>" in json.dumps(bot.slack.home_view("U0ANA"))
    assert ("order:confirm", "Confirm") not in buttons(bot.slack.home_view("U0ANA") or {})
    for user in ("U0BEN", "U0PIA"):
        assert "Confirmed by <@U0ANA>" in json.dumps(open_home(bot, user)), user
    assert all(c.args.get("user_id") != "U0BOB" for c in bot.slack.calls("views.publish"))


def test_home_stays_within_limits_with_many_orders(bot: Bot, world: World) -> None:
    """At most 100 blocks, and a way to see them all."""
    from bot.ui.check import check_view

    for _ in range(20):
        world.order_in(OrderStatus.PENDING_CONFIRMATION)
    home = open_home(bot, "U0ANA")
    check_view(home)
    assert "*Waiting on you* (20)" in json.dumps(home)
    assert ("home:waiting", "See all 20 (+8 more)") in buttons(home)
    bot.sender.click_in_view(team_id=TEAM, user_id="U0ANA", action_id="home:waiting", view=home)
    listing = bot.modal("U0ANA")
    assert "Pending Confirmation" in json.dumps(listing) and (
        "list:page:next",
        "Next page",
    ) in buttons(listing)


# -- a whole life --------------------------------------------------------------------------------


def test_one_order_through_its_whole_life(bot: Bot, world: World) -> None:
    """Ordered, accepted, confirmed, submitted, rejected with a file, resubmitted, approved."""

    def check(status: OrderStatus, actions: list[Action]) -> None:
        bot.settle()
        assert bot.status_of("SO-000001") is status
        assert [e.action for e in bot.timeline("SO-000001")] == actions
        for channel in ("C0ACME", "C0PIXEL"):  # every card in both channels shows the status now
            for message in bot.channel(channel):
                assert status.label in json.dumps(message), (channel, status)

    steps = [Action.PLACE]
    place(bot)
    check(OrderStatus.NEW, steps)
    bot.click_posted("U0PIA", "C0PIXEL", bot.channel("C0PIXEL")[-1]["ts"], "order:accept")
    steps.append(Action.ACCEPT)
    check(OrderStatus.PENDING_CONFIRMATION, steps)
    bot.click_posted("U0BEN", "C0ACME", bot.channel("C0ACME")[-1]["ts"], "order:confirm")
    steps.append(Action.CONFIRM)
    check(OrderStatus.IN_DEVELOPMENT, steps)
    bot.click_posted(
        "U0PIA", "C0PIXEL", bot.channel("C0PIXEL")[-1]["ts"], "order:submit_for_approval"
    )
    bot.submit("U0PIA", {"reason": "Build 1", "files": ["build-1.zip"]})
    steps.append(Action.SUBMIT_FOR_APPROVAL)
    check(OrderStatus.UNDER_APPROVAL, steps)
    bot.click_posted("U0ANA", "C0ACME", bot.channel("C0ACME")[-1]["ts"], "order:reject_approval")
    bot.submit("U0ANA", {"reason": "The stamp count is wrong.", "files": ["screenshot.png"]})
    steps.append(Action.REJECT_APPROVAL)
    check(OrderStatus.IN_DEVELOPMENT, steps)
    assert [f.name for f in bot.timeline("SO-000001")[-1].files] == ["screenshot.png"]
    bot.click_posted(
        "U0PIA", "C0PIXEL", bot.channel("C0PIXEL")[-1]["ts"], "order:submit_for_approval"
    )
    bot.submit("U0PIA", {"reason": "Build 2: stamps fixed"})
    steps.append(Action.SUBMIT_FOR_APPROVAL)
    check(OrderStatus.UNDER_APPROVAL, steps)
    bot.click_posted("U0ANA", "C0ACME", bot.channel("C0ACME")[-1]["ts"], "order:approve")
    steps.append(Action.APPROVE)
    check(OrderStatus.COMPLETED, steps)
    for channel in ("C0ACME", "C0PIXEL"):
        for message in bot.channel(channel):
            assert [b for b in buttons(message) if b[0] not in ("order:open", "message:open")] == []


def test_one_card_per_order_per_channel_with_the_news_in_its_thread(bot: Bot, world: World) -> None:
    """Later news about an order redraws its card and goes in the card's thread, shown in the
    channel when the order now waits on that party; the channel holds one card per order."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    bot.ask("U0ANA", "list").click("order:confirm")
    bot.settle()
    [card] = bot.channel("C0PIXEL")
    world.act("U0PIA", number, Action.SUBMIT_FOR_APPROVAL)
    bot.ask("U0ANA", "list").click("order:reject_approval")
    bot.submit("U0ANA", {"reason": "Wrong colours"})
    bot.settle()
    [same] = bot.channel("C0PIXEL")
    assert same["ts"] == card["ts"] and "Wrong colours" in json.dumps(same)
    assert ("order:submit_for_approval", "Submit for approval") in buttons(same)
    [reply] = bot.thread("C0PIXEL", card["ts"])
    assert "rejected" in json.dumps(reply) and "Wrong colours" in json.dumps(reply)
    posted = [
        c
        for c in bot.slack.calls("chat.postMessage")
        if c.ok and c.args.get("thread_ts") == card["ts"]
    ]
    assert posted[-1].args.get("reply_broadcast") is True  # it waits on the provider again


def test_new_finds_a_service_named_in_any_script_and_case(bot: Bot, world: World) -> None:
    """`/orders new straße` finds "Straße Menü" and `/orders new MENÜ` too (case folding,
    not ASCII lower-casing)."""
    from orders_core.catalog import add_service
    from orders_core.lifecycle import ServiceStatus
    from orders_core.orders import find_workspace

    with world.db.transaction() as s:
        add_service(
            s,
            find_workspace(s, TEAM),
            provider_name="Blue Pixel Studio",
            name="Straße Menü",
            status=ServiceStatus.ONLINE,
        )
    for typed in ("STRASSE MENÜ", "strasse", "MENÜ"):
        url = bot.slack.new_response_url(channel="C0ORDERS", user="U0ANA", team_id=TEAM)
        bot.sender.slash_command(
            team_id=TEAM, user_id="U0ANA", text=f"new {typed}", response_url=url
        )
        form = bot.modal("U0ANA")
        [chosen] = [
            b["element"].get("initial_option") for b in form["blocks"] if b["block_id"] == "service"
        ]
        assert chosen and chosen["text"]["text"].startswith("Straße Menü"), typed
        bot.slack.close_view("U0ANA", form["id"])


def test_an_action_from_the_command_line_keeps_the_messages_in_slack_true(
    bot: Bot, world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """`orders-bot orders act` while the bot runs: the other party's channel gets the card and
    the provider's card is redrawn, as after a click (the bot's worker delivers them)."""
    from typer.testing import CliRunner

    from bot.cli import app as cli

    number = world.order_in(OrderStatus.NEW)
    monkeypatch.setenv("DATABASE_URL", bot.db.url)
    monkeypatch.chdir(tmp_path)
    args = ["orders", "act", number, "accept", "--as", "U0PIA", "--workspace", TEAM]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    bot.settle()
    (card,) = bot.channel("C0ACME")
    assert "Pending Confirmation" in blocks_text(card)
    assert ("order:confirm", "Confirm") in buttons(card)
