"""Modal submissions: the reason (and files) for Reject, Cancel and Submit for approval."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.delivery import notify
from bot.deps import Deps
from bot.listeners.common import deps_of, submitted_files, unseal, who
from bot.ui.format import FIELD_ERROR_FORMAT
from bot.ui.orders import FILES_BLOCK, ORDER_ACTION_CALLBACK, REASON_BLOCK, value_of
from orders_core import errors
from orders_core.lifecycle import Action
from orders_core.orders import act, resolve_caller

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    """Listen to reason modals."""
    app.view(ORDER_ACTION_CALLBACK)(submit_reason)


def submit_reason(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """A reason modal submitted: the action taken with its reason and files, or the problem
    shown on the field."""
    deps = deps_of(context)
    team, user = who(body)
    try:
        # Unsealed or changed metadata is refused: it is where the order's messages are
        # redrawn after the action (the order itself is checked against the caller below).
        meta = unseal(client, view.get("private_metadata"))
        if meta is None:
            raise ValueError("metadata not ours")
        number = int(value_of(meta, "order", "n"))
        version = int(value_of(meta, "version", "v"))
        action = Action(value_of(meta, "action", "a"))
        origin_data = value_of(meta, "origin", "o") or {}
    except (ValueError, KeyError, TypeError):
        ack(
            response_action="errors",
            errors={REASON_BLOCK: "This form is out of date: close it and try again."},
        )
        return
    # The origin came back from the client: only its surface is used, never its user or team.
    origin = notify.Origin.from_json({**origin_data, "team": team, "user": user})
    values = (view.get("state") or {}).get("values") or {}
    reason = ((values.get(REASON_BLOCK) or {}).get(REASON_BLOCK) or {}).get("value")
    now = deps.clock.now()
    try:
        with deps.db.transaction() as s:
            caller = resolve_caller(s, team, user)
            outcome = act(
                s,
                caller,
                number,
                action,
                reason=reason,
                files=submitted_files(values),
                expected_version=version,
                idempotency_key=f"view:{view.get('id')}",
                now=now,
            )
            notify.after_action(s, outcome, caller, origin, now=now)
    except errors.OrdersError as exc:
        block = (
            FILES_BLOCK
            if isinstance(exc, errors.InvalidInput) and "files" in exc.fields
            else REASON_BLOCK
        )
        if block == FILES_BLOCK and FILES_BLOCK not in values:
            block = REASON_BLOCK
        ack(response_action="errors", errors={block: exc.render(FIELD_ERROR_FORMAT)[:2000]})
        if isinstance(exc, errors.StaleAction):
            with deps.db.transaction() as s:
                notify.redraw_origin(
                    s,
                    origin,
                    now=now,
                    workspace_id=resolve_caller(s, team, user).workspace_id,
                    number=number,
                )
            deps.committed()
        return
    ack()
    deps.committed()
    log.info(
        "%s %s %s",
        outcome.order.code,
        outcome.entry.past,
        outcome.order.status.label,
        extra={"order": outcome.order.code},
    )
