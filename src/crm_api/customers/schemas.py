from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import Email, PlainText, UtcDatetime

CustomerKind = Literal["company", "person"]
CustomerStatus = Literal["prospect", "active", "dormant", "lost"]
InteractionKind = Literal["call", "visit", "email", "meeting", "note"]


def _has_visible_text(value: str) -> str:
    if not any(
        char.isalnum() or (char.isprintable() and not char.isspace())
        for char in value
        if unicodedata.category(char) not in ("Cf", "Zs")
    ):
        raise ValueError("must contain visible characters")
    return value


def _web_address(value: str) -> str:
    if not value.lower().startswith(("http://", "https://")):
        raise ValueError("a website is an http:// or https:// address")
    return value


Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[^\s].*$"),
    PlainText,
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=100), PlainText]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=50), PlainText]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=40), PlainText]
Website = Annotated[
    str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_web_address)
]
DisplayName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=300),
    PlainText,
    AfterValidator(_has_visible_text),
]
CustomValues = Annotated[
    dict[str, Any],
    Field(
        description="Tenant-defined attributes, validated against their definitions."
    ),
]


class Address(InputModel):
    street: Annotated[str, StringConstraints(max_length=300)] | None = None
    city: ShortText | None = None
    region: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: ShortText | None = None


class CustomerCreate(InputModel):
    code: Code | None = Field(
        default=None, description="The tenant's own key; generated when omitted."
    )
    kind: CustomerKind = "company"
    name: DisplayName
    level: Annotated[str, StringConstraints(max_length=40)] | None = None
    industry: ShortText | None = None
    source: ShortText | None = None
    status: CustomerStatus = "prospect"
    owner_id: uuid.UUID | None = Field(
        default=None,
        description="The employee who looks after the customer; the caller's own "
        "employee when omitted.",
    )
    department_id: uuid.UUID | None = Field(
        default=None, description="The customer's department; the owner's by default."
    )
    phone: Phone | None = None
    email: Email | None = None
    website: Website | None = None
    address: Address = Field(default_factory=Address)
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    custom: CustomValues = Field(default_factory=dict)


class CustomerUpdate(InputModel):
    """Only the fields sent change; ``custom`` merges key by key (null removes)."""

    code: Code | None = None
    kind: CustomerKind | None = None
    name: DisplayName | None = None
    level: Annotated[str, StringConstraints(max_length=40)] | None = None
    industry: ShortText | None = None
    source: ShortText | None = None
    status: CustomerStatus | None = None
    owner_id: uuid.UUID | None = Field(
        default=None,
        description="Hand the customer to another employee; their department comes "
        "along unless department_id is sent too.",
    )
    department_id: uuid.UUID | None = None
    phone: Phone | None = None
    email: Email | None = None
    website: Website | None = None
    address: Address | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    custom: CustomValues | None = None


class AddressRead(ReadModel):
    street: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None


class CustomerRead(ReadModel):
    id: uuid.UUID
    code: str
    kind: str
    name: str
    level: str | None
    industry: str | None
    source: str | None
    status: str
    owner_id: uuid.UUID
    department_id: uuid.UUID
    phone: str | None
    email: str | None
    website: str | None
    address: AddressRead
    tags: list[str]
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DuplicateCandidate(ReadModel):
    id: uuid.UUID
    code: str
    name: str
    matched_on: list[str]


class CustomerCount(ReadModel):
    count: int


class MergeRequest(InputModel):
    duplicate_id: uuid.UUID = Field(
        description="The customer merged into this one; it ceases to exist."
    )


class MergeRead(ReadModel):
    id: uuid.UUID
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    moved: dict[str, Any]
    merged_at: datetime


class ContactCreate(InputModel):
    name: Annotated[DisplayName, StringConstraints(max_length=200)]
    title: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    is_primary: bool = False
    custom: CustomValues = Field(default_factory=dict)


class ContactUpdate(InputModel):
    name: Annotated[DisplayName, StringConstraints(max_length=200)] | None = None
    title: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    is_primary: bool | None = None
    custom: CustomValues | None = None


class ContactRead(ReadModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    title: str | None
    email: str | None
    phone: str | None
    is_primary: bool
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class InteractionCreate(InputModel):
    kind: InteractionKind
    occurred_at: UtcDatetime
    summary: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    contact_id: uuid.UUID | None = None


class InteractionRead(ReadModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None
    user_id: uuid.UUID | None
    kind: str
    occurred_at: datetime
    summary: str
    created_at: datetime
