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
    # Search's index (migration 0011) is no model: SQLite's FTS5 table with its shadow tables,
    # PostgreSQL's trigram index.
    search_index = ("orders_search", "ix_order_texts_search_text")

    def ours(name: str | None, type_: str, parent: object) -> bool:
        slack_table = type_ == "table" and str(name).startswith("slack_")
        return not (slack_table or str(name).startswith(search_index))

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


def _at_0007_with(db: Database, names: list[str]) -> None:
    """A database at revision 0007 with these merchants (as the bot before name keys made it)."""
    from sqlalchemy import text

    db.upgrade("0007")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workspaces (team_id, name, last_order_number, created_at) "
                "VALUES ('T0OLD', 'Old', 0, '2026-01-01 00:00:00')"
            )
        )
        for name in names:
            conn.execute(
                text(
                    "INSERT INTO parties (workspace_id, kind, name, created_at) "
                    "VALUES (1, 'merchant', :name, '2026-01-01 00:00:00')"
                ),
                {"name": name},
            )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A database with nothing in it yet, on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
        yield db
        db.dispose()
        return
    require_postgres()
    pg = PostgresDatabase()
    db = Database(pg.url)
    yield db
    db.dispose()
    pg.drop()


def test_names_already_there_get_their_keys(empty_db: Database) -> None:
    """Upgrading gives every existing name its key, so `łódź bar` finds `Łódź Bar`."""
    from orders_core.lifecycle import Party
    from orders_core.onboarding import find_party

    _at_0007_with(empty_db, ["Łódź Bar", "Đà Nẵng Café", "Acme"])
    empty_db.upgrade()
    with empty_db.read() as s:
        assert find_party(s, 1, "łódź BAR", Party.MERCHANT).name == "Łódź Bar"
        assert find_party(s, 1, "ĐÀ NẴNG CAFÉ").name == "Đà Nẵng Café"
    assert_no_drift(empty_db)


def test_names_that_became_one_stop_the_upgrade_naming_them(empty_db: Database) -> None:
    """Two names that differ only in case (possible before, on SQLite): the upgrade says which
    to rename, and the database stays as it was."""
    _at_0007_with(empty_db, ["Łódź Bar", "łódź bar"])
    with pytest.raises(RuntimeError, match="'Łódź Bar' / 'łódź bar'"):
        empty_db.upgrade()
    assert empty_db.current_revision() == "0007"
