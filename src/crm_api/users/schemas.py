from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import Email, Name, Password

RoleName = Literal["admin", "manager", "sales", "marketing", "service", "finance"]
Roles = Annotated[list[RoleName], Field(min_length=1, max_length=6)]


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
