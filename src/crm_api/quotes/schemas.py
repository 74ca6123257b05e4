from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    model_validator,
)

from crm_api.kernel.money import DecimalOut, DecimalText, MoneyIn, MoneyOut
from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import CurrencyCode, PlainText

RevisionState = Literal[
    "draft", "sent", "accepted", "rejected", "expired", "superseded"
]
MAX_LINES = 500


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros or an exponent: 3.000 -> 3, 1E+2 -> 100."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normal.quantize(Decimal(1))
    return normal


Quantity = Annotated[
    Decimal,
    DecimalText,
    Field(gt=0, max_digits=18, decimal_places=6, description="More than zero."),
    AfterValidator(_plain),
]
DiscountPercent = Annotated[
    Decimal,
    DecimalText,
    Field(ge=0, le=100, max_digits=7, decimal_places=4, description="0 to 100."),
    AfterValidator(_plain),
]
TaxRatePercent = Annotated[
    Decimal,
    DecimalText,
    Field(ge=0, le=1000, max_digits=8, decimal_places=4, examples=["19"]),
    AfterValidator(_plain),
]
UnitPrice = Annotated[
    MoneyIn,
    Field(
        ge=0,
        description="At most the quote currency's minor units; the product's list "
        "price (in the same currency) when omitted.",
    ),
]
Description = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), PlainText
]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=40), PlainText]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200), PlainText]
Notes = Annotated[str, StringConstraints(max_length=10_000)]
Comment = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
CustomValues = Annotated[
    dict[str, Any],
    Field(
        description="Tenant-defined attributes, validated against their definitions."
    ),
]


class LineIn(InputModel):
    """A product (its name, unit and price fill what is omitted) or free text."""

    product_id: uuid.UUID | None = None
    description: Description | None = Field(
        default=None, description="Required without a product; its name otherwise."
    )
    unit: Unit | None = None
    quantity: Quantity
    unit_price: UnitPrice | None = None
    discount_percent: DiscountPercent = Decimal(0)
    tax_rate_percent: TaxRatePercent = Decimal(0)

    @model_validator(mode="after")
    def _product_or_text(self) -> LineIn:
        if self.product_id is None and self.description is None:
            raise ValueError("a line needs a product_id or a description")
        return self


Lines = Annotated[list[LineIn], Field(max_length=MAX_LINES)]


class QuoteCreate(InputModel):
    customer_id: uuid.UUID
    title: Title | None = None
    currency: CurrencyCode | None = Field(
        default=None, description="ISO 4217; the tenant's default currency if omitted."
    )
    valid_until: date = Field(
        description="The last day the offer holds, on the tenant's calendar."
    )
    owner_id: uuid.UUID | None = Field(
        default=None, description="An employee; the caller's own when omitted."
    )
    department_id: uuid.UUID | None = Field(
        default=None, description="The owner's department when omitted."
    )
    notes: Notes | None = None
    lines: Lines = Field(default_factory=list)
    custom: CustomValues = Field(default_factory=dict)


class QuoteUpdate(InputModel):
    """Only the fields sent change. Customer and currency are fixed at creation; the
    content (lines, validity) changes through the draft revision."""

    title: Title | None = None
    owner_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    custom: CustomValues | None = None


class RevisionUpdate(InputModel):
    """A draft's content; ``lines``, when sent, replace all lines."""

    valid_until: date | None = None
    notes: Notes | None = None
    lines: Lines | None = None


class TransitionRequest(InputModel):
    comment: Comment | None = Field(
        default=None, description="Why, e.g. the customer's reason for rejecting."
    )


class LineRead(ReadModel):
    id: uuid.UUID
    position: int
    product_id: uuid.UUID | None
    description: str
    unit: str | None
    quantity: DecimalOut
    unit_price: MoneyOut
    discount_percent: DecimalOut
    tax_rate_percent: DecimalOut
    net: MoneyOut = Field(description="quantity x unit_price x (1 - discount), rounded")
    tax: MoneyOut = Field(description="net x tax rate, rounded")
    gross: MoneyOut


class RevisionRead(ReadModel):
    id: uuid.UUID
    quote_id: uuid.UUID
    number: int
    state: RevisionState = Field(
        description="A sent revision past its valid_until (tenant calendar) reads "
        "as expired."
    )
    valid_until: date
    notes: str | None
    currency: str
    lines: list[LineRead]
    net_total: MoneyOut
    tax_total: MoneyOut
    gross_total: MoneyOut
    sent_at: datetime | None
    sent_by: uuid.UUID | None
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    decision_comment: str | None
    created_at: datetime
    updated_at: datetime


class QuoteRead(ReadModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    title: str | None
    currency: str
    owner_id: uuid.UUID
    department_id: uuid.UUID
    state: RevisionState = Field(description="The latest revision's state.")
    latest_revision: int
    accepted_revision: int | None
    revision: RevisionRead = Field(description="The latest revision, with its lines.")
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class QuoteCount(ReadModel):
    count: int
