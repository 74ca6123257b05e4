"""Quote queries. Every quote query carries a visibility condition from the caller.

A quote's list row joins its latest revision, so filters and sorts on state,
validity and totals read stored columns.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, selectinload

from crm_api.auth.principal import Principal
from crm_api.kernel.filtering import FilterField
from crm_api.kernel.pagination import PageParams, SortKey, paginate
from crm_api.kernel.sqlvalues import bind
from crm_api.organisation.visibility import visible
from crm_api.quotes.models import (
    EXPIRED,
    REVISION_STATES,
    SENT,
    Quote,
    QuoteRevision,
)

Join = tuple[Any, ColumnElement[bool]]

LATEST = and_(
    QuoteRevision.quote_id == Quote.id,
    QuoteRevision.number == Quote.latest_revision,
)


def quote_visibility(principal: Principal, permission: str) -> ColumnElement[bool]:
    """The quotes ``principal`` reaches with ``permission``, as a WHERE condition."""
    return visible(
        principal, permission, owner=Quote.owner_id, department=Quote.department_id
    )


def effective_state(today: date) -> ColumnElement[str]:
    """The stored state, except that a sent revision past its validity is expired."""
    return case(
        (
            and_(QuoteRevision.state == SENT, QuoteRevision.valid_until < bind(today)),
            EXPIRED,
        ),
        else_=QuoteRevision.state,
    )


def standard_fields(today: date) -> dict[str, FilterField]:
    return {
        "customer_id": FilterField(Quote.customer_id, "uuid"),
        "owner_id": FilterField(Quote.owner_id, "uuid"),
        "department_id": FilterField(Quote.department_id, "uuid"),
        "currency": FilterField(Quote.currency, "text"),
        "title": FilterField(Quote.title, "text"),
        "state": FilterField(
            effective_state(today), "text", frozenset(REVISION_STATES)
        ),
        "valid_until": FilterField(QuoteRevision.valid_until, "date"),
        "net_total": FilterField(QuoteRevision.net_total, "number"),
        "gross_total": FilterField(QuoteRevision.gross_total, "number"),
        "latest_revision": FilterField(Quote.latest_revision, "integer"),
        "created_at": FilterField(Quote.created_at, "datetime"),
        "updated_at": FilterField(Quote.updated_at, "datetime"),
    }


def _with_latest(statement: Select[Any], joins: Sequence[Join]) -> Select[Any]:
    statement = statement.join(QuoteRevision, LATEST)
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
    """Rows of (quote, latest revision, *sort values), the revision's lines loaded."""
    statement = _with_latest(
        select(Quote, QuoteRevision, *(key.column for key in keys)), joins
    )
    statement = statement.where(*conditions).options(selectinload(QuoteRevision.lines))
    return list((await session.execute(paginate(statement, keys, params))).all())


async def count(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    joins: Sequence[Join] = (),
) -> int:
    statement = _with_latest(select(func.count()).select_from(Quote), joins)
    total = await session.scalar(statement.where(*conditions))
    return int(total or 0)


async def get(
    session: AsyncSession, quote_id: uuid.UUID, visible: ColumnElement[bool]
) -> tuple[Quote, QuoteRevision] | None:
    """The quote and its latest revision (lines loaded), if ``visible``."""
    statement = (
        select(Quote, QuoteRevision)
        .join(QuoteRevision, LATEST)
        .where(Quote.id == quote_id, visible)
        .options(selectinload(QuoteRevision.lines))
    )
    row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1])


async def lock(
    session: AsyncSession, quote_id: uuid.UUID, visible: ColumnElement[bool]
) -> Quote | None:
    """The quote, locked until commit: every change to a quote or its revisions
    holds this lock, so two writers (two accepts, a send and an accept) take turns."""
    statement = (
        select(Quote)
        .where(Quote.id == quote_id, visible)
        .with_for_update(of=Quote)
        .execution_options(populate_existing=True)
    )
    return await session.scalar(statement)


async def revisions(session: AsyncSession, quote_id: uuid.UUID) -> list[QuoteRevision]:
    """Every revision of a quote, oldest first, fresh from the database."""
    statement = (
        select(QuoteRevision)
        .where(QuoteRevision.quote_id == quote_id)
        .order_by(QuoteRevision.number)
        .options(selectinload(QuoteRevision.lines))
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(statement)).all())


async def revisions_page(
    session: AsyncSession, quote_id: uuid.UUID, params: PageParams
) -> list[QuoteRevision]:
    statement = paginate(
        select(QuoteRevision)
        .where(QuoteRevision.quote_id == quote_id)
        .options(selectinload(QuoteRevision.lines)),
        (SortKey(QuoteRevision.number, parse=_positive_int),),
        params,
    )
    return list((await session.scalars(statement)).all())


def _positive_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError("a cursor value of the wrong type")
    return value


async def revision(
    session: AsyncSession, quote_id: uuid.UUID, number: int
) -> QuoteRevision | None:
    statement = (
        select(QuoteRevision)
        .where(QuoteRevision.quote_id == quote_id, QuoteRevision.number == number)
        .options(selectinload(QuoteRevision.lines))
    )
    return await session.scalar(statement)


async def accepted(
    session: AsyncSession,
    quote_id: uuid.UUID,
    visible: ColumnElement[bool],
    *,
    lock: bool = False,
) -> QuoteRevision | None:
    """The accepted revision with its lines and its quote, if ``visible``."""
    statement = (
        select(QuoteRevision)
        .join(Quote, QuoteRevision.quote_id == Quote.id)
        .where(
            Quote.id == quote_id,
            visible,
            QuoteRevision.number == Quote.accepted_revision,
        )
        .options(contains_eager(QuoteRevision.quote), selectinload(QuoteRevision.lines))
    )
    if lock:
        statement = statement.with_for_update(of=Quote).execution_options(
            populate_existing=True
        )
    return await session.scalar(statement)
