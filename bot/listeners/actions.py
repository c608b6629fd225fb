"""Buttons and selects on order messages, modals and the Home tab."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.delivery import notify
from bot.deps import Deps
from bot.listeners.common import (
    NOT_OURS,
    deps_of,
    open_modal,
    refuse,
    seal,
    tell,
    trusted_origin,
    who,
)
from bot.ui.format import SLACK_FORMAT
from bot.ui.home import SHOW_WAITING_ACTION, waiting_spec
from bot.ui.orders import (
    ACTION_PREFIX,
    LIST_FILTER_ACTION,
    LIST_PAGE_ACTION,
    OPEN_ACTION,
    ButtonValue,
    ListSpec,
    filter_statuses,
    needs_modal,
    render_error,
    render_reason_modal,
)
from bot.ui.screens import detail_modal, list_modal
from orders_core import errors
from orders_core.lifecycle import Action
from orders_core.orders import act, check_action, resolve_caller

log = logging.getLogger(__name__)

ORDER_ACTIONS = re.compile("^" + re.escape(ACTION_PREFIX) + r"(?!open$)[a-z_]+$")
LIST_PAGES = re.compile("^" + re.escape(LIST_PAGE_ACTION))


def register(app: App, deps: Deps) -> None:
    """Listen to order buttons, the list's filter and its pages."""
    app.action(OPEN_ACTION)(open_order)
    app.action(ORDER_ACTIONS)(order_action)
    app.action(SHOW_WAITING_ACTION)(show_waiting)
    app.action(LIST_FILTER_ACTION)(filter_list)
    app.action(LIST_PAGES)(page_list)


def open_order(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """An order number clicked: its detail in a modal (over the modal clicked in, if any)."""
    deps = deps_of(context)
    value = ButtonValue.decode(action.get("value"))
    team, user = who(body)
    if value is None:
        tell(deps, client, body, NOT_OURS)
        ack()
        return
    try:
        with deps.db.read() as s:
            view = detail_modal(s, resolve_caller(s, team, user), value.number, deps.clock.now())
    except errors.OrdersError as exc:
        refuse(deps, client, body, exc)
    else:
        open_modal(client, body, view)
    ack()


def order_action(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Confirm, Approve, Accept… taken at once; Reject, Cancel, Submit ask first in a modal."""
    deps = deps_of(context)
    value = ButtonValue.decode(action.get("value"))
    try:
        chosen = Action(action["action_id"].removeprefix(ACTION_PREFIX))
    except ValueError:
        chosen = None
    if value is None or chosen is None or chosen is Action.PLACE:
        tell(deps, client, body, NOT_OURS)
    elif needs_modal(chosen):
        ask_for_reason(deps, body, client, value, chosen)
    else:
        take_action(deps, body, client, value, chosen)
    ack()


def show_waiting(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """The Home tab's *See all*: everything waiting on the caller's party, in a modal."""
    deps = deps_of(context)
    team, user = who(body)
    try:
        with deps.db.read() as s:
            caller = resolve_caller(s, team, user)
            modal = list_modal(s, caller, waiting_spec(caller), deps.clock.now())
    except errors.OrdersError as exc:
        refuse(deps, client, body, exc)
    else:
        client.views_open(trigger_id=body["trigger_id"], view=modal)
    ack()


def filter_list(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The list's status menu: the list drawn again with those statuses."""
    key = (action.get("selected_option") or {}).get("value") or "all"
    redraw_list(deps_of(context), body, client, ListSpec(filter_statuses(key)))
    ack()


def page_list(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """*Next page* and *First page*."""
    deps = deps_of(context)
    try:
        spec = ListSpec.from_json(json.loads(action.get("value") or "{}"))
    except (ValueError, AttributeError):
        tell(deps, client, body, NOT_OURS)
    else:
        redraw_list(deps, body, client, spec)
    ack()


def redraw_list(deps: Deps, body: dict[str, Any], client: WebClient, spec: ListSpec) -> None:
    """Draw the list again in place of what was clicked: the modal now, the message through its
    response_url (by the outbox)."""
    team, user = who(body)
    view = body.get("view") or {}
    try:
        if view.get("type") == "modal" and view.get("id"):
            with deps.db.read() as s:
                modal = list_modal(s, resolve_caller(s, team, user), spec, deps.clock.now())
            client.views_update(view_id=view["id"], view=modal)
        elif body.get("response_url"):
            with deps.db.transaction() as s:
                caller = resolve_caller(s, team, user)
                origin = notify.Origin(
                    "respond", team, user, response_url=body["response_url"], where=spec.to_json()
                )
                notify.redraw_origin(
                    s, origin, now=deps.clock.now(), workspace_id=caller.workspace_id, number=None
                )
            deps.committed()
    except errors.OrdersError as exc:
        tell(deps, client, body, render_error(exc.render(SLACK_FORMAT)))


def idempotency_key(team: str, user: str, value: ButtonValue, action: Action) -> str:
    """One click: the same person, order, action and drawn version (a double click repeats it)."""
    return f"click:{team}:{user}:{value.number}:{action.value}:v{value.version}"


def take_action(
    deps: Deps, body: dict[str, Any], client: WebClient, value: ButtonValue, action: Action
) -> None:
    """A one-click action (Confirm, Approve, Accept): applied, and every message about the
    order queued to be redrawn, in one transaction, before the click is acknowledged."""
    team, user = who(body)
    origin = notify.origin_of(body, value.where)
    now = deps.clock.now()
    try:
        with deps.db.transaction() as s:
            caller = resolve_caller(s, team, user)
            outcome = act(
                s,
                caller,
                value.number,
                action,
                expected_version=value.version,
                idempotency_key=idempotency_key(team, user, value, action),
                now=now,
            )
            if outcome.replayed:  # only then is the clicked message redrawn on its own
                origin = trusted_origin(s, origin, caller)
            notify.after_action(s, outcome, caller, origin, now=now)
    except errors.OrdersError as exc:
        refused(deps, body, client, exc, origin, value.number)
        return
    deps.committed()
    log.info(
        "%s %s %s",
        outcome.order.code,
        outcome.entry.past,
        outcome.order.status.label,
        extra={"order": outcome.order.code},
    )


def refused(
    deps: Deps,
    body: dict[str, Any],
    client: WebClient,
    exc: errors.OrdersError,
    origin: notify.Origin,
    number: int | None,
) -> None:
    """Tell the clicker why nothing changed; redraw what they clicked if it had gone stale."""
    log.info("refused: %s", exc, extra={"order": f"SO-{number:06d}" if number else None})
    if isinstance(exc, errors.StaleAction):
        try:
            with deps.db.transaction() as s:
                caller = resolve_caller(s, origin.team_id, origin.user_id)
                notify.redraw_origin(
                    s,
                    trusted_origin(s, origin, caller),
                    now=deps.clock.now(),
                    workspace_id=caller.workspace_id,
                    number=number,
                )
            deps.committed()
        except errors.OrdersError:
            pass
    refuse(deps, client, body, exc)


def ask_for_reason(
    deps: Deps, body: dict[str, Any], client: WebClient, value: ButtonValue, action: Action
) -> None:
    """Reject, Cancel, Submit: check first, then open the modal that asks for a reason or files."""
    team, user = who(body)
    origin = notify.origin_of(body, value.where)
    try:
        with deps.db.read() as s:
            caller = resolve_caller(s, team, user)
            order, _ = check_action(s, caller, value.number, action, expected_version=value.version)
            # Sealed in the modal (the submission redraws it): checked before it is sealed.
            origin = trusted_origin(s, origin, caller)
    except errors.OrdersError as exc:
        refused(deps, body, client, exc, origin, value.number)
        return
    metadata = seal(
        client,
        {
            "order": value.number,
            "version": value.version,
            "action": action.value,
            "origin": origin.to_json(),
        },
    )
    modal = render_reason_modal(order, action, metadata)
    if origin.kind == "modal":
        client.views_push(trigger_id=body["trigger_id"], view=modal)
    else:
        client.views_open(trigger_id=body["trigger_id"], view=modal)
