"""`orders-bot`: onboarding, fixtures and listings, as an operator types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert found[0]["id"] == first["id"]
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
    done = subprocess.run(
        [str(exe), "workspace", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and json.loads(done.stdout) == []
