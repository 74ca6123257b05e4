from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from crm_api.auth.principal import PERMISSIONS, Scope
from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import Name, PlainText


def _known_permission(value: str) -> str:
    if value not in PERMISSIONS:
        raise ValueError(f"unknown permission '{value}' (resource:read or :write)")
    return value


# Permissions and keys are identifiers with a published enum or pattern: they are
# matched exactly, so " customers:read" is refused rather than trimmed as free text
# is (InputModel strips whitespace).
PermissionName = Annotated[
    str,
    StringConstraints(strip_whitespace=False),
    AfterValidator(_known_permission),
    Field(json_schema_extra={"enum": sorted(PERMISSIONS)}),
]
Permissions = Annotated[
    list[PermissionName], Field(max_length=len(PERMISSIONS), min_length=1)
]
RoleKey = Annotated[
    str,
    StringConstraints(strip_whitespace=False, pattern=r"^[a-z][a-z0-9_]{1,39}$"),
    Field(description="Lower-case key users are given, e.g. `key_accounts`."),
]
Description = Annotated[str, StringConstraints(max_length=500), PlainText]


class RoleCreate(InputModel):
    key: RoleKey
    name: Name
    description: Description | None = None
    permissions: Permissions
    scope: Scope = Field(
        description="Which records the role's permissions reach: `own` (owned by "
        "the holder), `department` (the holder's department and all below it) or "
        "`all`."
    )


class RoleUpdate(InputModel):
    """Only the fields sent change; holders get the new rights with their next call."""

    name: Name | None = None
    description: Description | None = None
    permissions: Permissions | None = None
    scope: Scope | None = None


class RoleRead(ReadModel):
    key: str
    name: str
    description: str | None
    permissions: list[str]
    scope: Scope
    builtin: bool = Field(description="Built-in roles cannot be changed or deleted.")
    id: uuid.UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class RoleList(ReadModel):
    """Every role of the tenant: built-in first, then the tenant's own by key."""

    items: list[RoleRead]
