"""Faults the database gives a running bot: PostgreSQL dropping its connections, a write lock
held by someone else, a database that can no longer be written. Readiness means "can write"."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.console.localslack import LocalSlack, SlackSender, Workspace
from bot.ui.orders import ButtonValue
from orders_core.db import Database
from orders_core.lifecycle import Action, OrderStatus
from orders_core.models import OrderEvent
from tests.e2e.test_run_process import clean_env, free_port
from tests.support.slackbot import SIGNING_SECRET, TOKEN, running_bot
from tests.support.world import TEAM, World

CLICKS = 30
EXE = str(Path(sys.executable).with_name("orders-bot"))


def libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def drop_other_connections(db: Database) -> int:
    """Terminate every other session on the database (as a server restart or a failover would
    drop them); how many there were."""
    with psycopg.connect(libpq(db.url), autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(killed[0]) if killed else 0


def readyz(url: str, timeout: float = 15.0, path: str = "/readyz") -> tuple[int, str, float]:
    """GET /readyz of the bot at `url`: status, body, and how long the answer took."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url + path, timeout=timeout) as answer:
            status, body = answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            status, body = err.code, err.read().decode()
    return status, body, time.monotonic() - started


@pytest.mark.postgres
def test_clicks_survive_postgresql_dropping_the_bots_connections(world_pg: World) -> None:
    """Every pooled connection is dropped under the bot: the next clicks all go through (each
    connection is pinged before use and replaced), none is answered "Something went wrong"."""
    world = world_pg
    numbers = [int(world.order_in(OrderStatus.PENDING_CONFIRMATION)[3:]) for _ in range(CLICKS)]
    with running_bot(world.db) as bot:
        # Fill the pool: a few clicks' worth of connections, checked in and idle.
        warm = [bot.ask("U0ANA", "list") for _ in range(4)]
        assert all("SO-" in answer.text for answer in warm)
        assert drop_other_connections(world.db) > 0
        urls: list[str] = []
        lock = threading.Lock()

        def click(chunk: list[int]) -> None:
            for n in chunk:
                url = bot.slack.new_response_url(channel="C0ACME", user="U0ANA", team_id=TEAM)
                response = bot.sender.block_action(
                    team_id=TEAM, user_id="U0ANA", action_id="order:confirm", text="Confirm",
                    value=ButtonValue(n, 2, {"k": "detail"}).encode(),
                    channel_id="C0ACME", response_url=url, is_ephemeral=True, message_ts="1.1",
                )  # fmt: skip
                assert response.status == 200
                with lock:
                    urls.append(url)

        clickers = [threading.Thread(target=click, args=(numbers[i::6],)) for i in range(6)]
        for t in clickers:
            t.start()
        for t in clickers:
            t.join()
        bot.settle(60)
        answers = [json.dumps(bot.slack.response_messages(url)) for url in urls]
    oops = [a for a in answers if "Something went wrong" in a]
    assert not oops, f"{len(oops)} of {CLICKS} clicks failed"
    with world.db.read() as s:
        confirmed = s.scalar(
            select(func.count()).select_from(OrderEvent).where(OrderEvent.action == Action.CONFIRM)
        )
    assert confirmed == CLICKS
    assert all("In Development" in a for a in answers)


@contextmanager
def write_lock_held(db: Database) -> Iterator[None]:
    """Another connection holds what a write needs: SQLite's write lock (a long transaction,
    another process), PostgreSQL's lock on the schema's version table (`LOCK TABLE`)."""
    if db.is_sqlite:
        path = make_url(db.url).database or ""
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("ROLLBACK")
    else:
        with psycopg.connect(libpq(db.url)) as conn:
            conn.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            yield
            conn.rollback()


def test_readyz_answers_within_a_second_while_another_holds_the_write_lock(db: Database) -> None:
    """503 with the reason, promptly (it waited for SQLite's 30 s busy timeout, or for ever on
    PostgreSQL), and ready again once the lock is released."""
    with running_bot(db) as bot:
        assert readyz(bot.server.url)[:2] == (200, "ok")
        with write_lock_held(db):
            status, body, took = readyz(bot.server.url)
        assert status == 503, body
        assert body.startswith("database cannot be written: "), body
        assert took < 3.0  # "within a second", with room for a loaded machine
        assert readyz(bot.server.url)[:2] == (200, "ok")


@pytest.mark.postgres
def test_a_migration_in_progress_leaves_postgresql_instances_ready(world_pg: World) -> None:
    """`orders-bot db upgrade` holds the version row until it commits: the probe writes no row,
    so it waits for none, and instances stay ready while a migration runs beside them."""
    with running_bot(world_pg.db) as bot, psycopg.connect(libpq(world_pg.db.url)) as migration:
        migration.execute("UPDATE alembic_version SET version_num = version_num")
        status, body, took = readyz(bot.server.url)
        migration.rollback()
    assert (status, body) == (200, "ok") and took < 3.0


DROP_ROOT_FILE_ACCESS = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.prctl(24, capability, 0, 0, 0):  # PR_CAPBSET_DROP
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
os.execv(sys.argv[1], sys.argv[1:])
"""
"""Runs a command as root would run without the right to ignore a file's mode (tests run as
root in containers: a read-only file would not stop the bot otherwise)."""


@contextmanager
def read_only(db: Database) -> Iterator[None]:
    """The database takes no writes: the SQLite file made read-only, or PostgreSQL's database
    read-only for new sessions (as a standby is, or the old primary after a failover)."""
    if db.is_sqlite:
        path = Path(make_url(db.url).database or "")
        path.chmod(0o444)
        try:
            yield
        finally:
            # SQLite made its -wal and -shm with the file's mode: put right as an operator would.
            for made in path.parent.glob(path.name + "*"):
                made.chmod(0o644)
        return
    name = make_url(db.url).database
    with psycopg.connect(libpq(db.url), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        try:
            yield
        finally:
            conn.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')


def test_a_bot_started_on_a_database_it_cannot_write_is_not_ready_until_it_can(
    tmp_path: Path, world: World
) -> None:
    """`orders-bot run --http` as a real process, started while its database is read-only:
    /readyz answers 503 naming why (it answered 200 while every write failed); once the
    database can be written, /readyz answers 200 and clicks go through without a restart (the
    read-only connections it opened are replaced after the first write they refuse)."""
    db = world.db
    numbers = [int(world.order_in(OrderStatus.PENDING_CONFIRMATION)[3:]) for _ in range(3)]
    db.dispose()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [EXE, "run", "--http"]
    if os.geteuid() == 0:
        command = [sys.executable, "-c", DROP_ROOT_FILE_ACCESS, *command]
    with LocalSlack(workspaces={TOKEN: Workspace(team_id=TEAM)}) as slack:
        env = clean_env(
            DATABASE_URL=db.url,
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.base_url,
            PORT=str(port),
            HOST="127.0.0.1",
            SCHEDULER_ENABLED="false",
        )
        sender = SlackSender(url, SIGNING_SECRET, local_slack=slack)
        with read_only(db):
            process = subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            try:
                wait_until(lambda: answers(url, "/healthz") == (200, "ok"), "the bot to listen")
                status, body, _ = readyz(url)
                assert status == 503, body
                assert body.startswith("database cannot be written: "), body
                assert "read" in body and "only" in body, body  # the driver's own words
            except BaseException:
                process.kill()
                raise
        try:
            wait_until(lambda: answers(url) == (200, "ok"), "the bot to be ready")
            shown = [confirm(sender, slack, n) for n in numbers]
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
    # The first click may meet a connection opened read-only (and replace the pool): no more.
    assert all("In Development" in text for text in shown[1:]), shown


def confirm(sender: SlackSender, slack: LocalSlack, number: int) -> str:
    """Click Confirm on an order's detail; what the clicker then sees."""
    reply = slack.new_response_url(channel="C0ACME", user="U0ANA", team_id=TEAM)
    response = sender.block_action(
        team_id=TEAM, user_id="U0ANA", action_id="order:confirm", text="Confirm",
        value=ButtonValue(number, 2, {"k": "detail"}).encode(),
        channel_id="C0ACME", response_url=reply, is_ephemeral=True, message_ts="1.1",
    )  # fmt: skip
    assert response.status == 200
    return json.dumps(slack.wait_for(lambda: slack.response_messages(reply), timeout=30))


def answers(url: str, path: str = "/readyz") -> tuple[int, str] | None:
    """A probe's status and body, None while nothing listens."""
    try:
        return readyz(url, timeout=5, path=path)[:2]
    except OSError:
        return None


def wait_until(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Poll `condition` until it holds (the bot runs on its own)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
