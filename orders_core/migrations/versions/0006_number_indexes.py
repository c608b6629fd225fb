"""search a party's orders by number

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 14:03:30.541627
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_merchant_id_number"), ["merchant_id", "number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_provider_id_number"), ["provider_id", "number"], unique=False
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_provider_id_number"))
        batch_op.drop_index(batch_op.f("ix_orders_merchant_id_number"))
