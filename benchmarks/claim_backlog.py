"""One outbox claim with N items queued behind a lane head that waits (a paced channel).

    .venv/bin/python -m benchmarks.claim_backlog [--db sqlite,postgres] [--sizes 1000,5000]

Run from a checkout (or an export, with this checkout's venv) to measure its `Outbox.claim`:
the lane `chan:C1` has N pending cards, its head spaced a second ahead (as after a post), the
rest due; `chan:C2` has one card due. Each round claims it (the claim a worker makes on a wake)
and gives it back; then the same with nothing else due (the idle poll, which finds nothing).
Prints the median wall and CPU time of this process per claim (PostgreSQL's own CPU is in the
wall time only). Not part of the suites: it measured issue "claim by lane heads" (2026-12-07).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import insert, update

from bot.clock import MovableClock
from bot.delivery.outbox import Outbox
from orders_core.db import Database
from orders_core.models import OutboxItem

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _item(lane: str, due: datetime, status: str = "pending") -> dict[str, object]:
    return {
        "workspace_id": None,
        "kind": "post_card",
        "lane": lane,
        "payload": {},
        "status": status,
        "attempts": 0,
        "next_attempt_at": due,
        "created_at": T0 - timedelta(minutes=5),
    }


def measure(db: Database, n: int, rounds: int) -> dict[str, float]:
    """Median wall and CPU ms of a claim that finds one item, and of one that finds none."""
    with db.transaction() as s:
        # History: as many delivered items as are pending, as a trickling lane leaves.
        s.execute(insert(OutboxItem), [_item("chan:C1", T0, "done") for _ in range(n)])
        s.execute(insert(OutboxItem), [_item("chan:C1", T0 + timedelta(seconds=1))])
        if n > 1:
            s.execute(insert(OutboxItem), [_item("chan:C1", T0 - timedelta(minutes=1))] * (n - 1))
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE outbox")
            conn.commit()
    outbox = Outbox(db, MovableClock(T0), rate_limits=False)
    results: dict[str, float] = {}
    for name, other in (("claim", True), ("idle", False)):
        if other:
            with db.transaction() as s:
                s.execute(insert(OutboxItem), [_item("chan:C2", T0)])
        walls, cpus = [], []
        for _ in range(rounds):
            wall, cpu = time.perf_counter(), time.process_time()
            claimed = outbox.claim("bench")
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert [c.lane.key for c in claimed] == (["C2"] if other else []), claimed
            with db.transaction() as s:
                s.execute(
                    update(OutboxItem)
                    .where(OutboxItem.locked_by.is_not(None))
                    .values(locked_by=None, locked_until=None)
                )
        if other:
            with db.transaction() as s:
                s.execute(
                    update(OutboxItem).where(OutboxItem.lane == "chan:C2").values(status="done")
                )
        results[f"{name} wall"] = statistics.median(walls) * 1000
        results[f"{name} cpu"] = statistics.median(cpus) * 1000
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for kind in args.db.split(","):
        for n in [int(x) for x in args.sizes.split(",")]:
            with tempfile.TemporaryDirectory() as tmp:
                if kind == "sqlite":
                    db = Database(f"sqlite:///{Path(tmp) / 'claim.db'}")
                    name = None
                else:
                    name = f"orders_claim_{uuid.uuid4().hex[:10]}"
                    with psycopg.connect(PG, autocommit=True) as conn:
                        conn.execute(f'CREATE DATABASE "{name}"')
                    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
                try:
                    db.upgrade()
                    found = measure(db, n, args.rounds)
                finally:
                    db.dispose()
                    if name:
                        with psycopg.connect(PG, autocommit=True) as conn:
                            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            figures = ", ".join(f"{k} {v:.1f} ms" for k, v in found.items())
            print(f"{kind:8} N={n:5}: {figures}", flush=True)


if __name__ == "__main__":
    main()
