from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kernel.db import Base, IdMixin, TimestampMixin, VersionedMixin


class CustomAttribute(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A tenant's definition of one extra field on one entity type."""

    __tablename__ = "custom_attributes"
    __table_args__ = (UniqueConstraint("tenant_id", "entity", "key"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    entity: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(63))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    required: Mapped[bool] = mapped_column(default=False)
    options: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list)
    # Already in the value's storage form; JSON null is stored as SQL NULL.
    default: Mapped[Any] = mapped_column(
        "default_value", JSONB(none_as_null=True), nullable=True
    )
    archived: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str | None] = mapped_column(String(1000))
