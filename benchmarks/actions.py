"""Actions: what one Confirm costs outside this machine's CPU, counted (issue 19).

A workspace whose merchant has 2, 50 or 200 members, every one of whom has opened the app's
Home tab (as today's main records it: a `home_viewers` row, opened just before; ours no longer
reads them), and the provider's member too; each waiting order has its card in the merchant's channel and in the provider's.
One member confirms an order from the merchant's card. Counted, for ours and today's main:

- the Slack calls that Confirm makes, by method, at the fake Slack (ack to last call);
- the database statements it sends, from the click's dispatch to its last Slack call
  (`confirmer.py`, in a process of the app's own code, counts them as
  tests/e2e/test_round_trips.py does).

Each count runs on a fresh copy of the app's dataset, after one warm-up Confirm on another
order. Ours runs with its budget of Slack's rate limits on (the default: its statements are
part of a Confirm's cost); the fake Slack enforces no limits: what is counted is what an action
asks of Slack, not when Slack lets it through (the tiers suite).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import MetaData, Table, insert, text

from benchmarks import apps
from benchmarks.clicks import TEAM, prepare_clicks, record_cards
from benchmarks.datasets import DatabaseKind, clicks_spec, merchant_user, provider_user
from benchmarks.fakeslack import TOKEN, FakeSlack
from benchmarks.report import Row
from orders_core.db import Database

CONFIRMER = Path(__file__).resolve().with_name("confirmer.py")


@dataclass(frozen=True)
class ActionPlan:
    """How many merchant members have opened Home in each count."""

    members: tuple[int, ...] = (2, 50, 200)
    orders: int = 4
    """Waiting orders in the dataset (one warm-up Confirm, one counted)."""


def run(
    kind: DatabaseKind,
    plan: ActionPlan,
    slack: FakeSlack,
    log_dir: Path,
    log: Callable[[str], None],
    under_test: Sequence[apps.AppUnderTest] = (apps.OURS,),
) -> list[Row]:
    """One counted Confirm per app and team size; rows for Slack calls and statements."""
    spec = clicks_spec(1, plan.orders)
    built = {app.name: kind.prepare(spec, schema=app.schema, log=log) for app in under_test}
    counts: dict[str, dict[int, dict[str, Any]]] = {app.name: {} for app in under_test}
    for members in plan.members:
        # Fresh cards for each count, drawn from our dataset (it is only read).
        clicks, cards = prepare_clicks(Database(built["ours"].url), slack, provider_cards=True)
        for app in under_test:
            log(f"actions on {kind.name}: {app.name}, one Confirm, {members} merchant members")
            url = kind.working_copy(built[app.name], f"actions-{app.name}")
            try:
                record_cards(url, cards)
                open_homes(url, team_members(url, members))
                bodies = [app.click(c.body) for c in clicks[:2]]
                counts[app.name][members] = _confirm(app, url, slack, bodies, log_dir)
            finally:
                kind.drop_copy(url)
    return _rows(kind.name, plan, counts)


def member_ids(count: int) -> list[str]:
    """The user ids of the first merchant's `count` members: the dataset's one, then others."""
    first = merchant_user(TEAM)
    return [first] + [f"{first}X{i:03d}" for i in range(1, count)]


def team_members(url: str, count: int) -> list[str]:
    """Give the workspace's first merchant `count` members (the dataset has one); their ids."""
    users = member_ids(count)
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            members = Table("members", MetaData(), autoload_with=conn)
            workspace_id, party_id = _merchant(conn)
            now = datetime.now(UTC).replace(tzinfo=None)
            rows = [
                {
                    "workspace_id": workspace_id,
                    "party_id": party_id,
                    "user_id": u,
                    "created_at": now,
                }
                for u in users[1:]
            ]
            if rows:
                conn.execute(insert(members), rows)
    finally:
        db.dispose()
    return users


def open_homes(url: str, users: Sequence[str]) -> None:
    """Record that these users, and the provider's member, opened the app's Home tab just now,
    as today's main records it (a `home_viewers` row each; ours keeps the table, unread)."""
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            viewers = Table("home_viewers", MetaData(), autoload_with=conn)
            workspace_id, _ = _merchant(conn)
            now = datetime.now(UTC).replace(tzinfo=None)
            conn.execute(
                insert(viewers),
                [
                    {"workspace_id": workspace_id, "user_id": u, "opened_at": now}
                    for u in [*users, provider_user(TEAM)]
                ],
            )
    finally:
        db.dispose()


def _merchant(conn: Any) -> tuple[int, int]:
    """The workspace's id and its first merchant's."""
    workspace_id = conn.scalar(
        text("SELECT id FROM workspaces WHERE team_id = :team"), {"team": TEAM}
    )
    party_id = conn.scalar(
        text("SELECT min(id) FROM parties WHERE workspace_id = :w AND kind = 'merchant'"),
        {"w": workspace_id},
    )
    return int(workspace_id), int(party_id)


def _confirm(
    app: apps.AppUnderTest, url: str, slack: FakeSlack, bodies: list[str], log_dir: Path
) -> dict[str, Any]:
    """Warm up on the first click, then count the second: its statements (reported by the
    confirmer) and its Slack calls (at the fake Slack, from a mark set just before it)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = apps.environment(app.source)  # ours' budget of Slack's limits on: its statements count
    argv = [sys.executable, str(CONFIRMER), url, slack.base_url, TOKEN, apps.SIGNING_SECRET]
    with (log_dir / f"actions-{app.name}.log").open("a") as log:
        child = subprocess.Popen(
            argv,
            env=env,
            cwd=log_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            _expect(child, "ready", app, log_dir)
            _say(child, {"warmup": bodies[:1], "click": bodies[1]})
            _expect(child, "warmed", app, log_dir)
            mark = slack.mark()
            _say(child, {"go": True})
            report = _line(child)
            if not report.get("ok"):
                raise RuntimeError(f"the Confirm of {app.name} failed: {report.get('error')}")
            report["calls"] = slack.calls_since(mark)
            report["slack_calls"] = sum(report["calls"].values())
            return report
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(10)


def _say(child: subprocess.Popen[str], message: dict[str, Any]) -> None:
    stdin: IO[str] | None = child.stdin
    assert stdin is not None
    stdin.write(json.dumps(message) + "\n")
    stdin.flush()


def _expect(child: subprocess.Popen[str], word: str, app: apps.AppUnderTest, log_dir: Path) -> None:
    said = _line(child)
    if not said.get(word):
        raise RuntimeError(f"the confirmer of {app.name} said {said}, not {word}: see {log_dir}")


def _line(child: subprocess.Popen[str]) -> dict[str, Any]:
    """The child's next line of JSON (anything else it prints is skipped)."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("{"):
            report: dict[str, Any] = json.loads(line)
            return report
    return {}


def _rows(
    db_name: str, plan: ActionPlan, counts: dict[str, dict[int, dict[str, Any]]]
) -> list[Row]:
    """Slack calls at each team size (the same constant for all, at most 4), and statements per
    Confirm at the smallest (at most 10); main's figures beside."""
    ours = counts["ours"]
    main = counts.get("main")
    calls = [ours[n]["slack_calls"] for n in plan.members]
    constant = len(set(calls)) == 1 and max(calls) <= 4
    sizes = ", ".join(str(n) for n in plan.members)
    rows = []
    for n in plan.members:
        value = float(ours[n]["slack_calls"])
        theirs = float(main[n]["slack_calls"]) if main is not None else None
        rows.append(
            Row(
                key=f"actions.slack_calls.{n}",
                what=f"Slack calls per Confirm, {n} merchant members with Home opened",
                db=db_name,
                value=value,
                unit="calls",
                main=theirs,
                main_ratio=None if theirs is None else value / max(theirs, 1e-9),
                target=f"the same at {sizes} members, ≤ 4",
                passed=constant,
                details={
                    "ours": ours[n]["calls"],
                    **({"main": main[n]["calls"]} if main is not None else {}),
                },
            )
        )
    fewest = plan.members[0]
    value = float(ours[fewest]["statements"])
    theirs = float(main[fewest]["statements"]) if main is not None else None

    def statements(of: dict[int, dict[str, Any]]) -> dict[str, Any]:
        first = of[fewest]
        return {
            "ack": first["ack"],
            "delivery": first["delivery"],
            # SQLite's BEGIN IMMEDIATE is sent by the app (PostgreSQL's BEGIN by the driver).
            "without_begin": sum(
                1 for s in first["sent"] if not s.startswith("--") and " BEGIN" not in s[:20]
            ),
            "sent": first["sent"],
            "by_members": {n: of[n]["statements"] for n in plan.members},
        }

    rows.append(
        Row(
            key="actions.statements",
            what=f"database statements per Confirm, click to last Slack call ({fewest} members)",
            db=db_name,
            value=value,
            unit="statements",
            main=theirs,
            main_ratio=None if theirs is None else value / max(theirs, 1e-9),
            target="≤ 10",
            passed=value <= 10,
            details={
                "ours": statements(ours),
                **({"main": statements(main)} if main is not None else {}),
            },
        )
    )
    return rows
