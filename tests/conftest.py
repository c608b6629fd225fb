"""Fixtures shared by every test: real databases (SQLite always, PostgreSQL when it answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orders_core.db import Database
from tests.support.databases import (
    PostgresDatabase,
    require_postgres,
    sqlite_copy,
    sqlite_template,
    truncate_all,
)
from tests.support.world import World, build_world


@pytest.fixture(scope="session")
def sqlite_template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once per run."""
    return sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def sqlite_db(sqlite_template_path: Path, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated SQLite database for one test."""
    db = sqlite_copy(sqlite_template_path, tmp_path)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    """A PostgreSQL database for this run, migrated once and dropped at the end."""
    require_postgres()
    pg = PostgresDatabase()
    db = Database(pg.url)
    db.upgrade()
    db.dispose()
    yield pg
    pg.drop()


@pytest.fixture
def pg_db(postgres_database: PostgresDatabase) -> Iterator[Database]:
    """The run's PostgreSQL database, emptied after the test."""
    db = Database(postgres_database.url)
    yield db
    truncate_all(db)
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Database:
    """Each test that takes `db` runs on SQLite and on PostgreSQL."""
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    database: Database = request.getfixturevalue(name)
    return database


@pytest.fixture
def world(db: Database) -> World:
    """Two workspaces with merchants, providers, members and Online services, on `db`."""
    return build_world(db)


@pytest.fixture
def world_pg(pg_db: Database) -> World:
    """The test world on PostgreSQL only."""
    return build_world(pg_db)
