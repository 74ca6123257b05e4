from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

from crm_api.tenants.schemas import TenantRead
from crm_api.users.schemas import UserRead


class Me(BaseModel):
    kind: Literal["user", "api_key"]
    user: UserRead | None
    api_key_id: uuid.UUID | None
    tenant: TenantRead
    permissions: list[str]
