"""Products and quotes with revisions; RLS on each.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_api.custom_attributes.value_index import index_triggers
from crm_api.kernel.rls import isolate
from crm_api.settings import get_settings

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("products", "quotes", "quote_revisions", "quote_lines")
CUSTOM = (("products", "product"), ("quotes", "quote"))


def _tenant() -> sa.Column:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
    )


def _timestamps() -> list[sa.Column]:
    return [
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


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(), nullable=False)


def upgrade() -> None:
    role = get_settings().database_app_role

    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("category", sa.String(100)),
        sa.Column("unit", sa.String(40)),
        _money("list_price"),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("custom", postgresql.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("tenant_id", "id", name="uq_products_tenant_id_id"),
    )
    op.create_index(
        "uq_products_tenant_sku",
        "products",
        ["tenant_id", sa.text("lower(sku)")],
        unique=True,
    )
    op.create_index(
        "ix_products_tenant_category", "products", ["tenant_id", "category"]
    )
    op.create_index("ix_products_tenant_name", "products", ["tenant_id", "name"])
    op.create_index(
        "ix_products_custom", "products", ["custom"], postgresql_using="gin"
    )

    op.create_table(
        "quotes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column(
            "customer_id", sa.Uuid(), sa.ForeignKey("customers.id"), nullable=False
        ),
        sa.Column("title", sa.String(200)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("latest_revision", sa.Integer(), nullable=False),
        sa.Column("accepted_revision", sa.Integer()),
        sa.Column("custom", postgresql.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("tenant_id", "id", name="uq_quotes_tenant_id_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "owner_id"],
            ["employees.tenant_id", "employees.id"],
            name="fk_quotes_owner",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "department_id"],
            ["departments.tenant_id", "departments.id"],
            name="fk_quotes_department",
        ),
    )
    op.create_index("ix_quotes_tenant_owner", "quotes", ["tenant_id", "owner_id"])
    op.create_index(
        "ix_quotes_tenant_department", "quotes", ["tenant_id", "department_id"]
    )
    op.create_index("ix_quotes_customer_id", "quotes", ["customer_id"])
    op.create_index(
        "ix_quotes_tenant_created_at", "quotes", ["tenant_id", "created_at"]
    )
    op.create_index("ix_quotes_custom", "quotes", ["custom"], postgresql_using="gin")

    op.create_table(
        "quote_revisions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text()),
        _money("net_total"),
        _money("tax_total"),
        _money("gross_total"),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("sent_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column(
            "decided_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")
        ),
        sa.Column("decision_comment", sa.Text()),
        *_timestamps(),
        sa.UniqueConstraint("tenant_id", "id", name="uq_quote_revisions_tenant_id_id"),
        sa.UniqueConstraint(
            "quote_id", "number", name="uq_quote_revisions_quote_id_number"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "quote_id"],
            ["quotes.tenant_id", "quotes.id"],
            name="fk_quote_revisions_quote",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'sent', 'accepted', 'rejected', 'expired', "
            "'superseded')",
            name="ck_quote_revisions_state",
        ),
        sa.CheckConstraint("number >= 1", name="ck_quote_revisions_number"),
    )
    for state in ("draft", "sent", "accepted"):
        op.create_index(
            f"uq_quote_revisions_one_{state}",
            "quote_revisions",
            ["quote_id"],
            unique=True,
            postgresql_where=sa.text(f"state = '{state}'"),
        )

    op.create_table(
        "quote_lines",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("revision_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid()),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(40)),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        _money("unit_price"),
        sa.Column("discount_percent", sa.Numeric(), nullable=False),
        sa.Column("tax_rate_percent", sa.Numeric(), nullable=False),
        _money("net"),
        _money("tax"),
        sa.UniqueConstraint(
            "revision_id", "position", name="uq_quote_lines_revision_id_position"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "revision_id"],
            ["quote_revisions.tenant_id", "quote_revisions.id"],
            name="fk_quote_lines_revision",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name="fk_quote_lines_product",
        ),
        sa.CheckConstraint("quantity > 0", name="ck_quote_lines_quantity"),
        sa.CheckConstraint(
            "discount_percent BETWEEN 0 AND 100", name="ck_quote_lines_discount"
        ),
        sa.CheckConstraint("tax_rate_percent >= 0", name="ck_quote_lines_tax_rate"),
    )
    op.create_index(
        "ix_quote_lines_tenant_product", "quote_lines", ["tenant_id", "product_id"]
    )

    for table in TABLES:
        for statement in isolate(table, role):
            op.execute(statement)
    for table, entity in CUSTOM:
        for statement in index_triggers(table, entity):
            op.execute(statement)


def downgrade() -> None:
    op.execute("DELETE FROM custom_value_index WHERE entity IN ('product', 'quote')")
    for table in reversed(TABLES):
        op.drop_table(table)
