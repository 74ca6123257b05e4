from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.custom_attributes.registry import register_entity
from crm_api.kernel.db import Base, IdMixin, TimestampMixin, VersionedMixin
from crm_api.organisation.repository import (
    register_department_reference,
    register_employee_reference,
)

CUSTOMER_KINDS = ("company", "person")
CUSTOMER_STATUSES = ("prospect", "active", "dormant", "lost")


class Customer(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A company or person the tenant does business with."""

    __tablename__ = "customers"
    __table_args__ = (
        # Owner and department of the same tenant, whatever a query forgets.
        ForeignKeyConstraint(
            ["tenant_id", "owner_id"],
            ["employees.tenant_id", "employees.id"],
            name="fk_customers_owner",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "department_id"],
            ["departments.tenant_id", "departments.id"],
            name="fk_customers_department",
        ),
        Index("ix_customers_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_customers_tenant_department", "tenant_id", "department_id"),
        Index("uq_customers_tenant_code", "tenant_id", "code", unique=True),
        Index("ix_customers_tenant_name_key", "tenant_id", "name_key"),
        Index("ix_customers_tenant_phone_key", "tenant_id", "phone_key"),
        Index("ix_customers_tenant_email_key", "tenant_id", "email_key"),
        Index("ix_customers_tenant_country", "tenant_id", "country"),
        Index("ix_customers_tenant_created_at", "tenant_id", "created_at"),
        Index("ix_customers_custom", "custom", postgresql_using="gin"),
        Index("ix_customers_tags", "tags", postgresql_using="gin"),
        Index(
            "ix_customers_name_trgm",
            text("lower(name) gin_trgm_ops"),
            postgresql_using="gin",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    level: Mapped[str | None] = mapped_column(String(40))
    industry: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    # Who looks after the customer, and the department it belongs to: together they
    # decide who sees it (roles' visibility scopes).
    owner_id: Mapped[uuid.UUID]
    department_id: Mapped[uuid.UUID]
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(2048))
    street: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Normalised forms for duplicate detection (never shown).
    name_key: Mapped[str] = mapped_column(String(300))
    phone_key: Mapped[str | None] = mapped_column(String(40))
    email_key: Mapped[str | None] = mapped_column(String(254))


class Contact(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A person at a customer; at most one per customer is primary."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index(
            "uq_contacts_one_primary",
            "customer_id",
            unique=True,
            postgresql_where=text("is_primary"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    is_primary: Mapped[bool] = mapped_column(default=False)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class Interaction(IdMixin, Base):
    """One touch with a customer: the history that grows with every call or visit."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index(
            "ix_interactions_customer_timeline",
            "customer_id",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class CustomerMerge(IdMixin, Base):
    """A record of one merge: which customer survived and what the other held."""

    __tablename__ = "customer_merges"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    merged_id: Mapped[uuid.UUID]
    merged_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    moved: Mapped[dict[str, Any]] = mapped_column(JSONB)
    merged_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    merged_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


register_entity("customer", Customer)
register_entity("contact", Contact)
# A leaver's customers go to the colleague taking over, with the colleague's
# department; a deleted department's customers go to the department taking over.
register_employee_reference(Customer.owner_id, department=Customer.department_id)
register_department_reference(Customer.department_id)
