"""What a person sees, read from the database and drawn: the list, the detail, a card, Home.

Listeners (answering a click now) and the outbox (redrawing later) both draw through here, so a
redrawn message is exactly what a fresh one would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.ui.home import HOME_RECENT, HOME_WAITING, render_home
from bot.ui.orders import (
    PAGE_SIZE,
    ListSpec,
    Message,
    render_detail_message,
    render_detail_modal,
    render_order_card,
    render_order_list,
)
from bot.ui.reminders import digest_order_ids, render_collapsed, render_digest
from orders_core.lifecycle import Party
from orders_core.models import PartyOrg, PostedMessage, PostedMessageOrder
from orders_core.orders import (
    Caller,
    OrderPage,
    count_by_status,
    get_order,
    get_order_detail,
    get_orders,
    get_orders_by_id,
    last_entries,
    list_orders,
    order_card,
    recently_changed,
    search_orders,
    waiting_on,
)
from orders_core.reminders import (
    PolicyView,
    RunView,
    get_policy,
    get_run,
    light_orders,
    order_age,
)


def list_screen(
    session: Session,
    caller: Caller,
    spec: ListSpec,
    now: datetime,
    notice: str | None = None,
    include: tuple[int, ...] = (),
) -> Message:
    """The caller's party's orders, as `/orders list` (or `/orders search`) shows them."""
    if spec.query:  # an action changes no order's words: a redraw is the same page again
        page = search_orders(session, caller.ref, spec.query, cursor=spec.cursor, limit=PAGE_SIZE)
    elif spec.window:  # a redraw after an action: the same stretch of the list, as it is now
        page = list_orders(session, caller.ref, spec.statuses, within=spec.window, limit=PAGE_SIZE)
        extra = [
            o
            for o in get_orders(session, caller.ref, include)
            if o.id not in {p.id for p in page.orders}
        ]
        orders = sorted([*page.orders, *extra], key=lambda o: o.id, reverse=True)
        page = OrderPage(tuple(orders), spec.next_cursor)
    else:
        page = list_orders(session, caller.ref, spec.statuses, cursor=spec.cursor, limit=PAGE_SIZE)
    last = last_entries(session, [o.id for o in page.orders])
    return render_order_list(
        page,
        viewer=caller.party,
        party_name=caller.party_name,
        spec=spec,
        last_entries=last,
        now=now,
        notice=notice,
    )


def detail_message(
    session: Session, caller: Caller, number: str | int, now: datetime, notice: str | None = None
) -> Message:
    """One order and its timeline, as a message."""
    return render_detail_message(
        get_order_detail(session, caller.ref, number), caller.party, now, notice
    )


def card_message(
    session: Session, caller: Caller, number: str | int, now: datetime, notice: str | None = None
) -> Message:
    """One of the caller's party's orders as a card, with the party's buttons."""
    order = get_order(session, caller.ref, number)
    _, last = order_card(session, order.id)
    return render_order_card(order, viewer=caller.party, last=last, now=now, notice=notice)


def detail_modal(
    session: Session, caller: Caller, number: str | int, now: datetime, notice: str | None = None
) -> dict[str, Any]:
    """One order and its timeline, as a modal."""
    return render_detail_modal(
        get_order_detail(session, caller.ref, number), caller.party, now, notice
    )


@dataclass(frozen=True)
class PostedView:
    """A message we posted, as redrawing it needs."""

    id: int
    channel_id: str
    ts: str
    kind: str
    ref: dict[str, Any]
    created_at: datetime
    viewer: Party | None
    order_id: int | None
    """The first order it shows (a card shows one)."""


def posted_message(session: Session, message_id: int, now: datetime) -> tuple[PostedView, Message]:
    """A message we posted, drawn again from the current state of what it shows."""
    first_order = (
        select(func.min(PostedMessageOrder.order_id))
        .where(PostedMessageOrder.message_id == PostedMessage.id)
        .scalar_subquery()
    )
    row = session.execute(
        select(
            PostedMessage.id,
            PostedMessage.channel_id,
            PostedMessage.ts,
            PostedMessage.kind,
            PostedMessage.ref,
            PostedMessage.created_at,
            PartyOrg.kind,
            first_order,
        )
        .outerjoin(PartyOrg, PartyOrg.id == PostedMessage.viewer_party_id)
        .where(PostedMessage.id == message_id)
    ).first()
    if row is None:
        raise LookupError(f"no posted message {message_id}")
    posted = PostedView(*row)
    if (
        posted.kind in ("card", "thread-card")
        and posted.viewer is not None
        and posted.order_id is not None
    ):
        order, last = order_card(session, posted.order_id)
        return posted, render_order_card(
            order, viewer=posted.viewer, last=last, now=now, notice=posted.ref.get("notice")
        )
    if posted.kind == "digest":
        return posted, digest_message(session, int(posted.ref["run_id"]), now)
    if posted.kind == "digest-collapsed":
        return posted, render_collapsed(posted.ref.get("permalink"), posted.created_at)
    raise LookupError(f"cannot draw a {posted.kind} message")


def digest_message(
    session: Session,
    run_id: int,
    now: datetime,
    *,
    run: RunView | None = None,
    policy: PolicyView | None = None,
) -> Message:
    """A reminder digest: the orders it was posted with, as they are now (`run` and `policy`
    when the caller has read them already)."""
    run = run or get_run(session, run_id)
    if run is None:
        raise LookupError(f"no reminder run {run_id}")
    policy = policy or get_policy(session, run.policy_id)
    orders = light_orders(session, run.order_ids, policy.party_id, now)
    shown = digest_order_ids(orders)
    views = {o.id: o for o in get_orders_by_id(session, shown)}
    ages = {o.id: order_age(policy, o, now) for o in orders}
    snoozed = {o.id: o.snoozed_until for o in orders if o.id in views and o.snoozed_until}
    return render_digest(
        policy, orders, views, ages, snoozed, now, run_id=run.id, test=run.kind == "test"
    )


def home_screen(session: Session, caller: Caller | None, now: datetime) -> dict[str, Any]:
    """A user's Home tab: their party's dashboard."""
    if caller is None:
        return render_home(None, None, [], 0, [], {}, now)
    waiting, total = waiting_on(session, caller.ref, limit=HOME_WAITING)
    recent = recently_changed(session, caller.ref, limit=HOME_RECENT)
    last = last_entries(session, [o.id for o in waiting])
    return render_home(
        caller, count_by_status(session, caller.ref), waiting, total, recent, last, now
    )


def list_modal(
    session: Session,
    caller: Caller,
    spec: ListSpec,
    now: datetime,
    notice: str | None = None,
    include: tuple[int, ...] = (),
) -> dict[str, Any]:
    """A list in a modal (from the Home tab, which has no room for it)."""
    message = list_screen(session, caller, spec, now, notice, include)
    return {
        "type": "modal",
        "callback_id": "order_list",
        "title": {"type": "plain_text", "text": "Service orders"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": message.blocks,
    }
