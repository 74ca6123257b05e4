"""Signing up a tenant, and its own settings."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.passwords import hash_password
from crm_api.auth.principal import PERMISSIONS, Principal
from crm_api.custom_attributes import service as custom_attributes
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import set_tenant
from crm_api.kernel.errors import Conflict, NotFound
from crm_api.kernel.ids import new_id
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.organisation.department_service import create_department
from crm_api.organisation.employee_service import create_employee
from crm_api.organisation.models import Employee
from crm_api.organisation.schemas import DepartmentCreate, EmployeeCreate
from crm_api.settings import Settings
from crm_api.tenants.models import Tenant
from crm_api.tenants.schemas import SignupRequest, TenantUpdate
from crm_api.users.models import User
from crm_api.users.service import EMAIL_TAKEN

logger = structlog.get_logger(__name__)

SLUG_TAKEN = {"uq_tenants_slug": ("tenant.slug", "This slug is already taken.")}


async def sign_up(
    session: AsyncSession, data: SignupRequest, *, settings: Settings
) -> tuple[Tenant, User, Employee]:
    """Create a tenant, its root department and its first admin (a user and their
    employee record) in one transaction."""
    tenant_id = new_id()
    await set_tenant(session, tenant_id)
    tenant = Tenant(id=tenant_id, **data.tenant.model_dump())
    session.add(tenant)
    await flush_or_conflict(session, SLUG_TAKEN)
    admin = User(
        tenant_id=tenant_id,
        email=data.admin.email,
        full_name=data.admin.full_name,
        password_hash=await hash_password(settings, data.admin.password),
        roles=["admin"],
        is_active=True,
    )
    session.add(admin)
    await flush_or_conflict(
        session, {k: ("admin.email", v[1]) for k, v in EMAIL_TAKEN.items()}
    )
    # The organisation starts as one department, the tenant itself, headed by the
    # admin's employee record: the admin owns what they create from the first call.
    founder = Principal(
        tenant_id=tenant_id,
        user_id=admin.id,
        api_key_id=None,
        permissions=PERMISSIONS,
        scopes=dict.fromkeys(PERMISSIONS, "all"),
    )
    root = await create_department(
        session, DepartmentCreate(name=tenant.name), actor=founder
    )
    employee = await create_employee(
        session,
        EmployeeCreate(
            department_id=root.id,
            name=admin.full_name,
            email=admin.email,
            user_id=admin.id,
        ),
        actor=founder,
    )
    root.head_employee_id = employee.id
    await session.flush()
    record_event(
        session,
        "tenant.created",
        subject_id=tenant_id,
        payload={"slug": tenant.slug, "admin_id": str(admin.id)},
    )
    logger.info("tenant.created", tenant_id=str(tenant_id), slug=tenant.slug)
    return tenant, admin, employee


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("No such tenant.")
    return tenant


async def update_tenant(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: TenantUpdate,
    *,
    expected_version: int | None,
) -> Tenant:
    # NO KEY UPDATE: records being inserted meanwhile lock this row KEY SHARE (their
    # foreign key) while holding their definitions lock, which a currency change
    # then waits for; FOR UPDATE would make that a deadlock.
    tenant = await session.get(
        Tenant,
        tenant_id,
        with_for_update={"key_share": True},
        populate_existing=True,
    )
    if tenant is None:
        raise NotFound("No such tenant.")
    check_version(expected_version, tenant.version)
    changes = {
        field: value
        for field, value in data.model_dump(exclude_unset=True).items()
        if value is not None and getattr(tenant, field) != value
    }
    if not changes:
        return tenant
    if "default_currency" in changes:
        await _refuse_reinterpreting_money(session, tenant.default_currency)
    for field, value in changes.items():
        setattr(tenant, field, value)
    await session.flush()
    record_event(session, "tenant.updated", subject_id=tenant.id, payload=changes)
    return tenant


async def _refuse_reinterpreting_money(session: AsyncSession, currency: str) -> None:
    """409 while custom money values or defaults are stored in ``currency``.

    They are amounts without a currency of their own: a new default currency would
    silently turn 12.34 EUR into 12.34 JPY (which JPY cannot even hold).
    """
    await custom_attributes.lock_all_definitions(session)
    holding, defaults = await custom_attributes.money_in_use(session)
    if not holding and not defaults:
        return
    detail = f"{holding} records hold custom money values in {currency}"
    if defaults:
        shown = ", ".join(defaults[:10]) + (", ..." if len(defaults) > 10 else "")
        detail += f", and these money attributes have defaults in it: {shown}"
    raise Conflict(
        f"{detail}. A new currency would reinterpret those amounts. Change the "
        "attributes to decimal (values and defaults are kept) or remove the values "
        "and defaults, then change the currency.",
        extra={"affected_records": holding},
    )
