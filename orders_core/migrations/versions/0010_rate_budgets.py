"""Slack's rate limits kept in the database: when each workspace may next call each method

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "rate_budgets",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_rate_budgets_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", "method", name=op.f("pk_rate_budgets")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("rate_budgets")
