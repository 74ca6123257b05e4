from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import (
    CurrencyCode,
    Email,
    LocaleTag,
    Name,
    Password,
    Slug,
    TimeZoneName,
)
from crm_api.users.schemas import UserRead


class TenantCreate(InputModel):
    name: Name
    slug: Slug
    default_currency: CurrencyCode
    time_zone: TimeZoneName
    locale: LocaleTag = "en-US"


class TenantUpdate(InputModel):
    name: Name | None = None
    default_currency: CurrencyCode | None = None
    time_zone: TimeZoneName | None = None
    locale: LocaleTag | None = None


class AdminCreate(InputModel):
    email: Email
    full_name: Name
    password: Password


class SignupRequest(InputModel):
    tenant: TenantCreate
    admin: AdminCreate


class TenantRead(ReadModel):
    id: uuid.UUID
    name: str
    slug: str
    default_currency: str
    time_zone: str
    locale: str
    created_at: datetime
    updated_at: datetime


class SignupResult(ReadModel):
    tenant: TenantRead
    admin: UserRead
    admin_employee_id: uuid.UUID = Field(
        description="The admin's employee record: customers they create are theirs."
    )
    root_department_id: uuid.UUID = Field(
        description="The organisation's first department, named after the tenant."
    )
