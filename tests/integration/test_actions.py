"""Every action through the real code on SQLite and PostgreSQL: allowed, refused, and what is kept."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from orders_core import errors
from orders_core.lifecycle import Action, OrderStatus, Party, ReasonRule, transition_for
from orders_core.models import EventFile, Order, OrderEvent
from orders_core.orders import AttachedFile, get_order_detail
from tests.support.world import NOBODY, OTHER_TEAM, STRANGER_WORKSPACE_MEMBER, TEAM, World

ACTING = {Party.MERCHANT: "U0ANA", Party.PROVIDER: "U0PIA"}
CELLS = list(
    itertools.product(list(OrderStatus), [a for a in Action if a is not Action.PLACE], list(Party))
)


def snapshot(world: World, number: str) -> tuple[OrderStatus, int, int]:
    """(status, version, timeline length) of an order, read from the database."""
    with world.db.read() as s:
        order = s.scalars(select(Order).where(Order.number == int(number[3:]))).one()
        events = s.scalar(select(func.count()).where(OrderEvent.order_id == order.id))
        return order.status, order.version, events or 0


@pytest.mark.parametrize(("status", "action", "party"), CELLS, ids=lambda v: str(v))
def test_every_cell(world: World, status: OrderStatus, action: Action, party: Party) -> None:
    """Allowed cells move the order and add one timeline row; refused ones change nothing."""
    number = world.order_in(status)
    before = snapshot(world, number)
    t = transition_for(status, action)
    reason = "a reason" if t is not None and t.reason is ReasonRule.REQUIRED else None
    if t is not None and t.party is party:
        outcome = world.act(ACTING[party], number, action, reason=reason)
        assert outcome.order.status is t.target
        assert snapshot(world, number) == (t.target, before[1] + 1, before[2] + 1)
        assert (
            outcome.entry.actor_user_id,
            outcome.entry.from_status,
            outcome.entry.to_status,
        ) == (
            ACTING[party],
            status,
            t.target,
        )
    else:
        with pytest.raises((errors.WrongParty, errors.StaleAction)) as raised:
            world.act(ACTING[party], number, action, reason=reason)
        assert number in str(raised.value)
        assert snapshot(world, number) == before


def test_the_error_names_who_acted_first_and_when(world: World) -> None:
    """A refused Confirm on an In Development order says who confirmed it, and when."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    world.act("U0BEN", number, Action.CONFIRM)
    with pytest.raises(errors.StaleAction) as raised:
        world.act("U0ANA", number, Action.CONFIRM)
    message = str(raised.value)
    assert message.startswith(f"{number} is In Development: it was confirmed by U0BEN on ")
    assert "UTC" in message


def test_a_message_drawn_for_an_older_version_is_stale(world: World) -> None:
    """Approve from a message drawn before a reject-and-resubmit round does not apply."""
    number = world.order_in(OrderStatus.UNDER_APPROVAL)
    drawn_at = snapshot(world, number)[1]
    world.act("U0ANA", number, Action.REJECT_APPROVAL, reason="Missing the birthday reward")
    world.act("U0PIA", number, Action.SUBMIT_FOR_APPROVAL)
    before = snapshot(world, number)
    with pytest.raises(errors.StaleAction, match="submitted for approval by U0PIA"):
        world.act("U0ANA", number, Action.APPROVE, expected_version=drawn_at)
    assert snapshot(world, number) == before
    assert (
        world.act("U0ANA", number, Action.APPROVE, expected_version=before[1]).order.status
        is OrderStatus.COMPLETED
    )


@pytest.mark.parametrize(
    ("user", "team", "error"),
    [
        ("U0BOB", TEAM, errors.OrderNotFound),  # another merchant of the same workspace
        ("U0RAJ", TEAM, errors.OrderNotFound),  # a provider that is not the order's
        (STRANGER_WORKSPACE_MEMBER, OTHER_TEAM, errors.OrderNotFound),  # another workspace
        (NOBODY, TEAM, errors.NotAMember),
        ("U0ANA", "T0UNKNOWN", errors.WorkspaceNotFound),
    ],
)
def test_strangers_are_refused(world: World, user: str, team: str, error: type[Exception]) -> None:
    """Only the order's own parties see it; nothing changes for anyone else."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    before = snapshot(world, number)
    with pytest.raises(error):
        world.act(user, number, Action.CONFIRM, team=team)
    assert snapshot(world, number) == before


def test_the_provider_is_told_only_the_merchant_may_confirm(world: World) -> None:
    """The wrong party of the order learns who may act."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    with pytest.raises(errors.WrongParty) as raised:
        world.act("U0PIA", number, Action.CONFIRM)
    assert (
        str(raised.value)
        == f"Only Acme Coffee (the merchant) can confirm {number}; you are not one of its members."
    )


def test_unknown_order_number(world: World) -> None:
    """A number that does not exist is refused with a way forward."""
    with pytest.raises(errors.OrderNotFound, match=r"SO-000999.*orders search SO-000999"):
        world.act("U0ANA", "999", Action.CONFIRM)


REASONS = [
    "Ünïcødé ✓ 中文 🎉",
    "line one\nline two\n\n  indented",
    "<script>&amp; <@U123> <!channel>",
    "x" * 3000,
]


@pytest.mark.parametrize("reason", REASONS, ids=["unicode", "newlines", "markup", "3000"])
def test_reasons_are_kept_exactly(world: World, reason: str) -> None:
    """Up to 3,000 characters, kept byte for byte."""
    number = world.order_in(OrderStatus.UNDER_APPROVAL)
    world.act("U0ANA", number, Action.REJECT_APPROVAL, reason=reason)
    with world.db.read() as s:
        detail = get_order_detail(s, world.caller("U0ANA").ref, number)
    assert detail.timeline[-1].reason == reason


@pytest.mark.parametrize(
    ("status", "action", "reason", "files", "error"),
    [
        (OrderStatus.UNDER_APPROVAL, Action.REJECT_APPROVAL, "x" * 3001, (), errors.ReasonTooLong),
        (OrderStatus.UNDER_APPROVAL, Action.REJECT_APPROVAL, "   \n ", (), errors.ReasonRequired),
        (OrderStatus.UNDER_APPROVAL, Action.REJECT_APPROVAL, None, (), errors.ReasonRequired),
        (OrderStatus.PENDING_CONFIRMATION, Action.CONFIRM, "because", (), errors.ReasonNotAccepted),
        (
            OrderStatus.PENDING_CONFIRMATION,
            Action.REJECT,
            None,
            (AttachedFile("F1", "a.png"),),
            errors.ReasonNotAccepted,
        ),
    ],
    ids=["too-long", "blank-required", "missing-required", "reason-on-confirm", "files-on-reject"],
)
def test_bad_reasons_change_nothing(
    world: World,
    status: OrderStatus,
    action: Action,
    reason: str | None,
    files: tuple[AttachedFile, ...],
    error: type[Exception],
) -> None:
    """Each is refused with its own message, and nothing is written."""
    number = world.order_in(status)
    before = snapshot(world, number)
    with pytest.raises(error):
        world.act("U0ANA", number, action, reason=reason, files=files)
    assert snapshot(world, number) == before


def test_files_are_kept_on_the_timeline(world: World) -> None:
    """Every file's Slack id, name, type, size and permalink."""
    number = world.order_in(OrderStatus.UNDER_APPROVAL)
    files = (
        AttachedFile(
            "F0AAA",
            "screen 1.png",
            "image/png",
            12345,
            "https://x.slack.com/files/U/F0AAA/screen_1.png",
        ),
        AttachedFile(
            "F0BBB",
            "notes.pdf",
            "application/pdf",
            999,
            "https://x.slack.com/files/U/F0BBB/notes.pdf",
        ),
    )
    world.act("U0ANA", number, Action.REJECT_APPROVAL, reason="See the files", files=files)
    with world.db.read() as s:
        detail = get_order_detail(s, world.caller("U0PIA").ref, number)
        assert s.scalar(select(func.count()).select_from(EventFile)) == 2
    assert detail.timeline[-1].files == files


def test_the_same_idempotency_key_applies_once(world: World) -> None:
    """A Slack retry or a double click returns the first outcome and writes nothing twice."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    first = world.act("U0ANA", number, Action.CONFIRM, idempotency_key="click-1")
    second = world.act("U0ANA", number, Action.CONFIRM, idempotency_key="click-1")
    assert not first.replayed and second.replayed
    assert second.entry == first.entry
    assert snapshot(world, number) == (OrderStatus.IN_DEVELOPMENT, 3, 3)


def test_a_different_key_on_a_moved_order_is_refused(world: World) -> None:
    """Another person's click on the same stale button is not a replay."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    world.act("U0ANA", number, Action.CONFIRM, idempotency_key="ana")
    with pytest.raises(errors.StaleAction, match="confirmed by U0ANA"):
        world.act("U0BEN", number, Action.CONFIRM, idempotency_key="ben")
