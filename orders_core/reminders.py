"""Reminder policies, their time slots, what is due, snoozes and escalations (no Slack here).

A policy says when (days, times, time zone) to remind which party, in which channel, of which
orders (statuses, minimum age, optionally counted in working days). Each (policy, slot) is
claimed once in the database, so however many schedulers run, a digest is posted once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, and_, bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from orders_core import errors
from orders_core.lifecycle import EventSource, Note, OrderStatus, Party
from orders_core.models import (
    Escalation,
    Order,
    OrderSnooze,
    PartyOrg,
    ReminderPolicy,
    ReminderRun,
    Workspace,
)
from orders_core.orders import (
    Caller,
    OrderView,
    PartyRef,
    TimelineEntry,
    _record,
    format_order_number,
    get_order,
)
from orders_core.slack_ids import SlackId, check_slack_id

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS = (0, 1, 2, 3, 4)
DEFAULT_TIMES = ("09:30",)
DEFAULT_MIN_AGE = timedelta(hours=24)
DEFAULT_ESCALATE_AFTER = timedelta(hours=72)
CLAIM_LEASE = timedelta(minutes=10)
MAX_DIGEST_ORDERS = 500

# Run statuses: claimed (being prepared) → queued (its post is in the outbox) → posted;
# empty (nothing was due); failed (will be tried again while within the grace window);
# undeliverable (the channel refuses the bot: its owner is told, nothing retries).
CLAIMED, QUEUED, POSTED, EMPTY, FAILED = "claimed", "queued", "posted", "empty", "failed"
UNDELIVERABLE = "undeliverable"


def default_statuses(party: Party) -> tuple[OrderStatus, ...]:
    """What waits on a party: merchant — Pending Confirmation, Under Approval; provider — New."""
    if party is Party.MERCHANT:
        return (OrderStatus.PENDING_CONFIRMATION, OrderStatus.UNDER_APPROVAL)
    return (OrderStatus.NEW,)


def allowed_statuses(party: Party) -> tuple[OrderStatus, ...]:
    """What a party's reminders may include: what waits on it, and In Development for providers."""
    extra = (OrderStatus.IN_DEVELOPMENT,) if party is Party.PROVIDER else ()
    return default_statuses(party) + extra


@dataclass(frozen=True)
class PolicySpec:
    """A policy as a person describes it (before it is checked)."""

    channel_id: str
    days: tuple[int, ...] = WEEKDAYS
    times: tuple[str, ...] = DEFAULT_TIMES
    time_zone: str | None = None
    statuses: tuple[OrderStatus, ...] | None = None
    min_age: timedelta = DEFAULT_MIN_AGE
    working_days_only: bool = False
    escalate_after: timedelta | None = DEFAULT_ESCALATE_AFTER
    enabled: bool = True


@dataclass(frozen=True)
class PolicyView:
    """A policy as the bot uses it."""

    id: int
    workspace_id: int
    team_id: str
    party_id: int
    party: Party
    party_name: str
    channel_id: str
    days: tuple[int, ...]
    times: tuple[str, ...]
    time_zone: str
    statuses: tuple[OrderStatus, ...]
    custom_statuses: bool
    min_age: timedelta
    working_days_only: bool
    escalate_after: timedelta | None
    enabled: bool
    created_by: str | None
    deleted: bool = False
    paused: bool = False
    """Its workspace has paused every reminder."""
    enterprise_id: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The policy's time zone."""
        return ZoneInfo(self.time_zone)

    @property
    def ref(self) -> PartyRef:
        """The party reminded."""
        return PartyRef(self.party_id, self.party, self.workspace_id)

    def describe(self) -> str:
        """ "Weekdays at 09:30 (Asia/Singapore)"."""
        return f"{describe_days(self.days)} at {', '.join(self.times)} ({self.time_zone})"


def describe_days(days: Sequence[int]) -> str:
    """(0..4) → "Weekdays"; (0, 2) → "Mon, Wed"."""
    chosen = tuple(sorted(set(days)))
    if chosen == WEEKDAYS:
        return "Weekdays"
    if chosen == tuple(range(7)):
        return "Every day"
    return ", ".join(DAY_NAMES[d].capitalize() for d in chosen)


_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_times(text: str) -> tuple[str, ...]:
    """`9:30, 14:00` → ("09:30", "14:00"); raises ValueError with the reason."""
    found = []
    for part in [p for p in re.split(r"[,\s]+", text.strip()) if p]:
        match = _TIME.match(part)
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError(
                f"{part!r} is not a time of day: use HH:MM between 00:00 and 23:59, e.g. 09:30."
            )
        found.append(f"{int(match.group(1)):02d}:{match.group(2)}")
    if not found:
        raise ValueError("Give at least one time of day, e.g. 09:30.")
    return tuple(sorted(set(found)))


def parse_days(text: str) -> tuple[int, ...]:
    """`weekdays`, `mon-fri`, `mon,wed,fri`, `every day` → day numbers (0 = Monday)."""
    words = text.strip().lower()
    if words in ("weekdays", "working days", "mon-fri"):
        return WEEKDAYS
    if words in ("every day", "daily", "all", "mon-sun"):
        return tuple(range(7))
    days: set[int] = set()
    for part in [p for p in re.split(r"[,\s]+", words) if p]:
        if "-" in part:
            first, _, last = part.partition("-")
            if first[:3] not in DAY_NAMES or last[:3] not in DAY_NAMES:
                raise ValueError(f"{part!r} is not a range of days: use mon-fri.")
            a, b = DAY_NAMES.index(first[:3]), DAY_NAMES.index(last[:3])
            days |= set(range(a, b + 1)) if a <= b else set(range(a, 7)) | set(range(0, b + 1))
        elif part[:3] in DAY_NAMES:
            days.add(DAY_NAMES.index(part[:3]))
        else:
            raise ValueError(f"{part!r} is not a day: use mon, tue, … sun, weekdays or every day.")
    if not days:
        raise ValueError("Choose at least one day.")
    return tuple(sorted(days))


def check_time_zone(name: str) -> str:
    """An IANA time zone name, or ValueError with the reason."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not an IANA time zone: try Asia/Singapore, Europe/Berlin or UTC."
        ) from None
    return name


def validate_spec(spec: PolicySpec, party: Party) -> dict[str, str]:
    """Every problem with a policy, by field."""
    problems: dict[str, str] = {}
    if not spec.days or any(d not in range(7) for d in spec.days):
        problems["days"] = "Choose at least one day of the week."
    try:
        parse_times(" ".join(spec.times))
    except ValueError as exc:
        problems["times"] = str(exc)
    if spec.time_zone:
        try:
            check_time_zone(spec.time_zone)
        except ValueError as exc:
            problems["time_zone"] = str(exc)
    if spec.statuses is not None:
        bad = [s for s in spec.statuses if s not in allowed_statuses(party)]
        if not spec.statuses:
            problems["statuses"] = "Choose at least one status."
        elif bad:
            allowed = ", ".join(s.label for s in allowed_statuses(party))
            problems["statuses"] = f"A {party.label}'s reminders can include {allowed}."
    if spec.min_age < timedelta(0) or spec.min_age > timedelta(days=365):
        problems["min_age"] = "The minimum age is between 0 hours and 365 days."
    if spec.escalate_after is not None and not timedelta(
        hours=1
    ) <= spec.escalate_after <= timedelta(days=365):
        problems["escalate_after"] = "Escalate after 1 hour to 365 days (or never)."
    try:
        check_slack_id(SlackId.CHANNEL, spec.channel_id or "", "channel")
    except errors.InvalidInput as exc:
        problems.update(exc.fields)
    return problems


# Plain columns, not ORM objects: the sweep reads one policy per slot and must stay light.
_POLICY_COLUMNS = (
    ReminderPolicy.id,
    ReminderPolicy.workspace_id,
    Workspace.team_id,
    PartyOrg.id.label("party_id"),
    PartyOrg.kind,
    PartyOrg.name,
    ReminderPolicy.channel_id,
    ReminderPolicy.days,
    ReminderPolicy.times,
    ReminderPolicy.time_zone,
    Workspace.time_zone.label("workspace_time_zone"),
    ReminderPolicy.statuses,
    ReminderPolicy.min_age_minutes,
    ReminderPolicy.working_days_only,
    ReminderPolicy.escalate_after_minutes,
    ReminderPolicy.enabled,
    ReminderPolicy.created_by,
    ReminderPolicy.deleted_at,
    Workspace.reminders_paused_at,
    Workspace.enterprise_id,
)


_POLICIES = (
    select(*_POLICY_COLUMNS)
    .select_from(ReminderPolicy)
    .join(PartyOrg, PartyOrg.id == ReminderPolicy.party_id)
    .join(Workspace, Workspace.id == ReminderPolicy.workspace_id)
)


def _view(row: Any) -> PolicyView:
    kind = Party(row.kind)
    return PolicyView(
        id=row.id,
        workspace_id=row.workspace_id,
        team_id=row.team_id,
        party_id=row.party_id,
        party=kind,
        party_name=row.name,
        channel_id=row.channel_id,
        days=tuple(row.days),
        times=tuple(row.times),
        time_zone=row.time_zone or row.workspace_time_zone or "UTC",
        statuses=tuple(OrderStatus(s) for s in row.statuses)
        if row.statuses
        else default_statuses(kind),
        custom_statuses=bool(row.statuses),
        min_age=timedelta(minutes=row.min_age_minutes),
        working_days_only=row.working_days_only,
        escalate_after=timedelta(minutes=row.escalate_after_minutes)
        if row.escalate_after_minutes
        else None,
        enabled=row.enabled,
        created_by=row.created_by,
        deleted=row.deleted_at is not None,
        paused=row.reminders_paused_at is not None,
        enterprise_id=row.enterprise_id,
    )


def save_policy(
    session: Session,
    caller: Caller,
    spec: PolicySpec,
    *,
    policy_id: int | None = None,
    now: datetime,
) -> PolicyView:
    """Add a policy for the caller's party (or change one of its policies)."""
    problems = validate_spec(spec, caller.party)
    if problems:
        raise errors.InvalidInput(problems)
    _refuse_a_twin(session, caller, spec, policy_id)
    if policy_id is None:
        policy = ReminderPolicy(
            workspace_id=caller.workspace_id,
            party_id=caller.party_id,
            created_by=caller.user_id,
            created_at=now,
        )
        session.add(policy)
    else:
        policy = _own_policy(session, caller, policy_id)
    policy.channel_id = spec.channel_id
    policy.days = sorted(set(spec.days))
    policy.times = list(parse_times(" ".join(spec.times)))
    policy.time_zone = spec.time_zone or None
    policy.statuses = [s.value for s in spec.statuses] if spec.statuses else None
    policy.min_age_minutes = int(spec.min_age.total_seconds() // 60)
    policy.working_days_only = spec.working_days_only
    policy.escalate_after_minutes = (
        int(spec.escalate_after.total_seconds() // 60) if spec.escalate_after else None
    )
    policy.enabled = spec.enabled
    policy.updated_at = now
    session.flush()
    return get_policy(session, policy.id)


def _refuse_a_twin(
    session: Session, caller: Caller, spec: PolicySpec, policy_id: int | None
) -> None:
    """The same party, channel, days, times and time zone is the same reminder: two of them
    would post every digest twice, so the second is refused and nothing is changed."""
    workspace_zone = session.scalar(
        select(Workspace.time_zone).where(Workspace.id == caller.workspace_id)
    )
    zone = spec.time_zone or workspace_zone or "UTC"
    wanted = (tuple(sorted(set(spec.days))), parse_times(" ".join(spec.times)), zone)
    for other in list_policies(
        session, workspace_id=caller.workspace_id, channel_id=spec.channel_id
    ):
        if other.party_id != caller.party_id or other.id == policy_id:
            continue
        if (tuple(sorted(other.days)), tuple(other.times), other.time_zone) == wanted:
            raise errors.InvalidInput(
                {
                    "times": f"Reminder #{other.id} already posts here {other.describe()} for "
                    f"{other.party_name}, so nothing was changed: choose other days or times, "
                    f"or change reminder #{other.id}."
                }
            )


def _own_policy(session: Session, caller: Caller, policy_id: int) -> ReminderPolicy:
    policy = session.get(ReminderPolicy, policy_id)
    if (
        policy is None
        or policy.deleted_at is not None
        or policy.workspace_id != caller.workspace_id
    ):
        raise errors.NotFound(f"There is no reminder #{policy_id} here.")
    if policy.party_id != caller.party_id:
        raise errors.NotFound(
            f"Reminder #{policy_id} belongs to another party; only its members can change it."
        )
    return policy


def delete_policy(session: Session, caller: Caller, policy_id: int, *, now: datetime) -> None:
    """Stop a policy for good (kept, marked deleted, so its past digests still make sense)."""
    policy = _own_policy(session, caller, policy_id)
    policy.deleted_at = now
    policy.enabled = False
    policy.updated_at = now


def get_policy(session: Session, policy_id: int) -> PolicyView:
    """One policy (deleted ones too)."""
    policy = get_policies(session, [policy_id]).get(policy_id)
    if policy is None:
        raise errors.NotFound(f"There is no reminder #{policy_id}.")
    return policy


def get_policies(session: Session, policy_ids: Sequence[int]) -> dict[int, PolicyView]:
    """Some policies by id (deleted ones too), in one query; missing ids are left out."""
    if not policy_ids:
        return {}
    rows = session.execute(_POLICIES.where(ReminderPolicy.id.in_(list(policy_ids))))
    return {row.id: _view(row) for row in rows}


def list_policies(
    session: Session,
    *,
    workspace_id: int | None = None,
    channel_id: str | None = None,
    enabled_only: bool = False,
) -> list[PolicyView]:
    """Policies that are not deleted, oldest first; of one workspace or channel when asked."""
    query = _POLICIES.where(ReminderPolicy.deleted_at.is_(None)).order_by(ReminderPolicy.id)
    if workspace_id is not None:
        query = query.where(ReminderPolicy.workspace_id == workspace_id)
    if channel_id is not None:
        query = query.where(ReminderPolicy.channel_id == channel_id)
    if enabled_only:
        query = query.where(ReminderPolicy.enabled.is_(True))
    return [_view(row) for row in session.execute(query)]


# -- time slots ---------------------------------------------------------------------------------


def slots_between(policy: PolicyView, start: datetime, end: datetime) -> list[datetime]:
    """The policy's slots in (start, end], as UTC times, in order (daylight saving included)."""
    zone = policy.zone
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    found = []
    day = first
    while day <= last:
        if day.weekday() in policy.days:
            for hhmm in policy.times:
                h, m = (int(x) for x in hhmm.split(":"))
                local = datetime.combine(day, time(h, m), tzinfo=zone)
                at = local.astimezone(UTC)
                if start < at <= end:
                    found.append(at)
        day += timedelta(days=1)
    return sorted(set(found))


def latest_slot(policy: PolicyView, now: datetime, hhmm: str | None = None) -> datetime | None:
    """The most recent slot at or before `now` (of one time of day, when given), within 8 days."""
    view = policy if hhmm is None else _with_times(policy, (hhmm,))
    found = slots_between(view, now - timedelta(days=8), now)
    return found[-1] if found else None


def _with_times(policy: PolicyView, times: tuple[str, ...]) -> PolicyView:
    from dataclasses import replace

    return replace(policy, times=times)


def working_age(start: datetime, end: datetime, zone: ZoneInfo) -> timedelta:
    """How much of [start, end] fell on working days (Monday to Friday) in `zone`."""
    if end <= start:
        return timedelta(0)
    total = timedelta(0)
    cursor = start.astimezone(zone)
    stop = end.astimezone(zone)
    while cursor < stop:
        next_midnight = datetime.combine(cursor.date() + timedelta(days=1), time(0), tzinfo=zone)
        chunk_end = min(next_midnight, stop)
        if cursor.weekday() < 5:
            total += chunk_end.astimezone(UTC) - cursor.astimezone(UTC)
        cursor = chunk_end
    return total


def order_age(policy: PolicyView, order: OrderView | DueOrder, now: datetime) -> timedelta:
    """How long the order has waited in its status, as the policy counts it."""
    if policy.working_days_only:
        return working_age(order.status_changed_at, now, policy.zone)
    return now - order.status_changed_at


# -- what is due ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueOrder:
    """An order in a digest, as much as choosing and counting needs (no joins)."""

    id: int
    number: int
    status: OrderStatus
    status_changed_at: datetime
    snoozed_until: datetime | None = None
    """Until when the party snoozed it (light_orders with a party; None when not snoozed)."""

    @property
    def code(self) -> str:
        """SO-000123."""
        return format_order_number(self.number)


_DUE_COLUMNS = (Order.id, Order.number, Order.status, Order.status_changed_at)


# The reminder sweep runs the next three statements for every digest. Each is built once and
# run on the session's connection: building them per call, through the ORM, doubled the sweep
# (1,000 digests, target < 10 s: benchmarks/README.md, "Plain SQLAlchemy").
_LIGHT_ORDERS = select(
    *_DUE_COLUMNS,
    select(func.max(OrderSnooze.until))
    .where(
        OrderSnooze.party_id == bindparam("party_id"),
        OrderSnooze.order_id == Order.id,
        OrderSnooze.until > bindparam("now"),
    )
    .scalar_subquery(),
).where(Order.id.in_(bindparam("ids", expanding=True)))


def _due_orders(party_column: Any) -> Select[*tuple[Any, ...]]:
    return (
        select(*_DUE_COLUMNS)
        .where(
            party_column == bindparam("party_id"),
            Order.status.in_(bindparam("statuses", expanding=True)),
            Order.status_changed_at <= bindparam("changed_by"),
            ~exists().where(
                OrderSnooze.party_id == bindparam("party_id"),
                OrderSnooze.order_id == Order.id,
                OrderSnooze.until > bindparam("now"),
            ),
        )
        .order_by(Order.status_changed_at, Order.id)
        .limit(MAX_DIGEST_ORDERS * 2)
    )


_DUE_ORDERS = {
    Party.MERCHANT: _due_orders(Order.merchant_id),
    Party.PROVIDER: _due_orders(Order.provider_id),
}


def light_orders(
    session: Session, order_ids: Sequence[int], party_id: int, now: datetime
) -> list[DueOrder]:
    """Some orders, light, oldest in their status first, each with the party's snooze on it
    at `now` (in the same query)."""
    if not order_ids:
        return []
    rows = session.connection().execute(
        _LIGHT_ORDERS, {"ids": list(order_ids), "party_id": party_id, "now": now}
    )
    return sorted((DueOrder(*row) for row in rows), key=lambda o: (o.status_changed_at, o.id))


def due_orders(session: Session, policy: PolicyView, now: datetime) -> list[DueOrder]:
    """The orders the policy's digest lists at `now`: its statuses, old enough, not snoozed; oldest first."""
    # Calendar age is never less than working-day age: a cheap bound before the exact count.
    rows = session.connection().execute(
        _DUE_ORDERS[policy.party],
        {
            "party_id": policy.party_id,
            "statuses": list(policy.statuses),
            "changed_by": now - policy.min_age,
            "now": now,
        },
    )
    orders = [DueOrder(*row) for row in rows]
    return [o for o in orders if order_age(policy, o, now) >= policy.min_age][:MAX_DIGEST_ORDERS]


# -- claims ------------------------------------------------------------------------------------------


def taken_slots(
    session: Session, slots: Sequence[tuple[int, datetime]], now: datetime
) -> set[tuple[int, datetime]]:
    """Of these (policy, slot) pairs, the ones whose run is already another's for good: queued,
    posted, empty, or claimed within its lease. A sweep skips them without choosing their
    orders; the claim itself still decides every race (a run may be taken in between)."""
    if not slots:
        return set()
    rows = session.execute(
        select(ReminderRun.policy_id, ReminderRun.slot)
        .where(ReminderRun.policy_id.in_(sorted({p for p, _ in slots})))
        .where(ReminderRun.slot.in_(sorted({slot for _, slot in slots})))
        .where(~_open_to_takeover(now - CLAIM_LEASE))
    ).all()
    return {(policy_id, slot) for policy_id, slot in rows}


def _open_to_takeover(expired: Any) -> Any:
    """A run another worker may take: failed, or claimed by one that died (before `expired`)."""
    return (ReminderRun.status == FAILED) | and_(
        ReminderRun.status == CLAIMED, ReminderRun.claimed_at < expired
    )


@dataclass(frozen=True)
class RunClaim:
    """A run to claim: its policy and slot, and what it is written with (`claim_runs`)."""

    policy_id: int
    slot: datetime
    status: str = CLAIMED
    order_ids: Sequence[int] = ()


def claim_run(
    session: Session,
    policy_id: int,
    slot: datetime,
    *,
    kind: str,
    worker: str,
    now: datetime,
    status: str = CLAIMED,
    order_ids: Sequence[int] = (),
) -> int | None:
    """Claim (policy, slot) for this worker: the run's id, or None when another has it or it is done.

    The run is written with `status` and `order_ids` (a sweep that chose its orders already
    claims and queues in one statement). A claim left behind by a worker that died (older
    than the lease) or a failed run may be taken over; a queued, posted or empty run never
    runs again.
    """
    claim = RunClaim(policy_id, slot, status, order_ids)
    return claim_runs(session, [claim], kind=kind, worker=worker, now=now).get((policy_id, slot))


def claim_runs(
    session: Session, claims: Sequence[RunClaim], *, kind: str, worker: str, now: datetime
) -> dict[tuple[int, datetime], int]:
    """`claim_run` for several slots: one INSERT for them all, then, for each slot that had a
    run already, the takeover of a failed or abandoned one. The ids of the runs claimed, by
    (policy, slot); a slot left out is another's."""
    if not claims:
        return {}
    # In key order, as every claimant inserts: two sweeps claiming overlapping chunks then
    # lock the unique keys in the same order and never deadlock.
    claims = sorted(claims, key=lambda c: (c.policy_id, c.slot))
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One statement however many rows (SQLAlchemy's "insertmanyvalues"); a slot whose run
    # exists inserts nothing and returns no row.
    inserted = session.execute(
        insert(ReminderRun)
        .on_conflict_do_nothing()
        .returning(ReminderRun.id, ReminderRun.policy_id, ReminderRun.slot),
        [
            {
                "policy_id": c.policy_id,
                "slot": c.slot,
                "kind": kind,
                "status": c.status,
                "claimed_by": worker,
                "claimed_at": now,
                "order_ids": list(c.order_ids),
            }
            for c in claims
        ],
    ).all()
    claimed = {(policy_id, slot): int(run_id) for run_id, policy_id, slot in inserted}
    for c in claims:
        if (c.policy_id, c.slot) in claimed:
            continue
        # The slot has a run already: take it over only if it failed or was abandoned.
        taken = session.execute(
            update(ReminderRun)
            .where(
                ReminderRun.policy_id == c.policy_id,
                ReminderRun.slot == c.slot,
                _open_to_takeover(now - CLAIM_LEASE),
            )
            .values(
                status=c.status,
                order_ids=list(c.order_ids),
                claimed_by=worker,
                claimed_at=now,
            )
            .returning(ReminderRun.id)
        ).scalar()
        if taken is not None:
            claimed[(c.policy_id, c.slot)] = int(taken)
    return claimed


def set_run(session: Session, run_id: int, **values: Any) -> None:
    """Update a run's columns."""
    # On the connection: the ORM's UPDATE (which also looks for the run among loaded objects)
    # took twice as long, inside the write lock each digest of the reminder sweep takes.
    session.connection().execute(
        update(ReminderRun).where(ReminderRun.id == run_id).values(**values)
    )


def claim_escalation(
    session: Session, order_id: int, party_id: int, day: date, now: datetime
) -> bool:
    """True the first time an order is escalated on `day`; False after that."""
    try:
        with session.begin_nested():
            session.add(
                Escalation(
                    order_id=order_id, party_id=party_id, day=day.isoformat(), created_at=now
                )
            )
    except IntegrityError:
        return False
    return True


def retryable_runs(
    session: Session, now: datetime, grace: timedelta
) -> list[tuple[int, datetime, str]]:
    """Failed runs, and claims abandoned by a dead worker, still inside the grace window."""
    rows = session.execute(
        select(ReminderRun.policy_id, ReminderRun.slot, ReminderRun.kind).where(
            ReminderRun.slot >= now - grace,
            (ReminderRun.status == FAILED)
            | and_(ReminderRun.status == CLAIMED, ReminderRun.claimed_at < now - CLAIM_LEASE),
        )
    )
    return [(p, s, k) for p, s, k in rows]


@dataclass(frozen=True)
class RunView:
    """One reminder run, as delivering and redrawing its digest need it."""

    id: int
    policy_id: int
    kind: str
    status: str
    order_ids: tuple[int, ...]


def get_run(session: Session, run_id: int) -> RunView | None:
    """A run, or None."""
    row = session.execute(
        select(
            ReminderRun.id,
            ReminderRun.policy_id,
            ReminderRun.kind,
            ReminderRun.status,
            ReminderRun.order_ids,
        ).where(ReminderRun.id == run_id)
    ).first()
    if row is None:
        return None
    return RunView(row.id, row.policy_id, row.kind, row.status, tuple(row.order_ids or ()))


@dataclass(frozen=True)
class DigestRun:
    """A run to post: the run, its policy, and the message of the policy's last posted digest
    before it (to collapse once this one is posted)."""

    run: RunView
    policy: PolicyView
    previous_message_id: int | None


_EARLIER = aliased(ReminderRun, name="earlier")
# Built once and run on the connection, as the statements the sweep runs per digest above.
_DIGEST_RUN = (
    _POLICIES.add_columns(
        ReminderRun.kind.label("run_kind"),
        ReminderRun.status.label("run_status"),
        ReminderRun.order_ids.label("run_order_ids"),
        select(_EARLIER.message_id)
        .where(
            _EARLIER.policy_id == ReminderRun.policy_id,
            _EARLIER.status == POSTED,
            _EARLIER.id != ReminderRun.id,
        )
        .order_by(_EARLIER.posted_at.desc(), _EARLIER.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("previous_message_id"),
    )
    .join(ReminderRun, ReminderRun.policy_id == ReminderPolicy.id)
    .where(ReminderRun.id == bindparam("run_id"))
)


def get_digest_run(session: Session, run_id: int) -> DigestRun | None:
    """A run with its policy and the previous digest's message, in one query; None if gone."""
    row = session.connection().execute(_DIGEST_RUN, {"run_id": run_id}).first()
    if row is None:
        return None
    run = RunView(run_id, row.id, row.run_kind, row.run_status, tuple(row.run_order_ids or ()))
    previous = row.previous_message_id
    return DigestRun(run, _view(row), None if previous is None else int(previous))


# -- snoozing ---------------------------------------------------------------------------------------

SNOOZES = {"1h": "1 hour", "1d": "1 day", "mon": "until Monday"}


def snooze_until(choice: str, now: datetime, zone: ZoneInfo, at: str = "09:30") -> datetime:
    """When a snooze ends: in 1 hour, in 1 day, or next Monday at the reminder time."""
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "1d":
        return now + timedelta(days=1)
    if choice == "mon":
        local = now.astimezone(zone)
        days = (7 - local.weekday()) % 7 or 7
        h, m = (int(x) for x in at.split(":"))
        return datetime.combine(
            local.date() + timedelta(days=days), time(h, m), tzinfo=zone
        ).astimezone(UTC)
    raise errors.InvalidInput({"snooze": "Snooze for 1 hour, 1 day, or until Monday."})


def snooze(
    session: Session,
    caller: Caller,
    number: int | str,
    until: datetime,
    *,
    now: datetime,
    label: str,
) -> TimelineEntry:
    """Keep an order out of the caller's party's reminders until `until`; noted on its timeline."""
    order = get_order(session, caller.ref, number)
    if order.status.is_terminal:
        raise errors.InvalidInput(
            {
                "snooze": f"{order.code} is {order.status.label}: there is nothing to remind anyone of."
            }
        )
    # Lock the order row so the timeline's sequence stays unique alongside concurrent actions.
    session.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    session.add(
        OrderSnooze(
            order_id=order.id,
            party_id=caller.party_id,
            until=until,
            user_id=caller.user_id,
            created_at=now,
        )
    )
    return _record(
        session,
        order_id=order.id,
        workspace_id=caller.workspace_id,
        action=Note.SNOOZE,
        caller=caller,
        from_status=order.status,
        to_status=order.status,
        reason=f"Reminders snoozed {label}, until {until.strftime('%Y-%m-%d %H:%M UTC')}.",
        files=(),
        source=EventSource.SLACK,
        idempotency_key=None,
        now=now,
    )


def active_snoozes(
    session: Session, party_id: int, order_ids: Sequence[int], now: datetime
) -> dict[int, datetime]:
    """Until when each of these orders is snoozed for the party (only those snoozed now)."""
    if not order_ids:
        return {}
    rows = session.execute(
        select(OrderSnooze.order_id, func.max(OrderSnooze.until))
        .where(
            OrderSnooze.party_id == party_id,
            OrderSnooze.order_id.in_(list(order_ids)),
            OrderSnooze.until > now,
        )
        .group_by(OrderSnooze.order_id)
    )
    return {order_id: until for order_id, until in rows}
