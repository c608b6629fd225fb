"""Order numbers written in conversation: the order's card, where it may be shown.

Someone writes `SO-000123` (or `so-123`) in a channel the bot is in. In the notification channel
of a party of that order, the card goes in the message's thread, with that party's buttons, kept
current like every card. Elsewhere, a member of a party of the order alone sees it; anyone else
sees nothing, and nothing says the order exists. Once per order and thread within an hour
(orders_core.mentions.QUIET), whatever Slack retries.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App, BoltContext
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from bot.delivery import notify, outbox
from bot.deps import Deps
from bot.listeners.common import deps_of
from bot.ui.messages import render_send_offer
from bot.ui.screens import card_message
from orders_core import errors
from orders_core.lifecycle import Party
from orders_core.mentions import claim_answer, orders_numbered
from orders_core.models import PostedMessage, PostedMessageOrder
from orders_core.orders import (
    OrderView,
    find_workspace,
    get_orders_by_id,
    parse_order_number,
    resolve_caller,
)

MAX_MENTIONS = 3
"""Orders answered for one message: the first three distinct numbers written."""

ANSWERED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
"""What a person writes; edits (`message_changed`), deletions, joins and bots' posts are not."""

_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
_ORDER_NUMBER = re.compile(r"(?<![\w/.-])SO-\d{1,12}(?![\w-])", re.IGNORECASE)


def register(app: App, deps: Deps) -> None:
    """Listen to the messages of channels the bot is in."""
    app.event("message")(message_posted)


def mentioned_numbers(text: str) -> list[int]:
    """The distinct order numbers written in a message, outside code, at most MAX_MENTIONS."""
    numbers: list[int] = []
    for match in _ORDER_NUMBER.finditer(_CODE.sub(" ", text)):
        number = parse_order_number(match.group(0))
        if number and number not in numbers:
            numbers.append(number)
            if len(numbers) == MAX_MENTIONS:
                break
    return numbers


def message_posted(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """A message in a channel the bot is in: answer the order numbers it mentions; a reply
    under one of the bot's cards is offered to its author to send to the other party."""
    if event.get("subtype") not in ANSWERED_SUBTYPES or event.get("bot_id"):
        return
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not (user and channel and ts):
        return
    thread = str(event.get("thread_ts") or ts)
    numbers = mentioned_numbers(str(event.get("text") or ""))
    if not numbers and thread == ts:
        return  # most messages: no database at all
    deps = deps_of(context)
    team = str(body.get("team_id") or context.team_id or "")
    with deps.db.transaction() as s:
        try:
            workspace_id = find_workspace(s, team).id
        except errors.OrdersError:
            return  # not onboarded: no order here
        if thread != ts:
            ours = s.execute(_POSTED, {"channel": channel, "ts": thread}).first()
            if ours is not None:  # a reply under the bot's own message: its order is above
                if ours.kind == "card" and ours.order_id is not None:
                    _offer(
                        deps, s, ours, team=team, user=user, channel=channel, ts=ts, thread=thread
                    )
                numbers = []
        for order in orders_numbered(s, workspace_id, numbers):
            _answer(deps, s, order, team=team, user=user, channel=channel, ts=ts, thread=thread)
    deps.committed()


_POSTED = (
    select(
        PostedMessage.kind,
        PostedMessage.viewer_party_id,
        select(func.min(PostedMessageOrder.order_id))
        .where(PostedMessageOrder.message_id == PostedMessage.id)
        .scalar_subquery()
        .label("order_id"),
    )
    .where(PostedMessage.channel_id == bindparam("channel"), PostedMessage.ts == bindparam("ts"))
    .limit(1)
)
"""The bot's own message at (channel, ts), if it is one, and the order it shows."""


def _offer(
    deps: Deps,
    s: Session,
    card: Any,
    *,
    team: str,
    user: str,
    channel: str,
    ts: str,
    thread: str,
) -> None:
    """A member of the card's party replied under it: offer them, alone, to send it across
    (once per reply, whatever Slack retries)."""
    try:
        caller = resolve_caller(s, team, user)
    except errors.OrdersError:
        return
    if caller.party_id != card.viewer_party_id:
        return  # someone of another party in the channel: nothing to offer
    [order] = get_orders_by_id(s, [card.order_id])
    if order.party_channel_id(caller.party) != channel:
        return  # a card sent by direct message, or a channel the party no longer uses
    now = deps.clock.now()
    if not claim_answer(
        s,
        workspace_id=order.workspace_id,
        channel_id=channel,
        thread_ts=f"r{ts}",
        order_id=order.id,
        now=now,
    ):
        return
    offer = render_send_offer(order, caller.party, ts, thread)
    outbox.enqueue(
        s,
        kind=outbox.Kind.EPHEMERAL,
        lane=outbox.Lane.channel(channel),
        payload={"channel": channel, "user": user, "thread_ts": thread, **offer.as_kwargs()},
        now=now,
        workspace_id=order.workspace_id,
    )


def _answer(
    deps: Deps,
    s: Session,
    order: OrderView,
    *,
    team: str,
    user: str,
    channel: str,
    ts: str,
    thread: str,
) -> None:
    """The order's card in the thread of its party's channel, or for the author's eyes only."""
    now = deps.clock.now()
    party = next((p for p in Party if order.party_channel_id(p) == channel), None)
    if party is not None:
        if claim_answer(
            s,
            workspace_id=order.workspace_id,
            channel_id=channel,
            thread_ts=thread,
            order_id=order.id,
            now=now,
        ):
            notify.thread_card(s, order, party, channel, thread, now=now)
        return
    try:
        caller = resolve_caller(s, team, user)
    except errors.OrdersError:
        return  # a stranger to every party learns nothing
    if caller.party_id not in (order.merchant_id, order.provider_id):
        return
    # Once per message (Slack may deliver it twice), for its author alone.
    if not claim_answer(
        s,
        workspace_id=order.workspace_id,
        channel_id=channel,
        thread_ts=ts,
        order_id=order.id,
        now=now,
    ):
        return
    card = card_message(s, caller, order.number, now)
    outbox.enqueue(
        s,
        kind=outbox.Kind.EPHEMERAL,
        lane=outbox.Lane.channel(channel),
        payload={
            "channel": channel,
            "user": user,
            "thread_ts": thread if thread != ts else None,
            **card.as_kwargs(),
        },
        now=now,
        workspace_id=order.workspace_id,
    )
