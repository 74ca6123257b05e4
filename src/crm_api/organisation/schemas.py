from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import Email, Name, PlainText

EmployeeStatus = Literal["active", "left"]

Title = Annotated[str, StringConstraints(min_length=1, max_length=100), PlainText]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=40), PlainText]
Position = Annotated[
    int,
    Field(
        ge=0,
        le=1_000_000,
        description="Order among siblings, lowest first; appended last when omitted.",
    ),
]
CustomValues = Annotated[
    dict[str, Any],
    Field(
        description="Tenant-defined attributes, validated against their definitions."
    ),
]


class DepartmentCreate(InputModel):
    name: Name
    parent_id: uuid.UUID | None = Field(
        default=None, description="The department above; a root when omitted."
    )
    head_employee_id: uuid.UUID | None = None
    position: Position | None = None


class DepartmentUpdate(InputModel):
    """Only the fields sent change; a new `parent_id` moves the whole subtree
    (null makes it a root)."""

    name: Name | None = None
    parent_id: uuid.UUID | None = None
    head_employee_id: uuid.UUID | None = None
    position: Position | None = None


class DepartmentRead(ReadModel):
    id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str
    head_employee_id: uuid.UUID | None
    position: int
    path: list[uuid.UUID] = Field(
        description="Ids from the root down to this department, itself last."
    )
    created_at: datetime
    updated_at: datetime


class DepartmentNode(ReadModel):
    """A department with the departments below it, nested."""

    id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str
    head_employee_id: uuid.UUID | None
    position: int
    children: list[DepartmentNode]


class DepartmentTree(ReadModel):
    roots: list[DepartmentNode] = Field(
        description="Top-level departments, each with its subtree; siblings by "
        "position, then name."
    )


class EmployeeCreate(InputModel):
    department_id: uuid.UUID
    name: Name
    title: Title | None = None
    manager_id: uuid.UUID | None = Field(
        default=None, description="An active employee of the same tenant."
    )
    phone: Phone | None = None
    email: Email | None = None
    hire_date: date | None = None
    user_id: uuid.UUID | None = Field(
        default=None, description="The user account of this employee (at most one)."
    )
    custom: CustomValues = Field(default_factory=dict)


class EmployeeUpdate(InputModel):
    """Only the fields sent change; ``custom`` merges key by key (null removes).

    The status changes only through `leave`, which hands the leaver's work over.
    """

    department_id: uuid.UUID | None = None
    name: Name | None = None
    title: Title | None = None
    manager_id: uuid.UUID | None = None
    phone: Phone | None = None
    email: Email | None = None
    hire_date: date | None = None
    user_id: uuid.UUID | None = None
    custom: CustomValues | None = None


class EmployeeRead(ReadModel):
    id: uuid.UUID
    department_id: uuid.UUID
    name: str
    title: str | None
    manager_id: uuid.UUID | None
    phone: str | None
    email: str | None
    hire_date: date | None
    status: EmployeeStatus
    left_at: datetime | None
    user_id: uuid.UUID | None
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class LeaveRequest(InputModel):
    handover_to: uuid.UUID = Field(
        description="An active colleague who takes over the leaver's direct reports, "
        "departments they head and open records."
    )


class LeaveRead(ReadModel):
    employee: EmployeeRead
    handover_to: uuid.UUID
    moved: dict[str, int] = Field(
        description="How many rows moved to the colleague, per `table.column`."
    )
