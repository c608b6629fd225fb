"""Alembic's environment: migrate the engine the caller gave us, or the configured URL."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from orders_core.models import Base

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave out tables other libraries define (slack_sdk's stores): their migrations are hand-written."""
    return not (type_ == "table" and name is not None and name.startswith("slack_"))


def run_migrations_online() -> None:
    """Run the migrations on a live connection."""
    engine = config.attributes.get("engine") or create_engine(
        config.get_main_option("sqlalchemy.url") or ""
    )
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw: Any = connection.connection.driver_connection
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one, which its foreign
            # key checks refuse while other tables point at it: off for the migration (a pragma
            # that only applies outside a transaction, so on the driver's connection, which is
            # in autocommit), checked and back on after it.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                compare_type=True,
                include_name=include_name,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("the migration left rows pointing at nothing")
            connection.commit()
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run them against the database")
run_migrations_online()
