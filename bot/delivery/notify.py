"""Keeping every message about an order true: what to redraw and whom to tell after a change.

Called inside the transaction of the change itself, so the state and the notifications it owes
commit together; the outbox worker delivers them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import outbox
from bot.delivery.outbox import Kind, Lane
from bot.ui.orders import action_notice, value_of
from orders_core.lifecycle import Party
from orders_core.models import PostedMessage, PostedMessageOrder
from orders_core.orders import ActionOutcome, Caller, OrderView

LIVE_KINDS = ("card", "thread-card", "digest")
"""Posted messages redrawn on every change (a collapsed digest or a deleted message is not); a
thread card answers an order number written in a conversation (bot/listeners/conversation.py)."""


@dataclass(frozen=True)
class Origin:
    """Where a user acted from, so that surface can be redrawn after the action.

    kind: "respond" (an ephemeral message, via its response_url), "channel" (a posted message,
    redrawn like every recorded one), "modal" (views.update), "home" (views.publish), or "none".
    """

    kind: str
    team_id: str
    user_id: str
    response_url: str | None = None
    where: dict[str, Any] = field(default_factory=dict)
    channel_id: str | None = None
    ts: str | None = None
    view_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """For a modal's private_metadata (the origin of a Reject opened from a message)."""
        data: dict[str, Any] = {"surface": self.kind, "team": self.team_id, "user": self.user_id}
        for key, value in (
            ("response_url", self.response_url),
            ("where", self.where),
            ("channel", self.channel_id),
            ("ts", self.ts),
            ("view", self.view_id),
        ):
            if value:
                data[key] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Origin:
        """Read back from private_metadata (the team and user are re-checked by the caller)."""
        return cls(
            kind=str(value_of(data, "surface", "k") or "none"),
            team_id=str(value_of(data, "team", "t") or ""),
            user_id=str(value_of(data, "user", "u") or ""),
            response_url=value_of(data, "response_url", "r"),
            where=value_of(data, "where", "w") or {},
            channel_id=value_of(data, "channel", "c"),
            ts=value_of(data, "ts", "s"),
            view_id=value_of(data, "view", "v"),
        )


def origin_of(body: dict[str, Any], where: dict[str, Any] | None = None) -> Origin:
    """The origin of a block_actions payload, from its container (as Slack fills it)."""
    container = body.get("container") or {}
    team_id = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or ""
    user_id = (body.get("user") or {}).get("id") or ""
    if container.get("type") == "message":
        if container.get("is_ephemeral") or not container.get("message_ts"):
            return Origin(
                "respond",
                team_id,
                user_id,
                response_url=body.get("response_url"),
                where=where or {},
            )
        return Origin(
            "channel",
            team_id,
            user_id,
            channel_id=container.get("channel_id"),
            ts=container.get("message_ts"),
        )
    view = body.get("view") or {}
    if view.get("type") == "home":
        return Origin("home", team_id, user_id)
    if view.get("id"):
        return Origin("modal", team_id, user_id, view_id=view.get("id"), where=where or {})
    return Origin("none", team_id, user_id)


def redraw_origin(
    session: Session,
    origin: Origin,
    *,
    now: datetime,
    workspace_id: int,
    number: int | None,
    notice: str | None = None,
) -> None:
    """Queue a redraw of the surface the user acted from (channel messages are redrawn as records)."""
    if origin.kind == "respond" and origin.response_url:
        outbox.enqueue(
            session,
            kind=Kind.RESPOND,
            lane=Lane.response_url(origin.response_url),
            payload={
                "url": origin.response_url,
                "team": origin.team_id,
                "user": origin.user_id,
                "where": origin.where,
                "number": number,
                "notice": notice,
            },
            now=now,
            workspace_id=workspace_id,
        )
    elif origin.kind == "modal" and origin.view_id and number is not None:
        outbox.enqueue(
            session,
            kind=Kind.VIEW,
            lane=Lane.view(origin.view_id),
            payload={
                "where": origin.where,
                "view_id": origin.view_id,
                "team": origin.team_id,
                "user": origin.user_id,
                "number": number,
                "notice": notice,
            },
            now=now,
            workspace_id=workspace_id,
        )
    elif origin.kind == "home":
        refresh_home(session, origin.team_id, [origin.user_id], now=now, workspace_id=workspace_id)
    elif origin.kind == "channel" and origin.channel_id and origin.ts:
        redraw_posted(session, origin.channel_id, origin.ts, now=now, workspace_id=workspace_id)


def redraw_posted(
    session: Session, channel_id: str, ts: str, *, now: datetime, workspace_id: int
) -> None:
    """Queue a redraw of one posted message, if it is one we keep."""
    message_id = session.scalar(
        select(PostedMessage.id).where(
            PostedMessage.channel_id == channel_id, PostedMessage.ts == ts
        )
    )
    if message_id is not None:
        redraw_message(session, message_id, now=now, workspace_id=workspace_id)


COALESCE = timedelta(seconds=2)
"""A message that was not clicked (a digest, a card elsewhere) is redrawn this long after a
change: the redraws queued for it meanwhile, by any process, are delivered as one."""


def redraw_message(
    session: Session,
    message_id: int,
    *,
    now: datetime,
    workspace_id: int,
    after: timedelta = timedelta(0),
    urgent: bool | None = None,
) -> None:
    """Queue a redraw of one posted message (the redraws of one message pending together are
    one delivery, of the state at that moment); `urgent` (by default: when at once) when a
    person waits for it, so it may use the rate budget's burst."""
    outbox.enqueue(
        session,
        kind=Kind.REDRAW,
        lane=Lane.message(message_id),
        payload={"message_id": message_id, "urgent": not after if urgent is None else urgent},
        now=now,
        workspace_id=workspace_id,
        due=now + after,
    )


def redraw_order_messages(
    session: Session,
    order: OrderView,
    *,
    now: datetime,
    clicked: tuple[str | None, str | None] = (None, None),
    carded: Party | None = None,
) -> dict[str, Any] | None:
    """Queue a redraw of every message we posted that shows this order (cards, digests): the
    one clicked (channel, ts) at once, the others after COALESCE; `carded`'s card in its
    channel is left out (its CARD item redraws it, with the news) and returned (for post_card),
    if there is one."""
    rows = session.execute(
        select(
            PostedMessageOrder.message_id,
            PostedMessage.channel_id,
            PostedMessage.ts,
            PostedMessage.kind,
            PostedMessage.viewer_party_id,
            PostedMessage.ref,
        )
        .join(PostedMessage, PostedMessage.id == PostedMessageOrder.message_id)
        .where(PostedMessageOrder.order_id == order.id, PostedMessage.kind.in_(LIVE_KINDS))
    ).all()
    skip = (order.party_id(carded), order.party_channel_id(carded)) if carded is not None else None
    card = None
    for row in sorted(rows, key=lambda row: row.message_id):
        if row.kind == "card" and (row.viewer_party_id, row.channel_id) == skip:
            card = {"message_id": row.message_id, "ts": row.ts, "ref": row.ref or {}}
            continue
        at_once = (row.channel_id, row.ts) == clicked
        redraw_message(
            session,
            row.message_id,
            now=now,
            workspace_id=order.workspace_id,
            after=timedelta(0) if at_once else COALESCE,
            # The message clicked, and a card wherever it is clicked from (a digest's button
            # redraws the order's card beside it): people look at them after a click. A
            # digest waits for room in the budget; its redraws meanwhile collapse into one.
            urgent=at_once or row.kind != "digest",
        )
    return card


def refresh_home(
    session: Session,
    team_id: str,
    user_ids: list[str],
    *,
    now: datetime,
    workspace_id: int | None,
) -> None:
    """Queue a republish of these users' Home tabs."""
    for user_id in user_ids:
        outbox.enqueue(
            session,
            kind=Kind.HOME,
            lane=Lane.home(team_id, user_id),
            payload={"team": team_id, "user": user_id},
            now=now,
            workspace_id=workspace_id,
        )


def post_card(
    session: Session,
    order: OrderView,
    party: Party,
    notice: str | None,
    *,
    now: datetime,
    actor: Origin | None = None,
    card: dict[str, Any] | None = None,
) -> None:
    """Queue a card about the order in `party`'s channel (with that party's buttons): `card`
    (as redraw_order_messages returns it) edited, else the card found then, else a new one;
    should the channel refuse the bot, the `actor` (who acted, and where) is told, with the
    party."""
    channel = order.party_channel_id(party)
    if not channel:
        return
    told = {}
    if actor is not None:
        told = {"user": actor.user_id, "url": actor.response_url, "channel": actor.channel_id}
    outbox.enqueue(
        session,
        kind=Kind.CARD,
        lane=Lane.channel(channel),
        payload={
            **_about(order, party, channel),
            "card": card,
            "notice": notice,
            "actor": told,
        },
        now=now,
        workspace_id=order.workspace_id,
    )


def _about(order: OrderView, party: Party, channel: str) -> dict[str, Any]:
    """What every item about an order in a party's channel carries: the order, the party whose
    buttons it draws, and the channel."""
    return {
        "order_id": order.id,
        "party_id": order.party_id(party),
        "viewer": party.value,
        "channel": channel,
    }


def thread_card(
    session: Session, order: OrderView, party: Party, channel: str, thread_ts: str, *, now: datetime
) -> None:
    """Queue the order's card, with `party`'s buttons, in a thread of `party`'s channel."""
    outbox.enqueue(
        session,
        kind=Kind.THREAD_CARD,
        lane=Lane.channel(channel),
        payload={
            **_about(order, party, channel),
            "thread_ts": thread_ts,
        },
        now=now,
        workspace_id=order.workspace_id,
    )


def party_message(session: Session, outcome: ActionOutcome, *, now: datetime) -> None:
    """Queue a message between the parties (a MESSAGE entry of the timeline) to the thread of
    the order's card in each party's channel: received by the other, shown as sent to the
    sender's. Where a party has no card yet, its card is queued first, in the same lane."""
    order, entry = outcome.order, outcome.entry
    carded = set(
        session.scalars(
            select(PostedMessage.viewer_party_id)
            .join(PostedMessageOrder, PostedMessageOrder.message_id == PostedMessage.id)
            .where(PostedMessageOrder.order_id == order.id, PostedMessage.kind == "card")
        )
    )
    sender = {"user": entry.actor_user_id}
    for party in Party:
        channel = order.party_channel_id(party)
        if not channel:
            continue
        if order.party_id(party) not in carded:
            post_card(session, order, party, None, now=now)
        outbox.enqueue(
            session,
            kind=Kind.PARTY_MESSAGE,
            lane=Lane.channel(channel),
            payload={
                **_about(order, party, channel),
                "event_id": entry.id,
                "actor": sender,
            },
            now=now,
            workspace_id=order.workspace_id,
        )


def after_action(
    session: Session,
    outcome: ActionOutcome,
    caller: Caller,
    origin: Origin | None,
    *,
    now: datetime,
) -> None:
    """Everything people must see after an action, queued in the action's own transaction."""
    order = outcome.order
    # A message in a channel is one of the order's own (its card, a digest): it is redrawn with
    # all of them below, unless this is a replay, which redraws only what was clicked.
    redrawn_below = origin is not None and origin.kind == "channel" and not outcome.replayed
    if origin is not None and not redrawn_below:
        done = f":white_check_mark: {outcome.entry.past.capitalize()} *{order.code}* — it is now {order.status.label}."
        redraw_origin(
            session,
            origin,
            now=now,
            workspace_id=order.workspace_id,
            number=order.number,
            notice=done,
        )
    if outcome.replayed:
        return  # the first delivery already told everyone
    # A bounded number of Slack calls, whatever the size of the teams: the surface clicked
    # (above), the other party's card edited with the news in its thread, and the messages
    # showing the order (coalesced). Home tabs are drawn when opened, not on every change.
    other = caller.party.other
    clicked = (origin.channel_id, origin.ts) if origin is not None else (None, None)
    card = redraw_order_messages(session, order, now=now, clicked=clicked, carded=other)
    notice = action_notice(order, outcome.entry)
    post_card(session, order, other, notice, now=now, actor=origin, card=card)
