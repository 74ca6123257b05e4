"""Orders, their transitions and approval rules; RLS on each.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_api.custom_attributes.value_index import index_triggers
from crm_api.kernel.rls import isolate
from crm_api.settings import get_settings

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "approval_rules",
    "orders",
    "order_lines",
    "order_transitions",
    "order_approvals",
)
STATUSES = (
    "'draft', 'pending_approval', 'approved', 'rejected', 'in_execution', "
    "'completed', 'cancelled'"
)


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


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(), nullable=False)


def _of_order(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "order_id"],
        ["orders.tenant_id", "orders.id"],
        name=f"fk_{table}_order",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    role = get_settings().database_app_role

    op.create_table(
        "approval_rules",
        _id(),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("min_total_gross", sa.Numeric()),
        sa.Column("min_line_discount_percent", sa.Numeric()),
        sa.Column("customer_levels", postgresql.ARRAY(sa.String(40))),
        sa.Column("levels", postgresql.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
    )
    op.create_index("ix_approval_rules_tenant_id", "approval_rules", ["tenant_id"])

    op.create_table(
        "orders",
        _id(),
        _tenant(),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column(
            "customer_id",
            sa.Uuid(),
            sa.ForeignKey("customers.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        _money("total_net"),
        _money("total_tax"),
        _money("total_gross"),
        sa.Column("custom", postgresql.JSONB(), nullable=False),
        sa.Column(
            "source_quote_id",
            sa.Uuid(),
            sa.ForeignKey("quotes.id", ondelete="SET NULL"),
        ),
        sa.Column("source_quote_revision", sa.Integer()),
        sa.Column("approval_round", sa.Integer(), nullable=False),
        sa.Column("approval_levels", postgresql.JSONB(), nullable=False),
        sa.Column("current_level", sa.Integer()),
        sa.Column("awaiting_roles", postgresql.ARRAY(sa.String(40)), nullable=False),
        _user("submitted_by"),
        sa.Column("version", sa.Integer(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_orders_tenant_id_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "owner_id"],
            ["employees.tenant_id", "employees.id"],
            name="fk_orders_owner",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "department_id"],
            ["departments.tenant_id", "departments.id"],
            name="fk_orders_department",
        ),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_orders_status"),
    )
    op.create_index(
        "uq_orders_tenant_number", "orders", ["tenant_id", "number"], unique=True
    )
    op.create_index("ix_orders_tenant_status", "orders", ["tenant_id", "status"])
    op.create_index("ix_orders_tenant_owner", "orders", ["tenant_id", "owner_id"])
    op.create_index(
        "ix_orders_tenant_department", "orders", ["tenant_id", "department_id"]
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.create_index(
        "uq_orders_live_source_quote",
        "orders",
        ["tenant_id", "source_quote_id"],
        unique=True,
        postgresql_where=sa.text(
            "source_quote_id IS NOT NULL AND status <> 'cancelled'"
        ),
    )
    op.create_index(
        "ix_orders_awaiting_roles",
        "orders",
        ["awaiting_roles"],
        postgresql_using="gin",
    )
    op.create_index("ix_orders_custom", "orders", ["custom"], postgresql_using="gin")

    op.create_table(
        "order_lines",
        _id(),
        _tenant(),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid()),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        _money("unit_price"),
        sa.Column("discount_percent", sa.Numeric(), nullable=False),
        sa.Column("tax_rate_percent", sa.Numeric(), nullable=False),
        _money("net_amount"),
        _money("tax_amount"),
        _of_order("order_lines"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name="fk_order_lines_product",
        ),
        sa.CheckConstraint("quantity > 0", name="ck_order_lines_quantity"),
        sa.CheckConstraint("unit_price >= 0", name="ck_order_lines_unit_price"),
        sa.CheckConstraint(
            "discount_percent BETWEEN 0 AND 100", name="ck_order_lines_discount"
        ),
        sa.CheckConstraint("tax_rate_percent >= 0", name="ck_order_lines_tax_rate"),
    )
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id", "position"])
    op.create_index(
        "ix_order_lines_tenant_product", "order_lines", ["tenant_id", "product_id"]
    )

    op.create_table(
        "order_transitions",
        _id(),
        _tenant(),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("to_status", sa.String(20), nullable=False),
        _user("user_id"),
        sa.Column(
            "api_key_id", sa.Uuid(), sa.ForeignKey("api_keys.id", ondelete="SET NULL")
        ),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text()),
        _now("occurred_at"),
        _of_order("order_transitions"),
        sa.UniqueConstraint(
            "order_id", "position", name="uq_order_transitions_position"
        ),
    )

    op.create_table(
        "order_approvals",
        _id(),
        _tenant(),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        _user("user_id"),
        sa.Column("roles", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column("comment", sa.Text()),
        _now("decided_at"),
        _of_order("order_approvals"),
        sa.UniqueConstraint(
            "order_id", "round", "level", name="uq_order_approvals_level"
        ),
        sa.UniqueConstraint(
            "order_id", "round", "user_id", name="uq_order_approvals_user"
        ),
        sa.CheckConstraint(
            "decision IN ('approved', 'rejected')", name="ck_order_approvals_decision"
        ),
    )
    op.create_index("ix_order_approvals_user_id", "order_approvals", ["user_id"])

    for table in TABLES:
        for statement in isolate(table, role):
            op.execute(statement)
    for statement in index_triggers("orders", "order"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DELETE FROM custom_value_index WHERE entity = 'order'")
    for table in reversed(TABLES):
        op.drop_table(table)
