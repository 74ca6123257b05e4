from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.api_keys.models import ApiKey
from crm_api.kernel.pagination import PageParams, SortKey, paginate

API_KEY_ORDER = (SortKey(ApiKey.id, parse=uuid.UUID),)


async def key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


async def get(
    session: AsyncSession,
    key_id: uuid.UUID,
    *,
    visible: ColumnElement[bool],
    lock: bool = False,
) -> ApiKey | None:
    """The key, if ``visible`` lets the caller reach it."""
    statement = select(ApiKey).where(ApiKey.id == key_id, visible)
    if lock:
        statement = statement.with_for_update().execution_options(
            populate_existing=True
        )
    return await session.scalar(statement)


async def touch_key(session: AsyncSession, key_id: uuid.UUID, *, at: datetime) -> None:
    # NOTE: a Core UPDATE on purpose: using a key must not change its version (ETag)
    # or its updated_at, or concurrent reads would make each other's writes stale.
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .values(last_used_at=at, updated_at=ApiKey.updated_at)
    )


async def list_page(
    session: AsyncSession,
    params: PageParams,
    *,
    visible: ColumnElement[bool],
    include_revoked: bool,
) -> list[ApiKey]:
    statement = select(ApiKey).where(visible)
    if not include_revoked:
        statement = statement.where(ApiKey.revoked_at.is_(None))
    return list(
        (await session.scalars(paginate(statement, API_KEY_ORDER, params))).all()
    )
