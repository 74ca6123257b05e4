from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from crm_api.kernel.money import MoneyIn, MoneyOut
from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import CurrencyCode, PlainText

Sku = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$"),
    PlainText,
    Field(description="Unique within the tenant, ignoring case.", examples=["CHAI-1"]),
]
ProductName = Annotated[str, StringConstraints(min_length=1, max_length=300), PlainText]
Category = Annotated[str, StringConstraints(min_length=1, max_length=100), PlainText]
Unit = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40),
    PlainText,
    Field(examples=["pcs", "kg", "hour"]),
]
ListPrice = Annotated[
    MoneyIn,
    Field(ge=0, description="At most the currency's minor units (EUR 2, JPY 0)."),
]
CustomValues = Annotated[
    dict[str, Any],
    Field(
        description="Tenant-defined attributes, validated against their definitions."
    ),
]


class ProductCreate(InputModel):
    sku: Sku
    name: ProductName
    category: Category | None = None
    unit: Unit | None = None
    list_price: ListPrice
    currency: CurrencyCode | None = Field(
        default=None, description="ISO 4217; the tenant's default currency if omitted."
    )
    active: bool = True
    custom: CustomValues = Field(default_factory=dict)


class ProductUpdate(InputModel):
    """Only the fields sent change; ``custom`` merges key by key (null removes)."""

    sku: Sku | None = None
    name: ProductName | None = None
    category: Category | None = None
    unit: Unit | None = None
    list_price: ListPrice | None = None
    currency: CurrencyCode | None = None
    active: bool | None = Field(
        default=None, description="Inactive products cannot go on new quote lines."
    )
    custom: CustomValues | None = None


class ProductRead(ReadModel):
    id: uuid.UUID
    sku: str
    name: str
    category: str | None
    unit: str | None
    list_price: MoneyOut
    currency: str
    active: bool
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ProductCount(ReadModel):
    count: int
