"""Users of a tenant, managed by its admins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.grants import ensure_may_grant, unknown_roles
from crm_api.auth.passwords import hash_password
from crm_api.auth.principal import Principal
from crm_api.auth.repository import revoke_user_sessions
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import (
    BusinessRuleViolated,
    FieldError,
    NotFound,
    ValidationFailed,
    refuse_nulls,
)
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of
from crm_api.settings import Settings
from crm_api.users import repository
from crm_api.users.models import User
from crm_api.users.schemas import UserCreate, UserUpdate

logger = structlog.get_logger(__name__)

EMAIL_TAKEN = {
    "uq_users_email_lower": ("email", "A user with this email already exists.")
}


async def _check_roles(session: AsyncSession, roles: list[str]) -> None:
    unknown = set(await unknown_roles(session, roles))
    if unknown:
        raise ValidationFailed(
            f"No such role: {', '.join(sorted(unknown))}.",
            errors=[
                FieldError(
                    field=f"roles.{index}",
                    location="body",
                    code="unknown_role",
                    message=f"No such role '{role}' (see GET /api/v1/roles).",
                )
                for index, role in enumerate(roles)
                if role in unknown
            ],
        )


async def create_user(
    session: AsyncSession, data: UserCreate, *, actor: Principal, settings: Settings
) -> User:
    await _check_roles(session, list(data.roles))
    await ensure_may_grant(session, actor, list(data.roles))
    user = User(
        tenant_id=current_tenant(session),
        email=data.email,
        full_name=data.full_name,
        password_hash=await hash_password(settings, data.password),
        roles=sorted(set(data.roles)),
        is_active=True,
    )
    session.add(user)
    await flush_or_conflict(session, EMAIL_TAKEN)
    record_event(
        session,
        "user.created",
        subject_id=user.id,
        payload={"email": user.email, "roles": user.roles},
    )
    logger.info("user.created", user_id=str(user.id))
    return user


async def get_user(
    session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False
) -> User:
    user = await repository.get(session, user_id, lock=lock)
    if user is None:
        raise NotFound("No such user.")
    return user


async def list_users(
    session: AsyncSession,
    params: PageParams,
    *,
    is_active: bool | None,
    role: str | None,
) -> tuple[list[User], str | None]:
    rows = await repository.list_page(session, params, is_active=is_active, role=role)
    return page_of(rows, lambda user: (user.id,), params)


async def _ensure_admin_remains(session: AsyncSession, user: User) -> None:
    await repository.lock_tenant_admins(session, user.tenant_id)
    if (
        "admin" in user.roles
        and user.is_active
        and await repository.count_active_admins(session) <= 1
    ):
        raise BusinessRuleViolated("A tenant must keep at least one active admin.")


async def update_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    data: UserUpdate,
    *,
    actor: Principal,
    expected_version: int | None,
) -> User:
    user = await get_user(session, user_id, lock=True)
    check_version(expected_version, user.version)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("full_name", "roles"))
    if "roles" in changes:
        new_roles = sorted(set(changes["roles"]))
        await _check_roles(session, new_roles)
        await ensure_may_grant(session, actor, [*user.roles, *new_roles])
        if "admin" not in new_roles:
            await _ensure_admin_remains(session, user)
        changes["roles"] = new_roles
    changes = {k: v for k, v in changes.items() if getattr(user, k) != v}
    if not changes:
        return user
    for field, value in changes.items():
        setattr(user, field, value)
    await session.flush()
    record_event(session, "user.updated", subject_id=user.id, payload=changes)
    return user


async def set_active(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    active: bool,
    actor: Principal,
    expected_version: int | None,
) -> User:
    user = await get_user(session, user_id, lock=True)
    check_version(expected_version, user.version)
    await ensure_may_grant(session, actor, user.roles)
    if user.is_active == active:
        return user
    if not active:
        if user.id == actor.user_id:
            raise BusinessRuleViolated("You cannot deactivate yourself.")
        await _ensure_admin_remains(session, user)
        await revoke_user_sessions(session, user.id, at=datetime.now(UTC))
    user.is_active = active
    await session.flush()
    event = "user.activated" if active else "user.deactivated"
    record_event(session, event, subject_id=user.id, payload={})
    logger.info(event, user_id=str(user.id))
    return user
