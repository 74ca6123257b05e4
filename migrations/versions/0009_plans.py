"""Execution plans: action types, plan steps, receipts, payment notices, the reminder
policy; RLS on each, and a UUIDv7 generator for rows made in SQL by the sweep.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_api.kernel.rls import isolate
from crm_api.settings import get_settings

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "action_types",
    "plans",
    "plan_steps",
    "receipts",
    "payment_notices",
    "payment_reminder_policies",
)

# UUIDv7 (48-bit millisecond time, version 7, random rest) as the API's own ids are,
# for rows the reminder sweep inserts set-based. PostgreSQL 18 has uuidv7(); this
# works on every supported server.
UUID7_FUNCTION = """
CREATE OR REPLACE FUNCTION crm_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send(
                floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$
"""


def _id() -> sa.Column:
    return sa.Column("id", sa.Uuid(), primary_key=True)


def _tenant() -> sa.Column:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
    )


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def _user(name: str) -> sa.Column:
    return sa.Column(name, sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL"))


def _versioned() -> list[sa.Column]:
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
    ]


def _fk(
    name: str,
    columns: list[str],
    table: str,
    targets: list[str],
    *,
    ondelete: str | None = None,
) -> sa.ForeignKeyConstraint:
    """A tenant-scoped foreign key: a row can only point at its own tenant's rows."""
    return sa.ForeignKeyConstraint(
        ["tenant_id", *columns],
        [f"{table}.tenant_id", *(f"{table}.{column}" for column in targets)],
        name=name,
        ondelete=ondelete,
    )


def upgrade() -> None:
    role = get_settings().database_app_role
    op.execute(UUID7_FUNCTION)

    op.create_table(
        "action_types",
        _id(),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("default_offset_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text()),
        *_versioned(),
        sa.UniqueConstraint("tenant_id", "id", name="uq_action_types_tenant_id_id"),
        sa.CheckConstraint(
            "direction IN ('none', 'in', 'out')", name="ck_action_types_direction"
        ),
        sa.CheckConstraint(
            "default_offset_days BETWEEN 0 AND 3650",
            name="ck_action_types_default_offset",
        ),
    )
    op.create_index(
        "uq_action_types_tenant_name",
        "action_types",
        ["tenant_id", sa.text("lower(name)")],
        unique=True,
    )

    op.create_table(
        "plans",
        _id(),
        _tenant(),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("allow_partial_collection", sa.Boolean(), nullable=False),
        _user("updated_by"),
        *_versioned(),
        sa.UniqueConstraint("tenant_id", "order_id", name="uq_plans_tenant_order"),
        _fk("fk_plans_order", ["order_id"], "orders", ["id"], ondelete="CASCADE"),
    )

    op.create_table(
        "plan_steps",
        _id(),
        _tenant(),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action_type_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric()),
        sa.Column("received", sa.Numeric(), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        _user("done_by"),
        sa.Column("skipped_at", sa.DateTime(timezone=True)),
        _user("skipped_by"),
        sa.Column("skip_reason", sa.Text()),
        sa.UniqueConstraint("tenant_id", "id", name="uq_plan_steps_tenant_id_id"),
        sa.UniqueConstraint("order_id", "position", name="uq_plan_steps_position"),
        _fk(
            "fk_plan_steps_plan",
            ["order_id"],
            "plans",
            ["order_id"],
            ondelete="CASCADE",
        ),
        _fk("fk_plan_steps_action_type", ["action_type_id"], "action_types", ["id"]),
        _fk("fk_plan_steps_assignee", ["assignee_id"], "employees", ["id"]),
        sa.CheckConstraint(
            "direction IN ('none', 'in', 'out')", name="ck_plan_steps_direction"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'skipped')", name="ck_plan_steps_status"
        ),
        sa.CheckConstraint(
            "(direction = 'none') = (amount IS NULL) AND (amount IS NULL OR amount > 0)",
            name="ck_plan_steps_amount",
        ),
        sa.CheckConstraint(
            "received >= 0 AND received <= coalesce(amount, 0)",
            name="ck_plan_steps_received",
        ),
    )
    op.create_index(
        "ix_plan_steps_open_money_due",
        "plan_steps",
        ["tenant_id", "due_on"],
        postgresql_where=sa.text("status = 'pending' AND direction <> 'none'"),
    )
    op.create_index(
        "ix_plan_steps_action_type", "plan_steps", ["tenant_id", "action_type_id"]
    )
    op.create_index(
        "ix_plan_steps_assignee", "plan_steps", ["tenant_id", "assignee_id"]
    )

    op.create_table(
        "receipts",
        _id(),
        _tenant(),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(200)),
        _user("recorded_by"),
        sa.Column(
            "api_key_id", sa.Uuid(), sa.ForeignKey("api_keys.id", ondelete="SET NULL")
        ),
        _now("recorded_at"),
        _fk("fk_receipts_step", ["step_id"], "plan_steps", ["id"], ondelete="CASCADE"),
        sa.CheckConstraint("amount > 0", name="ck_receipts_amount"),
    )
    op.create_index("ix_receipts_step_id", "receipts", ["step_id", "id"])
    op.create_index("ix_receipts_order_id", "receipts", ["order_id"])

    op.create_table(
        "payment_notices",
        _id(),
        _tenant(),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=False),
        sa.Column("notice_on", sa.Date(), nullable=False),
        _now("created_at"),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        _user("acknowledged_by"),
        # Exactly one notice per step, kind and level, whoever inserts it when.
        sa.UniqueConstraint(
            "step_id", "kind", "level", name="uq_payment_notices_step_kind_level"
        ),
        _fk(
            "fk_payment_notices_step",
            ["step_id"],
            "plan_steps",
            ["id"],
            ondelete="CASCADE",
        ),
        _fk("fk_payment_notices_assignee", ["assignee_id"], "employees", ["id"]),
        sa.CheckConstraint(
            "(kind = 'reminder' AND level = 0) OR (kind = 'dunning' AND level >= 1)",
            name="ck_payment_notices_kind_level",
        ),
    )
    op.create_index("ix_payment_notices_tenant", "payment_notices", ["tenant_id", "id"])
    op.create_index(
        "ix_payment_notices_assignee",
        "payment_notices",
        ["tenant_id", "assignee_id", "id"],
    )
    op.create_index("ix_payment_notices_order_id", "payment_notices", ["order_id"])

    op.create_table(
        "payment_reminder_policies",
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("reminder_lead_days", sa.Integer(), nullable=False),
        sa.Column("dunning_days", postgresql.ARRAY(sa.Integer()), nullable=False),
        _user("updated_by"),
        *_versioned(),
        sa.CheckConstraint(
            "reminder_lead_days BETWEEN 0 AND 365",
            name="ck_payment_reminder_policies_lead_days",
        ),
        sa.CheckConstraint(
            "cardinality(dunning_days) <= 10",
            name="ck_payment_reminder_policies_levels",
        ),
    )

    for table in TABLES:
        for statement in isolate(table, role):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    op.execute("DROP FUNCTION IF EXISTS crm_uuid7()")
