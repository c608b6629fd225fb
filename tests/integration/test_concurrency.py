"""Conflicting actions at the same moment: exactly one wins, the others are told who won."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select

from orders_core import errors
from orders_core.lifecycle import Action, OrderStatus
from orders_core.models import Order, OrderEvent
from tests.support.world import World

THREADS = 20
ROUNDS = 20


def race(
    world: World, number: str, contenders: list[tuple[str, Action, str | None]]
) -> list[object]:
    """Start every contender at once (a barrier), each in its own transaction; their results."""
    barrier = threading.Barrier(len(contenders))
    results: list[object] = [None] * len(contenders)

    def run(i: int, user: str, action: Action, key: str | None) -> None:
        barrier.wait()
        try:
            results[i] = world.act(
                user,
                number,
                action,
                reason="no thanks" if action is Action.REJECT else None,
                idempotency_key=key,
            )
        except errors.OrdersError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, *c)) for i, c in enumerate(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def timeline_of(world: World, number: str) -> list[tuple[Action, str | None]]:
    """The (action, actor) rows of an order's timeline."""
    with world.db.read() as s:
        order_id = s.scalar(select(Order.id).where(Order.number == int(number[3:])))
        return [
            (e.action, e.actor_user_id)
            for e in s.scalars(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.seq)
            )
        ]


def check_one_winner(world: World, number: str, results: list[object]) -> None:
    """One success; every other result is a StaleAction naming the winner; one timeline row."""
    wins = [r for r in results if not isinstance(r, Exception)]
    assert len(wins) == 1, results
    winner = wins[0].entry  # type: ignore[attr-defined]
    for r in results:
        if isinstance(r, Exception):
            assert isinstance(r, errors.StaleAction), r
            assert f"by {winner.actor_user_id} on" in str(r)
    rows = timeline_of(world, number)
    assert rows[:2] == [(Action.PLACE, "U0ANA"), (Action.ACCEPT, "U0PIA")]
    assert rows[2:] == [(winner.action, winner.actor_user_id)]


@pytest.mark.postgres
def test_confirm_against_reject_on_postgres(world_pg: World) -> None:
    """20 threads, Confirm vs Reject by both merchant members, 20 rounds: one winner each time."""
    tally: Counter[OrderStatus] = Counter()
    for _ in range(ROUNDS):
        number = world_pg.order_in(OrderStatus.PENDING_CONFIRMATION)
        contenders = [
            ("U0ANA" if i % 2 else "U0BEN", Action.CONFIRM if i % 4 < 2 else Action.REJECT, None)
            for i in range(THREADS)
        ]
        results = race(world_pg, number, contenders)
        check_one_winner(world_pg, number, results)
        tally[next(r for r in results if not isinstance(r, Exception)).order.status] += 1  # type: ignore[attr-defined]
    assert sum(tally.values()) == ROUNDS


def test_confirm_against_reject(world: World) -> None:
    """The same race on each database, fewer rounds."""
    for _ in range(3):
        number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
        results = race(
            world, number, [("U0ANA", Action.CONFIRM, None), ("U0BEN", Action.REJECT, None)] * 5
        )
        check_one_winner(world, number, results)


def test_a_double_click_with_one_key_applies_once(world: World) -> None:
    """Ten deliveries of the same click at once: one change, ten identical outcomes."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    results = race(world, number, [("U0ANA", Action.CONFIRM, "same-click")] * 10)
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.entry.id for r in results}) == 1  # type: ignore[attr-defined]
    assert sum(not r.replayed for r in results) == 1  # type: ignore[attr-defined]
    assert timeline_of(world, number)[2:] == [(Action.CONFIRM, "U0ANA")]
