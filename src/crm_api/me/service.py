from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.me.schemas import Me
from crm_api.tenants.schemas import TenantRead
from crm_api.tenants.service import get_tenant
from crm_api.users.schemas import UserRead
from crm_api.users.service import get_user


async def describe(session: AsyncSession, principal: Principal) -> Me:
    tenant = await get_tenant(session, principal.tenant_id)
    user = None
    if principal.user_id is not None:
        # Already in the identity map from authentication: no second query.
        user = UserRead.model_validate(await get_user(session, principal.user_id))
    return Me(
        kind="user" if user is not None else "api_key",
        user=user,
        api_key_id=principal.api_key_id,
        tenant=TenantRead.model_validate(tenant),
        permissions=sorted(principal.permissions),
    )
