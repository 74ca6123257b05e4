"""Queries for action types, plans, steps, receipts, notices and the reminder policy.

Everything about an order's plan is reached through the order, and every order query
takes the caller's visibility condition: a plan outside it reads as missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kernel.pagination import PageParams, SortKey, paginate
from crm_api.orders.models import Order, OrderTransition
from crm_api.organisation.models import Employee
from crm_api.plans.models import (
    ActionType,
    PaymentNotice,
    PaymentReminderPolicy,
    Plan,
    PlanStep,
    Receipt,
)

ACTION_TYPE_ORDER = (SortKey(ActionType.id, parse=uuid.UUID),)
RECEIPT_ORDER = (SortKey(Receipt.id, parse=uuid.UUID),)
# Newest first: ids are UUIDv7, so they sort by creation time.
NOTICE_ORDER = (SortKey(PaymentNotice.id, descending=True, parse=uuid.UUID),)

RowLock = Literal["share", "update"] | None
T = TypeVar("T")


def _locked(statement: Select[T], lock: RowLock, of: Any) -> Select[T]:
    if lock == "update":
        statement = statement.with_for_update(of=of)
    elif lock == "share":
        statement = statement.with_for_update(read=True, of=of)
    return statement.execution_options(populate_existing=True)


# --- action types ---


async def action_type(
    session: AsyncSession, action_type_id: uuid.UUID, *, lock: bool = False
) -> ActionType | None:
    statement = select(ActionType).where(ActionType.id == action_type_id)
    return await session.scalar(
        _locked(statement, "update" if lock else None, ActionType)
    )


async def action_types_page(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], params: PageParams
) -> list[ActionType]:
    statement = paginate(
        select(ActionType).where(*conditions), ACTION_TYPE_ORDER, params
    )
    return list((await session.scalars(statement)).all())


async def action_types_by_id(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ActionType]:
    if not ids:
        return {}
    rows = await session.scalars(
        select(ActionType).where(ActionType.id.in_(sorted(set(ids))))
    )
    return {row.id: row for row in rows}


async def active_action_types(session: AsyncSession) -> list[ActionType]:
    """Active types in the order a generated plan lists them: soonest due first."""
    rows = await session.scalars(
        select(ActionType)
        .where(ActionType.active.is_(True))
        .order_by(
            ActionType.default_offset_days, func.lower(ActionType.name), ActionType.id
        )
    )
    return list(rows.all())


async def count_steps_of_type(session: AsyncSession, action_type_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(PlanStep)
        .where(PlanStep.action_type_id == action_type_id)
    )
    return int(total or 0)


# --- orders, as plans see them ---


async def order(
    session: AsyncSession,
    order_id: uuid.UUID,
    visible: ColumnElement[bool],
    *,
    lock: RowLock = None,
) -> Order | None:
    statement = select(Order).where(Order.id == order_id, visible)
    return await session.scalar(_locked(statement, lock, Order))


async def approved_at(session: AsyncSession, order_id: uuid.UUID) -> datetime | None:
    """When the order last reached ``approved``."""
    return await session.scalar(
        select(OrderTransition.occurred_at)
        .where(
            OrderTransition.order_id == order_id,
            OrderTransition.to_status == "approved",
        )
        .order_by(OrderTransition.position.desc())
        .limit(1)
    )


async def employees_by_id(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Employee]:
    """The employees among ``ids``, share-locked: none can leave (and miss the handover
    of steps assigned to them here) before this transaction commits."""
    if not ids:
        return {}
    rows = await session.scalars(
        select(Employee)
        .where(Employee.id.in_(sorted(set(ids))))
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows}


# --- plans and steps ---


async def plan(
    session: AsyncSession, order_id: uuid.UUID, *, lock: bool = False
) -> Plan | None:
    statement = select(Plan).where(Plan.order_id == order_id)
    return await session.scalar(_locked(statement, "update" if lock else None, Plan))


async def steps(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> list[PlanStep]:
    if not order_ids:
        return []
    rows = await session.scalars(
        select(PlanStep)
        .where(PlanStep.order_id.in_(sorted(set(order_ids))))
        .order_by(PlanStep.order_id, PlanStep.position)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def plans_of(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Plan]:
    if not order_ids:
        return {}
    rows = await session.scalars(
        select(Plan).where(Plan.order_id.in_(sorted(set(order_ids))))
    )
    return {row.order_id: row for row in rows}


async def step(
    session: AsyncSession,
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    *,
    lock: bool = False,
) -> PlanStep | None:
    statement = select(PlanStep).where(
        PlanStep.order_id == order_id, PlanStep.id == step_id
    )
    return await session.scalar(
        _locked(statement, "update" if lock else None, PlanStep)
    )


async def delete_steps(session: AsyncSession, order_id: uuid.UUID) -> None:
    await session.execute(
        delete(PlanStep)
        .where(PlanStep.order_id == order_id)
        .execution_options(synchronize_session=False)
    )


async def pending_steps(session: AsyncSession, order_id: uuid.UUID) -> list[PlanStep]:
    rows = await session.scalars(
        select(PlanStep)
        .where(PlanStep.order_id == order_id, PlanStep.status == "pending")
        .order_by(PlanStep.position)
    )
    return list(rows.all())


async def receipts_page(
    session: AsyncSession, step_id: uuid.UUID, params: PageParams
) -> list[Receipt]:
    statement = paginate(
        select(Receipt).where(Receipt.step_id == step_id), RECEIPT_ORDER, params
    )
    return list((await session.scalars(statement)).all())


# --- notices and the policy ---


async def notices_page(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], params: PageParams
) -> list[PaymentNotice]:
    statement = (
        select(PaymentNotice)
        .join(
            Order,
            (Order.tenant_id == PaymentNotice.tenant_id)
            & (Order.id == PaymentNotice.order_id),
        )
        .where(*conditions)
    )
    return list(
        (await session.scalars(paginate(statement, NOTICE_ORDER, params))).all()
    )


async def notice(
    session: AsyncSession,
    notice_id: uuid.UUID,
    visible: ColumnElement[bool],
    *,
    lock: bool = False,
) -> PaymentNotice | None:
    statement = (
        select(PaymentNotice)
        .join(
            Order,
            (Order.tenant_id == PaymentNotice.tenant_id)
            & (Order.id == PaymentNotice.order_id),
        )
        .where(PaymentNotice.id == notice_id, visible)
    )
    return await session.scalar(
        _locked(statement, "update" if lock else None, PaymentNotice)
    )


async def policy(
    session: AsyncSession, tenant_id: uuid.UUID, *, lock: bool = False
) -> PaymentReminderPolicy | None:
    statement = select(PaymentReminderPolicy).where(
        PaymentReminderPolicy.tenant_id == tenant_id
    )
    return await session.scalar(
        _locked(statement, "update" if lock else None, PaymentReminderPolicy)
    )
