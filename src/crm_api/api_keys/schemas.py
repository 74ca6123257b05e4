from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from crm_api.auth.principal import PERMISSIONS
from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import UtcDatetime


def _known_permission(value: str) -> str:
    if value not in PERMISSIONS:
        raise ValueError(f"unknown scope '{value}'")
    return value


# Matched exactly against the enum: " users:read" is refused, not trimmed.
Scope = Annotated[
    str,
    StringConstraints(strip_whitespace=False),
    AfterValidator(_known_permission),
    Field(json_schema_extra={"enum": sorted(PERMISSIONS)}),
]


class ApiKeyCreate(InputModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=50)]
    expires_at: UtcDatetime | None = None


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(
        description="The whole key. It is shown this once and never again."
    )
