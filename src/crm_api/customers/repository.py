"""Customer queries. Filtering and sorting are built from typed fields only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.customers.models import (
    CUSTOMER_KINDS,
    CUSTOMER_STATUSES,
    Contact,
    Customer,
    Interaction,
)
from crm_api.kernel.filtering import FilterField, aware_datetime
from crm_api.kernel.pagination import PageParams, SortKey, paginate
from crm_api.organisation.visibility import visible

STANDARD_FIELDS: dict[str, FilterField] = {
    "code": FilterField(Customer.code, "text"),
    "name": FilterField(Customer.name, "text"),
    "kind": FilterField(Customer.kind, "text", frozenset(CUSTOMER_KINDS)),
    "level": FilterField(Customer.level, "text"),
    "industry": FilterField(Customer.industry, "text"),
    "source": FilterField(Customer.source, "text"),
    "status": FilterField(Customer.status, "text", frozenset(CUSTOMER_STATUSES)),
    "owner_id": FilterField(Customer.owner_id, "uuid"),
    "department_id": FilterField(Customer.department_id, "uuid"),
    "phone": FilterField(Customer.phone, "text"),
    "email": FilterField(Customer.email, "text"),
    "website": FilterField(Customer.website, "text"),
    "city": FilterField(Customer.city, "text"),
    "region": FilterField(Customer.region, "text"),
    "postal_code": FilterField(Customer.postal_code, "text"),
    "country": FilterField(Customer.country, "text"),
    "tags": FilterField(Customer.tags, "array"),
    "created_at": FilterField(Customer.created_at, "datetime"),
    "updated_at": FilterField(Customer.updated_at, "datetime"),
}


def customer_visibility(principal: Principal, permission: str) -> ColumnElement[bool]:
    """The customers ``principal`` reaches with ``permission``, as a WHERE condition."""
    return visible(
        principal,
        permission,
        owner=Customer.owner_id,
        department=Customer.department_id,
    )


def name_search(q: str) -> ColumnElement[bool]:
    """Case-insensitive substring match on the name (any script)."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(Customer.name).like(f"%{escaped.lower()}%", escape="\\")


Join = tuple[Any, ColumnElement[bool]]


def joined(statement: Select[Any], joins: Sequence[Join]) -> Select[Any]:
    for target, onclause in joins:
        statement = statement.outerjoin(target, onclause)
    return statement


async def page(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    keys: Sequence[SortKey],
    joins: Sequence[Join],
    params: PageParams,
) -> list[Row[Any]]:
    """Rows of (customer, *sort values): the sort values make the next cursor."""
    statement = joined(select(Customer, *(key.column for key in keys)), joins)
    statement = statement.where(*conditions)
    return list((await session.execute(paginate(statement, keys, params))).all())


async def count(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    joins: Sequence[Join] = (),
) -> int:
    statement = joined(select(func.count()).select_from(Customer), joins)
    total = await session.scalar(statement.where(*conditions))
    return int(total or 0)


async def get(
    session: AsyncSession,
    customer_id: uuid.UUID,
    visible: ColumnElement[bool],
    *,
    lock: bool = False,
) -> Customer | None:
    """The customer, if ``visible`` (see :func:`customer_visibility`) lets it through."""
    statement = select(Customer).where(Customer.id == customer_id, visible)
    if lock:
        statement = statement.with_for_update().execution_options(
            populate_existing=True
        )
    return await session.scalar(statement)


def _duplicate_matches(
    name_key: str, phone_key: str | None, email_key: str | None
) -> ColumnElement[bool] | None:
    matches: list[ColumnElement[bool]] = []
    if name_key:
        matches.append(Customer.name_key == name_key)
    if phone_key:
        matches.append(Customer.phone_key == phone_key)
    if email_key:
        matches.append(Customer.email_key == email_key)
    return or_(*matches) if matches else None


async def duplicates(
    session: AsyncSession,
    *,
    name_key: str,
    phone_key: str | None,
    email_key: str | None,
    visible: ColumnElement[bool],
    limit: int = 10,
) -> tuple[list[Customer], int]:
    """Up to ``limit`` likely duplicates ``visible`` lets through, and how many more
    exist beyond the caller's sight (only their number is told)."""
    matches = _duplicate_matches(name_key, phone_key, email_key)
    if matches is None:
        return [], 0
    statement = select(Customer).where(matches, visible)
    rows = await session.scalars(statement.order_by(Customer.id).limit(limit))
    hidden = await session.scalar(
        select(func.count()).select_from(Customer).where(matches, ~visible)
    )
    return list(rows.all()), int(hidden or 0)


async def contacts_of(
    session: AsyncSession, customer_id: uuid.UUID, params: PageParams
) -> list[Contact]:
    statement = paginate(
        select(Contact).where(Contact.customer_id == customer_id),
        (SortKey(Contact.id, parse=uuid.UUID),),
        params,
    )
    return list((await session.scalars(statement)).all())


async def contact(
    session: AsyncSession,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Contact | None:
    statement = select(Contact).where(
        Contact.id == contact_id, Contact.customer_id == customer_id
    )
    if lock:
        statement = statement.with_for_update().execution_options(
            populate_existing=True
        )
    return await session.scalar(statement)


async def primary_contact(
    session: AsyncSession, customer_id: uuid.UUID
) -> Contact | None:
    return await session.scalar(
        select(Contact).where(Contact.customer_id == customer_id, Contact.is_primary)
    )


async def clear_primary(session: AsyncSession, customer_id: uuid.UUID) -> None:
    # A Core UPDATE would skip the version bump; go through the ORM row instead.
    current = await primary_contact(session, customer_id)
    if current is not None:
        current.is_primary = False
        await session.flush()


async def timeline(
    session: AsyncSession, customer_id: uuid.UUID, params: PageParams
) -> list[Interaction]:
    keys = (
        SortKey(Interaction.occurred_at, descending=True, parse=_parse_datetime),
        SortKey(Interaction.id, descending=True, parse=uuid.UUID),
    )
    statement = paginate(
        select(Interaction).where(Interaction.customer_id == customer_id), keys, params
    )
    return list((await session.scalars(statement)).all())


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("a cursor value of the wrong type")
    return aware_datetime(value)


async def lock_duplicate_keys(
    session: AsyncSession, keys: Sequence[str | None]
) -> None:
    """Hold transaction locks on these keys so concurrent creates check in turn."""
    for key in sorted({key for key in keys if key}):
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext("customer-key:" + key)))
        )


# Every column that points at a customer. Domains added later (quotes, orders, cases)
# register theirs, so a merge moves them too.
_REFERENCES: list[Any] = [Contact.customer_id, Interaction.customer_id]


def register_reference(column: Any) -> None:
    """Declare a foreign-key column to customers.id that a merge must re-point."""
    if column not in _REFERENCES:
        _REFERENCES.append(column)


async def move_references(
    session: AsyncSession, *, from_id: uuid.UUID, to_id: uuid.UUID
) -> dict[str, int]:
    """Re-point every row that references ``from_id`` at ``to_id``; counts per table."""
    moved: dict[str, int] = {}
    for column in _REFERENCES:
        values: dict[str, Any] = {column.key: to_id}
        version = getattr(column.class_, "version", None)
        if version is not None:
            # A moved row changed: its ETag must too.
            values["version"] = version + 1
        result = await session.execute(
            update(column.class_)
            .where(column == from_id)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        table = column.class_.__tablename__
        moved[table] = moved.get(table, 0) + int(result.rowcount)  # type: ignore[attr-defined]
    return moved
