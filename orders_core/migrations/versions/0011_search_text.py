"""Search by words: each order's searchable text, folded, and an index that finds words in it

PostgreSQL: a trigram index (pg_trgm, a trusted extension: the database's owner may create it)
answers `LIKE '%word%'`. SQLite: an FTS5 table with the trigram tokenizer, its content read
from `orders` and kept in step by triggers, inside the same transaction as the order's write.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orders_core.names import search_document

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH = 1000

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER orders_search_insert AFTER INSERT ON orders BEGIN
        INSERT INTO orders_search (rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER orders_search_delete AFTER DELETE ON orders BEGIN
        INSERT INTO orders_search (orders_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER orders_search_update AFTER UPDATE OF search_text ON orders BEGIN
        INSERT INTO orders_search (orders_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO orders_search (rowid, search_text) VALUES (new.id, new.search_text);
    END""",
)


def upgrade() -> None:
    """Apply."""
    op.add_column("orders", sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    _backfill()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_orders_search_text",
            "orders",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE orders_search USING fts5("
            "search_text, content='orders', content_rowid='id', tokenize='trigram')"
        )
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO orders_search (orders_search) VALUES ('rebuild')")


def _backfill() -> None:
    """Every existing order's text, folded as the code folds it, a batch at a time."""
    bind = op.get_bind()
    read = sa.text(
        "SELECT o.id, o.mini_program, m.name, p.name, o.contact_name, o.requirements"
        " FROM orders o JOIN parties m ON m.id = o.merchant_id"
        " JOIN parties p ON p.id = o.provider_id"
        " WHERE o.id > :after ORDER BY o.id LIMIT :batch"
    )
    write = sa.text("UPDATE orders SET search_text = :text WHERE id = :id")
    after = 0
    while rows := bind.execute(read, {"after": after, "batch": BATCH}).all():
        bind.execute(write, [{"id": r[0], "text": search_document(*r[1:])} for r in rows])
        after = rows[-1][0]


def downgrade() -> None:
    """Revert."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_orders_search_text", table_name="orders")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER orders_search_{name}")
        op.execute("DROP TABLE orders_search")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("search_text")
