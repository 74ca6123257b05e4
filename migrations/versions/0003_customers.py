"""Customers, contacts, interactions and merge records; RLS on each.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_api.custom_attributes.value_index import TRIGGER_FUNCTION, index_triggers
from crm_api.kernel.rls import isolate
from crm_api.settings import get_settings

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "customers",
    "contacts",
    "interactions",
    "customer_merges",
    "custom_value_index",
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


def _audit() -> list[sa.Column]:
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    role = get_settings().database_app_role
    # Trusted extension: the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    op.create_table(
        "customers",
        _id(),
        _tenant(),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("level", sa.String(40)),
        sa.Column("industry", sa.String(100)),
        sa.Column("source", sa.String(100)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "owner_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")
        ),
        sa.Column("phone", sa.String(40)),
        sa.Column("email", sa.String(254)),
        sa.Column("website", sa.String(2048)),
        sa.Column("street", sa.String(300)),
        sa.Column("city", sa.String(100)),
        sa.Column("region", sa.String(100)),
        sa.Column("postal_code", sa.String(20)),
        sa.Column("country", sa.String(100)),
        sa.Column("tags", postgresql.ARRAY(sa.String(50)), nullable=False),
        sa.Column("custom", postgresql.JSONB(), nullable=False),
        sa.Column("name_key", sa.String(300), nullable=False),
        sa.Column("phone_key", sa.String(40)),
        sa.Column("email_key", sa.String(254)),
        *_audit(),
        sa.CheckConstraint("kind IN ('company', 'person')", name="ck_customers_kind"),
        sa.CheckConstraint(
            "status IN ('prospect', 'active', 'dormant', 'lost')",
            name="ck_customers_status",
        ),
    )
    op.create_index(
        "uq_customers_tenant_code", "customers", ["tenant_id", "code"], unique=True
    )
    for column in ("name_key", "phone_key", "email_key", "country", "created_at"):
        op.create_index(
            f"ix_customers_tenant_{column}", "customers", ["tenant_id", column]
        )
    # jsonb_ops (not jsonb_path_ops): it also answers "has key" (exists filters).
    op.create_index(
        "ix_customers_custom", "customers", ["custom"], postgresql_using="gin"
    )
    op.create_index("ix_customers_tags", "customers", ["tags"], postgresql_using="gin")
    op.create_index(
        "ix_customers_name_trgm",
        "customers",
        [sa.text("lower(name) gin_trgm_ops")],
        postgresql_using="gin",
    )

    op.create_table(
        "contacts",
        _id(),
        _tenant(),
        sa.Column(
            "customer_id",
            sa.Uuid(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(100)),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(40)),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("custom", postgresql.JSONB(), nullable=False),
        *_audit(),
    )
    op.create_index("ix_contacts_tenant_id", "contacts", ["tenant_id"])
    op.create_index("ix_contacts_customer_id", "contacts", ["customer_id"])
    op.create_index(
        "uq_contacts_one_primary",
        "contacts",
        ["customer_id"],
        unique=True,
        postgresql_where=sa.text("is_primary"),
    )

    op.create_table(
        "interactions",
        _id(),
        _tenant(),
        sa.Column(
            "customer_id",
            sa.Uuid(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "contact_id", sa.Uuid(), sa.ForeignKey("contacts.id", ondelete="SET NULL")
        ),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('call', 'visit', 'email', 'meeting', 'note')",
            name="ck_interactions_kind",
        ),
    )
    op.create_index("ix_interactions_tenant_id", "interactions", ["tenant_id"])
    op.create_index(
        "ix_interactions_customer_timeline",
        "interactions",
        ["customer_id", sa.text("occurred_at DESC"), sa.text("id DESC")],
    )

    op.create_table(
        "customer_merges",
        _id(),
        _tenant(),
        sa.Column(
            "survivor_id",
            sa.Uuid(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("merged_id", sa.Uuid(), nullable=False),
        sa.Column("merged_snapshot", postgresql.JSONB(), nullable=False),
        sa.Column("moved", postgresql.JSONB(), nullable=False),
        sa.Column(
            "merged_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")
        ),
        sa.Column(
            "merged_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
    )
    op.create_index("ix_customer_merges_tenant_id", "customer_merges", ["tenant_id"])
    op.create_index(
        "ix_customer_merges_survivor_id", "customer_merges", ["survivor_id"]
    )

    op.create_table(
        "custom_value_index",
        sa.Column("record_id", sa.Uuid(), primary_key=True),
        sa.Column("key", sa.String(63), primary_key=True),
        _tenant(),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("num", sa.Numeric()),
        sa.Column("dt", sa.Date()),
        sa.Column("ts", sa.DateTime(timezone=True)),
    )
    for column in ("num", "dt", "ts"):
        op.create_index(
            f"ix_custom_value_index_{column}",
            "custom_value_index",
            ["tenant_id", "entity", "key", column, "record_id"],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )

    for table in TABLES:
        for statement in isolate(table, role):
            op.execute(statement)

    op.execute(TRIGGER_FUNCTION)
    for table, entity in (("customers", "customer"), ("contacts", "contact")):
        for statement in index_triggers(table, entity):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    op.execute("DROP FUNCTION IF EXISTS crm_index_custom_values()")
