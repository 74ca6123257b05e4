from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.custom_attributes.models import CustomAttribute
from crm_api.custom_attributes.registry import EntityTable
from crm_api.kernel.db import current_tenant
from crm_api.kernel.pagination import PageParams, SortKey, paginate

DEFINITION_ORDER = (
    SortKey(CustomAttribute.position, parse=int),
    SortKey(CustomAttribute.key, parse=str),
)


def _lock_id(tenant_id: uuid.UUID, entity: str) -> int:
    digest = hashlib.blake2b(
        f"custom_attributes:{tenant_id}:{entity}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_entity(session: AsyncSession, entity: str, *, exclusive: bool) -> None:
    """Hold the tenant's lock on ``entity``'s definitions until the transaction ends.

    Record writes take it shared, definition changes exclusively (see values.py).
    """
    lock = (
        func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
    )
    await session.execute(select(lock(_lock_id(current_tenant(session), entity))))


def _of_entity(session: AsyncSession, entity: str) -> Select[CustomAttribute]:
    return select(CustomAttribute).where(
        CustomAttribute.tenant_id == current_tenant(session),
        CustomAttribute.entity == entity,
    )


async def get(session: AsyncSession, entity: str, key: str) -> CustomAttribute | None:
    statement = _of_entity(session, entity).where(CustomAttribute.key == key)
    return (await session.scalars(statement)).one_or_none()


async def all_of_entity(session: AsyncSession, entity: str) -> list[CustomAttribute]:
    statement = _of_entity(session, entity).order_by(
        CustomAttribute.position, CustomAttribute.key
    )
    return list((await session.scalars(statement)).all())


async def list_page(
    session: AsyncSession, entity: str, params: PageParams, *, include_archived: bool
) -> list[CustomAttribute]:
    statement = _of_entity(session, entity)
    if not include_archived:
        statement = statement.where(CustomAttribute.archived.is_(False))
    return list(
        (await session.scalars(paginate(statement, DEFINITION_ORDER, params))).all()
    )


async def count_records(
    session: AsyncSession, records: EntityTable, condition: ColumnElement[bool]
) -> int:
    """How many of the tenant's records of ``records`` satisfy ``condition``."""
    count = await session.scalar(
        select(func.count())
        .select_from(records.table)
        .where(records.tenant_column == current_tenant(session), condition)
    )
    return int(count or 0)


async def rewrite_values(
    session: AsyncSession,
    records: EntityTable,
    condition: ColumnElement[bool],
    new_values: ColumnElement[Any],
) -> int:
    """Set the JSONB column to ``new_values`` where ``condition`` holds, in one UPDATE.

    Nothing else changes: columns that refresh themselves on update (``updated_at``)
    are set to what they hold, so a conversion is no edit of the record.
    """
    unchanged = {c.name: c for c in records.table.c if c.onupdate is not None}
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(records.table)
        .where(records.tenant_column == current_tenant(session), condition)
        .values({records.column_name: new_values, **unchanged})
    )
    return int(result.rowcount)


async def of_type(session: AsyncSession, attribute_type: str) -> list[CustomAttribute]:
    """The tenant's attributes of one type, over every entity, archived ones too."""
    statement = (
        select(CustomAttribute)
        .where(
            CustomAttribute.tenant_id == current_tenant(session),
            CustomAttribute.type == attribute_type,
        )
        .order_by(CustomAttribute.entity, CustomAttribute.key)
    )
    return list((await session.scalars(statement)).all())
