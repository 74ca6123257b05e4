from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kernel.db import Base, IdMixin, TimestampMixin, VersionedMixin


class Role(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A tenant-defined role; the built-in ones live in code (auth.principal)."""

    __tablename__ = "roles"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key", name="uq_roles_tenant_key"),
        CheckConstraint("scope IN ('own', 'department', 'all')", name="ck_roles_scope"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    scope: Mapped[str] = mapped_column(String(16))
