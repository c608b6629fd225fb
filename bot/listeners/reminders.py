"""`/orders remind` (a channel's reminder policies), the digest's Snooze menu and "+N more"."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.delivery import notify
from bot.deps import Deps
from bot.listeners.common import (
    deps_of,
    refuse,
    seal_view,
    subcommand,
    tell,
    trusted_origin,
    unseal,
    who,
)
from bot.scheduling.reminders import Reminders
from bot.ui.format import FIELD_ERROR_FORMAT, SLACK_FORMAT, channel_link, escape, when
from bot.ui.orders import Message, render_error, value_of
from bot.ui.reminders import (
    DIGEST_MORE_ACTION,
    REMIND_ADD,
    REMIND_DELETE,
    REMIND_EDIT,
    REMIND_FORM_CALLBACK,
    REMIND_TEST,
    REMIND_TOGGLE,
    SNOOZE_ACTION,
    digest_row,
    render_remind_form,
    render_remind_list,
)
from orders_core import errors
from orders_core.lifecycle import OrderStatus, Party
from orders_core.models import ReminderPolicy, ReminderRun, Workspace
from orders_core.orders import Caller, get_orders_by_id, resolve_caller
from orders_core.reminders import (
    SNOOZES,
    PolicySpec,
    PolicyView,
    active_snoozes,
    delete_policy,
    get_policy,
    list_policies,
    order_age,
    parse_times,
    save_policy,
    snooze,
    snooze_until,
    validate_spec,
)

log = logging.getLogger(__name__)


@subcommand("remind", "reminders")
def remind(deps: Deps, command: dict[str, Any], rest: str, client: WebClient) -> Message | None:
    """Open the modal of this channel's reminders."""
    if not str(command.get("channel_id", "")).startswith(("C", "G")):
        return render_error(
            "Reminders are posted in a channel: type `/orders remind` in the channel you want them in."
        )
    with deps.db.read() as s:
        caller = resolve_caller(s, command["team_id"], command["user_id"])
        view = remind_list(s, caller, command["channel_id"])
    client.views_open(trigger_id=command["trigger_id"], view=seal_view(client, view))
    return None


def remind_list(
    session: Any, caller: Caller, channel_id: str, notice: str | None = None
) -> dict[str, Any]:
    """The list modal for a channel, as the caller sees it."""
    policies = list_policies(session, workspace_id=caller.workspace_id, channel_id=channel_id)
    return render_remind_list(policies, channel_id, caller.party_id, notice)


def default_zone(session: Any, caller: Caller) -> str:
    """The workspace's time zone, else UTC."""
    workspace = session.get(Workspace, caller.workspace_id)
    return (workspace.time_zone if workspace else None) or "UTC"


def spec_from_form(
    values: dict[str, Any], channel_id: str, party: Party
) -> tuple[PolicySpec, dict[str, str]]:
    """Read the form; every problem by block (the form's own and the policy's rules)."""

    def value(block: str) -> str:
        return str(((values.get(block) or {}).get(block) or {}).get("value") or "").strip()

    def checked(block: str) -> list[str]:
        return [
            o["value"]
            for o in ((values.get(block) or {}).get(block) or {}).get("selected_options") or []
        ]

    problems: dict[str, str] = {}
    try:
        times = parse_times(value("times"))
    except ValueError as exc:
        problems["times"] = str(exc)
        times = ()

    def hours(block: str, *, blank_is_none: bool) -> timedelta | None:
        text = value(block)
        if not text and blank_is_none:
            return None
        try:
            number = float(text)
        except ValueError:
            problems[block] = f"{text!r} is not a number of hours: try 24."
            return None
        if number < 0:
            problems[block] = "Give a number of hours of 0 or more."
            return None
        return timedelta(hours=number) if number or not blank_is_none else None

    spec = PolicySpec(
        channel_id=channel_id,
        days=tuple(int(d) for d in checked("days")),
        times=times,
        time_zone=value("time_zone") or None,
        statuses=tuple(OrderStatus(v) for v in checked("statuses")),
        min_age=hours("min_age", blank_is_none=False) or timedelta(0),
        working_days_only="working_days" in checked("options"),
        escalate_after=hours("escalate_after", blank_is_none=True),
        enabled="enabled" in checked("options"),
    )
    if "times" in problems:
        spec = replace(
            spec, times=("00:00",)
        )  # checked already: let the other fields be checked too
    return spec, {**validate_spec(spec, party), **problems}


def register(app: App, deps: Deps) -> None:
    """Listen to the reminder modals, Snooze and "+N more"."""
    app.action(REMIND_ADD)(open_form)
    app.action(REMIND_EDIT)(open_form)
    app.view(REMIND_FORM_CALLBACK)(save)
    app.action(REMIND_TEST)(test_now)
    app.action(REMIND_TOGGLE)(change)
    app.action(REMIND_DELETE)(change)
    app.action(SNOOZE_ACTION)(snooze_order)
    app.action(DIGEST_MORE_ACTION)(more)


def caller_of(s: Any, body: dict[str, Any]) -> Caller:
    """The member who clicked."""
    team, user = who(body)
    return resolve_caller(s, team, user)


def redraw_list(
    deps: Deps, client: WebClient, body: dict[str, Any], caller: Caller, channel: str, notice: str
) -> None:
    """The reminders modal clicked in, drawn again with a notice at its top."""
    with deps.db.read() as s:
        view = remind_list(s, caller, channel, notice)
    client.views_update(view_id=(body.get("view") or {}).get("id"), view=seal_view(client, view))


def channel_of(client: WebClient, body: dict[str, Any]) -> str:
    """The channel the reminders list is about (sealed in it: the list shows every party's
    reminders of that channel, so a forged channel could show another party's)."""
    meta = unseal(client, (body.get("view") or {}).get("private_metadata"))
    channel = value_of(meta, "channel", "c") if meta is not None else None
    if not channel:
        raise errors.NotFound(
            "This list of reminders is out of date: type `/orders remind` in the channel again."
        )
    return str(channel)


def own_policy(s: Any, caller: Caller, policy_id: int) -> PolicyView:
    """One of the caller's party's reminders, not deleted; NotFound otherwise."""
    policy = get_policy(s, policy_id)
    if policy.party_id != caller.party_id:
        raise errors.NotFound(
            "That reminder belongs to another party; only its members can change it."
        )
    if policy.deleted:
        raise errors.NotFound("That reminder was deleted.")
    return policy


def open_form(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """*Add a reminder* or *Edit*: the form, over the list."""
    deps = deps_of(context)
    try:
        channel = channel_of(client, body)
        with deps.db.read() as s:
            caller = caller_of(s, body)
            policy = None
            if action["action_id"] == REMIND_EDIT:
                policy = own_policy(s, caller, int(action["value"]))
            form = render_remind_form(
                channel_id=channel,
                party=caller.party,
                policy=policy,
                default_zone=default_zone(s, caller),
                root_view_id=(body.get("view") or {}).get("id"),
            )
    except (errors.OrdersError, ValueError) as exc:
        refuse(deps, client, body, exc)
    else:
        client.views_push(trigger_id=body["trigger_id"], view=seal_view(client, form))
    ack()


def save(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The form submitted: the reminder saved, or each mistake shown on its field."""
    deps = deps_of(context)
    # The channel, the policy and the list to redraw: sealed when the form was opened.
    meta = unseal(client, view.get("private_metadata"))
    if meta is None or not value_of(meta, "channel", "c"):
        ack(
            response_action="errors",
            errors={"times": "This form is out of date: close it and open it again."},
        )
        return
    channel = str(value_of(meta, "channel", "c"))
    now = deps.clock.now()
    try:
        with deps.db.transaction() as s:
            caller = caller_of(s, body)
            values = (view.get("state") or {}).get("values") or {}
            spec, problems = spec_from_form(values, channel, caller.party)
            if problems:
                raise errors.InvalidInput(problems)
            policy = save_policy(s, caller, spec, policy_id=value_of(meta, "policy", "p"), now=now)
    except errors.InvalidInput as exc:
        blocks = {"days", "times", "time_zone", "statuses", "min_age", "escalate_after"}
        ack(
            response_action="errors",
            errors={(k if k in blocks else "times"): v[:2000] for k, v in exc.fields.items()},
        )
        return
    except errors.OrdersError as exc:
        ack(response_action="errors", errors={"times": exc.render(FIELD_ERROR_FORMAT)[:2000]})
        return
    if meta.get("root"):
        with deps.db.read() as s:
            root = remind_list(
                s, caller, channel, f":white_check_mark: Saved: {escape(policy.describe())}."
            )
        client.views_update(view_id=meta["root"], view=seal_view(client, root))
    ack()


def test_now(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """*Send a test now*: a digest of this reminder posted at once."""
    deps = deps_of(context)
    try:
        with deps.db.read() as s:
            caller = caller_of(s, body)
            policy = get_policy(s, int(action["value"]))
        if policy.party_id != caller.party_id:
            raise errors.NotFound("That reminder belongs to another party.")
        if policy.deleted:
            raise errors.NotFound("That reminder was deleted.")
    except (errors.OrdersError, ValueError) as exc:
        tell(deps, client, body, render_error(escape(str(exc))))  # may quote the button's value
        ack()
        return
    outcome = Reminders(deps).run_slot(
        policy.id, deps.clock.now().replace(microsecond=0), kind="test"
    )
    deps.committed()
    notice = (
        f":outbox_tray: Test reminder posted in {channel_link(policy.channel_id)} with {outcome.orders} orders."
        if outcome.result == "queued"
        else f"No test was sent ({outcome.result})."
    )
    redraw_list(deps, client, body, caller, policy.channel_id, notice)
    ack()


def change(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """*Turn off/on* and *Delete*."""
    deps = deps_of(context)
    now = deps.clock.now()
    try:
        channel = channel_of(client, body)  # checked before anything changes
        with deps.db.transaction() as s:
            caller = caller_of(s, body)
            policy_id = int(action["value"])
            if action["action_id"] == REMIND_DELETE:
                delete_policy(s, caller, policy_id, now=now)
                notice = f":wastebasket: Reminder #{policy_id} deleted."
            else:
                own_policy(s, caller, policy_id)
                row = s.get(ReminderPolicy, policy_id)
                assert row is not None
                row.enabled = not row.enabled
                row.updated_at = now
                notice = f"Reminder #{policy_id} is {'on' if row.enabled else 'off'}."
    except (errors.OrdersError, ValueError) as exc:
        refuse(deps, client, body, exc)
    else:
        redraw_list(deps, client, body, caller, channel, notice)
    ack()


def snooze_order(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The digest row's ⋯ menu: that order kept out of the party's digests for a while."""
    deps = deps_of(context)
    number, _, choice = str((action.get("selected_option") or {}).get("value") or "").partition(":")
    now = deps.clock.now()
    try:
        if choice not in SNOOZES or not number.isdigit():
            raise errors.InvalidInput({"snooze": "That menu is not one of ours."})
        with deps.db.transaction() as s:
            caller = caller_of(s, body)
            until = snooze_until(choice, now, ZoneInfo(default_zone(s, caller)))
            snooze(s, caller, int(number), until, now=now, label=SNOOZES[choice])
            origin = trusted_origin(s, notify.origin_of(body), caller)
            notify.redraw_origin(
                s, origin, now=now, workspace_id=caller.workspace_id, number=int(number)
            )
    except errors.OrdersError as exc:
        tell(deps, client, body, render_error(exc.render(SLACK_FORMAT)))
    else:
        deps.committed()
        text = f":zzz: SO-{int(number):06d} will stay out of reminders until {when(until)}."
        tell(
            deps,
            client,
            body,
            Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]),
        )
    ack()


def more(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """A digest's "+N more": every order it lists, in a modal."""
    deps = deps_of(context)
    now = deps.clock.now()
    try:
        with deps.db.read() as s:
            caller = caller_of(s, body)
            run = s.get(ReminderRun, int(action.get("value") or 0))
            if run is None:
                raise errors.NotFound("That reminder is gone.")
            policy = get_policy(s, run.policy_id)
            # A digest lists what waits on its party: another party's (even in this
            # workspace) is none of the caller's business.
            if policy.party_id != caller.party_id:
                raise errors.NotFound("That reminder is gone.")
            orders = sorted(
                (
                    o
                    for o in get_orders_by_id(s, run.order_ids)
                    if caller.party_id in (o.merchant_id, o.provider_id)
                ),
                key=lambda o: (o.status_changed_at, o.id),
            )
            snoozed = active_snoozes(s, policy.party_id, [o.id for o in orders], now)
            blocks: list[dict[str, Any]] = []
            for order in orders[:45]:
                blocks += digest_row(
                    order,
                    policy,
                    now,
                    order_age(policy, order, now),
                    snoozed.get(order.id),
                    run.id,
                )[:1]
    except (errors.OrdersError, ValueError) as exc:
        refuse(deps, client, body, exc)
        ack()
        return
    if len(orders) > 45:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"… and {len(orders) - 45} more: `/orders list open`",
                    }
                ],
            }
        )
    client.views_open(
        trigger_id=body["trigger_id"],
        view={
            "type": "modal",
            "title": {"type": "plain_text", "text": "Waiting orders"},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": blocks[:100]
            or [{"type": "section", "text": {"type": "mrkdwn", "text": "Nothing waits any more."}}],
        },
    )
    ack()
