"""Lists, pages, filters, search, counts and details, as each party sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Integer, bindparam, create_engine, literal_column, select, text
from sqlalchemy.exc import DataError
from sqlalchemy.pool import NullPool

from orders_core import errors
from orders_core.lifecycle import Action, OrderStatus
from orders_core.orders import (
    count_by_status,
    get_order_detail,
    last_entries,
    list_orders,
    order_card,
    search_orders,
)
from orders_core.reminders import snooze
from tests.support.world import World

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def codes(orders: object) -> list[str]:
    """The order numbers of a page, a search or a tuple of orders."""
    return [o.code for o in getattr(orders, "orders", orders)]


def test_pages_walk_every_order_once_newest_first(world: World) -> None:
    """Keyset pages: no gaps, no repeats, newest first, with and without filters."""
    made = [world.order_in(status) for status in list(OrderStatus) * 3]
    merchant = world.caller("U0ANA").ref
    for statuses in (
        None,
        {OrderStatus.NEW},
        {OrderStatus.NEW, OrderStatus.CANCELED, OrderStatus.UNDER_APPROVAL},
    ):
        seen: list[str] = []
        cursor = None
        with world.db.read() as s:
            while True:
                page = list_orders(s, merchant, statuses, cursor=cursor, limit=4)
                assert len(page.orders) <= 4
                seen += codes(page.orders)
                assert all(statuses is None or o.status in statuses for o in page.orders)
                cursor = page.next_cursor
                if cursor is None:
                    break
        wanted = [
            c
            for c, st in zip(made, list(OrderStatus) * 3, strict=True)
            if statuses is None or st in statuses
        ]
        assert seen == list(reversed(wanted))


def test_each_party_sees_only_its_own_orders(world: World) -> None:
    """Another merchant and an uninvolved provider see none of them; the provider sees them."""
    world.order_in(OrderStatus.NEW)
    world.order_in(OrderStatus.UNDER_APPROVAL)
    with world.db.read() as s:
        assert len(list_orders(s, world.caller("U0PIA").ref).orders) == 2
        assert list_orders(s, world.caller("U0BOB").ref).orders == ()
        assert list_orders(s, world.caller("U0RAJ").ref).orders == ()
        with pytest.raises(errors.OrderNotFound):
            get_order_detail(s, world.caller("U0BOB").ref, "1")


def test_a_forged_cursor_is_refused(world: World) -> None:
    """A cursor we did not make is a clear error, not a crash."""
    for forged in ("'; drop table orders", "o" + "9" * 25):  # the second overflows a bigint
        with world.db.read() as s, pytest.raises(errors.InvalidInput, match="page link"):
            list_orders(s, world.caller("U0ANA").ref, cursor=forged)


def test_search_by_number_in_every_spelling_and_by_prefix(world: World) -> None:
    """Exact match first, then numbers that start with what was typed."""
    for _ in range(12):
        world.place()
    merchant = world.caller("U0ANA").ref
    with world.db.read() as s:
        for text in ("7", "so-7", "SO-000007", "00007"):
            assert codes(search_orders(s, merchant, text))[0] == "SO-000007"
        # SO-00001 is SO-000001 exactly, and the prefix of SO-000010..SO-000019.
        assert codes(search_orders(s, merchant, "SO-00001")) == [
            "SO-000001",
            "SO-000010",
            "SO-000011",
            "SO-000012",
        ]
        assert codes(search_orders(s, merchant, "SO-0000")) == [f"SO-{n:06d}" for n in range(1, 11)]
        assert codes(search_orders(s, merchant, "99")) == []


def test_counts_per_status(world: World) -> None:
    """Every status is counted, zeros included."""
    world.order_in(OrderStatus.NEW)
    world.order_in(OrderStatus.NEW)
    world.order_in(OrderStatus.COMPLETED)
    with world.db.read() as s:
        counts = count_by_status(s, world.caller("U0BEN").ref)
    assert counts == {
        OrderStatus.NEW: 2,
        OrderStatus.PENDING_CONFIRMATION: 0,
        OrderStatus.IN_DEVELOPMENT: 0,
        OrderStatus.UNDER_APPROVAL: 0,
        OrderStatus.COMPLETED: 1,
        OrderStatus.CANCELED: 0,
    }


def test_detail_has_every_field_and_the_timeline_in_order(world: World) -> None:
    """Who did what, when, with times kept in UTC."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=T0)
    world.act("U0BEN", number, Action.REJECT, reason="Too expensive", now=T0 + timedelta(hours=2))
    with world.db.read() as s:
        detail = get_order_detail(s, world.caller("U0PIA").ref, number)
    o = detail.order
    assert (o.service_name, o.merchant_name, o.provider_name) == (
        "Loyalty",
        "Acme Coffee",
        "Blue Pixel Studio",
    )
    assert (o.mini_program, o.apps, o.contact_name, o.contact, o.requirements) == (
        "Acme Rewards",
        ("Alipay+",),
        "Ana",
        "ana@acme.test",
        "Stamp card",
    )
    assert o.status is OrderStatus.CANCELED and o.version == 3
    assert o.created_at == T0 and o.status_changed_at == T0 + timedelta(hours=2)
    assert [(e.action, e.actor_user_id, e.reason) for e in detail.timeline] == [
        (Action.PLACE, "U0ANA", None),
        (Action.ACCEPT, "U0PIA", None),
        (Action.REJECT, "U0BEN", "Too expensive"),
    ]


def test_rows_written_by_other_tools_read_back_the_same(world: World) -> None:
    """A read model takes what the database holds, however it was written: times without
    microseconds or with an offset of their own (SQLite keeps text), apps spelled differently."""
    number = world.order_in(OrderStatus.NEW)
    merchant = world.caller("U0ANA").ref
    with world.db.transaction() as s:
        s.execute(
            text("""UPDATE orders SET apps = '[ "WeChat","Alipay" ]' WHERE number = :n"""),
            {"n": int(number[3:])},
        )
        if world.db.is_sqlite:
            s.execute(
                text(
                    "UPDATE orders SET created_at = '2026-01-05 09:00:00',"
                    " updated_at = '2026-01-05T11:30:00+02:00' WHERE number = :n"
                ),
                {"n": int(number[3:])},
            )
    with world.db.read() as s:
        (order,) = search_orders(s, merchant, number).orders
    assert order.apps == ("WeChat", "Alipay")
    assert order.status is OrderStatus.NEW
    assert order.created_at.tzinfo is not None and order.updated_at.tzinfo is not None
    if world.db.is_sqlite:
        assert order.created_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        assert order.updated_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
        assert order.updated_at.utcoffset() == timedelta(0)  # shown in UTC, like every other


def test_a_status_the_code_does_not_know_is_an_error_not_a_blank(world: World) -> None:
    """A corrupted status fails the read loudly instead of passing on a None."""
    number = world.order_in(OrderStatus.NEW)
    merchant = world.caller("U0ANA").ref
    with world.db.transaction() as s:
        s.execute(
            text("UPDATE orders SET status = 'teleported' WHERE number = :n"),
            {"n": int(number[3:])},
        )
    with world.db.read() as s, pytest.raises(ValueError, match="teleported"):
        search_orders(s, merchant, number)


@pytest.mark.postgres
def test_a_connection_the_server_dropped_is_replaced_before_the_read(world_pg: World) -> None:
    """Connections are pinged when taken from the pool: after the server dropped them all, the
    next list is answered, not failed."""
    number = world_pg.order_in(OrderStatus.NEW)
    merchant = world_pg.caller("U0ANA").ref
    db = world_pg.db
    with db.read() as s:
        assert codes(list_orders(s, merchant).orders) == [number]
    admin = create_engine(db.url, poolclass=NullPool)
    with admin.connect() as conn:
        killed = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar()
    admin.dispose()
    assert killed
    with db.read() as s:
        assert codes(list_orders(s, merchant).orders) == [number]


@pytest.mark.postgres
def test_a_failing_read_in_a_transaction_reports_its_own_cause(world_pg: World) -> None:
    """A read that fails inside a write transaction raises what went wrong, wrapped as
    SQLAlchemy wraps it, not PostgreSQL's "current transaction is aborted" from a second try."""
    failing = select(literal_column("1") / bindparam("zero", type_=Integer))
    with pytest.raises(DataError, match="division by zero"), world_pg.db.transaction() as s:
        s.execute(failing, {"zero": 0})


def test_a_card_shows_the_order_with_its_newest_change_not_a_later_note(world: World) -> None:
    """What a card draws comes in one read: the order, and the newest entry that changed its
    status (a snooze note after it is not news), the same entry lists show."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    with world.db.transaction() as s:
        snooze(s, world.caller("U0BEN"), number, T0 + timedelta(days=1), now=T0, label="1 day")
    merchant = world.caller("U0ANA").ref
    with world.db.read() as s:
        order = get_order_detail(s, merchant, number).order
        shown, newest = order_card(s, order.id)
        listed = last_entries(s, [order.id])[order.id]
        with pytest.raises(errors.OrderNotFound):
            order_card(s, order.id + 1000)
    assert shown == order
    assert newest is not None and newest.action is Action.ACCEPT
    assert newest == listed
