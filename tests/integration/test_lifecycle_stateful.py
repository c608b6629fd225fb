"""Random sequences of actions by random people never break the lifecycle's invariants.

Invariants: every status change is a row of the table; replaying the timeline gives the current
status; the version only grows (by one per change); finished orders never change; and the
database agrees with a model that only reads the table.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from orders_core import errors
from orders_core.db import Database
from orders_core.lifecycle import (
    TRANSITIONS,
    Action,
    OrderStatus,
    Party,
    ReasonRule,
    replay,
    transition_for,
)
from orders_core.models import Order, OrderEvent
from tests.support.world import NOBODY, World, build_world

MEMBERS = {"U0ANA": Party.MERCHANT, "U0BEN": Party.MERCHANT, "U0PIA": Party.PROVIDER}
OUTSIDERS = ["U0BOB", "U0RAJ", NOBODY]  # another merchant, an uninvolved provider, nobody
ROWS = {(t.source, t.action, t.target) for t in TRANSITIONS}
REASONS = st.sampled_from([None, "", "  \n", "ok", "Ünïcødé <&> ✓", "x" * 3000, "x" * 3001])


def expected_outcome(
    status: OrderStatus, action: Action, user: str, reason: str | None
) -> OrderStatus | type[Exception]:
    """What the table says should happen: the next status, or the error."""
    if user == NOBODY:
        return errors.NotAMember
    if user in OUTSIDERS:
        return errors.OrderNotFound
    rule = next(t for t in TRANSITIONS if t.action is action)
    if rule.party is not MEMBERS[user]:
        return errors.WrongParty
    t = transition_for(status, action)
    if t is None:
        return errors.StaleAction
    given = reason if reason and reason.strip() else None
    if t.reason is ReasonRule.REQUIRED and given is None:
        return errors.ReasonRequired
    if t.reason is ReasonRule.NONE and given is not None:
        return errors.ReasonNotAccepted
    if given is not None and len(given) > 3000:
        return errors.ReasonTooLong
    return t.target


class Lifecycle(RuleBasedStateMachine):
    """Orders placed and acted on at random, checked against the table after every step."""

    orders = Bundle("orders")

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.model: dict[str, OrderStatus] = {}
        self.versions: dict[str, int] = {}

    @rule(target=orders, user=st.sampled_from(["U0ANA", "U0BEN"]))
    def place(self, user: str) -> str:
        code = self.world.place(user).order.code
        self.model[code] = OrderStatus.NEW
        self.versions[code] = 1
        return code

    @rule(
        number=orders,
        action=st.sampled_from([a for a in Action if a is not Action.PLACE]),
        user=st.sampled_from([*MEMBERS, *OUTSIDERS]),
        reason=REASONS,
        key=st.sampled_from([None, "k1", "k2"]),
    )
    def act(
        self, number: str, action: Action, user: str, reason: str | None, key: str | None
    ) -> None:
        expected = expected_outcome(self.model[number], action, user, reason)
        # A key is only an idempotency key for one click: make it unique per step but reused once.
        idem = f"{number}:{action}:{user}:{self.versions[number]}:{key}" if key else None
        try:
            outcome = self.world.act(user, number, action, reason=reason, idempotency_key=idem)
        except errors.OrdersError as exc:
            assert isinstance(expected, type) and isinstance(exc, expected), (expected, exc)
            return
        assert outcome.order.status is expected
        self.model[number] = expected
        if idem is not None:  # the same click again is a replay that changes nothing
            again = self.world.act(user, number, action, reason=reason, idempotency_key=idem)
            assert again.replayed and again.entry == outcome.entry

    @invariant()
    def database_agrees_with_the_table(self) -> None:
        with self.world.db.read() as s:
            for number, status in self.model.items():
                order = s.scalars(select(Order).where(Order.number == int(number[3:]))).one()
                events = list(
                    s.scalars(
                        select(OrderEvent)
                        .where(OrderEvent.order_id == order.id)
                        .order_by(OrderEvent.seq)
                    )
                )
                assert order.status is status
                assert replay([e.action for e in events]) is status
                previous = None
                for e in events:
                    assert (e.from_status, e.action, e.to_status) in ROWS
                    assert e.from_status is previous
                    previous = e.to_status
                assert order.version == len(events) >= self.versions[number]
                self.versions[number] = order.version


def run(db: Database, examples: int) -> None:
    """Run the machine against `db`."""
    world = build_world(db)
    run_state_machine_as_test(
        lambda: Lifecycle(world),
        settings=settings(
            max_examples=examples,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_random_sequences_on_sqlite(sqlite_db: Database) -> None:
    """Many random histories on SQLite."""
    run(sqlite_db, 40)


@pytest.mark.postgres
def test_random_sequences_on_postgres(pg_db: Database) -> None:
    """Fewer, on PostgreSQL."""
    run(pg_db, 10)
