"""initial schema: workspaces, parties, members, services, orders, timeline

Revision ID: 0001
Revises:
Create Date: 2026-11-27 12:25:01.077019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("last_order_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("team_id", name=op.f("uq_workspaces_team_id")),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_parties_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint(
            "workspace_id", "kind", "name", name=op.f("uq_parties_workspace_id_kind_name")
        ),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_members_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_members_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint(
            "workspace_id", "user_id", name=op.f("uq_members_workspace_id_user_id")
        ),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_party_id"), ["party_id"], unique=False)

    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("industry", sa.String(length=200), nullable=False),
        sa.Column("service_type", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("payment_terms", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["parties.id"], name=op.f("fk_services_provider_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_services_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_services_workspace_id_name")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_services_workspace_id_status"), ["workspace_id", "status"], unique=False
        )

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("mini_program", sa.String(length=200), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("placed_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["parties.id"], name=op.f("fk_orders_merchant_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["parties.id"], name=op.f("fk_orders_provider_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_orders_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_orders_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("workspace_id", "number", name=op.f("uq_orders_workspace_id_number")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_merchant_id_id"), ["merchant_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_merchant_id_status_id"),
            ["merchant_id", "status", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_orders_provider_id_id"), ["provider_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_provider_id_status_id"),
            ["provider_id", "status", "id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_orders_service_id"), ["service_id"], unique=False)

    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_user_id", sa.String(length=32), nullable=True),
        sa.Column("actor_party_id", sa.Integer(), nullable=True),
        sa.Column("actor_party", sa.String(length=32), nullable=True),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_party_id"], ["parties.id"], name=op.f("fk_order_events_actor_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_order_events_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
        sa.UniqueConstraint("order_id", "seq", name=op.f("uq_order_events_order_id_seq")),
        sa.UniqueConstraint(
            "workspace_id",
            "idempotency_key",
            name=op.f("uq_order_events_workspace_id_idempotency_key"),
        ),
    )
    op.create_table(
        "event_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("slack_file_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("mimetype", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("permalink", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["order_events.id"], name=op.f("fk_event_files_event_id_order_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_files")),
    )
    with op.batch_alter_table("event_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_files_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("event_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_files_event_id"))

    op.drop_table("event_files")
    op.drop_table("order_events")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_service_id"))
        batch_op.drop_index(batch_op.f("ix_orders_provider_id_status_id"))
        batch_op.drop_index(batch_op.f("ix_orders_provider_id_id"))
        batch_op.drop_index(batch_op.f("ix_orders_merchant_id_status_id"))
        batch_op.drop_index(batch_op.f("ix_orders_merchant_id_id"))

    op.drop_table("orders")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_workspace_id_status"))
        batch_op.drop_index(batch_op.f("ix_services_provider_id"))

    op.drop_table("services")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_party_id"))

    op.drop_table("members")
    op.drop_table("parties")
    op.drop_table("workspaces")
