"""Command-line entry to sign-up: the same validation and service as the API."""

from __future__ import annotations

from typing import Any

from crm_api.kernel.db import create_engine, create_sessionmaker
from crm_api.settings import get_settings
from crm_api.tenants import service
from crm_api.tenants.schemas import SignupRequest, SignupResult, TenantRead
from crm_api.users.schemas import UserRead


async def create_tenant_now(
    *,
    name: str,
    slug: str,
    default_currency: str,
    time_zone: str,
    locale: str,
    admin_email: str,
    admin_name: str,
    admin_password: str,
) -> dict[str, Any]:
    request = SignupRequest.model_validate(
        {
            "tenant": {
                "name": name,
                "slug": slug,
                "default_currency": default_currency,
                "time_zone": time_zone,
                "locale": locale,
            },
            "admin": {
                "email": admin_email,
                "full_name": admin_name,
                "password": admin_password,
            },
        }
    )
    settings = get_settings()
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set")
    engine = create_engine(settings.database_url, app_role=settings.database_app_role)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            tenant, admin, employee = await service.sign_up(
                session, request, settings=settings
            )
            result = SignupResult(
                tenant=TenantRead.model_validate(tenant),
                admin=UserRead.model_validate(admin),
                admin_employee_id=employee.id,
                root_department_id=employee.department_id,
            )
    finally:
        await engine.dispose()
    return result.model_dump(mode="json")
