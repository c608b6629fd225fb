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
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import notify, outbox
from bot.deps import Deps
from bot.listeners.common import deps_of
from bot.ui.screens import card_message
from orders_core import errors
from orders_core.lifecycle import Party
from orders_core.mentions import claim_answer, orders_numbered
from orders_core.models import PostedMessage
from orders_core.orders import OrderView, find_workspace, parse_order_number, resolve_caller

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
    """A message in a channel the bot is in: answer the order numbers it mentions."""
    if event.get("subtype") not in ANSWERED_SUBTYPES or event.get("bot_id"):
        return
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not (user and channel and ts):
        return
    numbers = mentioned_numbers(str(event.get("text") or ""))
    if not numbers:
        return  # most messages: no database at all
    deps = deps_of(context)
    team = str(body.get("team_id") or context.team_id or "")
    thread = str(event.get("thread_ts") or ts)
    with deps.db.transaction() as s:
        try:
            workspace_id = find_workspace(s, team).id
        except errors.OrdersError:
            return  # not onboarded: no order here
        if thread != ts and _is_ours(s, channel, thread):
            return  # a reply to the bot's own card: its order is right above
        for order in orders_numbered(s, workspace_id, numbers):
            _answer(deps, s, order, team=team, user=user, channel=channel, ts=ts, thread=thread)
    deps.committed()


def _is_ours(s: Session, channel: str, ts: str) -> bool:
    """Whether the bot posted the message (channel, ts)."""
    found = select(PostedMessage.id).where(
        PostedMessage.channel_id == channel, PostedMessage.ts == ts
    )
    return s.scalar(found) is not None


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
