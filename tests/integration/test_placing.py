"""Placing orders: only Online services, only merchants, every field checked, numbers per workspace."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from orders_core import errors
from orders_core.lifecycle import OrderStatus
from orders_core.models import Order
from tests.support.world import OTHER_TEAM, STRANGER_WORKSPACE_MEMBER, World


def order_count(world: World) -> int:
    """How many orders exist, in every workspace."""
    with world.db.read() as s:
        return s.scalar(select(func.count()).select_from(Order)) or 0


def test_a_placed_order_is_new_and_numbered(world: World) -> None:
    """Numbers count up per workspace; the order starts New with its placing on the timeline."""
    first = world.place()
    second = world.place("U0BEN")
    assert (first.order.code, second.order.code) == ("SO-000001", "SO-000002")
    assert (
        first.order.status is OrderStatus.NEW and first.order.provider_name == "Blue Pixel Studio"
    )
    assert first.entry.actor_user_id == "U0ANA"


def test_numbers_are_per_workspace(world: World) -> None:
    """Another workspace starts at SO-000001 too, and never sees ours."""
    world.place()
    from orders_core.orders import OrderDraft, place_order, resolve_caller

    with world.db.transaction() as s:
        outcome = place_order(
            s,
            resolve_caller(s, OTHER_TEAM, STRANGER_WORKSPACE_MEMBER),
            OrderDraft(world.other_team_service_id, "Zed App", "Zed", "zed@zed.test", ("Alipay+",)),
        )
    assert outcome.order.code == "SO-000001"


@pytest.mark.parametrize(
    ("user", "service", "error"),
    [
        ("U0ANA", "withdrawn", errors.ServiceNotOrderable),
        ("U0ANA", "other-team", errors.ServiceNotFound),
        ("U0PIA", "online", errors.OnlyMerchantsOrder),
    ],
)
def test_what_cannot_be_ordered(
    world: World, user: str, service: str, error: type[Exception]
) -> None:
    """A Withdrawn service, another workspace's service, or a provider ordering: nothing placed."""
    service_id = {
        "withdrawn": world.withdrawn_service_id,
        "other-team": world.other_team_service_id,
        "online": world.online_service_id,
    }[service]
    with pytest.raises(error):
        world.place(user, service_id=service_id)
    assert order_count(world) == 0


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"mini_program": "  "}, {"mini_program"}),
        ({"contact": "call me maybe"}, {"contact"}),
        ({"contact": "12"}, {"contact"}),
        ({"contact": "", "contact_name": ""}, {"contact", "contact_name"}),
        ({"apps": ("WeChat",)}, {"apps"}),
        ({"apps": ()}, {"apps"}),
        ({"requirements": "r" * 3001}, {"requirements"}),
        ({"mini_program": "m" * 101}, {"mini_program"}),
    ],
)
def test_every_field_is_checked(
    world: World, fields: dict[str, object], problems: set[str]
) -> None:
    """Each problem is named by its field, with what would work."""
    with pytest.raises(errors.InvalidInput) as raised:
        world.place(**fields)
    assert set(raised.value.fields) == problems
    assert order_count(world) == 0


@pytest.mark.parametrize(
    "contact", ["ana@acme.test", "+65 6123 4567", "(02) 555-0199", "0812345678"]
)
def test_good_contacts(world: World, contact: str) -> None:
    """Phone numbers and email addresses in their common shapes."""
    assert world.place(contact=contact).order.contact == contact
