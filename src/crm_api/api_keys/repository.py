from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.api_keys.models import ApiKey
from crm_api.kernel.pagination import PageParams, SortKey, paginate

API_KEY_ORDER = (SortKey(ApiKey.id, parse=uuid.UUID),)


async def key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


async def get(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def list_page(
    session: AsyncSession, params: PageParams, *, include_revoked: bool
) -> list[ApiKey]:
    statement = select(ApiKey)
    if not include_revoked:
        statement = statement.where(ApiKey.revoked_at.is_(None))
    return list(
        (await session.scalars(paginate(statement, API_KEY_ORDER, params))).all()
    )
