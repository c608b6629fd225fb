"""Messages between the two parties of an order: the card's *Message* button and
`/orders message SO-… TEXT` open a form; what is sent goes to the other party's card thread,
shows in the sender's as sent, and stays on the order's timeline (issue 20: 3)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.delivery import notify
from bot.deps import Deps
from bot.listeners.common import NOT_OURS, deps_of, refuse, seal, subcommand, tell, unseal, who
from bot.listeners.views import submitted_files
from bot.ui.format import FIELD_ERROR_FORMAT
from bot.ui.messages import MESSAGE_BLOCK, MESSAGE_CALLBACK, render_message_modal
from bot.ui.orders import FILES_BLOCK, MESSAGE_ACTION, ButtonValue, Message, render_error, value_of
from orders_core import errors
from orders_core.orders import get_order, parse_order_number, resolve_caller, send_message

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    """Listen to the Message button and its form."""
    app.action(MESSAGE_ACTION)(open_form)
    app.view(MESSAGE_CALLBACK)(send)


def open_form(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """*Message* on a card: the form, for an order of the clicker's party."""
    deps = deps_of(context)
    value = ButtonValue.decode(action.get("value"))
    team, user = who(body)
    if value is None:
        tell(deps, client, body, NOT_OURS)
        ack()
        return
    try:
        with deps.db.read() as s:
            caller = resolve_caller(s, team, user)
            order = get_order(s, caller.ref, value.number)
    except errors.OrdersError as exc:
        refuse(deps, client, body, exc)
    else:
        form = render_message_modal(order, caller.party, seal(client, {"order": order.number}))
        if (body.get("view") or {}).get("type") == "modal":
            client.views_push(trigger_id=body["trigger_id"], view=form)
        else:
            client.views_open(trigger_id=body["trigger_id"], view=form)
    ack()


@subcommand("message", "msg", "write")
def message_command(
    deps: Deps, command: dict[str, Any], rest: str, client: WebClient
) -> Message | None:
    """`/orders message SO-000123 TEXT`: the form, with TEXT in it, to check and send."""
    number_text, _, text = rest.strip().partition(" ")
    number = parse_order_number(number_text)
    if number is None:
        return render_error(
            "Which order? `/orders message SO-000123 Can we move the review to Friday?`"
        )
    with deps.db.read() as s:
        caller = resolve_caller(s, command["team_id"], command["user_id"])
        order = get_order(s, caller.ref, number)
    form = render_message_modal(
        order, caller.party, seal(client, {"order": order.number}), text.strip() or None
    )
    client.views_open(trigger_id=command["trigger_id"], view=form)
    return None


def send(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The form sent: kept on the timeline and queued to both parties' card threads, in one
    transaction; or the problem shown on the field, nothing kept."""
    deps = deps_of(context)
    team, user = who(body)
    meta = unseal(client, view.get("private_metadata"))
    try:
        number = int(value_of(meta or {}, "order", "n"))
    except (TypeError, ValueError):
        ack(
            response_action="errors",
            errors={MESSAGE_BLOCK: "This form is out of date: close it and try again."},
        )
        return
    values = (view.get("state") or {}).get("values") or {}
    text = ((values.get(MESSAGE_BLOCK) or {}).get(MESSAGE_BLOCK) or {}).get("value")
    now = deps.clock.now()
    try:
        with deps.db.transaction() as s:
            caller = resolve_caller(s, team, user)
            outcome = send_message(
                s,
                caller,
                number,
                text,
                submitted_files(values),
                idempotency_key=f"view:{view.get('id')}",
                now=now,
            )
            if not outcome.replayed:
                notify.party_message(s, outcome, now=now)
    except errors.OrdersError as exc:
        block = (
            FILES_BLOCK
            if isinstance(exc, errors.InvalidInput) and "files" in exc.fields
            else MESSAGE_BLOCK
        )
        ack(response_action="errors", errors={block: exc.render(FIELD_ERROR_FORMAT)[:2000]})
        return
    ack()
    deps.committed()
    log.info("%s message sent", outcome.order.code, extra={"order": outcome.order.code})
