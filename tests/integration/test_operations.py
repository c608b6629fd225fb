"""What an operator relies on: export, doctor, settings from .env, and migrations that keep data."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.types import JSON

from bot.console.localslack import LocalSlack, Workspace
from orders_core.db import Database
from orders_core.export import write_csv, write_json
from orders_core.lifecycle import Action, OrderStatus
from orders_core.orders import AttachedFile
from tests.support.databases import PostgresDatabase, require_postgres
from tests.support.world import World

EXE = str(Path(sys.executable).with_name("orders-bot"))


def test_export_writes_every_order_with_its_timeline(world: World) -> None:
    """CSV: a row per timeline entry; JSON: each order with its timeline and files."""
    done = world.order_in(OrderStatus.UNDER_APPROVAL)
    world.act(
        "U0ANA",
        done,
        Action.REJECT_APPROVAL,
        reason='Fix "stamps", please',
        files=(AttachedFile("F1", "shot.png", "image/png", 10, "https://x/f"),),
    )
    world.order_in(OrderStatus.NEW)
    with world.db.read() as s:
        text = io.StringIO()
        assert write_csv(s, text) == 2
        rows = list(csv.DictReader(io.StringIO(text.getvalue())))
        as_json = io.StringIO()
        assert write_json(s, as_json) == 2
    assert [(r["number"], r["event_action"]) for r in rows] == [
        (done, "place"), (done, "accept"), (done, "confirm"), (done, "submit_for_approval"), (done, "reject_approval"), ("SO-000002", "place"),
    ]  # fmt: skip
    assert (
        rows[4]["event_reason"] == 'Fix "stamps", please'
        and json.loads(rows[4]["event_files"])[0]["name"] == "shot.png"
    )
    orders = json.loads(as_json.getvalue())
    assert [o["number"] for o in orders] == [done, "SO-000002"]
    assert (
        orders[0]["status"] == "in_development"
        and orders[0]["timeline"][-1]["files"][0]["permalink"] == "https://x/f"
    )


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run orders-bot with exactly this environment."""
    import os

    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "LOG_"))
    }
    return subprocess.run(
        [EXE, *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_doctor_says_what_is_right_and_wrong(tmp_path: Path, sqlite_db: Database) -> None:
    """Settings from .env, the database, the migrations, auth.test: each on a line; exit 1 on trouble."""
    with LocalSlack(
        workspaces={"xoxb-good": Workspace(team_id="T0DOC", team_name="Doc")}, strict_tokens=True
    ) as slack:
        (tmp_path / ".env").write_text(
            f"SLACK_BOT_TOKEN=xoxb-good\nSLACK_SIGNING_SECRET={'ab' * 16}\nSLACK_API_URL={slack.base_url}\nDATABASE_URL={sqlite_db.url}\n"
        )
        good = run(["doctor"], {}, tmp_path)
        assert good.returncode == 0, good.stdout + good.stderr
        assert "ok   slack bot token: auth.test ok: team Doc (T0DOC)" in good.stdout
        assert "ok   migrations" in good.stdout
        bad = run(["doctor"], {"SLACK_BOT_TOKEN": "xoxb-revoked"}, tmp_path)
        assert bad.returncode == 1
        assert "FAIL slack bot token: auth.test failed: invalid_auth" in bad.stdout
        assert "xoxb-revoked" not in bad.stdout + bad.stderr
    old = tmp_path / "old.db"
    Database(f"sqlite:///{old}").upgrade("0003")
    stale = run(
        ["doctor"],
        {
            "DATABASE_URL": f"sqlite:///{old}",
            "SLACK_BOT_TOKEN": "xoxb-x",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
        },
        tmp_path,
    )
    assert (
        stale.returncode == 1
        and "FAIL migrations: at 0003" in stale.stdout
        and "orders-bot db upgrade" in stale.stdout
    )


# -- migrations keep data ------------------------------------------------------------------------


SEARCH_INDEX = "orders_search"
"""SQLite's FTS5 table and its shadow tables (migration 0011): written by triggers on orders."""


def sample_value(column: Any, n: int) -> Any:
    """A plausible value for a column, by its type."""
    t = column.type
    if isinstance(t, Boolean):
        return False
    if isinstance(t, DateTime | Date):
        return datetime(2026, 1, 1, 12, n % 60)
    if isinstance(t, Integer | Numeric | Float):
        return n  # distinct per step: numbers and sequences are unique per parent
    if isinstance(t, LargeBinary):
        return b"x"
    if isinstance(t, JSON):
        return []
    if isinstance(t, String | Text):
        length = getattr(t, "length", None) or 20
        return f"{column.name[:6]}{n}"[: max(1, min(length, 20))]
    return None


def fill_every_table(db: Database, marker: int) -> dict[str, int]:
    """One row in every table that exists now (reflected), foreign keys pointing at row 1."""
    meta = MetaData()
    meta.reflect(db.engine)
    with db.engine.begin() as conn:
        for table in meta.sorted_tables:
            if table.name == "alembic_version" or table.name.startswith(SEARCH_INDEX):
                continue
            row = {}
            for column in table.columns:
                if (
                    column.primary_key
                    and isinstance(column.type, Integer)
                    and not column.foreign_keys
                ):
                    continue
                row[column.name] = 1 if column.foreign_keys else sample_value(column, marker)
            if table.name == "posted_messages":
                row["ts"] = f"17000000{marker}.0001"
            if table.name == "order_texts":  # one per order: the order this step just added
                row["order_id"] = conn.execute(
                    select(func.max(meta.tables["orders"].c.id))
                ).scalar_one()
            if table.name == "posted_message_orders":  # the message this step just added
                newest = conn.execute(
                    select(func.max(meta.tables["posted_messages"].c.id))
                ).scalar_one()
                row["message_id"], row["order_id"] = newest, 1
            if table.name in ("reminder_runs", "escalations") or table.name.startswith(
                "order_events"
            ):
                pass
            conn.execute(table.insert().values(**row))
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in meta.sorted_tables
        }


def row_counts(db: Database) -> dict[str, int]:
    """Rows per table, read from the database itself."""
    meta = MetaData()
    meta.reflect(db.engine)
    with db.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in meta.sorted_tables
            if t.name != "alembic_version" and not t.name.startswith(SEARCH_INDEX)
        }


def check_migrations_keep_data(db: Database) -> None:
    """Upgrade one revision at a time, adding a row to every table at each step; nothing is lost."""
    revisions = [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "0010",
        "0011",
        "0012",
        "0013",
    ]
    assert db.head_revision() == revisions[-1], "add the new revision to this test"
    counts: dict[str, int] = {}
    for step, revision in enumerate(revisions, start=1):
        db.upgrade(revision)
        assert {
            k: v for k, v in row_counts(db).items() if k in counts
        } == counts  # the upgrade kept every row
        fill_every_table(db, step)
        counts = row_counts(db)
    assert all(n >= 1 for n in counts.values()), counts
    assert set(counts) >= {
        "orders",
        "order_events",
        "outbox",
        "reminder_policies",
        "slack_installations",
        "apscheduler_jobs",
    }


def test_migrations_keep_data_on_sqlite(tmp_path: Path) -> None:
    """SQLite (its batch migrations copy tables: the rows must come along)."""
    db = Database(f"sqlite:///{tmp_path / 'populated.db'}")
    try:
        check_migrations_keep_data(db)
    finally:
        db.dispose()


@pytest.mark.postgres
def test_migrations_keep_data_on_postgres() -> None:
    """PostgreSQL."""
    require_postgres()
    pg = PostgresDatabase()
    db = Database(pg.url)
    try:
        check_migrations_keep_data(db)
    finally:
        db.dispose()
        pg.drop()


def test_nothing_is_hard_deleted() -> None:
    """No DELETE statement anywhere in the bot or the core (slack_sdk's token store aside)."""
    import re

    import bot
    import orders_core

    pattern = re.compile(r"\bdelete\(|\.delete\(\)|DELETE FROM|session\.delete", re.IGNORECASE)
    offenders = []
    for package in (bot, orders_core):
        for path in Path(package.__file__).parent.rglob("*.py"):
            if "migrations" in path.parts or "localslack" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if pattern.search(line):
                    offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []
    assert UTC


@pytest.mark.postgres
def test_doctor_prints_the_connections_each_process_opens(tmp_path: Path, pg_db: Database) -> None:
    """On PostgreSQL, doctor says how many connections a process of these settings may open."""
    done = run(
        ["doctor"],
        {
            "DATABASE_URL": pg_db.url,
            "SLACK_BOT_TOKEN": "xoxb-x",
            "OUTBOX_THREADS": "4",
            "HTTP_THREADS": "4",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
        },
        tmp_path,
    )
    assert "ok   connections: each bot process opens up to 20 (a pool of 10" in done.stdout


def test_doctor_says_what_the_outbox_holds_back(tmp_path: Path, sqlite_db: Database) -> None:
    """Notifications held by a refused token, and ones set aside, are named with what to do."""
    from datetime import UTC, datetime

    from orders_core.models import OutboxItem
    from orders_core.onboarding import add_workspace

    now = datetime.now(UTC)
    with sqlite_db.transaction() as s:
        workspace = add_workspace(s, "T0HELD")
        for status, failure in (("pending", "auth"), ("pending", "auth"), ("failed", "refused")):
            s.add(
                OutboxItem(
                    workspace_id=workspace.id, kind="post_card", lane="chan:C1", payload={},
                    status=status, attempts=5, next_attempt_at=now, created_at=now,
                    last_failure=failure, done_at=now if status == "failed" else None,
                )
            )  # fmt: skip
    done = run(
        ["doctor"],
        {
            "DATABASE_URL": sqlite_db.url,
            "SLACK_BOT_TOKEN": "xoxb-x",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
        },
        tmp_path,
    )
    assert done.returncode == 1
    assert "FAIL outbox T0HELD: 2 notifications held: Slack refuses the workspace's token" in (
        done.stdout
    )
    assert "FAIL outbox: 2 notifications waiting; 1 set aside in the last 7 days" in done.stdout
