"""Messages between the two parties of an order: the card's *Message* button and
`/orders message SO-… TEXT` open a form; what is sent goes to the other party's card thread,
shows in the sender's as sent, and stays on the order's timeline (issue 20: 3)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.delivery import notify
from bot.deps import Deps
from bot.listeners.common import (
    NOT_OURS,
    deps_of,
    open_modal,
    refuse,
    reply,
    seal,
    slack_files,
    subcommand,
    submitted_files,
    tell,
    unseal,
    who,
)
from bot.ui.format import FIELD_ERROR_FORMAT, unescape
from bot.ui.messages import (
    FORWARD_ACTION,
    KEEP_ACTION,
    MESSAGE_BLOCK,
    MESSAGE_CALLBACK,
    render_message_modal,
)
from bot.ui.orders import FILES_BLOCK, MESSAGE_ACTION, ButtonValue, Message, render_error, value_of
from orders_core import errors
from orders_core.models import PostedMessage, PostedMessageOrder
from orders_core.orders import (
    get_order,
    parse_order_number,
    resolve_caller,
    send_message,
)

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    """Listen to the Message button and its form."""
    app.action(MESSAGE_ACTION)(open_form)
    app.view(MESSAGE_CALLBACK)(send)
    app.action(FORWARD_ACTION)(forward_reply)
    app.action(KEEP_ACTION)(keep_reply)


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
        open_modal(client, body, form)
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


def _offered(action: dict[str, Any]) -> tuple[int, str, str] | None:
    """The order, reply and thread a *Send to …* / *Keep internal* button was drawn for."""
    try:
        data = json.loads(action.get("value") or "")
        return int(data["order"]), str(data["ts"]), str(data["thread"])
    except (ValueError, KeyError, TypeError):
        return None


def forward_reply(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """*Send to …*: the author's own reply, read back from Slack, sent to the other party as a
    message about the order (once, however often it is clicked)."""
    deps = deps_of(context)
    team, user = who(body)
    offered = _offered(action)
    channel = str((body.get("container") or {}).get("channel_id") or "")
    if offered is None or not channel:
        tell(deps, client, body, NOT_OURS)
        ack()
        return
    number, reply_ts, thread = offered
    try:
        with deps.db.read() as s:
            caller = resolve_caller(s, team, user)
            order = get_order(s, caller.ref, number)
            # The thread must be under this order's card in the caller's party's channel.
            card = s.scalar(
                select(PostedMessage.id)
                .join(PostedMessageOrder, PostedMessageOrder.message_id == PostedMessage.id)
                .where(
                    PostedMessage.channel_id == channel,
                    PostedMessage.ts == thread,
                    PostedMessage.kind == "card",
                    PostedMessage.viewer_party_id == caller.party_id,
                    PostedMessageOrder.order_id == order.id,
                )
            )
        if card is None:
            raise errors.OrderNotFound(order.code)
        written = _reply_of(client, channel, thread, reply_ts)
        if written is None or written.get("user") != user:
            raise errors.InvalidInput(
                {"message": "Only your own reply, still in the thread, can be sent from here."}
            )
        files = slack_files((written.get("files") or [])[:10])
        with deps.db.transaction() as s:
            outcome = send_message(
                s,
                resolve_caller(s, team, user),
                number,
                unescape(str(written.get("text") or ""))[:3000],
                files,
                idempotency_key=f"reply:{channel}:{reply_ts}",
                now=deps.clock.now(),
            )
            if not outcome.replayed:
                notify.party_message(s, outcome, now=deps.clock.now())
    except errors.OrdersError as exc:
        refuse(deps, client, body, exc)
        ack()
        return
    deps.committed()
    other = outcome.order.party_name(caller.party.other)
    _answer_offer(deps, body, team, user, f":outbox_tray: Sent to *{other}*.")
    ack()


def keep_reply(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """*Keep internal*: the offer goes; the reply stays where it is."""
    team, user = who(body)
    _answer_offer(deps_of(context), body, team, user, "Kept in your channel only.")
    ack()


def _answer_offer(deps: Deps, body: dict[str, Any], team: str, user: str, text: str) -> None:
    """The offer replaced by what became of it (an ephemeral: only its response_url reaches it)."""
    url = body.get("response_url")
    if url:
        blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]
        reply(deps, team, user, Message(text.replace("*", ""), blocks), url=url, replace=True)


def _reply_of(client: WebClient, channel: str, thread: str, ts: str) -> dict[str, Any] | None:
    """A reply of a thread, as Slack has it now (None when it is gone or unreadable)."""
    try:
        answer = client.conversations_replies(
            channel=channel, ts=thread, oldest=ts, inclusive=True, limit=20
        )
    except SlackApiError:
        return None
    return next((m for m in answer.get("messages") or [] if m.get("ts") == ts), None)
