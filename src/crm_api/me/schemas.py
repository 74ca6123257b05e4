from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from crm_api.tenants.schemas import TenantRead
from crm_api.users.schemas import UserRead


class Me(BaseModel):
    kind: Literal["user", "api_key"]
    user: UserRead | None
    api_key_id: uuid.UUID | None
    tenant: TenantRead
    permissions: list[str]
    scopes: dict[str, Literal["own", "department", "all"]] = Field(
        description="Per permission, which records it reaches: the caller's own, "
        "their department's subtree, or all."
    )
    employee_id: uuid.UUID | None = Field(
        description="The caller's active employee record (records they own)."
    )
    department_id: uuid.UUID | None = Field(
        description="That employee's department (root of a department scope)."
    )
