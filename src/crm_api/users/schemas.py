from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import Email, Name, Password

# A key, matched exactly: surrounding spaces are refused, not trimmed.
RoleName = Annotated[
    str,
    StringConstraints(strip_whitespace=False, pattern=r"^[a-z][a-z0-9_]{1,39}$"),
    Field(
        description="A built-in role (admin, manager, sales, marketing, service, "
        "finance) or one of the tenant's own (GET /api/v1/roles).",
        examples=["sales"],
    ),
]
Roles = Annotated[list[RoleName], Field(min_length=1, max_length=20)]


class UserCreate(InputModel):
    email: Email
    full_name: Name
    password: Password
    roles: Roles = Field(default=["sales"])


class UserUpdate(InputModel):
    full_name: Name | None = None
    roles: Roles | None = None


class UserRead(ReadModel):
    id: uuid.UUID
    email: str
    full_name: str
    roles: list[str]
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime
