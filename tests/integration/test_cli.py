"""`orders-bot`: onboarding, fixtures and listings, as an operator types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from orders_core.db import Database


@pytest.fixture
def cli(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run `orders-bot ARGS` against the test database; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


def test_onboarding_from_nothing(cli) -> None:  # type: ignore[no-untyped-def]
    """Workspace, merchant, provider, members, a service; listed back as JSON."""
    assert (
        cli("workspace", "add", "T0NEW", "--name", "New Co", "--time-zone", "Europe/Berlin")[0] == 0
    )
    assert cli("merchant", "add", "Acme Coffee", "--channel", "C0ACME")[0] == 0
    assert cli("provider", "add", "Blue Pixel Studio", "--channel", "C0PIX")[0] == 0
    assert cli("member", "add", "U0ANA", "U0BEN", "--party", "acme coffee")[0] == 0
    assert cli("member", "add", "U0PIA", "--party", "Blue Pixel Studio")[0] == 0
    code, _, _ = cli(
        "service",
        "add",
        "Loyalty",
        "--provider",
        "Blue Pixel Studio",
        "--status",
        "online",
        "--app",
        "Alipay+",
        "--app",
        "GCash",
    )
    assert code == 0
    code, out, _ = cli("member", "list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "kind": "merchant",
            "name": "Acme Coffee",
            "channel": "C0ACME",
            "members": ["U0ANA", "U0BEN"],
        },
        {"kind": "provider", "name": "Blue Pixel Studio", "channel": "C0PIX", "members": ["U0PIA"]},
    ]
    services = json.loads(cli("service", "list", "--json")[1])
    assert [(s["name"], s["status"], s["apps"]) for s in services] == [
        ("Loyalty", "online", ["Alipay+", "GCash"])
    ]
    assert json.loads(cli("workspace", "list", "--json")[1])[0]["time_zone"] == "Europe/Berlin"
    # again: nothing duplicated
    cli("member", "add", "U0ANA", "--party", "Acme Coffee")
    assert len(json.loads(cli("member", "list", "--json")[1])[0]["members"]) == 2


def test_seed_then_list_search_show_and_act(cli) -> None:  # type: ignore[no-untyped-def]
    """The demo fixture, seen through a merchant member's eyes."""
    code, out, _ = cli("seed", "--demo", "--json")
    assert code == 0 and len(json.loads(out)["orders_created"]) >= 12
    page = json.loads(
        cli("orders", "list", "--as", "U0ANA", "pending", "confirmation", "--json")[1]
    )
    assert {o["status"] for o in page["orders"]} == {"pending_confirmation"}
    assert page["counts"]["pending_confirmation"] == len(page["orders"]) >= 2
    first = page["orders"][0]
    found = json.loads(cli("orders", "search", str(first["number"]), "--as", "U0BEN", "--json")[1])
    assert found["orders"][0]["id"] == first["id"]
    code, out, _ = cli("orders", "act", str(first["number"]), "confirm", "--as", "U0ANA")
    assert code == 0 and "In Development" in out
    shown = json.loads(cli("orders", "show", str(first["number"]), "--as", "U0BEN", "--json")[1])
    assert shown["order"]["status"] == "in_development"
    assert shown["timeline"][-1]["action"] == "confirm" and shown["timeline"][-1]["source"] == "cli"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["orders", "list", "--as", "U0ANA", "shipped"], "unknown status 'shipped'"),
        (["orders", "list", "--as", "U0NOBODY"], "U0NOBODY is not a member"),
        (["orders", "act", "SO-000999", "confirm", "--as", "U0ANA"], "There is no order SO-000999"),
        (
            ["orders", "act", "1", "approve", "--as", "U0PIA"],
            "Only Acme Coffee (the merchant) can approve",
        ),
        (
            ["member", "add", "U0PIA", "--party", "Acme Coffee"],
            "already a member of Blue Pixel Studio",
        ),
        (
            ["service", "set-status", "Loyalty mini program", "Live"],
            "'Live' is not a service status",
        ),
        (["workspace", "add", "T0X", "--time-zone", "Mars/Olympus"], "not an IANA time zone"),
        (["seed", "/nowhere.yml"], "/nowhere.yml: cannot read it"),
        (["orders", "list", "--as", "U0ANA", "--workspace", "T0NOPE"], "T0NOPE) is not onboarded"),
    ],
)
def test_mistakes_get_one_line_and_exit_1(cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    """No stack trace: what was wrong and what would work, on stderr."""
    cli("seed", "--demo")
    code, out, err = cli(*args)
    assert code == 1
    assert message in " ".join(err.split())
    assert "Traceback" not in err + out


def test_the_console_script_is_installed(tmp_path: Path) -> None:
    """`orders-bot` runs as a program, with help and a clean error for a bad database URL."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    exe = Path(sys.executable).with_name("orders-bot")
    done = subprocess.run(
        [str(exe), "--help"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0 and "seed" in done.stdout
    upgrade = subprocess.run(
        [str(exe), "db", "upgrade"], capture_output=True, text=True, env=env, timeout=60
    )
    assert upgrade.returncode == 0, upgrade.stderr
    done = subprocess.run(
        [str(exe), "workspace", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and json.loads(done.stdout) == []


NAMES = [
    ("provider", "Łódź Bar", "ŁÓDŹ BAR"),  # Poland
    ("merchant", "Đà Nẵng Café", "đà nẵng CAFÉ"),  # Vietnam
    ("provider", "Über Loyalty", "über loyalty"),  # Germany
    ("merchant", "서울 커피", "서울 커피"),  # Korea
    ("merchant", "ร้านกาแฟ", "ร้านกาแฟ"),  # Thailand
    ("merchant", "Straße Shop", "STRASSE SHOP"),  # ß folds to ss
]


@pytest.mark.parametrize(("kind", "name", "typed"), NAMES, ids=[n for _, n, _ in NAMES])
def test_names_in_any_script_are_found_in_any_case(cli, kind: str, name: str, typed: str) -> None:  # type: ignore[no-untyped-def]
    """A party added with one spelling is found with another; adding it again is one line."""
    assert cli("workspace", "add", "T0INTL")[0] == 0
    code, _, err = cli(kind, "add", name, "--channel", "C0SHOP")
    assert code == 0, err
    code, out, err = cli("member", "add", "U0ALA", f"--{kind}", typed, "--json")
    assert code == 0, err
    assert json.loads(out)["party"] == name
    code, out, err = cli(kind, "add", typed, "--channel", "C0SHOP2")  # the same party, new channel
    assert (code, err) == (0, "")
    listed = json.loads(cli(f"{kind}", "list", "--json")[1])
    assert [(p["name"], p["channel"]) for p in listed] == [(name, "C0SHOP2")]


def test_a_merchant_and_a_provider_of_one_name_are_told_apart(cli) -> None:  # type: ignore[no-untyped-def]
    """--merchant and --provider say which; --party alone says how to choose."""
    cli("workspace", "add", "T0TWIN")
    cli("merchant", "add", "Twin Co")
    cli("provider", "add", "Twin Co")
    code, _, err = cli("member", "add", "U0ANA", "--party", "twin co")
    assert code == 1 and "say which one (--merchant NAME or --provider NAME" in " ".join(
        err.split()
    )
    assert cli("member", "add", "U0ANA", "--merchant", "twin co")[0] == 0
    assert cli("member", "add", "U0PIA", "--provider", "TWIN CO")[0] == 0
    members = {p["kind"]: p["members"] for p in json.loads(cli("member", "list", "--json")[1])}
    assert members == {"merchant": ["U0ANA"], "provider": ["U0PIA"]}
    code, _, err = cli("member", "add", "U0BEN", "--merchant", "Twin Co", "--provider", "Twin Co")
    assert code == 1 and "name the party once" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["member", "add", "not-an-id", "--party", "Acme Coffee"],
            "'not-an-id' is not a Slack user id",
        ),
        (
            ["merchant", "add", "Acme Coffee", "--channel", "#acme-orders"],
            "'#acme-orders' is not a Slack channel id: Slack expects C or G or D",
        ),
        (["workspace", "add", "t0acme"], "'t0acme' is not a Slack team id"),
        (
            ["workspace", "add", "T0ACME", "--enterprise-id", "e0x"],
            "'e0x' is not a Slack Enterprise Grid id",
        ),
        (["orders", "list", "--as", "u0ana"], "--as: 'u0ana' is not a Slack user id"),
        (["merchant", "list", "--workspace", "demo"], "--workspace: 'demo' is not a Slack team id"),
        (
            ["remind", "add", "--as", "U0ANA", "--channel", "acme-orders"],
            "'acme-orders' is not a Slack channel id",
        ),
    ],
)
def test_ids_that_are_not_slack_ids_are_refused(cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    """Which id Slack expects and where to find it; nothing is written."""
    cli("seed", "--demo")
    before = cli("member", "list", "--json")[1], cli("workspace", "list", "--json")[1]
    code, out, err = cli(*args)
    assert code == 1, (out, err)
    assert message in " ".join(err.split())
    assert "(find it in" in " ".join(err.split())
    assert (cli("member", "list", "--json")[1], cli("workspace", "list", "--json")[1]) == before


def test_the_same_reminder_twice_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    """Same party, channel, days, times and time zone: said, and nothing changes."""
    cli("seed", "--demo")
    args = ["remind", "add", "--as", "U0ANA", "--channel", "C0ACME", "--days", "mon-fri",
            "--times", "11:15", "--tz", "Asia/Singapore"]  # fmt: skip
    before = len(json.loads(cli("remind", "list", "--json")[1]))
    assert cli(*args)[0] == 0
    code, _, err = cli(*[*args[:-2], "--tz", "Asia/Singapore", "--min-age", "2h"])
    assert code == 1
    assert "already posts here Weekdays at 11:15 (Asia/Singapore)" in " ".join(err.split())
    assert len(json.loads(cli("remind", "list", "--json")[1])) == before + 1
    # Another time in the same channel is another reminder.
    assert cli(*[*args[:6], "--days", "mon-fri", "--times", "14:00"])[0] == 0


def test_reject_means_the_reject_the_status_allows(cli) -> None:  # type: ignore[no-untyped-def]
    """`reject` on an Under Approval order rejects the approval, as the Slack button does."""
    cli("seed", "--demo")
    page = json.loads(cli("orders", "list", "--as", "U0ANA", "under", "approval", "--json")[1])
    number = page["orders"][0]["number"]
    code, out, err = cli(
        "orders", "act", str(number), "reject", "--as", "U0ANA", "--reason", "Fix it"
    )
    assert code == 0, err
    assert "rejected: it is now In Development" in out
    shown = json.loads(cli("orders", "show", str(number), "--as", "U0ANA", "--json")[1])
    assert shown["timeline"][-1]["action"] == "reject_approval"
    code, _, err = cli("orders", "act", str(number), "ship", "--as", "U0ANA")
    assert code == 1 and "unknown action 'ship'" in err


def _every_command(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in getattr(group, "commands", {}).items():
        yield (*path, name), command
        yield from _every_command(command, (*path, name))  # a group's own commands


def test_every_command_and_option_says_what_it_does() -> None:
    """-h works everywhere, flags take no value in the help, and nothing is left undescribed."""
    import typer.main

    runner = CliRunner()
    root = typer.main.get_command(app)
    assert runner.invoke(app, ["--version"]).stdout.startswith("orders-bot ")
    for path, command in _every_command(root):
        assert command.help, f"orders-bot {' '.join(path)} has no description"
        for param in command.params:
            if param.name != "help":
                assert getattr(param, "help", None), f"{' '.join(path)} {param.name}: no help"
        shown = runner.invoke(app, [*path, "-h"])
        assert shown.exit_code == 0, shown.output
        assert "<bool>" not in shown.stdout and "--json <" not in shown.stdout, shown.stdout


def test_the_command_line_suggests_command_lines(cli) -> None:  # type: ignore[no-untyped-def]
    """An order not found from the CLI points to the CLI's own commands, for the same member."""
    cli("seed", "--demo")
    code, _, err = cli("orders", "show", "SO-000999", "--as", "U0BEN")
    said = " ".join(err.split())
    assert code == 1
    assert "Try `orders-bot orders search SO-000999 --as U0BEN`" in said
    assert "`orders-bot orders list --as U0BEN`" in said
    assert "/orders" not in said
