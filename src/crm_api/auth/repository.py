"""Queries behind sign-in. The two look-ups that must cross tenants (which tenant owns
this email, this API key prefix) go through narrow SECURITY DEFINER functions that
return only a tenant id; everything after them runs under row-level security."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.models import RefreshToken
from crm_api.organisation.models import Employee
from crm_api.roles.models import Role
from crm_api.users.models import User


async def tenant_of_email(session: AsyncSession, email: str) -> uuid.UUID | None:
    return await session.scalar(  # type: ignore[no-any-return]
        text("SELECT crm_user_tenant(:email)"), {"email": email}
    )


async def tenant_of_api_key(session: AsyncSession, prefix: str) -> uuid.UUID | None:
    return await session.scalar(  # type: ignore[no-any-return]
        text("SELECT crm_api_key_tenant(:prefix)"), {"prefix": prefix}
    )


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(
        select(User).where(func.lower(User.email) == email.lower())
    )


def _revoked(family_id: Any) -> Any:
    return (
        select(RefreshToken.id)
        .where(RefreshToken.family_id == family_id)
        .where(RefreshToken.revoked_at.is_not(None))
        .exists()
    )


# Built once: authentication runs on every request, and a plain row skips the ORM's
# identity bookkeeping (the statement's compiled form is cached by SQLAlchemy). The
# user's active employee record comes along: it decides what "own" and "department"
# scopes see, as it stands now.
_USER_COLUMNS = User.__table__.c
_EMPLOYEE_COLUMNS = Employee.__table__.c
_USER_WITH_EMPLOYEE = select(
    *(
        _USER_COLUMNS[name]
        for name in (
            "id",
            "email",
            "full_name",
            "roles",
            "is_active",
            "last_login_at",
            "created_at",
            "updated_at",
        )
    ),
    _EMPLOYEE_COLUMNS.id.label("employee_id"),
    _EMPLOYEE_COLUMNS.department_id,
).outerjoin(
    Employee.__table__,
    (_EMPLOYEE_COLUMNS.user_id == _USER_COLUMNS.id)
    & (_EMPLOYEE_COLUMNS.status == "active"),
)
_ACTIVE_USER_ROW = _USER_WITH_EMPLOYEE.where(
    _USER_COLUMNS.id == bindparam("user_id"),
    _USER_COLUMNS.is_active,
    ~_revoked(bindparam("family_id")),
)
_USER_ROW = _USER_WITH_EMPLOYEE.where(_USER_COLUMNS.id == bindparam("user_id"))


async def active_user_row(
    session: AsyncSession, user_id: uuid.UUID, family_id: uuid.UUID
) -> Any:
    """The user with their active employee (a row), if the user is active and the
    sign-in session (token family) is not revoked; else None."""
    result = await session.execute(
        _ACTIVE_USER_ROW, {"user_id": user_id, "family_id": family_id}
    )
    return result.first()


async def user_row(session: AsyncSession, user_id: uuid.UUID) -> Any:
    """The user with their active employee (a row, or None), whatever their state."""
    return (await session.execute(_USER_ROW, {"user_id": user_id})).first()


async def tenant_roles(
    session: AsyncSession, keys: list[str], *, share: bool = False
) -> list[Role]:
    """The tenant-defined roles among ``keys`` (built-in keys are skipped by callers).

    ``share`` locks the rows found (FOR SHARE) until commit: a role being given to
    someone cannot be deleted meanwhile, and a role deleted meanwhile is not found.
    """
    if not keys:
        return []
    statement = select(Role).where(Role.key.in_(keys)).order_by(Role.key)
    if share:
        statement = statement.with_for_update(read=True).execution_options(
            populate_existing=True
        )
    rows = await session.scalars(statement)
    return list(rows.all())


async def refresh_token_for_update(
    session: AsyncSession, token_id: uuid.UUID
) -> RefreshToken | None:
    return await session.scalar(
        select(RefreshToken).where(RefreshToken.id == token_id).with_for_update()
    )


async def revoke_family(
    session: AsyncSession, family_id: uuid.UUID, *, at: datetime
) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )


async def revoke_user_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, at: datetime
) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )


async def touch_last_login(
    session: AsyncSession, user_id: uuid.UUID, *, at: datetime
) -> None:
    # NOTE: a Core UPDATE on purpose: sign-in bookkeeping must not bump the user's
    # version, or every sign-in would make an admin's If-Match stale.
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(last_login_at=at, updated_at=User.updated_at)
    )
