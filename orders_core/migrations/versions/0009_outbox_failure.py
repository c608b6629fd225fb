"""how an outbox item's last try failed, as data

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("last_failure", sa.String(length=16), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("last_failure")
