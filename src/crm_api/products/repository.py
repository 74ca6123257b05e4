"""Product queries. Filtering and sorting are built from typed fields only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kernel.filtering import FilterField
from crm_api.kernel.pagination import PageParams, SortKey, paginate
from crm_api.products.models import Product
from crm_api.quotes.models import QuoteLine

# ``sku`` compares without case, as its uniqueness does (values are lower-cased).
STANDARD_FIELDS: dict[str, FilterField] = {
    "sku": FilterField(func.lower(Product.sku), "text"),
    "name": FilterField(Product.name, "text"),
    "category": FilterField(Product.category, "text"),
    "unit": FilterField(Product.unit, "text"),
    "currency": FilterField(Product.currency, "text"),
    "list_price": FilterField(Product.list_price, "number"),
    "active": FilterField(Product.active, "boolean"),
    "created_at": FilterField(Product.created_at, "datetime"),
    "updated_at": FilterField(Product.updated_at, "datetime"),
}

Join = tuple[Any, ColumnElement[bool]]


def name_search(q: str) -> ColumnElement[bool]:
    """Case-insensitive substring match on the name (any script)."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(Product.name).like(f"%{escaped.lower()}%", escape="\\")


def _joined(statement: Select[Any], joins: Sequence[Join]) -> Select[Any]:
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
    """Rows of (product, *sort values): the sort values make the next cursor."""
    statement = _joined(select(Product, *(key.column for key in keys)), joins)
    statement = statement.where(*conditions)
    return list((await session.execute(paginate(statement, keys, params))).all())


async def count(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    joins: Sequence[Join] = (),
) -> int:
    statement = _joined(select(func.count()).select_from(Product), joins)
    total = await session.scalar(statement.where(*conditions))
    return int(total or 0)


async def get(
    session: AsyncSession, product_id: uuid.UUID, *, lock: bool = False
) -> Product | None:
    statement = select(Product).where(Product.id == product_id)
    if lock:
        statement = statement.with_for_update().execution_options(
            populate_existing=True
        )
    return await session.scalar(statement)


async def many(
    session: AsyncSession, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Product]:
    """The products among ``product_ids`` (a line's foreign key keeps them alive)."""
    if not product_ids:
        return {}
    rows = await session.scalars(
        select(Product).where(Product.id.in_(sorted(set(product_ids))))
    )
    return {product.id: product for product in rows}


async def count_quote_lines(session: AsyncSession, product_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(QuoteLine)
        .where(QuoteLine.product_id == product_id)
    )
    return int(total or 0)
