"""Organisation: the department tree and employees; RLS on each.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_api.custom_attributes.value_index import index_triggers
from crm_api.kernel.rls import isolate
from crm_api.settings import get_settings

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("departments", "employees")
HEAD_FK = "fk_departments_head_employee"


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

    op.create_table(
        "departments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("parent_id", sa.Uuid()),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("head_employee_id", sa.Uuid()),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("path", postgresql.ARRAY(sa.Uuid()), nullable=False),
        *_audit(),
        sa.UniqueConstraint("tenant_id", "id", name="uq_departments_tenant_id_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "parent_id"],
            ["departments.tenant_id", "departments.id"],
            name="fk_departments_parent",
        ),
        # The path ends in the row itself, and a child's path extends its parent's.
        sa.CheckConstraint(
            "path[cardinality(path)] = id "
            "AND (parent_id IS NULL) = (cardinality(path) = 1)",
            name="ck_departments_path",
        ),
        sa.CheckConstraint("position >= 0", name="ck_departments_position"),
    )
    op.create_index(
        "uq_departments_sibling_name",
        "departments",
        [
            "tenant_id",
            sa.text("COALESCE(parent_id, tenant_id)"),
            sa.text("lower(name)"),
        ],
        unique=True,
    )
    op.create_index("ix_departments_parent_id", "departments", ["parent_id"])
    op.create_index(
        "ix_departments_head_employee_id", "departments", ["head_employee_id"]
    )
    op.create_index(
        "ix_departments_path", "departments", ["path"], postgresql_using="gin"
    )

    op.create_table(
        "employees",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(100)),
        sa.Column("manager_id", sa.Uuid()),
        sa.Column("phone", sa.String(40)),
        sa.Column("email", sa.String(254)),
        sa.Column("hire_date", sa.Date()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True)),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("custom", postgresql.JSONB(), nullable=False),
        *_audit(),
        sa.UniqueConstraint("tenant_id", "id", name="uq_employees_tenant_id_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "department_id"],
            ["departments.tenant_id", "departments.id"],
            name="fk_employees_department",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "manager_id"],
            ["employees.tenant_id", "employees.id"],
            name="fk_employees_manager",
        ),
        sa.CheckConstraint("status IN ('active', 'left')", name="ck_employees_status"),
        sa.CheckConstraint(
            "manager_id IS DISTINCT FROM id", name="ck_employees_not_own_manager"
        ),
    )
    op.create_index("ix_employees_department_id", "employees", ["department_id"])
    op.create_index("ix_employees_manager_id", "employees", ["manager_id"])
    op.create_index("uq_employees_user_id", "employees", ["user_id"], unique=True)
    op.create_index(
        "ix_employees_custom", "employees", ["custom"], postgresql_using="gin"
    )

    op.create_foreign_key(
        HEAD_FK,
        "departments",
        "employees",
        ["tenant_id", "head_employee_id"],
        ["tenant_id", "id"],
    )

    for table in TABLES:
        for statement in isolate(table, role):
            op.execute(statement)
    for statement in index_triggers("employees", "employee"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_constraint(HEAD_FK, "departments", type_="foreignkey")
    op.execute("DELETE FROM custom_value_index WHERE entity = 'employee'")
    for table in reversed(TABLES):
        op.drop_table(table)
