"""names of parties and services matched by a case-folded key

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 19:30:00
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from orders_core.names import name_key

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _backfill(table: str, scope: tuple[str, ...]) -> None:
    """Fill name_key from each row's name; stop, naming them, if two rows share a key."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT id, name, {', '.join(scope)} FROM {table}")).all()
    seen: dict[tuple[object, ...], list[str]] = defaultdict(list)
    for row in rows:
        key = name_key(row.name)
        seen[(*(getattr(row, c) for c in scope), key)].append(row.name)
        bind.execute(
            sa.text(f"UPDATE {table} SET name_key = :key WHERE id = :id"),
            {"key": key, "id": row.id},
        )
    clashes = [names for names in seen.values() if len(names) > 1]
    if clashes:
        listed = "; ".join(" / ".join(repr(n) for n in names) for names in clashes)
        raise RuntimeError(
            f"{table}: these names differ only in case, which is now one name: {listed}. "
            "Rename one of each (orders-bot can no longer tell them apart), then upgrade again."
        )


def upgrade() -> None:
    """Apply."""
    for table in ("parties", "services"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("name_key", sa.String(length=200), nullable=True))
    _backfill("parties", ("workspace_id", "kind"))
    _backfill("services", ("workspace_id",))
    with op.batch_alter_table("parties") as batch:
        batch.alter_column("name_key", existing_type=sa.String(length=200), nullable=False)
        batch.drop_constraint("uq_parties_workspace_id_kind_name", type_="unique")
        batch.create_unique_constraint(
            "uq_parties_workspace_id_kind_name_key", ["workspace_id", "kind", "name_key"]
        )
    with op.batch_alter_table("services") as batch:
        batch.alter_column("name_key", existing_type=sa.String(length=200), nullable=False)
        batch.drop_constraint("uq_services_workspace_id_name", type_="unique")
        batch.create_unique_constraint(
            "uq_services_workspace_id_name_key", ["workspace_id", "name_key"]
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("services") as batch:
        batch.drop_constraint("uq_services_workspace_id_name_key", type_="unique")
        batch.create_unique_constraint("uq_services_workspace_id_name", ["workspace_id", "name"])
        batch.drop_column("name_key")
    with op.batch_alter_table("parties") as batch:
        batch.drop_constraint("uq_parties_workspace_id_kind_name_key", type_="unique")
        batch.create_unique_constraint(
            "uq_parties_workspace_id_kind_name", ["workspace_id", "kind", "name"]
        )
        batch.drop_column("name_key")
