"""Roles: the built-in ones, and the tenant's own with permissions and a scope."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.grants import beyond
from crm_api.auth.principal import (
    BUILTIN_ROLES,
    ROLE_DESCRIPTIONS,
    Principal,
    Scope,
)
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import Conflict, NotFound, PermissionDenied, refuse_nulls
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.roles import repository
from crm_api.roles.models import Role
from crm_api.roles.schemas import RoleCreate, RoleRead, RoleUpdate

logger = structlog.get_logger(__name__)

MAX_ROLES = 100
KEY_TAKEN = {"uq_roles_tenant_key": ("key", "Another role has this key.")}


def _builtin(key: str) -> RoleRead:
    grant = BUILTIN_ROLES[key]
    return RoleRead(
        key=key,
        name=key.capitalize(),
        description=ROLE_DESCRIPTIONS.get(key),
        permissions=sorted(grant.permissions),
        scope=grant.scope,
        builtin=True,
    )


def to_read(role: Role) -> RoleRead:
    return RoleRead(
        key=role.key,
        name=role.name,
        description=role.description,
        permissions=sorted(role.permissions),
        scope=role.scope,  # type: ignore[arg-type]
        builtin=False,
        id=role.id,
        created_at=role.created_at,
        updated_at=role.updated_at,
    )


def _ensure_within(actor: Principal, permissions: list[str], scope: Scope) -> None:
    exceeding = beyond(actor, frozenset(permissions), dict.fromkeys(permissions, scope))
    if exceeding:
        raise PermissionDenied(
            "A role cannot carry rights you lack yourself: " + ", ".join(exceeding)
        )


def _refuse_builtin(key: str) -> None:
    if key in BUILTIN_ROLES:
        raise Conflict(
            f"'{key}' is a built-in role; built-in roles cannot be changed or "
            "deleted. Create a role of your own instead."
        )


async def list_roles(session: AsyncSession) -> list[RoleRead]:
    own = [to_read(role) for role in await repository.all_roles(session)]
    return [_builtin(key) for key in BUILTIN_ROLES] + own


async def get_role(session: AsyncSession, key: str) -> RoleRead | Role:
    """A built-in role's description, or the tenant's role row."""
    if key in BUILTIN_ROLES:
        return _builtin(key)
    role = await repository.by_key(session, key)
    if role is None:
        raise NotFound("No such role.")
    return role


async def create_role(
    session: AsyncSession, data: RoleCreate, *, actor: Principal
) -> Role:
    if data.key in BUILTIN_ROLES:
        raise Conflict(
            f"'{data.key}' is the key of a built-in role.",
            extra={"field": "key"},
        )
    permissions = sorted(set(data.permissions))
    _ensure_within(actor, permissions, data.scope)
    if await repository.count(session) >= MAX_ROLES:
        raise Conflict(f"A tenant has at most {MAX_ROLES} roles of its own.")
    role = Role(
        tenant_id=current_tenant(session),
        key=data.key,
        name=data.name,
        description=data.description,
        permissions=permissions,
        scope=data.scope,
    )
    session.add(role)
    await flush_or_conflict(session, KEY_TAKEN)
    record_event(
        session,
        "role.created",
        subject_id=role.id,
        payload={"key": role.key, "permissions": permissions, "scope": role.scope},
    )
    logger.info("role.created", role_key=role.key)
    return role


async def _locked(session: AsyncSession, key: str) -> Role:
    _refuse_builtin(key)
    role = await repository.by_key(session, key, lock=True)
    if role is None:
        raise NotFound("No such role.")
    return role


async def update_role(
    session: AsyncSession,
    key: str,
    data: RoleUpdate,
    *,
    actor: Principal,
    expected_version: int | None,
) -> Role:
    role = await _locked(session, key)
    check_version(expected_version, role.version)
    # Changing a role changes what its holders can do: the actor must hold what the
    # role gives now and what it will give.
    _ensure_within(actor, role.permissions, role.scope)  # type: ignore[arg-type]
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("name", "permissions", "scope"))
    if "permissions" in changes:
        changes["permissions"] = sorted(set(changes["permissions"]))
    _ensure_within(
        actor,
        changes.get("permissions", role.permissions),
        changes.get("scope", role.scope),
    )
    changes = {k: v for k, v in changes.items() if getattr(role, k) != v}
    if not changes:
        return role
    for field, value in changes.items():
        setattr(role, field, value)
    await session.flush()
    record_event(session, "role.updated", subject_id=role.id, payload=changes)
    logger.info("role.updated", role_key=role.key, fields=sorted(changes))
    return role


async def delete_role(
    session: AsyncSession,
    key: str,
    *,
    actor: Principal,
    expected_version: int | None,
) -> None:
    # The row lock comes before the count: an assignment of the role holds a share
    # lock on it until commit (auth.grants.unknown_roles), so the count below runs
    # after that assignment has committed and sees its holder.
    role = await _locked(session, key)
    check_version(expected_version, role.version)
    _ensure_within(actor, role.permissions, role.scope)  # type: ignore[arg-type]
    holders = await repository.holders(session, key)
    if holders:
        raise Conflict(
            f"{holders} user(s) hold the role '{key}'; take it from them first.",
            extra={"holders": holders},
        )
    used = await repository.uses(session, key)
    if used:
        listed = ", ".join(f"{count} {name}" for name, count in used.items())
        raise Conflict(
            f"The role '{key}' is still named by {listed}; change those first.",
            extra={"used_by": used},
        )
    await session.delete(role)
    await session.flush()
    record_event(session, "role.deleted", subject_id=role.id, payload={"key": key})
    logger.info("role.deleted", role_key=key)
