"""The outbox's lane index led by status: a claim finds each lane's head among the pending items

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply: (status, lane, id) replaces (lane, status, id). A claim groups the pending items
    by lane (bot.delivery.outbox._LANE_HEADS): led by status, it reads only those, not every
    item ever delivered; the lookups by lane all ask for pending items, and use it as well."""
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_status_lane_id"), ["status", "lane", "id"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_outbox_lane_status_id"))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_lane_status_id"), ["lane", "status", "id"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_outbox_status_lane_id"))
