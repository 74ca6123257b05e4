"""Order and approval-rule queries. Every order query takes the caller's visibility
condition: a record outside it reads exactly like one that does not exist."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    any_,
    bindparam,
    case,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.customers.models import Customer
from crm_api.kernel.filtering import FilterField
from crm_api.kernel.pagination import PageParams, SortKey, paginate
from crm_api.orders.models import (
    ORDER_STATUSES,
    ApprovalRule,
    Order,
    OrderApproval,
    OrderTransition,
)
from crm_api.organisation.models import Employee
from crm_api.roles.models import Role
from crm_api.roles.repository import register_role_use

STANDARD_FIELDS: dict[str, FilterField] = {
    "number": FilterField(Order.number, "text"),
    "status": FilterField(Order.status, "text", frozenset(ORDER_STATUSES)),
    "customer_id": FilterField(Order.customer_id, "uuid"),
    "owner_id": FilterField(Order.owner_id, "uuid"),
    "department_id": FilterField(Order.department_id, "uuid"),
    "currency": FilterField(Order.currency, "text"),
    "ordered_on": FilterField(Order.ordered_on, "date"),
    "total_gross": FilterField(Order.total_gross, "number"),
    "source_quote_id": FilterField(Order.source_quote_id, "uuid"),
    "created_at": FilterField(Order.created_at, "datetime"),
    "updated_at": FilterField(Order.updated_at, "datetime"),
}

Join = tuple[Any, ColumnElement[bool]]


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
    """Rows of (order, *sort values): the sort values make the next cursor."""
    statement = _joined(select(Order, *(key.column for key in keys)), joins)
    statement = statement.where(*conditions)
    return list((await session.execute(paginate(statement, keys, params))).all())


async def count(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    joins: Sequence[Join] = (),
) -> int:
    statement = _joined(select(func.count()).select_from(Order), joins)
    return int(await session.scalar(statement.where(*conditions)) or 0)


async def get(
    session: AsyncSession,
    order_id: uuid.UUID,
    visible: ColumnElement[bool],
    *,
    lock: bool = False,
) -> Order | None:
    """The order if ``visible`` lets the caller reach it; ``lock`` holds the row (FOR
    UPDATE) until commit, so writers of one order take turns."""
    statement = select(Order).where(Order.id == order_id, visible)
    if lock:
        statement = statement.with_for_update(of=Order)
    statement = statement.execution_options(populate_existing=True)
    return await session.scalar(statement)


async def transitions_of(
    session: AsyncSession, order_id: uuid.UUID, params: PageParams
) -> list[OrderTransition]:
    statement = paginate(
        select(OrderTransition).where(OrderTransition.order_id == order_id),
        (SortKey(OrderTransition.position, parse=int),),
        params,
    )
    return list((await session.scalars(statement)).all())


async def last_transition_position(session: AsyncSession, order_id: uuid.UUID) -> int:
    last = await session.scalar(
        select(func.max(OrderTransition.position)).where(
            OrderTransition.order_id == order_id
        )
    )
    return int(last or 0)


async def approvals_of(
    session: AsyncSession, order_id: uuid.UUID, params: PageParams
) -> list[OrderApproval]:
    statement = paginate(
        select(OrderApproval).where(OrderApproval.order_id == order_id),
        (
            SortKey(OrderApproval.round, parse=int),
            SortKey(OrderApproval.level, parse=int),
        ),
        params,
    )
    return list((await session.scalars(statement)).all())


async def decisions_in_round(
    session: AsyncSession, order_id: uuid.UUID, approval_round: int
) -> list[OrderApproval]:
    statement = select(OrderApproval).where(
        OrderApproval.order_id == order_id, OrderApproval.round == approval_round
    )
    return list((await session.scalars(statement)).all())


async def user_of_employee(
    session: AsyncSession, employee_id: uuid.UUID
) -> uuid.UUID | None:
    return await session.scalar(
        select(Employee.user_id).where(Employee.id == employee_id)
    )


async def by_numbers(
    session: AsyncSession, numbers: Collection[str], visible: ColumnElement[bool]
) -> dict[str, uuid.UUID | None]:
    """Which of ``numbers`` orders already carry: each with its id where ``visible``
    lets the caller read it, else None (the number itself is taken either way)."""
    if not numbers:
        return {}
    rows = await session.execute(
        select(Order.number, case((visible, Order.id), else_=None)).where(
            Order.number == any_(bindparam("numbers", list(numbers), ARRAY(String)))
        )
    )
    return {number: order_id for number, order_id in rows.all()}


async def customer_ids_by_code(
    session: AsyncSession, codes: Collection[str], visible: ColumnElement[bool]
) -> dict[str, uuid.UUID]:
    """The ids of the customers with these codes that ``visible`` lets through."""
    if not codes:
        return {}
    rows = await session.execute(
        select(Customer.code, Customer.id).where(
            Customer.code == any_(bindparam("codes", list(codes), ARRAY(String))),
            visible,
        )
    )
    return {code: customer_id for code, customer_id in rows.all()}


def decided_by(user_id: uuid.UUID) -> ColumnElement[bool]:
    """Orders on which ``user_id`` recorded an approval decision."""
    return (
        select(OrderApproval.id)
        .where(OrderApproval.order_id == Order.id, OrderApproval.user_id == user_id)
        .exists()
    )


def decided_in_current_round(user_id: uuid.UUID) -> ColumnElement[bool]:
    """Orders on whose current approval round ``user_id`` already decided."""
    return (
        select(OrderApproval.id)
        .where(
            OrderApproval.order_id == Order.id,
            OrderApproval.round == Order.approval_round,
            OrderApproval.user_id == user_id,
        )
        .exists()
    )


# --- approval rules ---


async def active_rules(session: AsyncSession) -> list[ApprovalRule]:
    """The tenant's active rules, oldest first (ids are time-ordered)."""
    statement = (
        select(ApprovalRule).where(ApprovalRule.active).order_by(ApprovalRule.id)
    )
    return list((await session.scalars(statement)).all())


async def rules_page(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], params: PageParams
) -> list[ApprovalRule]:
    statement = paginate(
        select(ApprovalRule).where(*conditions),
        (SortKey(ApprovalRule.id, parse=uuid.UUID),),
        params,
    )
    return list((await session.scalars(statement)).all())


async def rule(
    session: AsyncSession, rule_id: uuid.UUID, *, lock: bool = False
) -> ApprovalRule | None:
    statement = select(ApprovalRule).where(ApprovalRule.id == rule_id)
    if lock:
        statement = statement.with_for_update()
    statement = statement.execution_options(populate_existing=True)
    return await session.scalar(statement)


async def tenant_role_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are roles the tenant defined, each held (FOR SHARE) until
    commit: a role cannot be deleted while a rule naming it is being saved."""
    if not keys:
        return set()
    rows = await session.scalars(
        select(Role.key).where(Role.key.in_(keys)).with_for_update(read=True)
    )
    return set(rows.all())


async def lock_numbers(session: AsyncSession, numbers: Collection[str]) -> None:
    """Hold a transaction lock per order number, taken in sorted order (unnest keeps
    the array's order) so two batches cannot deadlock: batches with the same new
    numbers take turns."""
    if not numbers:
        return
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtext('order-number:' || n)) "
            "FROM unnest(CAST(:numbers AS text[])) AS n"
        ),
        {"numbers": sorted(numbers)},
    )


async def rules_naming_role(session: AsyncSession, key: str) -> int:
    """Approval rules with a level that names the role ``key``."""
    total = await session.scalar(
        select(func.count())
        .select_from(ApprovalRule)
        .where(ApprovalRule.levels.contains([[key]]))
    )
    return int(total or 0)


register_role_use("approval_rules", rules_naming_role)
