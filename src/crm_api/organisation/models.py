"""The tenant's organisation: a department tree and the employees in it.

Both tables carry a unique ``(tenant_id, id)`` so every reference between them is a
composite foreign key: a department can only hang under, and an employee only report
to or sit in, rows of the same tenant, whatever a query forgets.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.custom_attributes.registry import register_entity
from crm_api.kernel.db import Base, IdMixin, TimestampMixin, VersionedMixin


class Department(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A node of the department tree.

    ``path`` holds the ids from the root down to this department, itself last: the
    subtree of X is every row whose path contains X, one GIN-indexed query.
    """

    __tablename__ = "departments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(
            ["tenant_id", "parent_id"],
            ["departments.tenant_id", "departments.id"],
            name="fk_departments_parent",
        ),
        # Departments and employees point at each other; this side is added last.
        ForeignKeyConstraint(
            ["tenant_id", "head_employee_id"],
            ["employees.tenant_id", "employees.id"],
            name="fk_departments_head_employee",
            use_alter=True,
        ),
        # Sibling names are unique, ignoring case; roots count as siblings.
        Index(
            "uq_departments_sibling_name",
            "tenant_id",
            text("COALESCE(parent_id, tenant_id)"),
            text("lower(name)"),
            unique=True,
        ),
        Index("ix_departments_parent_id", "parent_id"),
        Index("ix_departments_head_employee_id", "head_employee_id"),
        Index("ix_departments_path", "path", postgresql_using="gin"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    parent_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(200))
    head_employee_id: Mapped[uuid.UUID | None]
    position: Mapped[int]
    path: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))


class Employee(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A person working for the tenant, with or without a user account."""

    __tablename__ = "employees"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(
            ["tenant_id", "department_id"],
            ["departments.tenant_id", "departments.id"],
            name="fk_employees_department",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "manager_id"],
            ["employees.tenant_id", "employees.id"],
            name="fk_employees_manager",
        ),
        Index("ix_employees_department_id", "department_id"),
        Index("ix_employees_manager_id", "manager_id"),
        Index("uq_employees_user_id", "user_id", unique=True),
        Index("ix_employees_custom", "custom", postgresql_using="gin"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    department_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(100))
    manager_id: Mapped[uuid.UUID | None]
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    hire_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16))
    left_at: Mapped[datetime | None]
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


register_entity("employee", Employee)
