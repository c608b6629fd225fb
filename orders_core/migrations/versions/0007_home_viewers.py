"""who has opened the Home tab

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 14:04:55.970572
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "home_viewers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_home_viewers_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_viewers")),
        sa.UniqueConstraint(
            "workspace_id", "user_id", name=op.f("uq_home_viewers_workspace_id_user_id")
        ),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("home_viewers")
