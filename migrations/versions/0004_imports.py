"""Customer imports: the import record, the uploaded file in chunks, row errors; RLS.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_api.kernel.rls import isolate, security_definer_lookup
from crm_api.settings import get_settings

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("customer_imports", "import_chunks", "import_row_errors")
PENDING_LOOKUP = ("crm_pending_customer_imports", "")


def _tenant() -> sa.Column:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
    )


def _import_id(*, primary_key: bool = False) -> sa.Column:
    return sa.Column(
        "import_id",
        sa.Uuid(),
        sa.ForeignKey("customer_imports.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def _count(name: str, *, default: int = 0) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=str(default))


def upgrade() -> None:
    role = get_settings().database_app_role

    op.create_table(
        "customer_imports",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column(
            "created_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("encoding", sa.String(40), nullable=False),
        sa.Column("delimiter", sa.String(1), nullable=False),
        sa.Column("mapping", postgresql.JSONB(), nullable=False),
        sa.Column("unmapped_columns", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("processed_bytes", sa.BigInteger(), nullable=False),
        _count("rows_total"),
        _count("rows_created"),
        _count("rows_updated"),
        _count("rows_unchanged"),
        _count("rows_failed"),
        _count("errors_kept"),
        _count("next_row", default=2),
        sa.Column("claimed_by", sa.Uuid()),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text()),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name="ck_customer_imports_status",
        ),
    )
    op.create_index(
        "ix_customer_imports_tenant_id_id", "customer_imports", ["tenant_id", "id"]
    )

    op.create_table(
        "import_chunks",
        _import_id(primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        _tenant(),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_import_chunks_tenant_id", "import_chunks", ["tenant_id"])

    op.create_table(
        "import_row_errors",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        _import_id(),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(200)),
        sa.Column("field", sa.String(200)),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_import_row_errors_import_row",
        "import_row_errors",
        ["import_id", "row_number", "id"],
    )
    op.create_index(
        "ix_import_row_errors_tenant_id", "import_row_errors", ["tenant_id"]
    )

    for table in TABLES:
        for statement in isolate(table, role):
            op.execute(statement)
    # The sweep that resumes imports whose worker died (or whose job was never
    # enqueued) looks across tenants; it sees ids and resume points only.
    for statement in security_definer_lookup(
        PENDING_LOOKUP[0],
        PENDING_LOOKUP[1],
        "TABLE (tenant_id uuid, import_id uuid, next_row integer)",
        "SELECT tenant_id, id, next_row FROM customer_imports"
        " WHERE status IN ('queued', 'running')"
        " AND (claimed_until IS NULL OR claimed_until < now())"
        " AND created_at < now() - interval '1 minute'",
        role,
    ):
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {PENDING_LOOKUP[0]}({PENDING_LOOKUP[1]})")
    for table in reversed(TABLES):
        op.drop_table(table)
