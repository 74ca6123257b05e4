from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.kernel.errors import NotFound
from crm_api.me.schemas import Me
from crm_api.tenants.models import Tenant
from crm_api.tenants.schemas import TenantRead
from crm_api.users.schemas import UserRead

_TENANT_ROW = select(*Tenant.__table__.c).where(
    Tenant.__table__.c.id == bindparam("tenant_id")
)


async def describe(session: AsyncSession, principal: Principal) -> Me:
    result = await session.execute(_TENANT_ROW, {"tenant_id": principal.tenant_id})
    tenant = result.first()
    if tenant is None:
        raise NotFound("No such tenant.")
    user = (
        UserRead.model_validate(principal.user) if principal.user is not None else None
    )
    return Me(
        kind="user" if user is not None else "api_key",
        user=user,
        api_key_id=principal.api_key_id,
        tenant=TenantRead.model_validate(tenant),
        permissions=sorted(principal.permissions),
        scopes={
            p: principal.scopes.get(p, "own") for p in sorted(principal.permissions)
        },
        employee_id=principal.employee_id,
        department_id=principal.department_id,
    )
