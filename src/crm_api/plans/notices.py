"""Payment notices as the API shows them: within the caller's order scope, plus the
notices addressed to the caller as assignee wherever the order sits."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import ColumnElement, false, func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.kernel.errors import Conflict, NotFound
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of
from crm_api.orders.models import Order
from crm_api.organisation.visibility import visible
from crm_api.plans import repository
from crm_api.plans.models import PaymentNotice
from crm_api.plans.schemas import NoticeKind, NoticeRead

logger = structlog.get_logger(__name__)


def _mine(principal: Principal) -> ColumnElement[bool]:
    if principal.employee_id is None:
        return false()
    return PaymentNotice.assignee_id == principal.employee_id


def _reachable(principal: Principal, permission: str) -> ColumnElement[bool]:
    """Notices on orders the caller's ``permission`` reaches, and their own."""
    scope = visible(
        principal, permission, owner=Order.owner_id, department=Order.department_id
    )
    return or_(scope, _mine(principal))


async def list_notices(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    mine: bool,
    kind: NoticeKind | None,
    order_id: uuid.UUID | None,
    assignee_id: uuid.UUID | None,
    acknowledged: bool | None,
) -> tuple[list[PaymentNotice], str | None]:
    conditions = [_mine(principal) if mine else _reachable(principal, "orders:read")]
    if kind is not None:
        conditions.append(PaymentNotice.kind == kind)
    if order_id is not None:
        conditions.append(PaymentNotice.order_id == order_id)
    if assignee_id is not None:
        conditions.append(PaymentNotice.assignee_id == assignee_id)
    if acknowledged is not None:
        conditions.append(
            PaymentNotice.acknowledged_at.is_not(None)
            if acknowledged
            else PaymentNotice.acknowledged_at.is_(None)
        )
    rows = await repository.notices_page(session, conditions, params)
    return page_of(rows, lambda row: (row.id,), params)


async def get_notice(
    session: AsyncSession, principal: Principal, notice_id: uuid.UUID
) -> PaymentNotice:
    found = await repository.notice(
        session, notice_id, _reachable(principal, "orders:read")
    )
    if found is None:
        raise NotFound("No such notice.")
    return found


async def acknowledge(
    session: AsyncSession, principal: Principal, notice_id: uuid.UUID
) -> PaymentNotice:
    """The assignee, or anyone whose ``orders:write`` reaches the order, confirms
    they have seen the notice; once only."""
    notice = await repository.notice(
        session, notice_id, _reachable(principal, "orders:write"), lock=True
    )
    if notice is None:
        raise NotFound("No such notice.")
    if notice.acknowledged_at is not None:
        raise Conflict(
            "The notice was already acknowledged.",
            extra={
                "acknowledged_at": notice.acknowledged_at.isoformat(),
                "acknowledged_by": (
                    str(notice.acknowledged_by) if notice.acknowledged_by else None
                ),
            },
        )
    notice.acknowledged_at = func.now()
    notice.acknowledged_by = principal.user_id
    await session.flush()
    await session.refresh(notice)  # acknowledged_at is the database's clock

    record_event(
        session,
        "payment_notice.acknowledged",
        subject_id=notice.order_id,
        payload={"notice_id": str(notice.id), "step_id": str(notice.step_id)},
    )
    logger.info("payment_notice.acknowledged", notice_id=str(notice.id))
    return notice


def to_read(notice: PaymentNotice) -> NoticeRead:
    return NoticeRead.model_validate(notice)
