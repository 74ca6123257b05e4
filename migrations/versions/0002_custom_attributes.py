"""Custom attributes: per-tenant definitions of extra fields on every entity type.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_api.kernel.rls import isolate
from crm_api.settings import get_settings

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = get_settings().database_app_role
    op.create_table(
        "custom_attributes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("key", sa.String(63), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("options", postgresql.ARRAY(sa.String(200)), nullable=False),
        sa.Column("default_value", postgresql.JSONB()),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(1000)),
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
        # Leads with tenant_id, so it also serves every per-tenant look-up.
        sa.UniqueConstraint(
            "tenant_id",
            "entity",
            "key",
            name="uq_custom_attributes_tenant_id_entity_key",
        ),
    )
    for statement in isolate("custom_attributes", role):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("custom_attributes")
