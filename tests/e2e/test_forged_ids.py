"""Forged ids show nothing and change nothing: every action and view the app registers, sent as
a member of another party of the same workspace and as a user of another workspace, with the
ids of someone else's orders, reminder runs, policies, messages, services and modals.

The list of what the app listens to is read from the Bolt app itself: a listener added without
a forgery here fails `test_every_listener_is_tried`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_bolt import BoltResponse
from slack_sdk import WebClient
from sqlalchemy import select

from bot.console.localslack.sender import AppResponse
from bot.listeners.common import seal
from bot.scheduling.reminders import Reminders
from bot.ui.orders import ButtonValue
from bot.wsgi import FormRequest
from orders_core.catalog import add_service
from orders_core.db import Database
from orders_core.fixtures import path_to
from orders_core.lifecycle import (
    Action,
    OrderStatus,
    Party,
    ReasonRule,
    ServiceStatus,
    rule_for_action,
    transition_for,
)
from orders_core.models import Base, Order, PostedMessage, ReminderPolicy, ReminderRun, Workspace
from orders_core.orders import format_order_number
from orders_core.reminders import PolicySpec, delete_policy, save_policy
from tests.support.slackbot import TOKEN, Bot, running_bot
from tests.support.world import (
    OTHER_TEAM,
    STRANGER_WORKSPACE_MEMBER,
    TEAM,
    World,
    build_world,
)

FRIDAY = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
MONDAY_0500 = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
ACME_TIME, PIXEL_TIME = "05:37", "07:49"
SECRETS = (
    "Acme Coffee",  # the merchant: only its members and its providers know it
    "Hidden Orchard",  # the mini program
    "Quentin Vault",  # the contact name
    "quentin@hidden.test",
    "Whisper loyalty",  # the requirements
    "Secret Draft Kit",  # a service never published
    ACME_TIME,  # the reminders' times, as a policy describes itself
    PIXEL_TIME,
)
ATTACKERS = [
    pytest.param(("U0BOB", TEAM), id="another-merchant"),
    pytest.param(("U0RAJ", TEAM), id="another-provider"),
    pytest.param((STRANGER_WORKSPACE_MEMBER, OTHER_TEAM), id="another-workspace"),
]
PROVIDER_MEMBERS = ("U0RAJ",)
NOT_SHARED = ("apscheduler_jobs", "home_viewers", "rate_budgets")
"""Tables of no party's data: the scheduler's jobs, who last opened their own Home tab, and the
workspace's Slack rate budget (spent by the answers to the forger, as by any answer)."""


@pytest.fixture
def world(db: Database) -> World:
    """The test world (made here so the bot below starts after it)."""
    return build_world(db)


@pytest.fixture
def bot(db: Database, world: World) -> Iterator[Bot]:
    """The bot, its clock on Monday 30 November 2026, 05:00 UTC."""
    with running_bot(db, start=MONDAY_0500) as running:
        yield running


@dataclass
class Victims:
    """What Acme Coffee (merchant) and Blue Pixel Studio (provider) have, to be forged at."""

    orders: dict[OrderStatus, Order]
    acme_policy: int
    pixel_policy: int
    acme_run: int
    pixel_run: int
    acme_digest_ts: str
    pixel_digest_ts: str
    draft_service: int
    other_workspace_service: int
    online_service: int
    ana_view: str
    """A modal Ana has open (its id)."""


@pytest.fixture
def victims(bot: Bot, world: World) -> Victims:
    """Orders in every waiting status, a reminder and a posted digest for each party, a Draft
    service, and a modal open on Ana's screen."""
    with world.db.transaction() as s:
        workspace = s.scalars(select(Workspace).where(Workspace.team_id == TEAM)).one()
        draft = add_service(
            s,
            workspace,
            provider_name="Blue Pixel Studio",
            name="Secret Draft Kit",
            status=ServiceStatus.DRAFT,
            apps=["Alipay+"],
        )
        draft_id = draft.id
    orders = {}
    for status in (
        OrderStatus.NEW,
        OrderStatus.PENDING_CONFIRMATION,
        OrderStatus.IN_DEVELOPMENT,
        OrderStatus.UNDER_APPROVAL,
    ):
        outcome = world.place(
            mini_program="Hidden Orchard",
            contact_name="Quentin Vault",
            contact="quentin@hidden.test",
            requirements="Whisper loyalty",
            now=FRIDAY,
        )
        for action in path_to(status)[1:]:
            rule = rule_for_action(action)
            user = "U0ANA" if rule.party is Party.MERCHANT else "U0PIA"
            reason = "because" if rule.reason is ReasonRule.REQUIRED else None
            outcome = world.act(user, outcome.order.code, action, reason=reason, now=FRIDAY)
    with world.db.read() as s:
        for order in s.scalars(select(Order)):
            orders[order.status] = order
            s.expunge(order)
    policies = {}
    for user, channel, time in (("U0ANA", "C0ACME", ACME_TIME), ("U0PIA", "C0PIXEL", PIXEL_TIME)):
        with world.db.transaction() as s:
            spec = PolicySpec(channel_id=channel, time_zone="UTC", times=(time,))
            policies[channel] = save_policy(s, world.caller(user), spec, now=FRIDAY).id
    bot.clock.set(MONDAY_0500 + timedelta(hours=3))
    Reminders(bot.runtime.deps).catch_up(MONDAY_0500, bot.clock.now())
    bot.settle()
    with world.db.read() as s:
        runs = {
            policy: s.scalars(select(ReminderRun.id).where(ReminderRun.policy_id == policy)).one()
            for policy in policies.values()
        }
        digest_ts = {
            channel: s.scalars(
                select(PostedMessage.ts).where(
                    PostedMessage.channel_id == channel, PostedMessage.kind == "digest"
                )
            ).one()
            for channel in policies
        }
    bot.sender.slash_command(team_id=TEAM, user_id="U0ANA", text="remind", channel_id="C0ACME")
    ana_view = bot.modal("U0ANA")["id"]
    bot.settle()
    return Victims(
        orders,
        policies["C0ACME"],
        policies["C0PIXEL"],
        runs[policies["C0ACME"]],
        runs[policies["C0PIXEL"]],
        digest_ts["C0ACME"],
        digest_ts["C0PIXEL"],
        draft_id,
        world.other_team_service_id,
        world.online_service_id,
        ana_view,
    )


# -- building forged requests --------------------------------------------------------------------


def metadata_variants(data: dict[str, Any]) -> list[str]:
    """The metadata as plain JSON (forged) and sealed as the bot seals it (as though the bot had
    put someone else's ids there itself: the listener must still check them)."""
    return [json.dumps(data), seal(WebClient(token=TOKEN), data)]


def modal(callback_id: str, metadata: str, view_type: str = "modal") -> dict[str, Any]:
    """A modal as a forged payload carries it (an id of its own, no blocks)."""
    return {
        "id": "VFORGED" + uuid.uuid4().hex[:8].upper(),
        "type": view_type,
        "callback_id": callback_id,
        "private_metadata": metadata,
        "blocks": [],
        "hash": "forged",
        "state": {"values": {}},
    }


Send = Callable[[Bot, Victims, str, str], list[AppResponse]]


def order_value(order: Order) -> str:
    """An order button's value for `order`, as drawn at its current version."""
    return ButtonValue(order.number, order.version).encode()


def click_message(
    bot: Bot, team: str, user: str, action_id: str, channel: str, ts: str, **kw: Any
) -> AppResponse:
    """A click on a message in `channel` at `ts` (someone else's, in these forgeries)."""
    return bot.sender.block_action(
        team_id=team, user_id=user, action_id=action_id, channel_id=channel, message_ts=ts, **kw
    )


def click_modal(
    bot: Bot, team: str, user: str, action_id: str, view: dict[str, Any], **kw: Any
) -> AppResponse:
    """A click inside a (forged) modal."""
    return bot.sender.block_action(team_id=team, user_id=user, action_id=action_id, view=view, **kw)


def submit(
    bot: Bot, team: str, user: str, view: dict[str, Any], values: dict[str, Any]
) -> AppResponse:
    """A (forged) modal submitted with these state values."""
    return bot.sender.view_submission(team_id=team, user_id=user, view=view, values=values)


def commands(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """/orders with someone else's order number, and the subcommands that open modals."""
    code = v.orders[OrderStatus.UNDER_APPROVAL].number
    texts = [f"view {code}", str(code), f"search {code}", "list", "help", "remind", "new"]
    return [
        bot.sender.slash_command(team_id=team, user_id=user, text=t, channel_id="C0ORDERS")
        for t in texts
    ]


def order_buttons(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """Open, and every order action, on an order in the status it applies to, clicked on the
    owning party's digest."""
    sent = []
    for action in Action:
        if action is Action.PLACE:
            continue
        status = next(s for s in v.orders if transition_for(s, action) is not None)
        merchant = rule_for_action(action).party is Party.MERCHANT
        channel, ts = ("C0ACME", v.acme_digest_ts) if merchant else ("C0PIXEL", v.pixel_digest_ts)
        value = order_value(v.orders[status])
        sent.append(
            click_message(bot, team, user, f"order:{action.value}", channel, ts, value=value)
        )
    order = v.orders[OrderStatus.UNDER_APPROVAL]
    sent.append(
        click_message(
            bot, team, user, "order:open", "C0ACME", v.acme_digest_ts, value=order_value(order)
        )
    )
    return sent


def lists(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """The list's filter and pages, with a cursor and a window of someone else's orders, and
    the Home tab's "See all"."""
    ids = sorted(o.id for o in v.orders.values())
    page = json.dumps({"k": "list", "c": f"o{ids[-1]}", "r": [ids[0], ids[-1]]})
    return [
        click_message(
            bot,
            team,
            user,
            "list:filter",
            "C0ACME",
            v.acme_digest_ts,
            action_type="static_select",
            selected_option={"text": {"type": "plain_text", "text": "All"}, "value": "all"},
        ),
        click_message(bot, team, user, "list:page:next", "C0ACME", v.acme_digest_ts, value=page),
        click_modal(bot, team, user, "home:waiting", modal("", "", view_type="home")),
    ]


def reason_modal(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """A Reject (approval) submitted for someone else's order, to be redrawn on their digest
    or in Ana's modal."""
    order = v.orders[OrderStatus.UNDER_APPROVAL]
    origins = [
        {"k": "channel", "c": "C0ACME", "s": v.acme_digest_ts},
        {"k": "modal", "v": v.ana_view},
    ]
    return [
        submit(
            bot,
            team,
            user,
            modal("order_action", meta),
            {"reason": {"reason": {"type": "plain_text_input", "value": "forged"}}},
        )
        for origin in origins
        for meta in metadata_variants(
            {"n": order.number, "v": order.version, "a": "reject_approval", "o": origin}
        )
    ]


def market(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """Order a service never published, or another workspace's; switch the form to one; submit
    the form with one (and with someone else's channel to be told in)."""
    foreign = v.online_service if team == OTHER_TEAM else v.other_workspace_service
    sent = []
    for service in (v.draft_service, foreign):
        sent.append(
            click_message(
                bot, team, user, "service:order", "C0ORDERS", "1.000001", value=str(service)
            )
        )
        option = {"text": {"type": "plain_text", "text": "x"}, "value": str(service)}
        for meta in metadata_variants({"c": "C0ACME"}):
            form = modal("order_place", meta)
            sent.append(
                click_modal(
                    bot,
                    team,
                    user,
                    "service",
                    form,
                    action_type="static_select",
                    selected_option=option,
                )
            )
            values = {
                "service": {"service": {"type": "static_select", "selected_option": option}},
                **{
                    f: {f: {"type": "plain_text_input", "value": "Forged Fern"}}
                    for f in ("mini_program", "contact_name", "requirements")
                },
                "contact": {"contact": {"type": "plain_text_input", "value": "f@forged.test"}},
            }
            sent.append(submit(bot, team, user, form, values))
    return sent


def reminder_lists(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """Edit, test, turn off and delete someone else's reminders, and Add, from a reminders list
    of someone else's channel."""
    sent = []
    for meta in metadata_variants({"c": "C0ACME"}):
        listing = modal("remind_list", meta)
        for policy in (v.acme_policy, v.pixel_policy):
            for action_id in ("remind:edit", "remind:test", "remind:toggle", "remind:delete"):
                sent.append(click_modal(bot, team, user, action_id, listing, value=str(policy)))
        sent.append(click_modal(bot, team, user, "remind:add", listing, value="C0ACME"))
    return sent


def reminder_form(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """Save someone else's reminder, redrawing the list in Ana's modal (every field valid for
    the attacker's party, so only the ids can be refused)."""
    status = "new" if user in PROVIDER_MEMBERS else "pending_confirmation"
    values = {
        "days": {"days": {"type": "checkboxes", "selected_options": [{"value": "0"}]}},
        "statuses": {"statuses": {"type": "checkboxes", "selected_options": [{"value": status}]}},
        "times": {"times": {"type": "plain_text_input", "value": "09:00"}},
        "time_zone": {"time_zone": {"type": "plain_text_input", "value": "UTC"}},
        "min_age": {"min_age": {"type": "plain_text_input", "value": "1"}},
        "options": {"options": {"type": "checkboxes", "selected_options": []}},
    }
    return [
        submit(bot, team, user, modal("remind_form", meta), values)
        for policy in (v.acme_policy, v.pixel_policy)
        for meta in metadata_variants({"c": "C0ACME", "p": policy, "root": v.ana_view})
    ]


def digests(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """Snooze someone else's order, and "+N more" of someone else's digest (issue 17, 16)."""
    order = v.orders[OrderStatus.PENDING_CONFIRMATION]
    return [
        click_message(
            bot,
            team,
            user,
            "remind:snooze",
            "C0ACME",
            v.acme_digest_ts,
            action_type="overflow",
            selected_option={
                "text": {"type": "plain_text", "text": "1 day"},
                "value": f"{order.number}:1d",
            },
        ),
        click_message(
            bot, team, user, "digest:more", "C0ACME", v.acme_digest_ts, value=str(v.acme_run)
        ),
        click_message(
            bot, team, user, "digest:more", "C0PIXEL", v.pixel_digest_ts, value=str(v.pixel_run)
        ),
    ]


def events(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """The attacker's own Home tab; Slack's own events, as another workspace's (they carry no
    user: the workspace is all they name)."""
    return [
        bot.sender.app_home_opened(team_id=team, user_id=user),
        bot.sender.event(
            team_id=OTHER_TEAM, event={"type": "tokens_revoked", "tokens": {"bot": ["U0BOT"]}}
        ),
        bot.sender.event(team_id=OTHER_TEAM, event={"type": "app_uninstalled"}),
        # The victims' order numbers written where the attacker is: in the attacker's own
        # party channel, and in a channel of nobody's (issue 20: 1).
        *[
            bot.sender.message(
                team_id=team,
                channel=channel,
                message=bot.slack.user_message(
                    channel,
                    user,
                    " ".join(f"SO-{o.number:06d}" for o in list(v.orders.values())[:3]),
                    team_id=team,
                ),
            )
            for channel in ("C0BOLT", "C0LOUNGE")
        ],
    ]


def messages_and_shortcuts(bot: Bot, v: Victims, team: str, user: str) -> list[AppResponse]:
    """Issue 20: Message on someone else's order, its form, Send / Keep under someone else's
    card thread; both shortcuts, the order picker typed in, and its form with their order."""
    order = v.orders[OrderStatus.PENDING_CONFIRMATION]
    offer = json.dumps(
        {"order": order.number, "ts": "1700000000.000001", "thread": v.acme_digest_ts}
    )
    text = {"message": {"message": {"type": "plain_text_input", "value": "forged"}}}
    picked = {
        "order": {
            "order_pick": {
                "type": "external_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "x"},
                    "value": str(order.number),
                },
            }
        }
    }
    sent = [
        click_message(
            bot, team, user, "message:open", "C0ACME", v.acme_digest_ts, value=order_value(order)
        ),
        click_message(bot, team, user, "message:forward", "C0ACME", v.acme_digest_ts, value=offer),
        click_message(bot, team, user, "message:keep", "C0ACME", v.acme_digest_ts, value=offer),
        bot.sender.global_shortcut(team_id=team, user_id=user, callback_id="order_new"),
        bot.sender.message_shortcut(
            team_id=team,
            user_id=user,
            channel_id="C0ACME",
            message={"type": "message", "user": "U0ANA", "text": "hi", "ts": v.acme_digest_ts},
            callback_id="order_attach",
        ),
        bot.sender.block_suggestion(
            team_id=team,
            user_id=user,
            view=modal("order_attach_form", "{}"),
            block_id="order",
            action_id="order_pick",
            value="Hidden Orchard",
        ),
    ]
    for meta in metadata_variants({"order": order.number}):
        sent.append(submit(bot, team, user, modal("order_message", meta), text))
    for meta in metadata_variants({"link": "https://x.test/p1", "text": "forged", "files": []}):
        sent.append(submit(bot, team, user, modal("order_attach_form", meta), picked))
    return sent


FORGERIES: list[Send] = [
    commands,
    order_buttons,
    lists,
    reason_modal,
    market,
    reminder_lists,
    reminder_form,
    digests,
    events,
    messages_and_shortcuts,
]


# -- what would show a change or a leak ----------------------------------------------------------


def snapshot(db: Database, forger: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the victims' workspace (the tables of no party's data aside, and the
    answers queued for the forger: what they say is checked as Slack receives it)."""
    with db.read() as s:
        victim = s.scalars(select(Workspace.id).where(Workspace.team_id == TEAM)).one()
        rows = {}
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_SHARED:
                continue
            columns = [
                c
                for c in table.columns
                # An outbox item's progress is its delivery, no change; what was queued is.
                if table.name != "outbox" or c.name in ("id", "kind", "lane", "payload")
            ]
            query = select(*columns)
            if "workspace_id" in table.columns:
                query = query.where(table.c.workspace_id == victim)
            elif table.name == "workspaces":
                query = query.where(table.c.id == victim)
            found = [tuple(row) for row in s.execute(query).all()]
            if table.name == "outbox":
                found = [row for row in found if (row[3] or {}).get("user") != forger]
            rows[table.name] = sorted(found, key=repr)
        return rows


def leaks(texts: list[str]) -> list[str]:
    """The secrets found in these texts."""
    return sorted({secret for text in texts for secret in SECRETS if secret in text})


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_forged_ids_show_nothing_and_change_nothing(
    bot: Bot, victims: Victims, attacker: tuple[str, str]
) -> None:
    """Each forgery: nothing Slack received after it names the victims' orders, merchant,
    reminders or unpublished service, and none of the victims' rows changed."""
    user, team = attacker
    for forge in FORGERIES:
        before = snapshot(bot.db, user)
        mark = len(bot.slack.calls())
        responses = forge(bot, victims, team, user)
        bot.settle()
        assert all(r.status == 200 for r in responses), [(r.status, r.body) for r in responses]
        received = [json.dumps(c.args, ensure_ascii=False) for c in bot.slack.calls()[mark:]]
        found = leaks(received + [r.body for r in responses])
        assert found == [], f"{forge.__name__} as {user} showed {found}:\n" + "\n".join(
            t[:400] for t in received if leaks([t])
        )
        assert snapshot(bot.db, user) == before, f"{forge.__name__} as {user} changed the database"


def test_every_listener_is_tried(bot: Bot, victims: Victims) -> None:
    """Every listener the Bolt app has registered matches at least one forged request above."""
    bodies = [r.request_body for forge in FORGERIES for r in forge(bot, victims, TEAM, "U0BOB")]
    bot.settle()
    untried = []
    for listener in bot.runtime.bolt._listeners:
        requests = [
            FormRequest(
                body=body,
                headers={
                    "content-type": "application/json"
                    if body.startswith("{")
                    else "application/x-www-form-urlencoded"
                },
            )
            for body in bodies
        ]
        if not any(listener.matches(req=r, resp=BoltResponse(status=200)) for r in requests):
            untried.append(listener.ack_function.__name__)
    assert untried == [], f"listeners no forgery reaches: {untried}"


# -- what the seal on private_metadata and the check on a clicked message are for -------------


def bobs_order(world: World) -> Order:
    """An order of Bolt Bakery's (Bob's party), accepted: Pending Confirmation."""
    placed = world.place("U0BOB", mini_program="Bolt Buns", contact_name="Bob")
    world.act("U0PIA", placed.order.code, Action.ACCEPT)
    with world.db.read() as s:
        order = s.scalars(select(Order).where(Order.id == placed.order.id)).one()
        s.expunge(order)
        return order


def test_a_reminders_list_for_a_forged_channel_is_refused(
    bot: Bot, world: World, victims: Victims
) -> None:
    """The list shows every party's reminders of its channel: a list whose channel was forged
    (Acme's) changes nothing, even of Bob's own reminders, and shows nothing of Acme's."""
    with world.db.transaction() as s:
        spec = PolicySpec(channel_id="C0BOLT", time_zone="UTC", times=("10:00",))
        own = save_policy(s, world.caller("U0BOB"), spec, now=MONDAY_0500).id
    mark = len(bot.slack.calls())
    forged = modal("remind_list", json.dumps({"c": "C0ACME"}))
    click_modal(bot, TEAM, "U0BOB", "remind:toggle", forged, value=str(own))
    bot.settle()
    received = [json.dumps(c.args, ensure_ascii=False) for c in bot.slack.calls()[mark:]]
    assert leaks(received) == []
    assert any("out of date" in text for text in received)
    with world.db.read() as s:
        assert s.get(ReminderPolicy, own).enabled  # type: ignore[union-attr]

    # The list the bot drew for Bob's own channel works.
    bot.sender.slash_command(team_id=TEAM, user_id="U0BOB", text="remind", channel_id="C0BOLT")
    listing = bot.slack.wait_for(
        lambda: [v for v in bot.slack.open_views("U0BOB") if v["callback_id"] == "remind_list"]
    )[-1]
    bot.sender.click_in_view(
        team_id=TEAM, user_id="U0BOB", action_id="remind:toggle", view=listing, value=str(own)
    )
    bot.settle()
    with world.db.read() as s:
        assert not s.get(ReminderPolicy, own).enabled  # type: ignore[union-attr]


def test_a_deleted_reminder_cannot_be_turned_back_on(
    bot: Bot, world: World, victims: Victims
) -> None:
    """Ana's own list, with the Turn on of a reminder she deleted (a stale or forged button)."""
    with world.db.transaction() as s:
        delete_policy(s, world.caller("U0ANA"), victims.acme_policy, now=MONDAY_0500)
    listing = bot.slack.view(victims.ana_view)
    assert listing is not None
    bot.sender.block_action(
        team_id=TEAM,
        user_id="U0ANA",
        action_id="remind:toggle",
        value=str(victims.acme_policy),
        view=listing,
    )
    bot.settle()
    with world.db.read() as s:
        policy = s.get(ReminderPolicy, victims.acme_policy)
        assert policy is not None and policy.deleted_at is not None and not policy.enabled


def test_a_forged_origin_in_a_reason_modal_is_refused(
    bot: Bot, world: World, victims: Victims
) -> None:
    """A Reject of Bob's own order whose modal names Ana's modal as where it came from: refused
    as out of date; Bob's order and Ana's modal stay as they were."""
    order = bobs_order(world)
    before = bot.slack.view(victims.ana_view)
    meta = {
        "n": order.number,
        "v": order.version,
        "a": "reject",
        "o": {"k": "modal", "v": victims.ana_view},
    }
    answer = submit(bot, TEAM, "U0BOB", modal("order_action", json.dumps(meta)), {}).json()
    bot.settle()
    assert answer["response_action"] == "errors" and "out of date" in answer["errors"]["reason"]
    assert bot.status_of(format_order_number(order.number)) is OrderStatus.PENDING_CONFIRMATION
    assert bot.slack.view(victims.ana_view) == before


def test_a_click_on_another_partys_message_does_not_redraw_it(
    bot: Bot, world: World, victims: Victims
) -> None:
    """Bob's stale Confirm and his Snooze of his own order, sent as clicked on Acme Coffee's
    digest: Bob is answered, Acme's digest is not touched."""
    order = bobs_order(world)
    mark = len(bot.slack.calls())
    stale = ButtonValue(order.number, order.version - 1).encode()
    click_message(
        bot, TEAM, "U0BOB", "order:confirm", "C0ACME", victims.acme_digest_ts, value=stale
    )
    click_message(
        bot,
        TEAM,
        "U0BOB",
        "remind:snooze",
        "C0ACME",
        victims.acme_digest_ts,
        action_type="overflow",
        selected_option={
            "text": {"type": "plain_text", "text": "1 hour"},
            "value": f"{order.number}:1h",
        },
    )
    bot.settle()
    calls = bot.slack.calls()[mark:]
    told = [json.dumps(c.args) for c in calls if c.method == "response_url"]
    assert any("it was accepted by" in t for t in told) and any(
        "out of reminders" in t for t in told
    )
    assert [c.args for c in calls if c.method == "chat.update"] == []
    assert (
        bot.timeline(format_order_number(order.number))[-1].action.value == "snooze"
    )  # his own order: snoozed
