"""reminders: policies, runs, snoozes, escalations, scheduler jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 12:58:01.803611
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"], unique=False
        )

    op.create_table(
        "reminder_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("times", sa.JSON(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("statuses", sa.JSON(), nullable=True),
        sa.Column("min_age_minutes", sa.Integer(), nullable=False),
        sa.Column("working_days_only", sa.Boolean(), nullable=False),
        sa.Column("escalate_after_minutes", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_reminder_policies_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_reminder_policies_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_policies")),
    )
    with op.batch_alter_table("reminder_policies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reminder_policies_workspace_id_channel_id"),
            ["workspace_id", "channel_id"],
            unique=False,
        )

    op.create_table(
        "reminder_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_ids", sa.JSON(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["posted_messages.id"],
            name=op.f("fk_reminder_runs_message_id_posted_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["reminder_policies.id"],
            name=op.f("fk_reminder_runs_policy_id_reminder_policies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_runs")),
        sa.UniqueConstraint("policy_id", "slot", name=op.f("uq_reminder_runs_policy_id_slot")),
    )
    with op.batch_alter_table("reminder_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reminder_runs_status_slot"), ["status", "slot"], unique=False
        )

    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_escalations_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_escalations_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("order_id", "day", name=op.f("uq_escalations_order_id_day")),
    )
    op.create_table(
        "order_snoozes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_snoozes_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_order_snoozes_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_snoozes")),
    )
    with op.batch_alter_table("order_snoozes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_snoozes_party_id_order_id_until"),
            ["party_id", "order_id", "until"],
            unique=False,
        )

    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders_paused_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("reminders_paused_at")

    with op.batch_alter_table("order_snoozes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_snoozes_party_id_order_id_until"))

    op.drop_table("order_snoozes")
    op.drop_table("escalations")
    with op.batch_alter_table("reminder_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_runs_status_slot"))

    op.drop_table("reminder_runs")
    with op.batch_alter_table("reminder_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_policies_workspace_id_channel_id"))

    op.drop_table("reminder_policies")
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apscheduler_jobs_next_run_time"))

    op.drop_table("apscheduler_jobs")
