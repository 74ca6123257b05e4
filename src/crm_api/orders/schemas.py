from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from crm_api.customers.schemas import Code as CustomerCode
from crm_api.kernel.money import DecimalOut, DecimalText, MoneyIn, MoneyOut
from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import CurrencyCode, Name, PlainText
from crm_api.orders.transitions import Action, RecordedAction

OrderStatus = Literal[
    "draft",
    "pending_approval",
    "approved",
    "rejected",
    "in_execution",
    "completed",
    "cancelled",
]
MAX_LINES = 500

Quantity = Annotated[
    Decimal,
    DecimalText,
    Field(
        gt=0,
        max_digits=18,
        decimal_places=6,
        description="Decimal string or number, more than 0, at most 6 decimal places.",
    ),
]
Percent = Annotated[
    Decimal,
    DecimalText,
    Field(
        ge=0,
        le=100,
        max_digits=7,
        decimal_places=4,
        description="0 to 100, at most 4 decimal places.",
    ),
]
TaxRate = Annotated[
    Decimal,
    DecimalText,
    Field(
        ge=0,
        le=1000,
        max_digits=8,
        decimal_places=4,
        description="0 to 1000, at most 4 decimal places.",
        examples=["19"],
    ),
]
UnitPrice = Annotated[
    MoneyIn,
    Field(ge=0, description="Not negative; no more decimals than the currency has."),
]
Description = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), PlainText
]
OrderNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[^\s].*$"),
    PlainText,
]
Comment = Annotated[str, StringConstraints(max_length=2000), PlainText]
RoleKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
CustomerLevel = Annotated[str, StringConstraints(min_length=1, max_length=40)]
CustomValues = Annotated[
    dict[str, Any],
    Field(
        description="Tenant-defined attributes, validated against their definitions."
    ),
]


class OrderLineIn(InputModel):
    product_id: uuid.UUID | None = Field(
        default=None,
        description="An active product; its name and (in the same currency) list "
        "price fill a missing description and unit price.",
    )
    description: Description | None = None
    quantity: Quantity
    unit_price: UnitPrice | None = None
    discount_percent: Percent = Decimal(0)
    tax_rate_percent: TaxRate = Decimal(0)


class OrderLineUpdate(InputModel):
    """Only the fields sent change."""

    product_id: uuid.UUID | None = None
    description: Description | None = None
    quantity: Quantity | None = None
    unit_price: UnitPrice | None = None
    discount_percent: Percent | None = None
    tax_rate_percent: TaxRate | None = None


class FromQuote(InputModel):
    quote_id: uuid.UUID


class OrderCreate(InputModel):
    """An order entered directly (``customer_id`` and ``lines``) or generated from a
    quote's accepted revision (``from_quote``: customer, currency and lines come from
    the quote and must not be sent)."""

    number: OrderNumber | None = Field(
        default=None, description="The tenant's own order number; generated if omitted."
    )
    customer_id: uuid.UUID | None = None
    currency: CurrencyCode | None = Field(
        default=None, description="Defaults to the tenant's default currency."
    )
    owner_id: uuid.UUID | None = Field(
        default=None, description="An employee; defaults to the caller's employee."
    )
    department_id: uuid.UUID | None = Field(
        default=None, description="Defaults to the owner's department."
    )
    lines: Annotated[list[OrderLineIn], Field(max_length=MAX_LINES)] | None = None
    custom: CustomValues = Field(default_factory=dict)
    from_quote: FromQuote | None = None


class OrderUpdate(InputModel):
    """Only the fields sent change. Everything but the owner and department is
    content, which changes only while the order is a draft; ``lines`` replaces every
    line; ``custom`` merges key by key (null removes)."""

    number: OrderNumber | None = None
    customer_id: uuid.UUID | None = None
    currency: CurrencyCode | None = None
    owner_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    lines: Annotated[list[OrderLineIn], Field(max_length=MAX_LINES)] | None = None
    custom: CustomValues | None = None


class OrderActionRequest(InputModel):
    comment: Comment | None = Field(
        default=None, description="Why; kept with the transition."
    )


class OrderLineRead(ReadModel):
    id: uuid.UUID
    position: int
    product_id: uuid.UUID | None
    description: str
    quantity: DecimalOut
    unit_price: MoneyOut
    discount_percent: DecimalOut
    tax_rate_percent: DecimalOut
    net_amount: MoneyOut
    tax_amount: MoneyOut
    gross_amount: MoneyOut


class ApprovalLevelState(ReadModel):
    level: int
    roles: list[str] = Field(description="Any one of these roles decides the level.")
    rule_ids: list[uuid.UUID] = Field(description="The rules that asked for it.")


class ApprovalState(ReadModel):
    round: int = Field(description="Counts submits: each submit starts a new round.")
    current_level: int | None = Field(
        description="The level awaiting a decision; null once decided."
    )
    levels: list[ApprovalLevelState]


class OrderPayment(ReadModel):
    """Money against the order's execution plan, on the tenant's calendar."""

    planned: MoneyOut = Field(description="The plan's collection steps, summed.")
    paid: MoneyOut = Field(description="Every receipt recorded against the plan.")
    outstanding: MoneyOut = Field(description="Still to collect on pending steps.")
    overdue: MoneyOut = Field(description="The part of `outstanding` already due.")
    as_of: date = Field(description="The tenant's today, which `overdue` is judged by.")
    pending_steps: int


class OrderRead(ReadModel):
    id: uuid.UUID
    number: str
    status: OrderStatus
    customer_id: uuid.UUID
    currency: str
    ordered_on: date = Field(
        description="The day the order was placed, on the tenant's calendar: the day "
        "it was entered, or the date a historical import brought."
    )
    owner_id: uuid.UUID
    department_id: uuid.UUID
    lines: list[OrderLineRead]
    total_net: MoneyOut
    total_tax: MoneyOut
    total_gross: MoneyOut
    custom: dict[str, Any]
    source_quote_id: uuid.UUID | None
    source_quote_revision: int | None
    approval: ApprovalState | None = Field(
        description="The latest approval round; null before the first submit."
    )
    submitted_by: uuid.UUID | None
    allowed_actions: list[Action] = Field(
        description="The transitions the order's state allows (permissions aside)."
    )
    payment: OrderPayment | None = Field(
        description="Paid, outstanding and overdue against the execution plan; null "
        "while the order has no plan (see /orders/{id}/plan)."
    )
    created_at: datetime
    updated_at: datetime


class OrderTransitionRead(ReadModel):
    id: uuid.UUID
    position: int
    action: RecordedAction
    from_status: OrderStatus
    to_status: OrderStatus
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    automatic: bool = Field(description="Taken by the system, e.g. no rule applied.")
    comment: str | None
    occurred_at: datetime


class OrderApprovalRead(ReadModel):
    id: uuid.UUID
    round: int
    level: int
    decision: Literal["approved", "rejected"]
    user_id: uuid.UUID | None
    roles: list[str]
    comment: str | None
    decided_at: datetime


class OrderCount(ReadModel):
    count: int


# --- historical orders ---

MAX_HISTORICAL_ORDERS = 500


class HistoricalOrderLineIn(OrderLineIn):
    """A line as it was sold: the unit price is the one charged then, so it is
    required (the product's list price today says nothing about it)."""

    unit_price: UnitPrice


class HistoricalOrderIn(InputModel):
    number: OrderNumber = Field(
        description="The order's number in the system it comes from; unique in the "
        "tenant, and the key that makes importing it again change nothing."
    )
    customer_code: CustomerCode = Field(
        description="The customer's `code`; a customer the caller can see."
    )
    owner_id: uuid.UUID = Field(
        description="The employee who sold it: active, and within the caller's "
        "`orders:write` scope. The order files under the owner's department."
    )
    ordered_on: date = Field(
        description="The day it was placed; not after today on the tenant's calendar."
    )
    currency: CurrencyCode | None = Field(
        default=None, description="Defaults to the tenant's default currency."
    )
    lines: Annotated[
        list[HistoricalOrderLineIn], Field(min_length=1, max_length=MAX_LINES)
    ]
    custom: CustomValues = Field(default_factory=dict)


class HistoricalOrderBatch(InputModel):
    orders: Annotated[
        list[HistoricalOrderIn],
        Field(min_length=1, max_length=MAX_HISTORICAL_ORDERS),
    ]


class HistoricalOrderResult(ReadModel):
    index: int = Field(description="The order's position in the batch, from 0.")
    number: str
    outcome: Literal["created", "existing"] = Field(
        description="`existing`: an order with this number was already there; it "
        "is left as it is."
    )
    id: uuid.UUID | None = Field(
        description="The order's id; null for an existing order outside the "
        "caller's visibility."
    )


class HistoricalImportReport(ReadModel):
    created: int
    existing: int
    orders: list[HistoricalOrderResult] = Field(description="One per order sent.")


# --- approval rules ---


class RuleConditions(InputModel):
    """All conditions set must hold; a rule without conditions applies to every order."""

    min_total_gross: Annotated[MoneyIn, Field(ge=0)] | None = Field(
        default=None,
        description="The order's total gross is at least this, in the rule's currency "
        "(the tenant's default currency when the rule was made). An order in another "
        "currency cannot be compared, so the condition counts as met.",
    )
    min_line_discount_percent: Percent | None = Field(
        default=None, description="Some line's discount is at least this."
    )
    customer_levels: (
        Annotated[list[CustomerLevel], Field(min_length=1, max_length=50)] | None
    ) = Field(default=None, description="The customer's level is one of these.")


class ApprovalLevel(InputModel):
    roles: Annotated[list[RoleKey], Field(min_length=1, max_length=20)] = Field(
        description="Role keys (built-in or the tenant's); a holder of any decides."
    )


Levels = Annotated[list[ApprovalLevel], Field(min_length=1, max_length=10)]


class ApprovalRuleCreate(InputModel):
    name: Name
    active: bool = True
    conditions: RuleConditions = Field(default_factory=RuleConditions)
    levels: Levels


class ApprovalRuleUpdate(InputModel):
    """Only the fields sent change; ``conditions`` and ``levels`` are replaced whole.
    Orders already awaiting approval keep the levels they were submitted with."""

    name: Name | None = None
    active: bool | None = None
    conditions: RuleConditions | None = None
    levels: Levels | None = None


class RuleConditionsRead(ReadModel):
    min_total_gross: MoneyOut | None
    min_line_discount_percent: DecimalOut | None
    customer_levels: list[str] | None


class ApprovalLevelRead(ReadModel):
    roles: list[str]


class ApprovalRuleRead(ReadModel):
    id: uuid.UUID
    name: str
    active: bool
    currency: str
    conditions: RuleConditionsRead
    levels: list[ApprovalLevelRead]
    created_at: datetime
    updated_at: datetime
