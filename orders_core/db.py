"""The engine, the units of work and the migrations.

SQLite (the default, a file beside the bot) runs in WAL mode with foreign keys on, and starts
every transaction that may write with BEGIN IMMEDIATE: two writers then queue on the database
lock instead of failing half-way with "database is locked". PostgreSQL (`DATABASE_URL`) runs at
its default READ COMMITTED. On both, read units of work open no transaction: each statement sees
the latest committed state (what READ COMMITTED gives anyway), without BEGIN and COMMIT.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Engine,
    String,
    bindparam,
    create_engine,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

DEFAULT_DATABASE_URL = "sqlite:///orders-bot.db"
SQLITE_BUSY_SECONDS = 30
"""How long a SQLite writer waits for the database's write lock before giving up."""
WRITE_PROBE_SECONDS = 0.5
"""How long the write probe (readiness) waits for a lock before answering that it got none."""


def database_url_from_env() -> str:
    """`DATABASE_URL`, or the SQLite file in the current directory."""
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def normalize_url(url: str) -> str:
    """Let `postgres://` and `postgresql://` URLs use psycopg 3, the driver we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _use_wal(cursor: Any, attempts: int = 100) -> None:
    """Put the file in WAL mode (once set, it stays: later connections find it so).

    Changing the mode needs the file to itself, and SQLite may answer "database is locked" at
    once, without its busy timeout, while another process opens the same file (rarely: seen
    with two schedulers starting together). So: ask first, and retry for up to five seconds.
    """
    for attempt in range(attempts):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: Engine, *, writer: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own would be DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        if writer and engine.url.database not in (None, "", ":memory:"):
            # WAL is a property of the file, set by the writers (readers need not ask).
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if not writer:
        return

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Every transaction that may write takes the write lock up front, ours and those of the
        # libraries sharing the engine (slack_sdk's stores, APScheduler's job store): a deferred
        # one that reads and then writes fails at once if another writer committed meanwhile.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY_SQLSTATE = "25006"
"""PostgreSQL's "cannot execute … in a read-only transaction"."""


def refused_as_read_only(error: BaseException) -> bool:
    """The driver's error says the connection may not write (SQLITE_READONLY and its
    variants; PostgreSQL's read_only_sql_transaction)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_READONLY)
    return getattr(error, "sqlstate", None) == READ_ONLY_SQLSTATE


def _probe_engine(url: str, sqlite_file: str | None) -> Engine:
    """An engine whose every connection is new (its own busy timeout; a file's permissions as
    they are now), for the write probe."""
    if sqlite_file is None:
        # connect_timeout: psycopg waits 2 s at least for a server that does not answer.
        return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 2})

    def connect() -> sqlite3.Connection:
        # mode=rw: a missing file is an error, not a new empty database.
        return sqlite3.connect(
            f"file:{quote(sqlite_file)}?mode=rw",
            uri=True,
            timeout=WRITE_PROBE_SECONDS,
            isolation_level=None,  # BEGIN is ours to issue
            check_same_thread=False,
        )

    return create_engine("sqlite://", poolclass=NullPool, creator=connect)


class JsonIds(TypeDecorator[list[int]]):
    """A list of ids bound as one JSON array (SQLite's json_each reads it)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        """The ids as a JSON array."""
        return None if value is None else json.dumps([int(v) for v in value])


def id_source(dialect_name: str, name: str = "ids") -> Any:
    """A table of the ids in one parameter, `name` (a list of ints), with one column, `value`.

    For `INSERT … SELECT` from a list of ids in one statement (a message's order links, in
    bot/delivery/deliveries.py); a query's `WHERE id IN (…)` is plain `in_()`. SQLite reads a
    JSON array (json_each), PostgreSQL an array (unnest).
    """
    if dialect_name == "postgresql":
        array = bindparam(name, type_=ARRAY(BigInteger))
        return func.unnest(array).table_valued("value").render_derived()
    return func.json_each(bindparam(name, type_=JsonIds())).table_valued("value")


class Database:
    """One database: its engine, its units of work, and its migrations."""

    def __init__(self, url: str | None = None, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = normalize_url(url or database_url_from_env())
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
            if parsed.database in (None, "", ":memory:"):
                raise ValueError("use a SQLite file, not :memory: (threads need to share it)")
        else:
            # Each checkout pings its connection first (one round trip, a few per click): a
            # connection the server dropped (a restart, a failover, an idle timeout) is replaced
            # before the unit of work starts on it, instead of failing it, and the rest of the
            # pool, opened before it, is replaced as it is next checked out.
            kwargs.update(
                pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, pool_pre_ping=True
            )
        self.engine = create_engine(self.url, **kwargs)
        reader: Engine = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine, writer=True)
            # Our read units of work open no transaction at all: each statement reads the latest
            # committed state (as PostgreSQL's READ COMMITTED does), and readers never wait.
            # They have an engine of their own: with no "begin" listener on it, SQLAlchemy
            # dispatches no events around each statement, and a connection that never begins
            # needs no rollback on its way back to the pool.
            reader = create_engine(self.url, pool_reset_on_return=None, **kwargs)
            _configure_sqlite(reader, writer=False)
        else:
            # PostgreSQL reads at READ COMMITTED take a fresh snapshot per statement anyway: in
            # autocommit they see the same, without BEGIN and COMMIT round trips.
            reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._write_turn = threading.RLock() if self.is_sqlite else None
        self._read_engine = reader
        self._probe = _probe_engine(self.url, parsed.database if self.is_sqlite else None)
        for engine in (self.engine, self._probe):
            event.listen(engine, "handle_error", self._on_error)
        self._reader = sessionmaker(reader, expire_on_commit=False)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A writing unit of work: commits when the block ends, rolls back if it raises."""
        if self._write_turn is None:
            with self._writer() as session, session.begin():
                yield session
            return
        # SQLite has one writer at a time. Threads of this process take turns here and each
        # finds the database lock free; left to SQLite's busy handler, waiting writers poll
        # with sleeps of up to 100 ms while a lock freed meanwhile sits idle (other processes
        # still queue there). Waiting is bounded as SQLite's busy_timeout bounds it.
        if not self._write_turn.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise TimeoutError(
                f"the database stayed locked for {SQLITE_BUSY_SECONDS} s by another writer"
            )
        try:
            with self._writer() as session, session.begin():
                yield session
        finally:
            self._write_turn.release()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A reading unit of work (no transaction: each statement sees the latest committed
        state); its objects stay readable after it ends."""
        # No session.begin(): nothing to commit, and closing the session releases its connection.
        with self._reader() as session:
            yield session

    @contextmanager
    def one_statement(self) -> Iterator[Session]:
        """PostgreSQL: a unit of work whose statement commits on its own, for writes done in
        one statement (data-modifying CTEs): atomic as any statement is, without the BEGIN and
        COMMIT round trips of `transaction()`."""
        if self.is_sqlite:
            raise ValueError("SQLite writes go through transaction() (BEGIN IMMEDIATE)")
        with self._reader() as session:
            yield session

    def _on_error(self, context: Any) -> None:
        """A write refused as read-only replaces every connection (it is handled as a lost one).

        A SQLite connection opened while its file was read-only stays read-only, and so does a
        PostgreSQL session opened on a standby or a read-only database: once the database takes
        writes again (the file's mode put right, the new primary after a failover), new ones
        can write. Every SQLite connection of a process to a file shares one -shm, opened
        read-only with the first of them: the readers are replaced too, so that it is reopened.
        """
        if refused_as_read_only(context.original_exception):
            context.is_disconnect = True
            self.dispose()

    def write_probe(self) -> str | None:
        """Write to the database and roll the write back, on a connection of its own, waiting
        at most about WRITE_PROBE_SECONDS for a lock: the schema's revision (None when it was
        never migrated). Raises the driver's error when the database takes no write now."""
        with self._probe.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits for the write lock, briefly
            else:
                waits = int(WRITE_PROBE_SECONDS * 1000)
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {waits}")
                # A backstop for a statement slow for another reason (a lock says so first).
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {2 * waits}")
            context = MigrationContext.configure(conn)
            revision = context.get_current_revision()
            if revision is not None:
                # An UPDATE, even of no row, is refused by a file SQLite may only read (which
                # still grants BEGIN IMMEDIATE: measured) and by a read-only PostgreSQL (a
                # standby, default_transaction_read_only). Touching no row, it waits for no
                # one's row lock: a migration running elsewhere leaves every instance ready.
                table = conn.dialect.identifier_preparer.quote(context.version_table)
                conn.exec_driver_sql(f"UPDATE {table} SET version_num = version_num WHERE 1 = 0")
            conn.rollback()
        return revision

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self.is_sqlite:  # its own engine (PostgreSQL's reader shares the writer's pool)
            self._read_engine.dispose()

    # -- migrations -------------------------------------------------------------------------

    def alembic_config(self) -> Config:
        """Alembic's configuration for this database (no alembic.ini needed)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(resources.files("orders_core") / "migrations"))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Apply every pending migration."""
        command.upgrade(self.alembic_config(), revision)

    def current_revision(self) -> str | None:
        """The revision the database is at (None when it has never been migrated).

        A SQLite file that does not exist is not created by asking.
        """
        if self.is_sqlite and not Path(self.engine.url.database or "").exists():
            return None
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        """The newest revision the code knows."""
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def is_current(self) -> bool:
        """True when every migration has been applied."""
        return self.current_revision() == self.head_revision()

    def check_schema(self) -> None:
        """Raise SchemaNotCurrent unless the schema is exactly the one this code needs.

        Entry points call it before they create anything: a process started on an old (or a
        newer) schema would fail on every request, and libraries sharing the database
        (APScheduler's job store) would make tables of their own that the migrations then
        trip over.
        """
        current, head = self.current_revision(), self.head_revision()
        if current == head:
            return
        known = {
            s.revision for s in ScriptDirectory.from_config(self.alembic_config()).walk_revisions()
        }
        raise SchemaNotCurrent(
            self.engine.url.render_as_string(hide_password=True),
            current,
            head,
            ahead=current is not None and current not in known,
        )


class SchemaNotCurrent(Exception):
    """The database's schema is not the one this version of the code needs."""

    def __init__(self, where: str, current: str | None, head: str | None, *, ahead: bool) -> None:
        super().__init__(where, current, head, ahead)
        self.where, self.current, self.head, self.ahead = where, current, head, ahead

    def __str__(self) -> str:
        found = f"revision {self.current}" if self.current else "no schema (never migrated)"
        if self.ahead:
            return (
                f"the database {self.where} has {found}, newer than this version of orders-bot "
                f"knows (it needs {self.head}): install the newer orders-bot, or point "
                "DATABASE_URL at the right database."
            )
        return (
            f"the database {self.where} has {found}; this version needs revision {self.head}: "
            "run `orders-bot db upgrade` first."
        )
