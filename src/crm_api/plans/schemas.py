from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from crm_api.kernel.money import MoneyIn, MoneyOut
from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import Name, PlainText
from crm_api.orders.schemas import OrderStatus

Direction = Literal["none", "in", "out"]
StepStatus = Literal["pending", "done", "skipped"]
NoticeKind = Literal["reminder", "dunning"]
MAX_STEPS = 200
MAX_DUNNING_LEVELS = 10

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# "12-31", "--12-31", "--1231" (ISO 8601's month-day), "12/31": a day with no year.
_NO_YEAR = re.compile(r"-{0,2}\d{1,2}[-/.]\d{1,2}|--\d{4}")


def _calendar_date(value: Any) -> Any:
    """Only ``YYYY-MM-DD``: no timestamps, no date-times, and never a day without a
    year (which pydantic's lax parsing would not accept either, but say why)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("date_type", "A date is a string YYYY-MM-DD.")
    if _NO_YEAR.fullmatch(value):
        raise PydanticCustomError(
            "date_without_year",
            "The date has no year; send YYYY-MM-DD, e.g. 2026-12-31.",
        )
    if not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_format", "A date is YYYY-MM-DD.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "date_invalid", "No such calendar day: {value}.", {"value": value}
        ) from None


CalendarDate = Annotated[
    date,
    BeforeValidator(_calendar_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-12-31"]}),
]
PositiveMoney = Annotated[
    MoneyIn,
    Field(gt=0, description="More than 0; no more decimals than the currency has."),
]
Note = Annotated[str, StringConstraints(max_length=2000), PlainText]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=200), PlainText]
OffsetDays = Annotated[int, Field(ge=0, le=3650)]


# --- action types ---


class ActionTypeCreate(InputModel):
    name: Name = Field(description="Unique within the tenant, ignoring case.")
    direction: Direction = Field(
        default="none",
        description="Whether steps of this type move money: `in` collects from the "
        "customer, `out` pays out, `none` moves nothing.",
    )
    default_offset_days: OffsetDays = Field(
        default=0,
        description="Days after the order's approval date a generated step falls due.",
    )
    active: bool = Field(
        default=True, description="Inactive types cannot go into new plans."
    )
    description: Note | None = None


class ActionTypeUpdate(InputModel):
    """Only the fields sent change; steps already planned keep their own copy of the
    name and direction."""

    name: Name | None = None
    direction: Direction | None = None
    default_offset_days: OffsetDays | None = None
    active: bool | None = None
    description: Note | None = None


class ActionTypeRead(ReadModel):
    id: uuid.UUID
    name: str
    direction: Direction
    default_offset_days: int
    active: bool
    description: str | None
    created_at: datetime
    updated_at: datetime


# --- plans ---


class PlanStepIn(InputModel):
    action_type_id: uuid.UUID = Field(description="An active action type.")
    due_on: CalendarDate = Field(description="The calendar date it falls due.")
    amount: PositiveMoney | None = Field(
        default=None,
        description="Required on steps whose type moves money, refused on the rest; "
        "in the order's currency.",
    )
    assignee_id: uuid.UUID | None = Field(
        default=None,
        description="An active employee; defaults to the order's owner.",
    )
    note: Note | None = None


class PlanReplace(InputModel):
    """The whole plan: every step is replaced, each starting as pending."""

    allow_partial_collection: bool = Field(
        default=False,
        description="Without it the collection steps (type direction `in`) must add "
        "up exactly to the order's gross total; with it, to at most that total.",
    )
    steps: Annotated[list[PlanStepIn], Field(max_length=MAX_STEPS)]


class PlanGenerate(InputModel):
    assignee_id: uuid.UUID | None = Field(
        default=None,
        description="Who every generated step is for; defaults to the order's owner.",
    )


class StepDone(InputModel):
    note: Note | None = Field(default=None, description="Kept with the step.")


class StepSkip(InputModel):
    reason: Note | None = Field(default=None, description="Why it is skipped.")


class ReceiptCreate(InputModel):
    amount: PositiveMoney
    received_on: CalendarDate | None = Field(
        default=None,
        description="The day the money came in, not after today on the tenant's "
        "calendar; defaults to today.",
    )
    reference: Reference | None = Field(
        default=None, description="E.g. the bank transfer's reference."
    )


class PlanStepRead(ReadModel):
    id: uuid.UUID
    position: int
    action_type_id: uuid.UUID
    name: str = Field(description="The action type's name when the step was planned.")
    direction: Direction
    due_on: date
    amount: MoneyOut | None
    received: MoneyOut = Field(description="Receipts so far (collection steps).")
    outstanding: MoneyOut = Field(
        description="Still to collect: amount - received on a pending collection "
        "step, otherwise 0."
    )
    overdue: bool = Field(
        description="Pending and due before today on the tenant's calendar."
    )
    assignee_id: uuid.UUID
    status: StepStatus
    note: str | None
    done_at: datetime | None
    done_by: uuid.UUID | None
    skipped_at: datetime | None
    skipped_by: uuid.UUID | None
    skip_reason: str | None


class PlanFigures(ReadModel):
    """What the order's plan says about money, on the tenant's calendar."""

    currency: str
    total_gross: MoneyOut = Field(description="The order's gross total.")
    planned: MoneyOut = Field(description="The collection steps' amounts, summed.")
    paid: MoneyOut = Field(description="Every receipt on the order's plan.")
    outstanding: MoneyOut = Field(
        description="Still to collect on pending collection steps (skipped steps "
        "waive their rest)."
    )
    overdue: MoneyOut = Field(
        description="The part of `outstanding` on steps due before `as_of`."
    )
    as_of: date = Field(description="Today on the tenant's calendar.")
    pending_steps: int
    editable: bool = Field(
        description="Whether the plan may still be replaced (the order is approved "
        "and not yet in execution)."
    )


class PlanRead(ReadModel):
    order_id: uuid.UUID
    order_status: OrderStatus
    allow_partial_collection: bool
    steps: list[PlanStepRead]
    summary: PlanFigures
    updated_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ReceiptRead(ReadModel):
    id: uuid.UUID
    order_id: uuid.UUID
    step_id: uuid.UUID
    amount: MoneyOut
    currency: str
    received_on: date
    reference: str | None
    recorded_by: uuid.UUID | None
    api_key_id: uuid.UUID | None
    recorded_at: datetime


class ReceiptResult(ReadModel):
    receipt: ReceiptRead
    step: PlanStepRead


# --- reminders and dunning ---


class ReminderPolicyReplace(InputModel):
    reminder_lead_days: int = Field(
        ge=0,
        le=365,
        description="Remind the assignee this many days before a money step falls "
        "due (0: on the day).",
    )
    dunning_days: Annotated[
        list[Annotated[int, Field(ge=1, le=365)]],
        Field(max_length=MAX_DUNNING_LEVELS),
    ] = Field(
        description="Dunning levels as days after the due date, strictly rising; "
        "level 1 is the first. Empty: no dunning.",
        examples=[[1, 7, 14]],
    )

    @field_validator("dunning_days")
    @classmethod
    def _rising(cls, days: list[int]) -> list[int]:
        if any(later <= earlier for earlier, later in pairwise(days)):
            raise PydanticCustomError(
                "not_rising", "Dunning days must rise strictly, e.g. [1, 7, 14]."
            )
        return days


class ReminderPolicyRead(ReadModel):
    reminder_lead_days: int
    dunning_days: list[int]
    is_default: bool = Field(
        description="True while the tenant has not set its own policy."
    )
    updated_at: datetime | None


class NoticeRead(ReadModel):
    id: uuid.UUID
    kind: NoticeKind
    level: int = Field(description="0 for a reminder; the dunning level otherwise.")
    days: int = Field(
        description="The policy's days that applied: lead days for a reminder, days "
        "after the due date for dunning."
    )
    order_id: uuid.UUID
    step_id: uuid.UUID
    due_on: date
    amount: MoneyOut = Field(description="Outstanding on the step when made.")
    currency: str
    assignee_id: uuid.UUID
    notice_on: date = Field(description="The tenant's local date it was made on.")
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None
