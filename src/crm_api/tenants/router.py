from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from crm_api.auth.dependencies import require
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import AppSettings, Redis, Session
from crm_api.kernel.ratelimit import count_hit
from crm_api.kernel.routing import CrmRoute
from crm_api.tenants import service
from crm_api.tenants.schemas import (
    SignupRequest,
    SignupResult,
    TenantRead,
    TenantUpdate,
)
from crm_api.users.schemas import UserRead

router = APIRouter(tags=["tenants"], route_class=CrmRoute)


@router.post(
    "/signup", status_code=status.HTTP_201_CREATED, operation_id="tenants_signup"
)
async def sign_up(
    data: SignupRequest,
    request: Request,
    session: Session,
    settings: AppSettings,
    redis: Redis,
) -> SignupResult:
    """Create a tenant with its first admin user (no sign-in needed)."""
    client = request.client.host if request.client else "unknown"
    await count_hit(
        redis,
        f"{settings.redis_key_prefix}signups:{client}",
        limit=settings.signups_per_hour,
        window_s=3600,
        detail="Too many sign-ups from this address; try again later.",
    )
    tenant, admin, employee = await service.sign_up(session, data, settings=settings)

    return SignupResult(
        tenant=TenantRead.model_validate(tenant),
        admin=UserRead.model_validate(admin),
        admin_employee_id=employee.id,
        root_department_id=employee.department_id,
    )


@router.get("/tenant", operation_id="tenants_get_current")
async def get_current_tenant(
    session: Session,
    principal: Annotated[Principal, Depends(require("tenant:read"))],
    response: Response,
) -> TenantRead:
    """Read the caller's tenant and its settings."""
    tenant = await service.get_tenant(session, principal.tenant_id)

    set_etag(response, tenant.version)
    return TenantRead.model_validate(tenant)


@router.patch("/tenant", operation_id="tenants_update_current")
async def update_current_tenant(
    data: TenantUpdate,
    session: Session,
    principal: Annotated[Principal, Depends(require("tenant:write"))],
    expected_version: Annotated[int | None, Depends(if_match_header)],
    response: Response,
) -> TenantRead:
    """Change the tenant's name, default currency, time zone or locale."""
    tenant = await service.update_tenant(
        session, principal.tenant_id, data, expected_version=expected_version
    )

    set_etag(response, tenant.version)
    return TenantRead.model_validate(tenant)
