"""The tenant's product catalogue: one list for everyone, no owner."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.custom_attributes.registry import register_entity
from crm_api.kernel.db import Base, IdMixin, TimestampMixin, VersionedMixin


class Product(IdMixin, TimestampMixin, VersionedMixin, Base):
    """Something the tenant sells, with its list price in one currency."""

    __tablename__ = "products"
    __table_args__ = (
        # Quote and order lines point here with (tenant_id, product_id).
        UniqueConstraint("tenant_id", "id"),
        # SKUs are unique per tenant whatever their case ("ab-1" is "AB-1").
        Index("uq_products_tenant_sku", "tenant_id", text("lower(sku)"), unique=True),
        Index("ix_products_tenant_category", "tenant_id", "category"),
        Index("ix_products_tenant_name", "tenant_id", "name"),
        Index("ix_products_custom", "custom", postgresql_using="gin"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(40))
    # Exact, at most the currency's minor units (checked on every write).
    list_price: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(default=True)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


register_entity("product", Product)
