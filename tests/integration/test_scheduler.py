"""APScheduler over our database: jobs kept in step with policies, surviving restarts; a missed
slot runs once within the grace window and is skipped after it; two schedulers post once."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import SystemClock
from bot.deps import Deps
from bot.scheduling.reminders import Reminders, ReminderScheduler, fire_policy
from orders_core.db import Database
from orders_core.lifecycle import OrderStatus
from orders_core.models import APSCHEDULER_JOBS, ReminderRun
from orders_core.reminders import PolicySpec, save_policy
from tests.support.world import World

EXE = str(Path(sys.executable).with_name("orders-bot"))


def wait_until(condition, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    """Poll a condition (APScheduler runs on its own thread/process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("timed out")


def add_policy(world: World, times: tuple[str, ...]) -> int:
    """An every-day UTC policy for Acme Coffee at these times."""
    with world.db.transaction() as s:
        p = save_policy(
            s,
            world.caller("U0ANA"),
            PolicySpec(
                channel_id="C0ACME",
                days=tuple(range(7)),
                times=times,
                time_zone="UTC",
                escalate_after=None,
            ),
            now=datetime.now(UTC),
        )
    return p.id


@pytest.fixture
def scheduler(world: World) -> Iterator[ReminderScheduler]:
    """A reminder scheduler on the test database (not started)."""
    sched = ReminderScheduler(Reminders(Deps(world.db, SystemClock())), grace_seconds=3600)
    yield sched
    sched.stop()


def stored_jobs(db: Database) -> dict[str, float | None]:
    """The job store's rows: id → next run time."""
    with db.read() as s:
        return {row.id: row.next_run_time for row in s.execute(select(APSCHEDULER_JOBS))}


def test_jobs_follow_the_policies_and_survive_a_restart(
    world: World, scheduler: ReminderScheduler
) -> None:
    """One job per (policy, time) in apscheduler_jobs; a restart keeps them and their next run."""
    policy_id = add_policy(world, ("09:30", "15:00"))
    scheduler.start()
    wanted = {f"policy:{policy_id}:09:30", f"policy:{policy_id}:15:00"}
    wait_until(lambda: wanted <= set(stored_jobs(world.db)))
    before = stored_jobs(world.db)
    scheduler.stop()
    again = ReminderScheduler(scheduler.reminders, grace_seconds=3600)
    again.start()
    try:
        again.reconcile()
        assert {k: v for k, v in stored_jobs(world.db).items() if k.startswith("policy:")} == {
            k: v for k, v in before.items() if k.startswith("policy:")
        }
        with world.db.transaction() as s:  # a new time for the policy: its jobs follow
            from orders_core.models import ReminderPolicy

            row = s.get(ReminderPolicy, policy_id)
            assert row is not None
            row.times = ["10:00"]
        again.reconcile()
        assert {k for k in stored_jobs(world.db) if k.startswith("policy:")} == {
            f"policy:{policy_id}:10:00"
        }
    finally:
        again.stop()


def seed_missed_job(db: Database, policy_id: int, hhmm: str, missed_at: datetime) -> None:
    """Write a job into the store as a scheduler that went down before `missed_at` left it."""
    from apscheduler.job import Job
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    h, m = (int(x) for x in hhmm.split(":"))
    never_started = BackgroundScheduler(timezone=UTC)
    job = Job(
        never_started,
        id=f"policy:{policy_id}:{hhmm}",
        func=fire_policy,
        trigger=CronTrigger(hour=h, minute=m, timezone="UTC"),
        executor="default",
        args=[policy_id, hhmm],
        kwargs={},
        name="fire_policy",
        misfire_grace_time=3600,
        coalesce=True,
        max_instances=1,
        next_run_time=missed_at,
    )
    store = SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")
    store.start(never_started, "default")
    store.add_job(job)


def slot_minutes_ago(minutes: int) -> tuple[str, datetime]:
    """A time of day `minutes` ago (to the minute), and that instant."""
    at = (datetime.now(UTC) - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    return at.strftime("%H:%M"), at


def test_a_slot_missed_within_the_grace_window_runs_once(
    world: World, scheduler: ReminderScheduler
) -> None:
    """Down through a slot 20 minutes ago: at start it is run once, for that slot."""
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=datetime.now(UTC) - timedelta(days=2))
    hhmm, missed = slot_minutes_ago(20)
    policy_id = add_policy(world, (hhmm,))
    seed_missed_job(world.db, policy_id, hhmm, missed)
    scheduler.start()
    run = wait_until(lambda: _runs(world.db, policy_id))
    assert [(r.slot, r.status) for r in run] == [(missed, "queued")]


def test_a_slot_missed_beyond_the_grace_window_is_skipped(
    world: World, scheduler: ReminderScheduler
) -> None:
    """Down through a slot two hours ago: it is not run; the job moves on to the next one."""
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=datetime.now(UTC) - timedelta(days=2))
    hhmm, missed = slot_minutes_ago(120)
    policy_id = add_policy(world, (hhmm,))
    seed_missed_job(world.db, policy_id, hhmm, missed)
    scheduler.start()
    job = f"policy:{policy_id}:{hhmm}"
    wait_until(lambda: (stored_jobs(world.db).get(job) or 0) > time.time())
    assert _runs(world.db, policy_id) == []


def _runs(db: Database, policy_id: int) -> list[ReminderRun]:
    with db.read() as s:
        return list(s.scalars(select(ReminderRun).where(ReminderRun.policy_id == policy_id)))


@pytest.mark.postgres
def test_two_scheduler_processes_post_one_digest(world_pg: World) -> None:
    """`orders-bot scheduler` twice on one PostgreSQL database, the same slot due in both: one post."""
    from bot.console.localslack import LocalSlack, Workspace

    world = world_pg
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=datetime.now(UTC) - timedelta(days=2))
    hhmm, missed = slot_minutes_ago(5)
    policy_id = add_policy(world, (hhmm,))
    seed_missed_job(world.db, policy_id, hhmm, missed)
    world.db.dispose()
    with LocalSlack(workspaces={"xoxb-sched": Workspace(team_id="T0TEST")}) as slack:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))},
            "DATABASE_URL": world.db.url,
            "SLACK_BOT_TOKEN": "xoxb-sched",
            "SLACK_SIGNING_SECRET": secrets.token_hex(16),
            "SLACK_API_URL": slack.base_url,
            "LOG_LEVEL": "INFO",
        }
        processes = [
            subprocess.Popen(
                [EXE, command],
                env=env,
                stderr=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                text=True,
            )
            for command in (
                "scheduler",
                "scheduler",
                "worker",
            )  # the worker delivers what they queue
        ]
        logs: list[list[str]] = [[], [], []]
        readers = [
            threading.Thread(target=lambda i=i: logs[i].extend(processes[i].stderr), daemon=True)
            for i in range(3)
        ]  # type: ignore[arg-type]
        for r in readers:
            r.start()
        try:
            wait_until(
                lambda: all(
                    any("scheduler running" in line for line in lines) for lines in logs[:2]
                ),
                30,
            )
            slack.wait_for(
                lambda: [
                    c
                    for c in slack.calls("chat.postMessage")
                    if c.ok and c.args.get("channel") == "C0ACME"
                ],
                timeout=30,
            )
            wait_until(
                lambda: (
                    len(_runs(world.db, policy_id)) == 1
                    and _runs(world.db, policy_id)[0].status == "posted"
                ),
                30,
            )
        finally:
            for p in processes:
                p.terminate()
            for p in processes:
                p.wait(timeout=30)
            for r in readers:
                r.join(10)
            for p in processes:
                assert p.stderr is not None
                p.stderr.close()
        assert all(p.returncode == 0 for p in processes), logs
        fired = [
            line.rsplit(": ", 1)[1].split(" ")[0]
            for lines in logs
            for line in lines
            if f"reminder policy {policy_id} slot" in line
        ]
        assert "queued" in fired and set(fired) <= {"queued", "already"}, logs
        assert (
            len(
                [
                    c
                    for c in slack.calls("chat.postMessage")
                    if c.ok and c.args.get("channel") == "C0ACME"
                ]
            )
            == 1
        )


@pytest.mark.postgres
def test_the_same_slot_fired_in_two_processes_at_once_posts_once(world_pg: World) -> None:
    """Two processes fire one (policy, slot) at the same moment: one queues it, the other sees it taken."""
    from bot.console.localslack import LocalSlack, Workspace

    world = world_pg
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=datetime.now(UTC) - timedelta(days=2))
    hhmm, slot = slot_minutes_ago(1)
    policy_id = add_policy(world, (hhmm,))
    world.db.dispose()
    with LocalSlack(workspaces={"xoxb-sched": Workspace(team_id="T0TEST")}) as slack:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))},
            "DATABASE_URL": world.db.url,
            "SLACK_BOT_TOKEN": "xoxb-sched",
            "SLACK_API_URL": slack.base_url,
        }
        command = [
            EXE,
            "remind",
            "run-slot",
            "--policy",
            str(policy_id),
            "--at",
            slot.isoformat(),
            "--json",
        ]
        processes = [
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=60) for p in processes]
        results = sorted(json.loads(out)["result"] for out, _ in outputs)
        assert results == ["already", "queued"], outputs
        assert (
            len(
                [
                    c
                    for c in slack.calls("chat.postMessage")
                    if c.ok and c.args.get("channel") == "C0ACME"
                ]
            )
            == 1
        )
