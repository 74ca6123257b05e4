from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kernel.pagination import PageParams, SortKey, paginate
from crm_api.tenants.models import Tenant
from crm_api.users.models import User

USER_ORDER = (SortKey(User.id, parse=uuid.UUID),)


async def get(
    session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False
) -> User | None:
    """One user; ``lock`` holds the row until commit, so writers take turns."""
    return await session.get(
        User, user_id, with_for_update=lock, populate_existing=lock
    )


async def lock_tenant_admins(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Serialise changes that could remove the last admin (one tenant at a time)."""
    await session.execute(
        select(Tenant.id).where(Tenant.id == tenant_id).with_for_update()
    )


def list_statement(*, is_active: bool | None, role: str | None) -> Select[User]:
    statement = select(User)
    if is_active is not None:
        statement = statement.where(User.is_active.is_(is_active))
    if role is not None:
        statement = statement.where(User.roles.contains([role]))
    return statement


async def list_page(
    session: AsyncSession,
    params: PageParams,
    *,
    is_active: bool | None,
    role: str | None,
) -> list[User]:
    statement = paginate(
        list_statement(is_active=is_active, role=role), USER_ORDER, params
    )
    return list((await session.scalars(statement)).all())


async def count_active_admins(session: AsyncSession) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.is_active, User.roles.contains(["admin"]))
    )
    return int(total or 0)
