"""A user's effective rights: their roles, built-in and tenant-defined, combined."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth import repository
from crm_api.auth.principal import (
    BUILTIN_ROLES,
    PERMISSIONS,
    SCOPES,
    Grant,
    Principal,
    Scope,
    combine,
)
from crm_api.kernel.errors import PermissionDenied


async def grants_of(
    session: AsyncSession, roles: list[str]
) -> tuple[frozenset[str], dict[str, Scope]]:
    """Permissions and per-permission scopes of ``roles``, read now: a change to a
    tenant role takes effect with the holder's next request."""
    grants = [BUILTIN_ROLES[role] for role in roles if role in BUILTIN_ROLES]
    tenant_keys = [role for role in roles if role not in BUILTIN_ROLES]
    for role in await repository.tenant_roles(session, tenant_keys):
        # A permission dropped from the code since the role was saved grants nothing.
        grants.append(Grant(frozenset(role.permissions) & PERMISSIONS, role.scope))  # type: ignore[arg-type]
    return combine(grants)


async def principal_for_user(
    session: AsyncSession,
    user: Any,
    *,
    tenant_id: uuid.UUID,
    session_id: uuid.UUID | None = None,
) -> Principal:
    """The principal of a user row from :func:`repository.active_user_row` or
    :func:`repository.user_row` (it carries the user's active employee)."""
    permissions, scopes = await grants_of(session, list(user.roles))
    return Principal(
        tenant_id=tenant_id,
        user_id=user.id,
        api_key_id=None,
        permissions=permissions,
        session_id=session_id,
        user=user,
        scopes=scopes,
        employee_id=user.employee_id,
        department_id=user.department_id,
        on_behalf_of=user.id,
    )


def beyond(
    actor: Principal, permissions: frozenset[str], scopes: dict[str, Scope]
) -> list[str]:
    """What of ``permissions`` (with ``scopes``) the actor does not hold themselves:
    a missing permission, or one reaching further than the actor's."""
    exceeding: list[str] = []
    for permission in sorted(permissions):
        held = actor.scope(permission)
        wanted = scopes.get(permission, "own")
        if held is None:
            exceeding.append(permission)
        elif SCOPES.index(wanted) > SCOPES.index(held):
            exceeding.append(f"{permission} (scope {wanted})")
    return exceeding


async def ensure_may_grant(
    session: AsyncSession, actor: Principal, roles: list[str]
) -> None:
    """Nobody hands out (or takes from) more than they hold themselves."""
    permissions, scopes = await grants_of(session, roles)
    exceeding = beyond(actor, permissions, scopes)
    if exceeding:
        raise PermissionDenied(
            "You cannot manage roles or users carrying rights you lack: "
            + ", ".join(exceeding)
        )


async def unknown_roles(session: AsyncSession, roles: list[str]) -> list[str]:
    """Keys among ``roles`` that name neither a built-in nor a tenant role.

    The tenant roles found stay share-locked until commit, so a concurrent delete of
    one of them waits and then sees the new holder (409), or, if it came first, the
    role is unknown here (422): nobody is left holding a deleted role's key.
    """
    tenant_keys = [role for role in roles if role not in BUILTIN_ROLES]
    held = await repository.tenant_roles(session, tenant_keys, share=True)
    return sorted(set(tenant_keys) - {role.key for role in held})
