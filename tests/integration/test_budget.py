"""Slack's rate limits kept by the outbox: per workspace and method, urgent calls first, a 429
holding only its own method of its own workspace."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import MovableClock
from bot.delivery import budget
from bot.delivery.budget import TIERS
from bot.delivery.outbox import Claimed, Failure, Kind, Lane, Outbox, OutboxWorker, Retry, enqueue
from orders_core.db import Database
from orders_core.models import RateBudget
from orders_core.onboarding import add_workspace

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def workspaces(db: Database, *teams: str) -> list[int]:
    """Workspace ids for these teams."""
    with db.transaction() as s:
        return [add_workspace(s, team).id for team in teams]


def redraws(db: Database, clock: MovableClock, workspace_id: int, count: int, *, urgent: bool = False, first: int = 0) -> None:  # fmt: skip
    """`count` redraws of distinct messages of a workspace, due now."""
    with db.transaction() as s:
        for n in range(first, first + count):
            enqueue(
                s,
                kind=Kind.REDRAW,
                lane=Lane.message(n),
                payload={"message_id": n, "urgent": urgent},
                now=clock.now(),
                workspace_id=workspace_id,
            )


def run_for(worker: OutboxWorker, clock: MovableClock, seconds: int) -> None:
    """Deliver for `seconds` of the (movable) clock, moving it to each next due item."""
    end = clock.now() + timedelta(seconds=seconds)
    while clock.now() < end:
        worker.drain(5)
        due = worker.outbox.next_due(end - clock.now())
        if due is None:
            return
        clock.advance(max(due - clock.now(), timedelta(milliseconds=1)))


def most_in_a_minute(times: list[datetime]) -> int:
    """The most calls in any 60-second window."""
    times = sorted(times)
    return max(
        (sum(1 for t in times if start <= t < start + timedelta(seconds=60)) for start in times),
        default=0,
    )


def test_a_burst_of_redraws_stays_within_chat_updates_tier(db: Database) -> None:
    """120 messages to redraw in one workspace: never more than Tier 3's 50 chat.update a
    minute, and every one of them is drawn in the end."""
    clock = MovableClock(T0)
    [workspace] = workspaces(db, "T0BURST")
    redraws(db, clock, workspace, 120)
    delivered: list[datetime] = []
    worker = OutboxWorker(Outbox(db, clock), lambda item: delivered.append(clock.now()))
    run_for(worker, clock, 240)
    assert len(delivered) == 120
    assert most_in_a_minute(delivered) <= TIERS["chat.update"].per_minute


def test_a_card_a_person_waits_for_goes_before_digest_redraws(db: Database) -> None:
    """The budget spent on digest redraws, an urgent redraw (the message clicked) still goes
    at once: the burst is kept for it."""
    clock = MovableClock(T0)
    [workspace] = workspaces(db, "T0PRIO")
    redraws(db, clock, workspace, 60)  # digests and cards elsewhere: not urgent
    delivered: list[tuple[int, datetime]] = []
    worker = OutboxWorker(
        Outbox(db, clock), lambda item: delivered.append((item.payload["message_id"], clock.now()))
    )
    run_for(worker, clock, 30)
    waiting = 60 - len(delivered)
    assert waiting > 20
    redraws(db, clock, workspace, 1, urgent=True, first=1000)
    worker.drain(5)
    assert (1000, clock.now()) in delivered  # at once, ahead of those still waiting
    assert 60 - len([d for d in delivered if d[0] < 1000]) >= waiting - 1


def test_a_429_holds_only_its_method_of_its_workspace(db: Database) -> None:
    """chat.update answered 429 in one workspace: its other redraws wait Retry-After; its Home
    tabs and another workspace's redraws go on."""
    clock = MovableClock(T0)
    limited, other = workspaces(db, "T0LIMIT", "T0OTHER")
    redraws(db, clock, limited, 3)
    calls: list[tuple[str, int | None, datetime]] = []

    def deliver(item: Claimed) -> None:
        if item.kind is Kind.REDRAW and item.workspace_id == limited and not calls:
            calls.append(("429", item.workspace_id, clock.now()))
            raise Retry("rate limited", Failure.RATE_LIMITED, 30.0)
        calls.append((item.kind.value, item.workspace_id, clock.now()))

    worker = OutboxWorker(Outbox(db, clock), deliver, threads=1)
    worker.drain(5)
    assert Counter(c[0] for c in calls) == {"429": 1}  # the others of its method held
    with db.transaction() as s:
        enqueue(s, kind=Kind.HOME, lane=Lane.home("T0LIMIT", "U1"),
                payload={"team": "T0LIMIT", "user": "U1"}, now=clock.now(), workspace_id=limited)  # fmt: skip
    redraws(db, clock, other, 1, first=500)
    clock.advance(timedelta(seconds=1))
    worker.drain(5)
    assert sorted((c[0], c[1]) for c in calls[1:]) == [  # in one claim: redraws go first
        ("home_refresh", limited),
        ("refresh_message", other),
    ]
    run_for(worker, clock, 60)
    assert min(t for k, w, t in calls if k == "refresh_message" and w == limited) >= T0 + timedelta(
        seconds=30
    )
    assert Counter(c[0] for c in calls if c[1] == limited) == {
        "429": 1,
        "refresh_message": 3,
        "home_refresh": 1,
    }


def test_a_whole_team_opening_home_holds_up_no_card(db: Database) -> None:
    """200 Home tabs to publish, spaced out by Tier 4: a message clicked meanwhile is redrawn
    at once, not after them (they fill no claim ahead of it)."""
    clock = MovableClock(T0)
    [workspace] = workspaces(db, "T0TEAM")
    with db.transaction() as s:
        for n in range(200):
            enqueue(s, kind=Kind.HOME, lane=Lane.home("T0TEAM", f"U{n}"),
                    payload={"team": "T0TEAM", "user": f"U{n}"}, now=clock.now(), workspace_id=workspace)  # fmt: skip
    delivered: list[tuple[Kind, datetime]] = []
    worker = OutboxWorker(
        Outbox(db, clock), lambda item: delivered.append((item.kind, clock.now()))
    )
    worker.drain(5)
    clock.advance(timedelta(seconds=1))
    redraws(db, clock, workspace, 1, urgent=True)
    worker.drain(5)
    assert (Kind.REDRAW, clock.now()) in delivered
    assert Counter(kind for kind, _ in delivered)[Kind.HOME] <= 3


def test_a_message_clicked_is_redrawn_at_once_behind_a_redraw_of_it_held_back(
    db: Database,
) -> None:
    """A digest's redraw waits for room in chat.update's budget; the digest is clicked: it is
    redrawn at once (urgent, with the burst), once for both."""
    clock = MovableClock(T0)
    [workspace] = workspaces(db, "T0DIGEST")
    redraws(db, clock, workspace, 3)  # not urgent: one goes, the others wait for room
    delivered: list[tuple[int, datetime]] = []
    worker = OutboxWorker(
        Outbox(db, clock), lambda item: delivered.append((item.payload["message_id"], clock.now()))
    )
    worker.drain(5)
    assert len(delivered) == 1
    waiting = max({0, 1, 2} - {n for n, _ in delivered})
    redraws(db, clock, workspace, 1, urgent=True, first=waiting)  # the same message, clicked
    worker.drain(5)
    assert (waiting, clock.now()) in delivered
    run_for(worker, clock, 60)
    assert Counter(n for n, _ in delivered)[waiting] == 1


@pytest.mark.postgres
def test_two_429s_at_once_for_a_new_budget_make_one_row(pg_db: Database) -> None:
    """Two deliveries refused together (two processes, or two threads of one) both record the
    wait for a (workspace, method) that has no row yet: one makes it, the other raises it; no
    duplicate key (it was an IntegrityError, and the item's retry was never recorded)."""
    [workspace] = workspaces(pg_db, "T0RACE")
    both_inside = threading.Barrier(2, timeout=10)
    failed: list[BaseException] = []

    def refuse(seconds: int) -> None:
        try:
            with pg_db.transaction() as s:
                s.execute(select(1))
                both_inside.wait()
                budget.refused(s, workspace, ["chat.update"], T0 + timedelta(seconds=seconds))
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=refuse, args=(n,)) for n in (30, 45)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failed == []
    with pg_db.read() as s:
        rows = s.execute(select(RateBudget.method, RateBudget.next_at)).all()
    assert rows == [("chat.update", T0 + timedelta(seconds=45))]
