"""Reminder rules with a controlled clock: slots across time zones and daylight saving, working-day
ages, what is due, snoozes, and claims that make a slot run once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from orders_core import errors
from orders_core.lifecycle import Note, OrderStatus
from orders_core.models import ReminderRun
from orders_core.orders import timeline
from orders_core.reminders import (
    PolicySpec,
    RunClaim,
    claim_escalation,
    claim_run,
    claim_runs,
    due_orders,
    latest_slot,
    parse_days,
    parse_times,
    save_policy,
    slots_between,
    snooze,
    snooze_until,
    taken_slots,
    working_age,
)
from tests.support.world import World


def policy(world: World, user: str = "U0ANA", **spec: object):  # type: ignore[no-untyped-def]
    """Save a policy for the user's party and return it."""
    fields: dict[str, object] = {"channel_id": "C0ACME"}
    fields.update(spec)
    with world.db.transaction() as s:
        return save_policy(
            s, world.caller(user), PolicySpec(**fields), now=datetime(2026, 1, 1, tzinfo=UTC)
        )  # type: ignore[arg-type]


def test_slots_follow_local_time_across_daylight_saving(world: World) -> None:
    """09:30 in Berlin is 08:30 UTC in winter and 07:30 UTC in summer (DST began 29 March 2026)."""
    p = policy(world, time_zone="Europe/Berlin", days=(0, 1, 2, 3, 4), times=("09:30",))
    slots = slots_between(
        p, datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    )
    assert slots == [
        datetime(2026, 3, 26, 8, 30, tzinfo=UTC),  # Thursday, CET
        datetime(2026, 3, 27, 8, 30, tzinfo=UTC),  # Friday, CET
        datetime(2026, 3, 30, 7, 30, tzinfo=UTC),  # Monday, CEST
        datetime(2026, 3, 31, 7, 30, tzinfo=UTC),
    ]


def test_slots_in_new_york_when_daylight_saving_ends(world: World) -> None:
    """09:30 New York: 13:30 UTC on Friday 30 Oct 2026, 14:30 UTC on Monday 2 Nov (EST)."""
    p = policy(world, time_zone="America/New_York", times=("09:30", "16:00"))
    slots = slots_between(
        p, datetime(2026, 10, 30, 0, 0, tzinfo=UTC), datetime(2026, 11, 2, 23, 59, tzinfo=UTC)
    )
    assert slots == [
        datetime(2026, 10, 30, 13, 30, tzinfo=UTC),
        datetime(2026, 10, 30, 20, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 14, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 21, 0, tzinfo=UTC),
    ]


def test_the_same_instant_is_a_slot_in_one_zone_and_not_another(world: World) -> None:
    """Singapore's 09:30 is 01:30 UTC; a UTC policy's 09:30 comes eight hours later."""
    sg = policy(world, time_zone="Asia/Singapore")
    utc = policy(world, time_zone="UTC")
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday
    assert latest_slot(sg, now) == datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
    assert latest_slot(utc, now) == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def test_working_day_ages_skip_the_weekend() -> None:
    """Friday 18:00 to Monday 10:00 is 64 hours, 16 of them on working days."""
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 11, 27, 18, 0, tzinfo=zone)
    end = datetime(2026, 11, 30, 10, 0, tzinfo=zone)
    assert end - start == timedelta(hours=64)
    assert working_age(start, end, zone) == timedelta(hours=16)


def test_what_is_due(world: World) -> None:
    """Only the party's waiting statuses, old enough, oldest first; working days when asked."""
    friday_evening = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    old = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=friday_evening - timedelta(days=3))
    weekend = world.order_in(OrderStatus.UNDER_APPROVAL, now=friday_evening)
    world.order_in(OrderStatus.NEW, now=friday_evening - timedelta(days=5))  # waits on the provider
    fresh = world.order_in(
        OrderStatus.PENDING_CONFIRMATION, now=friday_evening + timedelta(days=2, hours=20)
    )
    monday = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    calendar = policy(world, time_zone="UTC")
    working = policy(world, time_zone="UTC", working_days_only=True, channel_id="C0ACMEOPS")
    with world.db.read() as s:
        assert [o.code for o in due_orders(s, calendar, monday)] == [old, weekend]
        assert [o.code for o in due_orders(s, working, monday)] == [old]
    assert fresh not in {old, weekend}


def test_a_snoozed_order_stays_out_until_then_and_the_timeline_says_who(world: World) -> None:
    """Snooze for a day: out of the digest until it ends; a timeline note names who snoozed."""
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=start)
    p = policy(world, time_zone="UTC")
    now = start + timedelta(days=2)
    with world.db.transaction() as s:
        until = snooze_until("1d", now, ZoneInfo("UTC"))
        entry = snooze(s, world.caller("U0BEN"), number, until, now=now, label="1 day")
    assert (
        entry.action is Note.SNOOZE
        and entry.actor_user_id == "U0BEN"
        and entry.to_status is OrderStatus.PENDING_CONFIRMATION
    )
    with world.db.read() as s:
        assert due_orders(s, p, now + timedelta(hours=23)) == []
        assert [o.code for o in due_orders(s, p, now + timedelta(hours=25))] == [number]
        rows = timeline(s, due_orders(s, p, now + timedelta(hours=25))[0].id)
    assert rows[-1].action is Note.SNOOZE and "snoozed" in rows[-1].past


def test_snooze_until_monday_is_the_next_monday_morning() -> None:
    """From a Friday or a Monday, "until Monday" is the coming Monday at 09:30 local time."""
    zone = ZoneInfo("Asia/Singapore")
    friday = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert snooze_until("mon", friday, zone) == datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
    monday = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert snooze_until("mon", monday, zone) == datetime(2026, 12, 7, 1, 30, tzinfo=UTC)


def test_a_slot_is_claimed_once_and_taken_over_only_when_abandoned(world: World) -> None:
    """The second claim of a slot fails; a claim older than the lease, or a failed run, is taken over."""
    p = policy(world)
    slot = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
    now = slot + timedelta(minutes=1)
    with world.db.transaction() as s:
        assert claim_run(s, p.id, slot, kind="scheduled", worker="a", now=now) is not None
    with world.db.transaction() as s:
        assert claim_run(s, p.id, slot, kind="scheduled", worker="b", now=now) is None
    with world.db.transaction() as s:
        taken = claim_run(
            s, p.id, slot, kind="scheduled", worker="b", now=now + timedelta(minutes=11)
        )
        assert taken is not None
        run = s.get(ReminderRun, taken)
        assert run is not None and run.claimed_by == "b"
        run.status = "posted"
    with world.db.transaction() as s:
        assert (
            claim_run(s, p.id, slot, kind="scheduled", worker="c", now=now + timedelta(hours=1))
            is None
        )


def test_slots_claimed_together_each_get_their_own_answer(world: World) -> None:
    """One claim for several slots: a free slot is claimed, a posted one is another's, a failed
    one is taken over, and taken_slots spares the sweep the one that is settled."""
    p = policy(world)
    slots = [datetime(2026, 11, 27, h, 30, tzinfo=UTC) for h in (1, 2, 3)]
    free, posted, failed = slots
    now = slots[-1] + timedelta(minutes=1)
    with world.db.transaction() as s:
        for slot, status in ((posted, "posted"), (failed, "failed")):
            run_id = claim_run(s, p.id, slot, kind="scheduled", worker="a", now=now)
            assert run_id is not None
            run = s.get(ReminderRun, run_id)
            assert run is not None
            run.status = status
    with world.db.transaction() as s:
        assert taken_slots(s, [(p.id, slot) for slot in slots], now) == {(p.id, posted)}
        claimed = claim_runs(
            s,
            [RunClaim(p.id, slot, "queued", [7, 8]) for slot in slots],
            kind="scheduled",
            worker="b",
            now=now,
        )
    assert set(claimed) == {(p.id, free), (p.id, failed)}
    with world.db.read() as s:
        runs = {r.slot: r for r in s.scalars(select(ReminderRun))}
    assert {slot: (runs[slot].status, runs[slot].claimed_by) for slot in slots} == {
        free: ("queued", "b"),
        posted: ("posted", "a"),
        failed: ("queued", "b"),
    }
    assert runs[free].order_ids == [7, 8] and claimed[(p.id, failed)] == runs[failed].id


def test_an_escalation_is_claimed_once_a_day(world: World) -> None:
    """At most one escalation per order per day."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    from sqlalchemy import select

    from orders_core.models import Order

    with world.db.read() as s:
        order_id = s.scalar(select(Order.id).where(Order.number == int(number[3:])))
    day = datetime(2026, 11, 27, tzinfo=UTC).date()
    with world.db.transaction() as s:
        assert claim_escalation(s, order_id, 1, day, datetime.now(UTC))
    with world.db.transaction() as s:
        assert not claim_escalation(s, order_id, 1, day, datetime.now(UTC))
        assert claim_escalation(s, order_id, 1, day + timedelta(days=1), datetime.now(UTC))


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "not an IANA time zone"),
        ({"times": ("25:00",)}, "times", "not a time of day"),
        ({"days": ()}, "days", "at least one day"),
        (
            {"statuses": (OrderStatus.NEW,)},
            "statuses",
            "can include Pending Confirmation, Under Approval",
        ),
    ],
)
def test_invalid_policies_are_refused(
    world: World, spec: dict[str, object], field: str, says: str
) -> None:
    """Each with its reason, on its field."""
    with pytest.raises(errors.InvalidInput) as raised:
        policy(world, **spec)
    assert says in raised.value.fields[field]


def test_parsing_days_and_times() -> None:
    """The forms people type."""
    assert parse_days("weekdays") == (0, 1, 2, 3, 4)
    assert parse_days("mon,wed, fri") == (0, 2, 4)
    assert parse_days("fri-mon") == (0, 4, 5, 6)
    assert parse_times("9:30, 14:00 09:30") == ("09:30", "14:00")
    with pytest.raises(ValueError, match="not a day"):
        parse_days("someday")


def test_the_edges_of_due_are_exact_at_a_slot(world: World) -> None:
    """Slots fall on whole minutes, and so do the ends of snoozes "until Monday": an order that
    reaches its minimum age at the slot itself is due, and so is one whose snooze ends then."""
    p = policy(world, time_zone="UTC")
    friday = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    monday = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    ripe = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=monday - p.min_age)
    snoozed = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=friday)
    with world.db.transaction() as s:
        until = snooze_until("mon", friday, ZoneInfo("UTC"))
        snooze(s, world.caller("U0BEN"), snoozed, until, now=friday, label="until Monday")
    assert until == monday
    with world.db.read() as s:
        assert [o.code for o in due_orders(s, p, monday - timedelta(microseconds=1))] == []
        assert [o.code for o in due_orders(s, p, monday)] == [snoozed, ripe]
