"""Real databases for tests: a migrated SQLite file per test, and a throwaway PostgreSQL database.

PostgreSQL tests skip with a visible reason when no server answers, unless
ORDERS_REQUIRE_POSTGRES=1 (set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from orders_core.db import Database
from orders_core.models import Base

PG_URL = os.environ.get(
    "ORDERS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("ORDERS_REQUIRE_POSTGRES") == "1"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def postgres_available() -> str | None:
    """None when PostgreSQL answers at PG_URL, else why not."""
    try:
        with psycopg.connect(_libpq(PG_URL), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at {PG_URL} ({exc.__class__.__name__}: {exc})".strip()


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL is not there."""
    why = postgres_available()
    if why is None:
        return
    if REQUIRE_PG:
        pytest.fail(f"{why}; ORDERS_REQUIRE_POSTGRES=1 makes PostgreSQL tests required")
    pytest.skip(f"{why}; set ORDERS_TEST_POSTGRES_URL to run the PostgreSQL tests")


class PostgresDatabase:
    """A database created for this test run and dropped at the end."""

    def __init__(self) -> None:
        self.name = f"orders_test_{uuid.uuid4().hex[:12]}"
        base, _, _ = PG_URL.rpartition("/")
        # Tests need durability no more than a crash of the test run: skip the commit fsync.
        self.url = f"{base}/{self.name}?options=-c%20synchronous_commit%3Doff"
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        """Drop it, closing whatever connections are left."""
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


SLACK_TABLES = ("slack_installations", "slack_bots", "slack_oauth_states")


def truncate_all(db: Database) -> None:
    """Empty every table of ours (PostgreSQL), restarting the id sequences."""
    names = ", ".join(
        f'"{t}"' for t in [*(t.name for t in Base.metadata.sorted_tables), *SLACK_TABLES]
    )
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def sqlite_template(directory: Path) -> Path:
    """A migrated SQLite file to copy for each test (migrating once is the slow part)."""
    path = directory / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    with closing(sqlite3.connect(path)) as conn:  # fold the WAL into the file before copying it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def sqlite_copy(template: Path, directory: Path) -> Database:
    """A fresh migrated SQLite database in `directory`."""
    path = directory / "orders.sqlite3"
    shutil.copyfile(template, path)
    return Database(f"sqlite:///{path}")
