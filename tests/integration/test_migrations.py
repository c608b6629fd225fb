"""Migrations: from an empty database to head on SQLite and PostgreSQL, with no drift from the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.oauth import slack_store_metadata
from orders_core.db import Database
from orders_core.models import Base
from tests.support.databases import PostgresDatabase, require_postgres


def assert_no_drift(db: Database) -> None:
    """The migrated schema is exactly what our models, and slack_sdk's stores, describe."""
    ours = lambda name, type_, parent: not (type_ == "table" and str(name).startswith("slack_"))  # noqa: E731
    theirs = lambda name, type_, parent: type_ != "table" or str(name).startswith("slack_")  # noqa: E731
    with db.engine.connect() as conn:
        for metadata, include in ((Base.metadata, ours), (slack_store_metadata(), theirs)):
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": include}
            )
            diff = compare_metadata(ctx, metadata)
            assert diff == [], diff


def check_fresh_upgrade(db: Database) -> None:
    """Empty → head: every table is there, the revision is current, nothing drifts."""
    assert db.current_revision() is None
    db.upgrade()
    assert db.is_current()
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert {"slack_installations", "slack_bots", "slack_oauth_states", "apscheduler_jobs"} <= tables
    assert_no_drift(db)
    db.upgrade()  # applying again is a no-op
    assert db.is_current()


def test_sqlite_from_empty_to_head(tmp_path: Path) -> None:
    """A new SQLite file is migrated from nothing."""
    db = Database(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    try:
        check_fresh_upgrade(db)
    finally:
        db.dispose()


@pytest.mark.postgres
def test_postgres_from_empty_to_head() -> None:
    """A new PostgreSQL database is migrated from nothing."""
    require_postgres()
    pg = PostgresDatabase()
    db = Database(pg.url)
    try:
        check_fresh_upgrade(db)
    finally:
        db.dispose()
        pg.drop()
