"""Queries for imports: the record, its file chunks, its row errors; no side effects."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Uuid,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.customers.models import Contact, Customer
from crm_api.imports.models import CustomerImport, ImportChunk, ImportRowError
from crm_api.kernel.pagination import PageParams, SortKey, paginate

IMPORT_ORDER = (SortKey(CustomerImport.id, descending=True, parse=uuid.UUID),)
ERROR_ORDER = (
    SortKey(ImportRowError.row_number, parse=int),
    SortKey(ImportRowError.id, parse=uuid.UUID),
)


async def get(
    session: AsyncSession,
    import_id: uuid.UUID,
    *,
    visible: ColumnElement[bool] | None = None,
    lock: bool = False,
) -> CustomerImport | None:
    """The import, if ``visible`` (when given) lets the caller see it."""
    statement = select(CustomerImport).where(CustomerImport.id == import_id)
    if visible is not None:
        statement = statement.where(visible)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


async def page(
    session: AsyncSession, params: PageParams, *, visible: ColumnElement[bool]
) -> list[CustomerImport]:
    statement = paginate(select(CustomerImport).where(visible), IMPORT_ORDER, params)
    return list((await session.scalars(statement)).all())


async def errors_page(
    session: AsyncSession, import_id: uuid.UUID, params: PageParams
) -> list[ImportRowError]:
    statement = paginate(
        select(ImportRowError).where(ImportRowError.import_id == import_id),
        ERROR_ORDER,
        params,
    )
    return list((await session.scalars(statement)).all())


async def add_chunk(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    import_id: uuid.UUID,
    seq: int,
    data: bytes,
) -> None:
    # Core, not the ORM: a chunk is written once and must not stay in the session.
    await session.execute(
        insert(ImportChunk).values(
            tenant_id=tenant_id, import_id=import_id, seq=seq, data=data
        )
    )


async def chunk(session: AsyncSession, import_id: uuid.UUID, seq: int) -> bytes | None:
    return await session.scalar(
        select(ImportChunk.data).where(
            ImportChunk.import_id == import_id, ImportChunk.seq == seq
        )
    )


async def delete_chunks(session: AsyncSession, import_id: uuid.UUID) -> None:
    await session.execute(delete(ImportChunk).where(ImportChunk.import_id == import_id))


async def claim(
    session: AsyncSession,
    import_id: uuid.UUID,
    *,
    worker: uuid.UUID,
    lease_s: float,
) -> CustomerImport | None:
    """Take the import's lease, unless another live worker holds it or it is done."""
    result = await session.execute(
        update(CustomerImport)
        .where(
            CustomerImport.id == import_id,
            CustomerImport.status.in_(("queued", "running")),
            (CustomerImport.claimed_until.is_(None))
            | (CustomerImport.claimed_until < func.now()),
        )
        .values(
            status="running",
            claimed_by=worker,
            claimed_until=func.now() + _seconds(lease_s),
            started_at=func.coalesce(CustomerImport.started_at, func.now()),
            version=CustomerImport.version + 1,
        )
        .returning(CustomerImport.id)
        .execution_options(synchronize_session=False)
    )
    if result.scalar() is None:
        return None
    return await get(session, import_id)


async def held(
    session: AsyncSession, import_id: uuid.UUID, *, worker: uuid.UUID
) -> CustomerImport | None:
    """The import, locked, if ``worker`` still holds its lease."""
    return await session.scalar(
        select(CustomerImport)
        .where(
            CustomerImport.id == import_id,
            CustomerImport.claimed_by == worker,
            CustomerImport.status == "running",
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def record_progress(
    session: AsyncSession,
    import_id: uuid.UUID,
    *,
    worker: uuid.UUID,
    lease_s: float,
    values: dict[str, Any],
) -> None:
    await session.execute(
        update(CustomerImport)
        .where(CustomerImport.id == import_id, CustomerImport.claimed_by == worker)
        .values(
            claimed_until=func.now() + _seconds(lease_s),
            version=CustomerImport.version + 1,
            **values,
        )
        .execution_options(synchronize_session=False)
    )


async def finish(
    session: AsyncSession,
    import_id: uuid.UUID,
    *,
    status: str,
    error: str | None = None,
    processed_bytes: int | None = None,
) -> datetime | None:
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "claimed_by": None,
        "claimed_until": None,
        "finished_at": func.now(),
        "version": CustomerImport.version + 1,
    }
    if processed_bytes is not None:
        values["processed_bytes"] = processed_bytes
    return await session.scalar(
        update(CustomerImport)
        .where(CustomerImport.id == import_id)
        .values(**values)
        .returning(CustomerImport.finished_at)
        .execution_options(synchronize_session=False)
    )


async def release(
    session: AsyncSession, import_id: uuid.UUID, *, worker: uuid.UUID
) -> None:
    """Give the lease back early (a retry may then claim at once)."""
    await session.execute(
        update(CustomerImport)
        .where(CustomerImport.id == import_id, CustomerImport.claimed_by == worker)
        .values(claimed_until=None)
        .execution_options(synchronize_session=False)
    )


async def add_errors(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(ImportRowError), list(rows))


def _with_code(codes: Collection[str]) -> ColumnElement[bool]:
    # One array parameter rather than an IN list: the statement stays the same for
    # every batch, so it is compiled and prepared once.
    return Customer.code == any_(bindparam("codes", list(codes), ARRAY(String)))


async def customers_by_code(
    session: AsyncSession, codes: Collection[str], visible: ColumnElement[bool]
) -> dict[str, Customer]:
    """The customers with these codes that ``visible`` lets the importer change."""
    if not codes:
        return {}
    rows = await session.scalars(
        select(Customer)
        .where(_with_code(codes), visible)
        .execution_options(populate_existing=True)
    )
    return {customer.code: customer for customer in rows}


async def codes_taken_outside(
    session: AsyncSession, codes: Collection[str], visible: ColumnElement[bool]
) -> set[str]:
    """Codes among ``codes`` held by customers ``visible`` excludes (codes only:
    the unique code would refuse them anyway, nothing else of them is read)."""
    if not codes:
        return set()
    rows = await session.scalars(
        select(Customer.code).where(_with_code(codes), ~visible)
    )
    return set(rows)


async def primary_contacts(
    session: AsyncSession, customer_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Contact]:
    if not customer_ids:
        return {}
    rows = await session.scalars(
        select(Contact)
        .where(
            Contact.customer_id
            == any_(bindparam("ids", list(customer_ids), ARRAY(Uuid))),
            Contact.is_primary,
        )
        .execution_options(populate_existing=True)
    )
    return {contact.customer_id: contact for contact in rows}


async def pending(session: AsyncSession) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """Imports nobody works on although they are not done, across tenants."""
    rows = await session.execute(
        text(
            "SELECT tenant_id, import_id, next_row FROM crm_pending_customer_imports()"
        )
    )
    return [(row[0], row[1], row[2]) for row in rows]


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
