"""indexes for what waits on a party and what changed last

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:51:29.087307
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_merchant_id_status_status_changed_at"),
            ["merchant_id", "status", "status_changed_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_merchant_id_updated_at"),
            ["merchant_id", "updated_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_provider_id_status_status_changed_at"),
            ["provider_id", "status", "status_changed_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_provider_id_updated_at"),
            ["provider_id", "updated_at"],
            unique=False,
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_provider_id_updated_at"))
        batch_op.drop_index(batch_op.f("ix_orders_provider_id_status_status_changed_at"))
        batch_op.drop_index(batch_op.f("ix_orders_merchant_id_updated_at"))
        batch_op.drop_index(batch_op.f("ix_orders_merchant_id_status_status_changed_at"))
