"""Access: tenant-defined roles; customers owned by an employee and a department.

Existing data is carried over: a tenant without departments gets a root department
named after it, every user without an employee gets one there, and each customer is
owned by its former owner user's employee (or the tenant's first admin's).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_api.kernel.rls import isolate
from crm_api.settings import get_settings

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_OWNER_FK = "fk_customers_owner_id_users"

BACKFILL = [
    # A root department for every tenant that has none.
    """
    INSERT INTO departments (id, tenant_id, parent_id, name, head_employee_id,
                             position, path, version)
    SELECT d.id, d.tenant_id, NULL, d.name, NULL, 0, ARRAY[d.id], 1
    FROM (SELECT gen_random_uuid() AS id, t.id AS tenant_id, t.name
          FROM tenants t
          WHERE NOT EXISTS (SELECT 1 FROM departments x WHERE x.tenant_id = t.id)) d
    """,
    # An employee for every user who has none, in the tenant's first root.
    """
    INSERT INTO employees (id, tenant_id, department_id, name, email, status,
                           user_id, custom, version)
    SELECT gen_random_uuid(), u.tenant_id,
           (SELECT d.id FROM departments d
            WHERE d.tenant_id = u.tenant_id AND d.parent_id IS NULL
            ORDER BY d.position, d.id LIMIT 1),
           u.full_name, u.email, CASE WHEN u.is_active THEN 'active' ELSE 'left' END,
           u.id, '{}'::jsonb, 1
    FROM users u
    WHERE NOT EXISTS (SELECT 1 FROM employees e WHERE e.user_id = u.id)
    """,
    # Customers: the former owner user's employee, else the first admin's.
    """
    UPDATE customers c SET owner_id = COALESCE(
        (SELECT e.id FROM employees e WHERE e.user_id = c.owner_id),
        (SELECT e.id FROM employees e JOIN users u ON u.id = e.user_id
         WHERE u.tenant_id = c.tenant_id AND 'admin' = ANY(u.roles)
         ORDER BY u.created_at, u.id LIMIT 1))
    """,
    """
    UPDATE customers c SET department_id = e.department_id
    FROM employees e WHERE e.id = c.owner_id
    """,
]


def upgrade() -> None:
    role = get_settings().database_app_role

    op.create_table(
        "roles",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("permissions", postgresql.ARRAY(sa.String(60)), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
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
        sa.UniqueConstraint("tenant_id", "key", name="uq_roles_tenant_key"),
        sa.CheckConstraint(
            "scope IN ('own', 'department', 'all')", name="ck_roles_scope"
        ),
    )
    for statement in isolate("roles", role):
        op.execute(statement)

    op.drop_constraint(OLD_OWNER_FK, "customers", type_="foreignkey")
    op.add_column("customers", sa.Column("department_id", sa.Uuid()))
    for statement in BACKFILL:
        op.execute(statement)
    op.alter_column("customers", "owner_id", nullable=False)
    op.alter_column("customers", "department_id", nullable=False)
    op.create_foreign_key(
        "fk_customers_owner",
        "customers",
        "employees",
        ["tenant_id", "owner_id"],
        ["tenant_id", "id"],
    )
    op.create_foreign_key(
        "fk_customers_department",
        "customers",
        "departments",
        ["tenant_id", "department_id"],
        ["tenant_id", "id"],
    )
    op.create_index("ix_customers_tenant_owner", "customers", ["tenant_id", "owner_id"])
    op.create_index(
        "ix_customers_tenant_department", "customers", ["tenant_id", "department_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_customers_tenant_department", "customers")
    op.drop_index("ix_customers_tenant_owner", "customers")
    op.drop_constraint("fk_customers_department", "customers", type_="foreignkey")
    op.drop_constraint("fk_customers_owner", "customers", type_="foreignkey")
    op.drop_column("customers", "department_id")
    op.alter_column("customers", "owner_id", nullable=True)
    op.execute(
        "UPDATE customers c SET owner_id = "
        "(SELECT e.user_id FROM employees e WHERE e.id = c.owner_id)"
    )
    op.create_foreign_key(
        OLD_OWNER_FK,
        "customers",
        "users",
        ["owner_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.drop_table("roles")
