"""Search by words: each order's searchable text, folded, in a table of its own, and an index
that finds words in it

PostgreSQL: a trigram index (pg_trgm, a trusted extension: the database's owner may create it)
answers `LIKE '%word%'`. SQLite: an FTS5 table with the trigram tokenizer, its content read
from `order_texts` and kept in step by triggers, inside the same transaction as the order's
write.

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
    """CREATE TRIGGER orders_search_insert AFTER INSERT ON order_texts BEGIN
        INSERT INTO orders_search (rowid, search_text) VALUES (new.order_id, new.search_text);
    END""",
    """CREATE TRIGGER orders_search_delete AFTER DELETE ON order_texts BEGIN
        INSERT INTO orders_search (orders_search, rowid, search_text)
        VALUES ('delete', old.order_id, old.search_text);
    END""",
    """CREATE TRIGGER orders_search_update AFTER UPDATE ON order_texts BEGIN
        INSERT INTO orders_search (orders_search, rowid, search_text)
        VALUES ('delete', old.order_id, old.search_text);
        INSERT INTO orders_search (rowid, search_text) VALUES (new.order_id, new.search_text);
    END""",
)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "order_texts",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_texts_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_texts")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_order_texts_search_text",
            "order_texts",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE orders_search USING fts5(search_text,"
            " content='order_texts', content_rowid='order_id', tokenize='trigram')"
        )
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)
    _backfill()


def _backfill() -> None:
    """Every existing order's text, folded as the code folds it, a batch at a time (the index
    follows: the GIN index as rows come, SQLite's through the triggers)."""
    bind = op.get_bind()
    read = sa.text(
        "SELECT o.id, o.mini_program, m.name, p.name, o.contact_name, o.requirements"
        " FROM orders o JOIN parties m ON m.id = o.merchant_id"
        " JOIN parties p ON p.id = o.provider_id"
        " WHERE o.id > :after ORDER BY o.id LIMIT :batch"
    )
    write = sa.text("INSERT INTO order_texts (order_id, search_text) VALUES (:id, :text)")
    after = 0
    while rows := bind.execute(read, {"after": after, "batch": BATCH}).all():
        bind.execute(write, [{"id": r[0], "text": search_document(*r[1:])} for r in rows])
        after = rows[-1][0]


def downgrade() -> None:
    """Revert."""
    if op.get_bind().dialect.name != "postgresql":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER orders_search_{name}")
        op.execute("DROP TABLE orders_search")
    op.drop_table("order_texts")
