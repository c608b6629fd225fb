"""Slack's rate limits, kept by the outbox: each workspace's calls to each method spaced within
Slack's tier for it, shared by every process through the database.

Slack counts calls per method, per workspace, per app, in one-minute windows, and answers 429
with Retry-After past them. Each (workspace, method) has a `next_at` (GCRA: the theoretical
arrival time of its next call): a call may run ahead of it by a small burst, and moves it on by
one interval, so that no minute ever holds more than the tier. What a person waits for right
after a click (cards, notices, the surface clicked) may use the burst; Home tabs and digests
wait for `next_at` itself, so they never take the room a card needs. A 429 sets `next_at` to
Retry-After for that method of that workspace only: other methods and workspaces go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from orders_core.models import RateBudget


@dataclass(frozen=True)
class Tier:
    """At most `per_minute` calls a minute, of which `burst` may come at once."""

    per_minute: int
    burst: int = 3

    @property
    def interval(self) -> timedelta:
        """The spacing that keeps burst + a minute of spaced calls within the tier."""
        return timedelta(seconds=60 / (self.per_minute - self.burst))


TIERS: dict[str, Tier] = {
    # Slack's tiers (docs.slack.dev/apis/web-api/rate-limits; each method's reference page).
    "chat.postMessage": Tier(300),  # 1 a second per channel (the outbox's lanes), "several
    # hundred a minute" per workspace
    "chat.update": Tier(50),  # Tier 3
    "chat.postEphemeral": Tier(100),  # Tier 4
    "chat.getPermalink": Tier(300),  # special: hundreds a minute
    "conversations.open": Tier(50),  # Tier 3
    "conversations.history": Tier(50),  # Tier 3
    "conversations.replies": Tier(50),  # Tier 3
    "views.update": Tier(100),  # Tier 4
    "views.publish": Tier(100),  # Tier 4
}


@dataclass(frozen=True)
class Ask:
    """What one outbox item will call, for one workspace, and whether a person waits for it."""

    item_id: int
    workspace_id: int
    methods: Sequence[str]
    urgent: bool


def take(session: Session, asks: Sequence[Ask], now: datetime) -> dict[int, datetime]:
    """Spend the budget for the asks that fit, urgent ones first, in the caller's transaction;
    for each ask that must wait, the time it fits (its item is rescheduled then)."""
    keys = sorted({(a.workspace_id, m) for a in asks for m in a.methods if m in TIERS})
    if not keys:
        return {}
    # Every process claims through these rows, locked, so two workers never spend one budget
    # twice; the missing ones are made first (two at once: one wins).
    found = _locked(session, keys)
    if len(found) < len(keys):
        insert = (
            postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        session.execute(
            insert(RateBudget)
            .values([{"workspace_id": w, "method": m, "next_at": now} for w, m in keys])
            .on_conflict_do_nothing()
        )
        found = _locked(session, keys)
    wait: dict[int, datetime] = {}
    spent: dict[tuple[int, str], datetime] = {}
    for ask in sorted(asks, key=lambda a: not a.urgent):  # stable: urgent first, in id order
        budgets = [(found[(ask.workspace_id, m)], TIERS[m]) for m in ask.methods if m in TIERS]
        fits = [_fits(b, tier, now, ask.urgent) for b, tier in budgets]
        if all(at <= now for at in fits):
            for budget, tier in budgets:
                budget.next_at = max(budget.next_at, now) + tier.interval
                spent[(budget.workspace_id, budget.method)] = budget.next_at
        else:
            wait[ask.item_id] = max(fits)
    if spent:  # one statement for them all
        session.execute(
            update(RateBudget),
            [{"workspace_id": w, "method": m, "next_at": at} for (w, m), at in spent.items()],
        )
    return wait


def _locked(session: Session, keys: list[tuple[int, str]]) -> dict[tuple[int, str], Budget]:
    rows = session.execute(
        select(RateBudget.workspace_id, RateBudget.method, RateBudget.next_at)
        .where(tuple_(RateBudget.workspace_id, RateBudget.method).in_(keys))
        .with_for_update()
    )
    return {(r.workspace_id, r.method): Budget(r.workspace_id, r.method, r.next_at) for r in rows}


@dataclass
class Budget:
    """One (workspace, method)'s row, as this claim spends it."""

    workspace_id: int
    method: str
    next_at: datetime


def _fits(budget: Budget, tier: Tier, now: datetime, urgent: bool) -> datetime:
    """When a call fits: now, or the time `next_at` comes near enough."""
    ahead = tier.interval * tier.burst if urgent else timedelta(0)
    return max(now, budget.next_at - ahead)


def refused(session: Session, workspace_id: int, methods: Iterable[str], until: datetime) -> None:
    """Slack answered 429: these methods of this workspace wait until `until` (Retry-After).
    Several deliveries refused at once may make the same row: one wins, the others update it."""
    keys = sorted({(workspace_id, m) for m in methods})
    if not keys:
        return
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(RateBudget)
        .values([{"workspace_id": w, "method": m, "next_at": until} for w, m in keys])
        .on_conflict_do_nothing()
    )
    session.execute(
        update(RateBudget)
        .where(
            tuple_(RateBudget.workspace_id, RateBudget.method).in_(keys),
            RateBudget.next_at < until,
        )
        .values(next_at=until)
    )
