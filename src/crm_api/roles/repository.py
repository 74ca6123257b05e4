"""Queries on the tenant's own roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.roles.models import Role
from crm_api.users.models import User


async def all_roles(session: AsyncSession) -> list[Role]:
    return list((await session.scalars(select(Role).order_by(Role.key))).all())


async def by_key(session: AsyncSession, key: str, *, lock: bool = False) -> Role | None:
    statement = select(Role).where(Role.key == key)
    if lock:
        statement = statement.with_for_update().execution_options(
            populate_existing=True
        )
    return await session.scalar(statement)


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Role)) or 0)


async def holders(session: AsyncSession, key: str) -> int:
    """Users (active or not) holding the role."""
    total = await session.scalar(
        select(func.count()).select_from(User).where(User.roles.contains([key]))
    )
    return int(total or 0)


# Other domains that name roles (approval rules name who approves) register a
# counter here, so a role still named somewhere is not deleted from under them.
RoleUse = Callable[[AsyncSession, str], Awaitable[int]]
_USES: dict[str, RoleUse] = {}


def register_role_use(name: str, counter: RoleUse) -> None:
    """Declare that ``name`` records may name a role; ``counter`` counts them."""
    _USES[name] = counter


async def uses(session: AsyncSession, key: str) -> dict[str, int]:
    """Registered records naming the role, counted per kind (non-zero only)."""
    found: dict[str, int] = {}
    for name, counter in _USES.items():
        total = await counter(session, key)
        if total:
            found[name] = total
    return found
