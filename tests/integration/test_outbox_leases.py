"""Outbox leases: renewed while a live worker holds an item, taken over once its worker is gone."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import MovableClock
from bot.delivery.outbox import DONE, LEASE, Claimed, Kind, Lane, Outbox, OutboxWorker, enqueue
from orders_core.db import Database
from orders_core.models import OutboxItem

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def queue_one(db: Database, clock: MovableClock) -> None:
    """One card to post."""
    with db.transaction() as s:
        enqueue(s, kind=Kind.CARD, lane=Lane.channel("C1"), payload={}, now=clock.now())


def lease_until(db: Database) -> datetime | None:
    """The item's lease, as the database has it."""
    with db.read() as s:
        return s.scalar(select(OutboxItem.locked_until))


def test_a_live_workers_lease_is_renewed_however_long_the_delivery_takes(db: Database) -> None:
    """A delivery in hand for 63 s of the clock (past the lease, and past the 60 s it used to
    be): its worker keeps renewing the lease, and no other worker gets the item meanwhile."""
    clock = MovableClock(T0)
    queue_one(db, clock)
    in_hand, answer = threading.Event(), threading.Event()

    def slow_slack(item: Claimed) -> None:
        in_hand.set()
        answer.wait(60)

    worker = OutboxWorker(Outbox(db, clock), slow_slack, renew_every=0.05)
    delivering = threading.Thread(target=worker.run_once)
    delivering.start()
    try:
        assert in_hand.wait(10)
        other = Outbox(db, clock)
        for _ in range(7):
            clock.advance(timedelta(seconds=9))  # short of the lease since the last renewal
            deadline = time.monotonic() + 10
            while lease_until(db) != clock.now() + LEASE:  # renewed from the clock's "now"
                assert time.monotonic() < deadline, "the lease was not renewed"
                time.sleep(0.01)
            assert other.claim("other-worker") == []
    finally:
        answer.set()
        delivering.join(10)
    with db.read() as s:
        assert s.scalars(select(OutboxItem.status)).all() == [DONE]


def test_an_item_taken_over_from_a_dead_worker_may_have_landed(db: Database) -> None:
    """Its worker died holding it, perhaps mid-post: the worker that takes it over is told to
    look for the post before posting again (an item released or rescheduled is not)."""
    clock = MovableClock(T0)
    queue_one(db, clock)
    [held] = Outbox(db, clock).claim("dead-worker")
    assert not held.may_have_landed
    clock.advance(LEASE + timedelta(seconds=1))
    [taken] = Outbox(db, clock).claim("other-worker")
    assert taken.id == held.id and taken.may_have_landed
    Outbox(db, clock).release(taken)
    [again] = Outbox(db, clock).claim("third-worker")
    assert again.id == held.id and not again.may_have_landed
