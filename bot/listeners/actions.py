"""Buttons and selects on order messages, modals and the Home tab."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import notify
from bot.delivery.deliveries import post_response_url
from bot.deps import Deps
from bot.listeners import after_ack
from bot.listeners.metadata import seal
from bot.listeners.replies import tell
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
from bot.ui.screens import detail_modal, list_modal, list_screen
from orders_core import errors
from orders_core.lifecycle import Action
from orders_core.models import PostedMessage
from orders_core.orders import Caller, act, check_action, resolve_caller

log = logging.getLogger(__name__)

ORDER_ACTIONS = re.compile("^" + re.escape(ACTION_PREFIX) + r"(?!open$)[a-z_]+$")
MODAL_ORDER_ACTIONS = re.compile(
    "^"
    + re.escape(ACTION_PREFIX)
    + "(?:"
    + "|".join(a.value for a in Action if a is not Action.PLACE and needs_modal(a))
    + ")$"
)
"""The order actions that open a modal (a reason, a note, files) rather than act at once."""
NOT_OURS = render_error("That button is out of date or not one of ours. Try `/orders list`.")


def who(body: dict[str, Any]) -> tuple[str, str]:
    """The team and user of a payload, as Slack sent them (never from a button's value)."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    return team, user.get("id") or ""


def trusted_origin(session: Session, origin: notify.Origin, caller: Caller) -> notify.Origin:
    """`origin`, unless it names a message we posted for another workspace or another party
    (a forged container): that message is not the caller's to have redrawn."""
    if origin.kind != "channel" or not origin.channel_id or not origin.ts:
        return origin
    posted = session.execute(
        select(PostedMessage.workspace_id, PostedMessage.viewer_party_id).where(
            PostedMessage.channel_id == origin.channel_id, PostedMessage.ts == origin.ts
        )
    ).first()
    if posted is None or (
        posted.workspace_id == caller.workspace_id
        and posted.viewer_party_id in (None, caller.party_id)
    ):
        return origin
    return notify.Origin("none", origin.team_id, origin.user_id)


def register(app: App, deps: Deps) -> None:
    """Listen to order buttons, the list's filter and its pages."""

    @after_ack(app.action(OPEN_ACTION), opens_modal=True)
    def open_order(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        value = ButtonValue.decode(action.get("value"))
        if value is None:
            tell(client, body, NOT_OURS)
            return
        team, user = who(body)
        try:
            with deps.db.read() as s:
                view = detail_modal(
                    s, resolve_caller(s, team, user), value.number, deps.clock.now()
                )
        except errors.OrdersError as exc:
            tell(client, body, render_error(exc.render(SLACK_FORMAT)))
            return
        if (body.get("view") or {}).get("type") == "modal":
            client.views_push(trigger_id=body["trigger_id"], view=view)
        else:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    @after_ack(app.action(ORDER_ACTIONS))
    @after_ack(app.action(MODAL_ORDER_ACTIONS), opens_modal=True)  # first: Bolt takes the first
    def order_action(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        value = ButtonValue.decode(action.get("value"))
        try:
            chosen = Action(action["action_id"].removeprefix(ACTION_PREFIX))
        except ValueError:
            chosen = None
        if value is None or chosen is None or chosen is Action.PLACE:
            tell(client, body, NOT_OURS)
            return
        origin = notify.origin_of(body, value.where)
        if needs_modal(chosen):
            ask_for_reason(deps, body, client, value, chosen, origin)
        else:
            take_action(deps, body, client, value, chosen, origin)

    @after_ack(app.action(SHOW_WAITING_ACTION), opens_modal=True)
    def show_waiting(body: dict[str, Any], client: WebClient) -> None:
        team, user = who(body)
        try:
            with deps.db.read() as s:
                caller = resolve_caller(s, team, user)
                modal = list_modal(s, caller, waiting_spec(caller), deps.clock.now())
        except errors.OrdersError as exc:
            tell(client, body, render_error(exc.render(SLACK_FORMAT)))
            return
        client.views_open(trigger_id=body["trigger_id"], view=modal)

    @after_ack(app.action(LIST_FILTER_ACTION))
    def filter_list(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        key = (action.get("selected_option") or {}).get("value") or "all"
        redraw_list(deps, body, client, ListSpec(filter_statuses(key)))

    @after_ack(app.action(re.compile("^" + re.escape(LIST_PAGE_ACTION))))
    def page_list(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        try:
            spec = ListSpec.from_json(json.loads(action.get("value") or "{}"))
        except (ValueError, AttributeError):
            tell(client, body, NOT_OURS)
            return
        redraw_list(deps, body, client, spec)


def redraw_list(deps: Deps, body: dict[str, Any], client: WebClient, spec: ListSpec) -> None:
    """Draw the list again in place of the message that was clicked."""
    team, user = who(body)
    try:
        with deps.db.read() as s:
            message = list_screen(s, resolve_caller(s, team, user), spec, deps.clock.now())
    except errors.OrdersError as exc:
        tell(client, body, render_error(exc.render(SLACK_FORMAT)))
        return
    view = body.get("view") or {}
    if view.get("type") == "modal" and view.get("id"):
        with deps.db.read() as s:
            modal = list_modal(s, resolve_caller(s, team, user), spec, deps.clock.now())
        client.views_update(view_id=view["id"], view=modal)
    elif body.get("response_url"):
        post_response_url(body["response_url"], message, replace_original=True)


def idempotency_key(team: str, user: str, value: ButtonValue, action: Action) -> str:
    """One click: the same person, order, action and drawn version (a double click repeats it)."""
    return f"click:{team}:{user}:{value.number}:{action.value}:v{value.version}"


def take_action(
    deps: Deps,
    body: dict[str, Any],
    client: WebClient,
    value: ButtonValue,
    action: Action,
    origin: notify.Origin,
) -> None:
    """A one-click action (Confirm, Approve, Accept): applied, then every message redrawn."""
    team, user = who(body)
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
            claimed = deps.claim_queued(s)
    except errors.OrdersError as exc:
        refuse(deps, body, client, exc, origin, value.number)
        return
    deps.deliver(claimed)  # from this thread, in parallel with other clicks
    log.info(
        "%s %s %s",
        outcome.order.code,
        outcome.entry.past,
        outcome.order.status.label,
        extra={"order": outcome.order.code},
    )


def refuse(
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
        except errors.OrdersError:
            pass
        deps.committed()
    tell(client, body, render_error(exc.render(SLACK_FORMAT)))


def ask_for_reason(
    deps: Deps,
    body: dict[str, Any],
    client: WebClient,
    value: ButtonValue,
    action: Action,
    origin: notify.Origin,
) -> None:
    """Reject, Cancel, Submit: check first, then open the modal that asks for a reason or files."""
    team, user = who(body)
    try:
        with deps.db.read() as s:
            caller = resolve_caller(s, team, user)
            order, _ = check_action(s, caller, value.number, action, expected_version=value.version)
            # Sealed in the modal (the submission redraws it): checked before it is sealed.
            origin = trusted_origin(s, origin, caller)
    except errors.OrdersError as exc:
        refuse(deps, body, client, exc, origin, value.number)
        return
    metadata = seal(
        client, {"n": value.number, "v": value.version, "a": action.value, "o": origin.to_json()}
    )
    modal = render_reason_modal(order, action, metadata)
    if origin.kind == "modal":
        client.views_push(trigger_id=body["trigger_id"], view=modal)
    else:
        client.views_open(trigger_id=body["trigger_id"], view=modal)
