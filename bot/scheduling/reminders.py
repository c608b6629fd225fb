"""The reminder sweep and its scheduler.

`Reminders.run_slot` claims one (policy, slot) in the database, picks the orders due, and queues
the digest (and any escalation DMs) in the outbox in the same transaction: a slot claimed twice
by two schedulers, or retried after a crash or a Slack outage, is posted once.

`ReminderScheduler` is APScheduler 3 with its SQLAlchemy job store in our database: one cron job
per policy time, kept in step with the policies table by a reconcile thread every minute. A slot
missed while every scheduler was down runs once if it is within the grace window (APScheduler's
misfire_grace_time with coalescing), and is skipped otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.delivery import outbox
from bot.deps import Deps
from bot.ui.format import escape, mention, when
from orders_core import errors
from orders_core.db import Database
from orders_core.onboarding import party_members
from orders_core.reminders import (
    EMPTY,
    QUEUED,
    PolicyView,
    RunClaim,
    claim_escalation,
    claim_runs,
    due_orders,
    get_policies,
    get_policy,
    latest_slot,
    list_policies,
    order_age,
    retryable_runs,
    slots_between,
    taken_slots,
)

log = logging.getLogger(__name__)

_ACTIVE: ReminderScheduler | None = None
SLOTS_PER_TRANSACTION = 25
"""A sweep prepares this many slots per transaction: few commits, short write locks."""


@dataclass
class SlotOutcome:
    """What running one slot did."""

    policy_id: int
    slot: datetime
    result: str  # queued, empty, already, disabled, paused, gone
    orders: int = 0
    escalated: int = 0


@dataclass(frozen=True)
class _Chosen:
    """A slot to claim, with the orders its digest lists (none: it ends empty)."""

    policy: PolicyView
    slot: datetime
    orders: list[Any]
    empty: bool


class Reminders:
    """Runs reminder slots: claim, choose what is due, queue the digest and escalations."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.db: Database = deps.db
        self.clock: Clock = deps.clock
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"

    def run_slot(self, policy_id: int, slot: datetime, *, kind: str = "scheduled") -> SlotOutcome:
        """Claim and prepare one digest; its post is delivered by the outbox."""
        return self.run_slots([(policy_id, slot)], kind=kind)[0]

    def run_slots(
        self, slots: Sequence[tuple[int, datetime]], *, kind: str = "scheduled"
    ) -> list[SlotOutcome]:
        """Claim and prepare several digests in one transaction (a sweep of a thousand policies
        commits a few dozen times, not a thousand). If any of them fails, each is run again on
        its own, so one broken policy never holds back the others' claims."""
        now = self.clock.now()
        try:
            with self.db.transaction() as s:
                policies = get_policies(s, [policy_id for policy_id, _ in slots])
                taken = taken_slots(s, slots, now)
                chosen = [
                    self._choose(
                        s,
                        policies.get(policy_id),
                        policy_id,
                        slot,
                        kind,
                        now,
                        (policy_id, slot) in taken,
                    )
                    for policy_id, slot in slots
                ]
                outcomes = self._claim_and_queue(s, chosen, kind, now)
        except Exception:
            if len(slots) == 1:
                raise
            log.warning("preparing %s reminder slots together failed: one by one", len(slots))
            return [self.run_slot(policy_id, slot, kind=kind) for policy_id, slot in slots]
        if any(o.result == "queued" for o in outcomes):
            self.deps.committed()
        return outcomes

    def _choose(
        self,
        s: Any,
        policy: PolicyView | None,
        policy_id: int,
        slot: datetime,
        kind: str,
        now: datetime,
        taken: bool,
    ) -> SlotOutcome | _Chosen:
        """The slot's outcome when it has nothing to claim; otherwise the orders its run lists."""
        if policy is None:
            return SlotOutcome(policy_id, slot, "gone")
        if policy.deleted or (not policy.enabled and kind != "test"):
            return SlotOutcome(policy_id, slot, "disabled")
        if policy.paused:
            return SlotOutcome(policy_id, slot, "paused")
        if taken:  # another scheduler has it: no need to choose its orders
            return SlotOutcome(policy_id, slot, "already")
        # What was due at the slot (a late run, within the grace window, sees the same); the
        # claim then writes the run as it ends, queued with its orders or empty, in one go.
        orders = due_orders(s, policy, min(slot, now) if kind == "scheduled" else now)
        return _Chosen(policy, slot, orders, empty=not orders and kind != "test")

    def _claim_and_queue(
        self, s: Any, chosen: list[SlotOutcome | _Chosen], kind: str, now: datetime
    ) -> list[SlotOutcome]:
        """Claim every chosen slot at once; queue the digests of those claimed (one statement
        each for all of them), then their escalations."""
        claims = [c for c in chosen if isinstance(c, _Chosen)]
        claimed = claim_runs(
            s,
            [
                RunClaim(
                    c.policy.id, c.slot, EMPTY if c.empty else QUEUED, [o.id for o in c.orders]
                )
                for c in claims
            ],
            kind=kind,
            worker=self.worker_name,
            now=now,
        )
        outbox.enqueue_many(
            s,
            [
                outbox.Queued(
                    kind=outbox.Kind.DIGEST,
                    lane=outbox.Lane.channel(c.policy.channel_id),
                    payload={"run_id": claimed[(c.policy.id, c.slot)]},
                    workspace_id=c.policy.workspace_id,
                )
                for c in claims
                if not c.empty and (c.policy.id, c.slot) in claimed
            ],
            now=now,
        )
        outcomes: list[SlotOutcome] = []
        for c in chosen:
            if isinstance(c, SlotOutcome):
                outcomes.append(c)
            elif (c.policy.id, c.slot) not in claimed:
                outcomes.append(SlotOutcome(c.policy.id, c.slot, "already"))
            elif c.empty:
                outcomes.append(SlotOutcome(c.policy.id, c.slot, "empty"))
            else:
                escalated = self._escalate(s, c.policy, c.orders, c.slot, now)
                outcomes.append(
                    SlotOutcome(c.policy.id, c.slot, "queued", len(c.orders), escalated)
                )
        return outcomes

    def _escalate(
        self, session: Any, policy: PolicyView, orders: list[Any], slot: datetime, now: datetime
    ) -> int:
        """DM each member of the waiting party about orders past the escalation threshold, once a day."""
        if policy.escalate_after is None:
            return 0
        overdue = [
            o
            for o in orders
            if o.status.waiting_on is policy.party
            and order_age(policy, o, now) >= policy.escalate_after
        ]
        if not overdue:
            return 0
        members = party_members(session, policy.party_id)
        day = slot.astimezone(policy.zone).date()
        count = 0
        for order in overdue:
            if not claim_escalation(session, order.id, policy.party_id, day, now):
                continue
            count += 1
            # It stays in the DM: it says since when, which stays true (not "3 days", which
            # would not be tomorrow).
            notice = (
                f":alarm_clock: *{order.code}* has been waiting on *{escape(policy.party_name)}*"
                f" ({order.status.label}) since {when(order.status_changed_at)}. Can you act on it?"
            )
            for user in members:
                outbox.enqueue(
                    session,
                    kind=outbox.Kind.DM_CARD,
                    lane=outbox.Lane.dm(policy.team_id, user),
                    payload={
                        "order_id": order.id,
                        "party_id": policy.party_id,
                        "user": user,
                        "notice": notice,
                    },
                    now=now,
                    workspace_id=policy.workspace_id,
                )
        return count

    def run_due(
        self, now: datetime | None = None, *, policy_id: int | None = None, kind: str = "manual"
    ) -> list[SlotOutcome]:
        """Run every enabled policy (or one) now: `orders-bot remind now`."""
        now = now or self.clock.now()
        slot = now.replace(microsecond=0)
        with self.db.read() as s:
            ids = (
                [policy_id]
                if policy_id is not None
                else [p.id for p in list_policies(s, enabled_only=True)]
            )
        # Each process starts at a place of its own in the list, so that several sweeping at
        # once (a scheduler per machine) split the policies instead of racing for the same ones;
        # the slots another has taken are then skipped cheaply (`taken_slots`).
        turn = random.randrange(len(ids)) if len(ids) > SLOTS_PER_TRANSACTION else 0
        turned = ids[turn:] + ids[:turn]
        outcomes: list[SlotOutcome] = []
        for start in range(0, len(turned), SLOTS_PER_TRANSACTION):
            chunk = turned[start : start + SLOTS_PER_TRANSACTION]
            outcomes += self.run_slots([(pid, slot) for pid in chunk], kind=kind)
        return outcomes[len(ids) - turn :] + outcomes[: len(ids) - turn]  # in the policies' order

    def slots_due(self, since: datetime, until: datetime) -> list[tuple[datetime, list[int]]]:
        """Each moment in (since, until] at which enabled policies' slots fall due, with those
        policies, in time order."""
        with self.db.read() as s:
            policies = list_policies(s, enabled_only=True)
        moments: dict[datetime, list[int]] = {}
        for p in policies:
            for slot in slots_between(p, since, until):
                moments.setdefault(slot, []).append(p.id)
        return sorted(moments.items())

    def catch_up(self, since: datetime, until: datetime) -> list[SlotOutcome]:
        """Run every scheduled slot in (since, until] in time order, all at the clock's now."""
        return [
            self.run_slot(pid, slot) for slot, ids in self.slots_due(since, until) for pid in ids
        ]

    def replay(
        self,
        until: datetime,
        *,
        move_to: Callable[[datetime], object],
        deliver: Callable[[], object],
    ) -> list[SlotOutcome]:
        """Live through the time from now to `until` as the scheduler would (the console's `wait`)."""
        # Each slot runs on a clock that shows its own moment, and what it queued is delivered
        # before the next one: orders are as old as they were then (so none escalates early),
        # escalations are counted on the slot's own day, and each digest collapses the previous
        # one when it is posted, not all at the end of the jump.
        outcomes: list[SlotOutcome] = []
        for moment, ids in self.slots_due(self.clock.now(), until):
            move_to(moment)
            outcomes += self.run_slots([(pid, moment) for pid in ids])
            deliver()
        move_to(until)
        return outcomes

    def retry_failed(self, grace: timedelta) -> list[SlotOutcome]:
        """Runs that failed, or were abandoned mid-way, and are still within the grace window."""
        with self.db.read() as s:
            pending = retryable_runs(s, self.clock.now(), grace)
        return [self.run_slot(pid, slot, kind=kind) for pid, slot, kind in pending]


def fire_policy(policy_id: int, hhmm: str) -> None:
    """APScheduler's job: run the policy's latest slot of this time of day."""
    scheduler = _ACTIVE
    if scheduler is None:
        log.warning("reminder job for policy %s fired with no scheduler running here", policy_id)
        return
    scheduler.fire(policy_id, hhmm)


def _migrated_job_store(db: Database) -> Any:
    """APScheduler's SQLAlchemy job store on the table our migrations made, which it must not
    create itself: made on an unmigrated database, it would make the migration fail."""
    from apscheduler.jobstores.base import BaseJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    class MigratedJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
        def start(self, scheduler: Any, alias: str) -> None:
            BaseJobStore.start(self, scheduler, alias)  # everything but CREATE TABLE

    return MigratedJobStore(engine=db.engine, tablename="apscheduler_jobs")


class ReminderScheduler:
    """APScheduler 3 over our database, driving Reminders."""

    def __init__(
        self, reminders: Reminders, *, grace_seconds: int = 3600, reconcile_seconds: int = 60
    ) -> None:
        self.reminders = reminders
        self.grace = timedelta(seconds=grace_seconds)
        self.reconcile_seconds = reconcile_seconds
        self.scheduler: Any = None
        self._stopping = threading.Event()
        self._reconciler: threading.Thread | None = None

    def start(self) -> None:
        """Start the background scheduler (jobs persist in apscheduler_jobs)."""
        from apscheduler.schedulers.background import BackgroundScheduler

        global _ACTIVE
        _ACTIVE = self
        self.scheduler = BackgroundScheduler(
            jobstores={"default": _migrated_job_store(self.reminders.db)},
            job_defaults={
                "coalesce": True,
                "misfire_grace_time": int(self.grace.total_seconds()),
                "max_instances": 1,
            },
            timezone=UTC,
        )
        self.scheduler.start()
        # Reconciling changes the scheduler's jobs, so it runs on a thread of ours, not as a job:
        # APScheduler's shutdown holds the job store lock while waiting for running jobs.
        self._stopping.clear()
        self._reconciler = threading.Thread(
            target=self._reconcile_loop, name="reminders-reconcile", daemon=True
        )
        self._reconciler.start()

    def _reconcile_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.reconcile()
            except Exception:  # the database may be briefly away: try again next round
                log.exception("reminders: reconciling the schedule failed")
            self._stopping.wait(self.reconcile_seconds)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reconciling, then stop the scheduler, letting a running slot finish."""
        global _ACTIVE
        self._stopping.set()
        if self._reconciler is not None:
            self._reconciler.join(timeout)
            self._reconciler = None
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if _ACTIVE is self:
            _ACTIVE = None

    def fire(self, policy_id: int, hhmm: str) -> SlotOutcome | None:
        """A cron job fired: run the slot it stands for (the latest one of that time of day)."""
        with self.reminders.db.read() as s:
            try:
                policy = get_policy(s, policy_id)
            except errors.NotFound:
                return None
        slot = latest_slot(policy, self.reminders.clock.now(), hhmm)
        if slot is None:
            return None
        outcome = self.reminders.run_slot(policy_id, slot)
        log.info(
            "reminder policy %s slot %s: %s (%s orders)",
            policy_id,
            slot.isoformat(),
            outcome.result,
            outcome.orders,
        )
        return outcome

    def reconcile(self) -> None:
        """One cron job per (policy, time); removed or changed policies lose or change theirs."""
        from apscheduler.jobstores.base import JobLookupError
        from apscheduler.triggers.cron import CronTrigger

        with self.reminders.db.read() as s:
            policies = list_policies(s, enabled_only=True)
        wanted: dict[str, tuple[int, str, Any]] = {}
        for p in policies:
            for hhmm in p.times:
                hour, minute = (int(x) for x in hhmm.split(":"))
                trigger = CronTrigger(
                    day_of_week=",".join(
                        ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in p.days
                    ),
                    hour=hour,
                    minute=minute,
                    timezone=p.time_zone,
                )
                wanted[f"policy:{p.id}:{hhmm}"] = (p.id, hhmm, trigger)
        existing = {
            job.id: job for job in self.scheduler.get_jobs() if job.id.startswith("policy:")
        }
        for job_id in existing:
            if job_id not in wanted:
                # Another scheduler sharing the job store (or thread) may have removed it first.
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(job_id)
        for job_id, (policy_id, hhmm, trigger) in wanted.items():
            job = existing.get(job_id)
            if job is None or str(job.trigger) != str(trigger):
                self.scheduler.add_job(
                    fire_policy, trigger, args=[policy_id, hhmm], id=job_id, replace_existing=True
                )
        for outcome in self.reminders.retry_failed(self.grace):
            log.info(
                "retried reminder policy %s slot %s: %s",
                outcome.policy_id,
                outcome.slot,
                outcome.result,
            )


def owner_notice(policy: PolicyView, error: str) -> str:
    """What the policy's owner is told when its channel refuses the digest."""
    return (
        f":warning: I could not post the reminder for *{escape(policy.party_name)}* in <#{policy.channel_id}>: "
        f"`{error}`. Invite me with `/invite @orders` in that channel, or change the reminder with `/orders remind`."
        + (f" (owner: {mention(policy.created_by)})" if policy.created_by else "")
    )
