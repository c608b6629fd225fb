"""An operator's first steps, run as they type them: the installed `orders-bot` command on an
empty database, `db upgrade` and `db status`, and every entry point refusing a schema that is
not this version's (issue 17: 1, 2, 12, 13)."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from orders_core.db import Database
from tests.e2e.test_run_process import EXE, clean_env, free_port
from tests.support.databases import PostgresDatabase, require_postgres
from tests.support.slackbot import SIGNING_SECRET, TOKEN

SLACK = {
    "SLACK_BOT_TOKEN": TOKEN,
    "SLACK_APP_TOKEN": "xapp-1-test",
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    # Nothing listens there: an entry point that got as far as Slack would say so.
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
}


def orders_bot(
    *args: str, cwd: Path, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the installed command as an operator does."""
    return subprocess.run(
        [EXE, *args],
        env=clean_env(**env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it (a SQLite file not yet made, or a new
    PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'orders.db'}"
        return
    require_postgres()
    pg = PostgresDatabase()
    try:
        yield pg.url
    finally:
        pg.drop()


def tables(url: str) -> set[str]:
    """The tables in the database (none for a SQLite file that does not exist)."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return set()
    db = Database(url)
    try:
        return set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()


def test_db_upgrade_makes_the_schema_from_nothing(empty_url: str, tmp_path: Path) -> None:
    """`db status`, `db upgrade`, `db status`, `db upgrade` again (nothing to do)."""
    status = orders_bot("db", "status", cwd=tmp_path, DATABASE_URL=empty_url)
    assert status.returncode == 0, status.stderr
    assert "revision none" in status.stdout and "run `orders-bot db upgrade`" in status.stdout

    upgrade = orders_bot("db", "upgrade", cwd=tmp_path, DATABASE_URL=empty_url)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "now at revision" in upgrade.stdout and "(was empty)" in upgrade.stdout
    assert {"orders", "parties", "apscheduler_jobs", "slack_installations"} <= tables(empty_url)

    status = orders_bot("db", "status", "--json", cwd=tmp_path, DATABASE_URL=empty_url)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["up_to_date"] is True and data["current"] == data["head"]

    again = orders_bot("db", "upgrade", cwd=tmp_path, DATABASE_URL=empty_url)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout


ENTRY_POINTS = [
    ["run"],
    ["run", "--http", "--port", "0"],
    ["scheduler"],
    ["remind", "now"],
    ["workspace", "list"],
]


@pytest.mark.parametrize("args", ENTRY_POINTS, ids=" ".join)
def test_every_entry_point_refuses_an_unmigrated_database(
    empty_url: str, tmp_path: Path, args: list[str]
) -> None:
    """One line naming the revision found, the one needed and the command; exit 2; nothing made
    (not even APScheduler's table, which would break the migration afterwards)."""
    done = orders_bot(*args, cwd=tmp_path, DATABASE_URL=empty_url, **SLACK)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "no schema (never migrated)" in lines[0]
    assert "this version needs revision" in lines[0]
    assert "run `orders-bot db upgrade`" in lines[0]
    assert tables(empty_url) == set()
    upgrade = orders_bot("db", "upgrade", cwd=tmp_path, DATABASE_URL=empty_url)
    assert upgrade.returncode == 0, upgrade.stderr


def test_the_console_refuses_an_unmigrated_file(tmp_path: Path) -> None:
    """`orders-bot console` on a given SQLite file that was never migrated: exit 2, no file made."""
    path = tmp_path / "orders.db"
    script = tmp_path / "script.txt"
    script.write_text("/orders list\n")
    done = orders_bot(
        "console", "--script", str(script), cwd=tmp_path, DATABASE_URL=f"sqlite:///{path}"
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "run `orders-bot db upgrade`" in done.stderr
    assert not path.exists()


def test_a_schema_newer_than_the_code_is_refused(tmp_path: Path, sqlite_db: Database) -> None:
    """A database migrated by a newer version: the older code says so and changes nothing."""
    with sqlite_db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    sqlite_db.dispose()
    for args in (["run", "--http"], ["scheduler"], ["db", "upgrade"]):
        done = orders_bot(*args, cwd=tmp_path, DATABASE_URL=sqlite_db.url, **SLACK)
        assert done.returncode == 2, (args, done.stderr)
        assert "has revision 0099, newer than this version of orders-bot knows" in done.stderr
    assert sqlite_db.current_revision() == "0099"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DATABASE_URL": "postgress://bot@db/orders"}, "DATABASE_URL is invalid: should be"),
        ({"DATABASE_URL": "orders.db"}, "DATABASE_URL is invalid: should be"),
        (
            {"DATABASE_URL": "postgresql://bot@127.0.0.1:9/orders"},
            "cannot reach the database postgresql+psycopg://bot@127.0.0.1:9/orders",
        ),
    ],
)
def test_a_database_that_cannot_be_used_is_one_line(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    """A mistyped URL, or a server that does not answer: what failed and what to check."""
    for args in (["run", "--http"], ["scheduler"], ["merchant", "list"]):
        done = orders_bot(*args, cwd=tmp_path, **{**SLACK, **env})
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert says in done.stderr
        assert "Traceback" not in done.stderr


def test_slack_unreachable_at_start_is_one_line(tmp_path: Path, sqlite_db: Database) -> None:
    """The bot token is checked against Slack at start: no answer is one line, exit 2, in the
    log's own format."""
    sqlite_db.dispose()
    done = orders_bot(
        "run", "--http", cwd=tmp_path, DATABASE_URL=sqlite_db.url, LOG_FORMAT="json", **SLACK
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    entry = json.loads(lines[0])
    assert entry["level"] == "error"
    assert "cannot reach Slack at http://127.0.0.1:9/api/" in entry["message"]


@pytest.mark.parametrize("given_in", ["environment", ".env"])
def test_every_line_of_a_serving_process_is_json(
    tmp_path: Path, sqlite_db: Database, given_in: str
) -> None:
    """LOG_FORMAT=json, in the environment or in the .env file of the working directory (as
    every setting may be): start, listening, a request, the signal and the stop are each one
    JSON object (a log shipper reads them all)."""
    from bot.console.localslack import LocalSlack, Workspace
    from tests.e2e.test_run_process import start_http
    from tests.support.world import TEAM, build_world

    build_world(sqlite_db)
    sqlite_db.dispose()
    port = free_port()
    with LocalSlack(workspaces={TOKEN: Workspace(team_id=TEAM)}) as slack:
        if given_in == ".env":
            (tmp_path / ".env").write_text("LOG_FORMAT=json\n")
            process = start_http(tmp_path, sqlite_db, slack, port)
        else:
            process = start_http(tmp_path, sqlite_db, slack, port, LOG_FORMAT="json")
        assert process.stderr is not None
        first: list[str] = []
        try:
            while not first or "listening" not in first[-1]:  # blocks until the next line
                line = process.stderr.readline()
                assert line, "the process stopped before it listened"
                first.append(line)
        finally:
            process.send_signal(signal.SIGTERM)
            _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    lines = [*first, *rest.splitlines()]
    messages = [json.loads(line)["message"] for line in lines if line.strip()]
    assert any("Handling signal: term" in m for m in messages), messages
