"""`orders-bot remind …`: policies from the command line, and a sweep run at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.console.localslack import LocalSlack, Workspace
from orders_core.db import Database
from tests.support.slackbot import SIGNING_SECRET, TOKEN


@pytest.fixture
def cli(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[object, LocalSlack]]:
    """`orders-bot ARGS` on the test database, with a local Slack as its Slack."""
    with LocalSlack(workspaces={TOKEN: Workspace(team_id="T0DEMO")}) as slack:
        monkeypatch.setenv("DATABASE_URL", db.url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        monkeypatch.setenv("SLACK_API_URL", slack.base_url)
        monkeypatch.chdir(tmp_path)
        runner = CliRunner()

        def run(*args: str) -> tuple[int, str, str]:
            result = runner.invoke(app, list(args))
            if result.exception and not isinstance(result.exception, SystemExit):
                raise result.exception
            return result.exit_code, result.stdout, result.stderr

        yield run, slack


def test_add_list_and_send_now(cli: tuple[object, LocalSlack]) -> None:
    """The demo's parties get digests in their channels; a bad time zone is refused."""
    run, slack = cli
    assert run("seed", "--demo")[0] == 0  # type: ignore[operator]
    code, _, err = run(
        "remind", "add", "--as", "U0ANA", "--channel", "C0ACME", "--tz", "Mars/Olympus"
    )  # type: ignore[operator]
    assert code == 1 and "not an IANA time zone" in err
    code, out, _ = run(
        "remind",
        "add",
        "--as",
        "U0ANA",
        "--channel",
        "C0ACME",
        "--days",
        "mon-fri",
        "--times",
        "09:30,14:00",
        "--min-age",
        "1h",
        "--json",
    )  # type: ignore[operator]
    assert code == 0 and json.loads(out)["times"] == ["09:30", "14:00"]
    policies = json.loads(run("remind", "list", "--json")[1])  # type: ignore[operator]
    assert {p["channel_id"] for p in policies} == {"C0ACME", "C0PIXEL", "C0NIMBUS"}
    code, out, _ = run("remind", "now", "--json")  # type: ignore[operator]
    assert code == 0
    results = {r["policy_id"]: r["result"] for r in json.loads(out)}
    assert set(results.values()) <= {"queued", "empty"} and "queued" in results.values()
    posted = [
        c.args["channel"]
        for c in slack.calls("chat.postMessage")
        if c.ok and c.args.get("channel", "").startswith("C")
    ]
    assert "C0ACME" in posted and len(posted) == len(set(posted))
