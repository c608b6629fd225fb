"""views.*: modals (open, push, update) and Home tabs (publish); trigger_ids; and what Slack's
client does with the app's answer to a view_submission."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from bot.console.localslack.payloads import JsonDict
from bot.console.localslack.state import MAX_MODAL_STACK, Request, SlackError, SlackState


def open_(state: SlackState, request: Request) -> JsonDict:
    """views.open: a new modal for the trigger's user (replacing one they had open)."""
    view_in = _view_arg(request)
    user = _exchange_trigger(state, request)
    _check_external_id(state, view_in, None)
    view = state.build_view(view_in, request.workspace)
    for closed in state.modals.get(user, []):
        state.views.pop(closed, None)
    state.views[view["id"]] = view
    state.view_owner[view["id"]] = user
    state.modals[user] = [view["id"]]
    return {"ok": True, "view": copy.deepcopy(view)}


def push(state: SlackState, request: Request) -> JsonDict:
    """views.push: a view on top of the trigger's user's modal (3 at most)."""
    view_in = _view_arg(request)
    user = _exchange_trigger(state, request)
    stack = state.modals.get(user)
    if not stack:
        raise SlackError("invalid_arguments", "no modal is open for this trigger's user")
    if len(stack) >= MAX_MODAL_STACK:
        raise SlackError("push_limit_reached")
    _check_external_id(state, view_in, None)
    view = state.build_view(
        view_in, request.workspace, root_view_id=stack[0], previous_view_id=stack[-1]
    )
    state.views[view["id"]] = view
    state.view_owner[view["id"]] = user
    stack.append(view["id"])
    return {"ok": True, "view": copy.deepcopy(view)}


def update(state: SlackState, request: Request) -> JsonDict:
    """views.update: replace an open view, found by view_id or external_id (hash checked)."""
    view_in = _view_arg(request)
    view_id = request.args.get("view_id")
    external_id = request.args.get("external_id")
    if not view_id and external_id:
        view_id = next(
            (v for v, s in state.views.items() if s.get("external_id") == external_id), None
        )
    current = state.views.get(str(view_id or ""))
    if current is None:
        raise SlackError("not_found")
    if request.args.get("hash") and request.args["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    _check_external_id(state, view_in, current["id"])
    if not view_in.get("external_id") and current.get("external_id"):
        view_in = {**view_in, "external_id": current["external_id"]}
    view = state.build_view(
        view_in,
        request.workspace,
        view_id=current["id"],
        root_view_id=current["root_view_id"],
        previous_view_id=current["previous_view_id"],
    )
    state.views[view["id"]] = view
    return {"ok": True, "view": copy.deepcopy(view)}


def publish(state: SlackState, request: Request) -> JsonDict:
    """views.publish: a user's Home tab."""
    view_in = _view_arg(request)
    user = str(request.args.get("user_id") or "")
    if not user:
        raise SlackError("invalid_arguments", "missing required field: user_id")
    if view_in.get("type") != "home":
        raise SlackError("invalid_arguments", "must be a valid enum value [json-pointer:/type]")
    current_id = state.homes.get(user)
    current = state.views.get(current_id) if current_id else None
    if request.args.get("hash") and current and request.args["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    view = state.build_view(view_in, request.workspace, view_id=current_id)
    state.views[view["id"]] = view
    state.view_owner[view["id"]] = user
    state.homes[user] = view["id"]
    return {"ok": True, "view": copy.deepcopy(view)}


def apply_view_response(
    state: SlackState, user_id: str, view_id: str, response: Mapping[str, Any] | None
) -> None:
    """Do what Slack's client does with the app's answer to a view_submission."""
    action = (response or {}).get("response_action")
    new_view = (response or {}).get("view")
    with state.changed:
        stack = state.modals.get(user_id, [])
        if view_id not in stack or action == "errors":
            return
        current = state.views[view_id]
        workspace = state.workspace_for_team(str(current["team_id"]))
        if action == "update" and isinstance(new_view, dict):
            state.views[view_id] = state.build_view(
                dict(new_view),
                workspace,
                view_id=view_id,
                root_view_id=current["root_view_id"],
                previous_view_id=current["previous_view_id"],
            )
        elif action == "push" and isinstance(new_view, dict):
            pushed = state.build_view(
                dict(new_view), workspace, root_view_id=stack[0], previous_view_id=stack[-1]
            )
            state.views[pushed["id"]] = pushed
            state.view_owner[pushed["id"]] = user_id
            stack.append(pushed["id"])
        elif action == "clear":
            state.close_views(user_id, stack[0])
        else:
            state.close_views(user_id, view_id)
        state.touch()


def close_view(state: SlackState, user_id: str, view_id: str, *, clear: bool = False) -> None:
    """Close view_id (and the views pushed above it; all of the modal when clear)."""
    with state.changed:
        stack = state.modals.get(user_id, [])
        if view_id in stack:
            state.close_views(user_id, stack[0] if clear else view_id)
            state.touch()


def _exchange_trigger(state: SlackState, request: Request) -> str:
    """The user whose trigger_id this is; each one is taken once, within trigger_ttl."""
    trigger_id = str(
        request.args.get("trigger_id") or request.args.get("interactivity_pointer") or ""
    )
    if not trigger_id:
        raise SlackError("invalid_arguments", "missing required field: trigger_id")
    trigger = state.triggers.get(trigger_id)
    if trigger is None:
        if state.strict_triggers:
            raise SlackError("invalid_trigger_id")
        return ""
    if trigger.exchanged:
        raise SlackError("exchanged_trigger_id")
    age = time.monotonic() - trigger.created
    if state.trigger_ttl is not None and age > state.trigger_ttl:
        raise SlackError("expired_trigger_id")
    trigger.exchanged = True
    return trigger.user_id


def _view_arg(request: Request) -> JsonDict:
    view = request.args.get("view")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", "missing required field: view")
    return view


def _check_external_id(
    state: SlackState, view: Mapping[str, Any], except_view_id: str | None
) -> None:
    external_id = view.get("external_id")
    if not external_id:
        return
    for view_id, existing in state.views.items():
        if view_id != except_view_id and existing.get("external_id") == external_id:
            raise SlackError("duplicate_external_id")


METHODS = {
    "views.open": open_,
    "views.push": push,
    "views.update": update,
    "views.publish": publish,
}
