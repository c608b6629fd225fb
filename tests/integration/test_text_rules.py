"""The text rules in the domain, so every entry point gets them (the CLI as well as Slack):
invisible text is blank where text is required, NUL and lone surrogates are never stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from orders_core import errors
from orders_core.catalog import add_service
from orders_core.db import Database
from orders_core.lifecycle import Action, OrderStatus, Party
from orders_core.models import Workspace
from orders_core.onboarding import add_party
from orders_core.orders import get_order
from tests.support.world import TEAM, World

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.mark.parametrize(
    ("status", "user", "action"),
    [
        (OrderStatus.UNDER_APPROVAL, "U0ANA", Action.REJECT_APPROVAL),
        (OrderStatus.IN_DEVELOPMENT, "U0PIA", Action.CANCEL),
    ],
)
def test_a_required_reason_of_invisible_characters_is_missing(
    world: World, status: OrderStatus, user: str, action: Action
) -> None:
    """Every action whose reason is required: refused, the order where it was."""
    number = world.order_in(status)
    with pytest.raises(errors.ReasonRequired):
        world.act(user, number, action, reason=f" {ZERO_WIDTH}\n\u00a0")
    with world.db.read() as s:
        assert get_order(s, world.caller(user).ref, number).status is status


def test_a_reason_is_stored_without_nul_and_lone_surrogates(world: World) -> None:
    """Joiners inside words are kept; NUL and lone surrogates are not."""
    number = world.order_in(OrderStatus.UNDER_APPROVAL)
    outcome = world.act(
        "U0ANA", number, Action.REJECT_APPROVAL, reason="Logo\x00 👩\u200d💻 wrong\udfff\ud800"
    )
    assert outcome.entry.reason == "Logo 👩\u200d💻 wrong"


def test_invisible_names_are_refused_and_text_is_stored_clean(world: World) -> None:
    """place_order: invisible mini program, contact name or contact are each missing; otherwise
    the text is stored trimmed of invisible ends, without NUL and lone surrogates."""
    with pytest.raises(errors.InvalidInput) as refused:
        world.place(mini_program=ZERO_WIDTH, contact_name="\u3164", contact="\ufeff")
    assert refused.value.fields == {
        "mini_program": "Enter the mini program name.",
        "contact_name": "Enter the contact name.",
        "contact": "Enter the contact.",
    }
    order = world.place(
        mini_program=f"\u200bAcme\x00 Rewards{ZERO_WIDTH}",
        contact_name="Ana\ud800 Lim ",
        contact=" ana@acme.test\u200b",
        requirements="Stamp\x00 card\udfff",
    ).order
    assert (order.mini_program, order.contact_name, order.contact, order.requirements) == (
        "Acme Rewards",
        "Ana Lim",
        "ana@acme.test",
        "Stamp card",
    )


def test_the_cli_refuses_an_invisible_cancel_reason(
    world: World, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`orders-bot orders act N cancel --reason ZWSP` says a reason is required; nothing changes."""
    number = world.order_in(OrderStatus.IN_DEVELOPMENT)
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    result = CliRunner().invoke(
        app,
        [
            "orders",
            "act",
            number,
            "cancel",
            "--as",
            "U0PIA",
            "--workspace",
            TEAM,
            "--reason",
            "\u200b\u2060",
        ],
    )
    assert result.exit_code == 1
    assert "A reason is required to cancel an order in development" in result.output
    with world.db.read() as s:
        assert get_order(s, world.caller("U0PIA").ref, number).status is OrderStatus.IN_DEVELOPMENT


def test_party_and_service_names_of_invisible_characters_are_blank(world: World) -> None:
    """Onboarding (the CLI, fixtures): a name of zero-width characters is no name; a name is
    stored without NUL, lone surrogates and invisible ends."""
    with world.db.transaction() as s:
        workspace = s.scalars(select(Workspace).where(Workspace.team_id == TEAM)).one()
        with pytest.raises(errors.InvalidInput, match="needs a name"):
            add_party(s, workspace, Party.MERCHANT, ZERO_WIDTH)
        with pytest.raises(errors.InvalidInput, match="needs a name"):
            add_service(s, workspace, provider_name="Blue Pixel Studio", name="\u2060\u3164")
        party = add_party(s, workspace, Party.MERCHANT, "\u200bCafé\x00 Lumière\udcff\ufeff")
        assert party.name == "Café Lumière"
