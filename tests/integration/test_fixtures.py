"""Fixtures: the demo loads every status through real actions; reloading duplicates nothing; bad files write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from orders_core.db import Database
from orders_core.fixtures import FixtureError, demo_fixture_path, load_fixture
from orders_core.lifecycle import OrderStatus, Party, ServiceStatus, replay
from orders_core.models import Member, Order, OrderEvent, PartyOrg, Service
from orders_core.onboarding import list_parties
from orders_core.orders import count_by_status, get_order_detail, resolve_caller


def table_counts(db: Database) -> dict[str, int]:
    """Rows per table, to check that nothing was written."""
    with db.read() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (PartyOrg, Member, Service, Order, OrderEvent)
        }


def test_the_demo_has_every_status_twice_with_true_timelines(db: Database) -> None:
    """One merchant with two members, two providers, three Online services, 2+ orders per status."""
    with db.transaction() as s:
        report = load_fixture(s, demo_fixture_path())
    assert len(report.orders_created) >= 12
    with db.read() as s:
        parties = list_parties(s, 1)
        merchants = [p for p in parties if p.kind is Party.MERCHANT]
        assert len(merchants) == 1 and len(merchants[0].members) == 2
        assert len([p for p in parties if p.kind is Party.PROVIDER]) == 2
        assert (
            s.scalar(
                select(func.count())
                .select_from(Service)
                .where(Service.status == ServiceStatus.ONLINE)
            )
            == 3
        )
        ana = resolve_caller(s, "T0DEMO", "U0ANA")
        counts = count_by_status(s, ana.ref)
        assert all(counts[status] >= 2 for status in OrderStatus), counts
        for code in report.orders_created:
            detail = get_order_detail(s, ana.ref, code)
            assert replay([e.action for e in detail.timeline]) is detail.order.status
            for e in detail.timeline:
                who = resolve_caller(s, "T0DEMO", e.actor_user_id or "")
                assert who.party is e.actor_party


def test_loading_twice_duplicates_nothing(db: Database) -> None:
    """Parties, members, services and numbered orders are matched by name and number."""
    with db.transaction() as s:
        load_fixture(s, demo_fixture_path())
    before = table_counts(db)
    with db.transaction() as s:
        report = load_fixture(s, demo_fixture_path())
    assert report.orders_created == [] and len(report.orders_skipped) >= 12
    assert table_counts(db) == before


GOOD = """
workspace: {team_id: T0FIX, name: Fix}
merchants:
  - {name: Acme Coffee, channel: C0MERCHANT, members: [U0ANA, U0BEN]}
providers:
  - {name: Blue Pixel Studio, channel: C0PROVIDER, members: [U0PIA]}
services:
  - {name: Loyalty mini program, provider: Blue Pixel Studio, status: Online, apps: [Alipay+, GCash]}
orders:
  - {number: SO-000001, service: Loyalty mini program, merchant: Acme Coffee, placed_by: U0ANA,
     mini_program: Acme Rewards, contact_name: Ana, contact: ana@acme.test,
     requirements: "Stamp card", status: Under Approval}
"""


def test_the_documented_format_loads(db: Database, tmp_path: Path) -> None:
    """The format the issue documents, as operators write it."""
    path = tmp_path / "fixture.yml"
    path.write_text(GOOD)
    with db.transaction() as s:
        report = load_fixture(s, path)
    assert report.orders_created == ["SO-000001"]
    with db.read() as s:
        detail = get_order_detail(s, resolve_caller(s, "T0FIX", "U0BEN").ref, "1")
    assert detail.order.status is OrderStatus.UNDER_APPROVAL
    assert [e.actor_user_id for e in detail.timeline] == ["U0ANA", "U0PIA", "U0ANA", "U0PIA"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("service: Loyalty mini program, merchant", "service: Nope, merchant"),
            "orders[0] (SO-000001): There is no service 'Nope'",
        ),
        (
            ("status: Under Approval", "status: Shipped"),
            "orders[0] (SO-000001): unknown status 'Shipped'",
        ),
        (
            ("placed_by: U0ANA", "placed_by: U0PIA"),
            "orders[0] (SO-000001): U0PIA is not a member of Acme Coffee",
        ),
        (
            ("status: Online", "status: Live"),
            "services[0] (Loyalty mini program): unknown status 'Live'",
        ),
        (
            ("provider: Blue Pixel Studio, status", "provider: Nobody, status"),
            "services[0] (Loyalty mini program): There is no service provider named 'Nobody'",
        ),
        (
            ("members: [U0PIA]", "members: [U0ANA]"),
            "providers[0] (Blue Pixel Studio): U0ANA is already a member of Acme Coffee",
        ),
        (
            ("workspace: {team_id: T0FIX, name: Fix}", "workspace: Fix"),
            "the file: `workspace` should be a mapping of keys to values, not 'Fix'",
        ),
        (("[U0ANA, U0BEN]}", "[U0ANA, U0BEN"), "not valid YAML"),
    ],
)
def test_a_bad_fixture_names_file_entry_and_reason_and_writes_nothing(
    db: Database, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    """All or nothing, with a message that leads to the line to fix."""
    path = tmp_path / "bad.yml"
    assert change[0] in GOOD
    path.write_text(GOOD.replace(change[0], change[1]))
    before = table_counts(db)
    with pytest.raises(FixtureError) as raised, db.transaction() as s:
        load_fixture(s, path)
    assert str(raised.value).startswith(str(path))
    assert message in str(raised.value)
    assert table_counts(db) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("merchants:", "merchant:"),
            "the file: unknown key `merchant` (did you mean `merchants`?)",
        ),
        (
            ("channel: C0MERCHANT", "chanel: C0MERCHANT"),
            "merchants[0] (Acme Coffee): unknown key `chanel` (did you mean `channel`?)",
        ),
        (
            ("members: [U0ANA, U0BEN]", "members: U0ANA"),
            "merchants[0] (Acme Coffee): `members` should be a list, not 'U0ANA'",
        ),
        (
            ("{name: Blue Pixel Studio, channel", "{channel"),
            "providers[0]: `name` is required",
        ),
        (
            ("channel: C0MERCHANT", "channel: '#acme-orders'"),
            "merchants[0] (Acme Coffee): `channel`: '#acme-orders' is not a Slack channel id",
        ),
        (
            ("members: [U0ANA, U0BEN]", "members: [U0ANA, ben]"),
            "merchants[0] (Acme Coffee): `members[1]`: 'ben' is not a Slack user id",
        ),
        (
            ("team_id: T0FIX", "team_id: t0fix"),
            "workspace: `team_id`: 't0fix' is not a Slack team id",
        ),
        (
            ("status: Under Approval}", "status: Under Approval, age: [3d]}"),
            "orders[0] (SO-000001): `age`",
        ),
    ],
)
def test_the_whole_file_is_checked_against_the_schema_first(
    db: Database, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    """Typos in keys, wrong types, missing keys and malformed ids are named, and nothing is written."""
    path = tmp_path / "typo.yml"
    assert change[0] in GOOD
    path.write_text(GOOD.replace(change[0], change[1], 1))
    before = table_counts(db)
    with pytest.raises(FixtureError) as raised, db.transaction() as s:
        load_fixture(s, path)
    assert str(raised.value).startswith(f"{path}: "), raised.value
    assert message in str(raised.value), raised.value
    assert table_counts(db) == before


def test_every_mistake_of_a_file_is_named_at_once(db: Database, tmp_path: Path) -> None:
    """An operator fixes the file in one go: each bad entry has its own line."""
    path = tmp_path / "typos.yml"
    path.write_text(
        GOOD.replace("channel: C0MERCHANT", "chanel: C0MERCHANT").replace(
            "members: [U0PIA]", "members: [pia]"
        )
    )
    with pytest.raises(FixtureError) as raised, db.transaction() as s:
        load_fixture(s, path)
    lines = str(raised.value).splitlines()
    assert len(lines) == 2, lines
    assert "merchants[0] (Acme Coffee): unknown key `chanel`" in lines[0]
    assert "providers[0] (Blue Pixel Studio): `members[0]`: 'pia'" in lines[1]


WORLD_NAMES = """
workspace: {team_id: T0INTL, name: International}
merchants:
  - {name: Łódź Bar, channel: C0LODZ, members: [U0ALA]}
  - {name: Đà Nẵng Café, channel: C0DANANG, members: [U0LAN]}
  - {name: 서울 커피, channel: C0SEOUL, members: [U0MIN]}
  - {name: Twin Name, channel: C0TWINM, members: [U0TWM]}
providers:
  - {name: Über Loyalty, channel: C0UBER, members: [U0UWE]}
  - {name: ร้านกาแฟ, channel: C0THAI, members: [U0SOM]}
  - {name: Twin Name, channel: C0TWINP, members: [U0TWP]}
services:
  - {name: Loyalty mini program, provider: ÜBER LOYALTY, status: Online}
orders:
  - {number: SO-000001, service: loyalty MINI program, merchant: łódź bar,
     mini_program: Karta, contact_name: Ala, contact: ala@lodz.test, status: New}
  - {number: SO-000002, service: Loyalty mini program, merchant: ĐÀ NẴNG CAFÉ,
     mini_program: Thẻ, contact_name: Lan, contact: lan@danang.test, status: New}
reminders:
  - {merchant: twin name, times: "09:30"}
  - {provider: TWIN NAME, times: ["10:00", "15:00"]}
  - {party: 서울 커피}
"""


def test_names_in_any_script_are_found_in_any_case(db: Database, tmp_path: Path) -> None:
    """Polish, Vietnamese, German, Korean and Thai names match case-insensitively; a
    merchant and a provider with one name are told apart by `merchant:` / `provider:`."""
    path = tmp_path / "intl.yml"
    path.write_text(WORLD_NAMES)
    with db.transaction() as s:
        report = load_fixture(s, path)
    assert report.orders_created == ["SO-000001", "SO-000002"]
    assert report.reminders == 3
    with db.read() as s:
        names = {p.name: p.channel_id for p in list_parties(s, 1)}
        assert names["Łódź Bar"] == "C0LODZ" and names["ร้านกาแฟ"] == "C0THAI"
        detail = get_order_detail(s, resolve_caller(s, "T0INTL", "U0ALA").ref, "1")
        assert detail.order.merchant_name == "Łódź Bar"
        assert detail.order.provider_name == "Über Loyalty"
    # Loaded again: every name is found, nothing is duplicated.
    before = table_counts(db)
    with db.transaction() as s:
        load_fixture(s, path)
    assert table_counts(db) == before


def test_a_party_named_twice_must_be_told_apart(db: Database, tmp_path: Path) -> None:
    """`party:` naming a merchant and a provider at once says how to choose."""
    path = tmp_path / "twins.yml"
    path.write_text(WORLD_NAMES.replace("{merchant: twin name", "{party: twin name"))
    with pytest.raises(FixtureError) as raised, db.transaction() as s:
        load_fixture(s, path)
    assert "reminders[0] (twin name): Both a merchant and a service provider are named" in str(
        raised.value
    )
    assert "`merchant:` or `provider:`" in str(raised.value)
