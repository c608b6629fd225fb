"""Order numbers written in conversation: which orders they are, and answering each only once.

The rules (who may see what) are the bot's, in bot/listeners/mentions.py; here is what they
read and write.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from orders_core.models import Order, OrderMention
from orders_core.orders import OrderView, get_orders_by_id

QUIET = timedelta(hours=1)
"""An order answered in a thread is not answered there again for this long."""


def orders_numbered(
    session: Session, workspace_id: int, numbers: Collection[int]
) -> list[OrderView]:
    """The workspace's orders with these numbers (those that exist), in the order asked."""
    if not numbers:
        return []
    ids = session.scalars(
        select(Order.id).where(Order.workspace_id == workspace_id, Order.number.in_(numbers))
    ).all()
    by_number = {o.number: o for o in get_orders_by_id(session, ids)}
    return [by_number[n] for n in numbers if n in by_number]


def claim_answer(
    session: Session,
    *,
    workspace_id: int,
    channel_id: str,
    thread_ts: str,
    order_id: int,
    now: datetime,
) -> bool:
    """Whether this order may be answered in this thread now: True once per QUIET, to whoever
    asks first (two processes, or Slack delivering the same event twice, get one True)."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    key = {
        "workspace_id": workspace_id,
        "channel_id": channel_id,
        "thread_ts": thread_ts,
        "order_id": order_id,
    }
    # RETURNING says which statement took the row (a rowcount is not kept by every driver).
    added = session.scalar(
        insert(OrderMention)
        .values(**key, answered_at=now)
        .on_conflict_do_nothing()
        .returning(OrderMention.order_id)
    )
    if added is not None:
        return True
    again = session.scalar(
        update(OrderMention)
        .where(
            *[getattr(OrderMention, k) == v for k, v in key.items()],
            OrderMention.answered_at <= now - QUIET,
        )
        .values(answered_at=now)
        .returning(OrderMention.order_id)
    )
    return again is not None
