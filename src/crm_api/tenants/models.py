from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kernel.db import Base, IdMixin, TimestampMixin, VersionedMixin


class Tenant(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A subscribing company; every business row belongs to exactly one."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    default_currency: Mapped[str] = mapped_column(String(3))
    time_zone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(35))
