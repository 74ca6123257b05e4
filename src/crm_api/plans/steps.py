"""Working a plan's steps while the order is in execution: done, skipped, receipts.

Locks, always in this order: the order (share: it cannot be completed meanwhile, and
stays in execution), the step (update: two receipts on one step take turns, and the
second sees what the first collected), then the plan row (its version is the plan's
ETag, bumped by every change). A receipt larger than what is outstanding on the step
is refused; the ``received <= amount`` check constraint is the database's own net
under that rule.

Status codes: a receipt or action the step's *current state* does not allow (the
step is closed, moves no money, has less outstanding than the receipt) is a 409;
a receipt that is wrong in itself (negative, more decimals than the currency, dated
after today) is a 422.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import structlog
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.kernel.errors import Conflict, NotFound, ValidationFailed
from crm_api.kernel.money import fits_currency, minor_units, round_money
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of
from crm_api.orders.models import Order
from crm_api.plans import repository
from crm_api.plans.figures import step_read
from crm_api.plans.models import PlanStep, Receipt
from crm_api.plans.schemas import (
    ReceiptCreate,
    ReceiptRead,
    ReceiptResult,
    StepDone,
    StepSkip,
)
from crm_api.plans.service import order_of, require_status
from crm_api.tenants.calendar import tenant_today

logger = structlog.get_logger(__name__)


async def _work_on(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    doing: str,
) -> tuple[Order, PlanStep]:
    order = await order_of(session, principal, order_id, write=True, lock="share")
    step = await repository.step(session, order.id, step_id, lock=True)
    if step is None:
        raise NotFound("No such step on this order's plan.")
    require_status(order, "in_execution", doing)
    if step.status != "pending":
        raise Conflict(
            f"The step is already {step.status}.",
            extra={"step_status": step.status},
        )
    return order, step


async def _touch_plan(
    session: AsyncSession, principal: Principal, order: Order
) -> None:
    """Move the plan's version (its ETag) on; the row lock orders concurrent writers."""
    plan = await repository.plan(session, order.id, lock=True)
    if plan is None:
        raise RuntimeError("a step without its plan")
    plan.updated_by = principal.user_id
    plan.updated_at = func.now()


def _close(step: PlanStep, principal: Principal) -> None:
    step.status = "done"
    step.done_at = func.now()
    step.done_by = principal.user_id


async def mark_done(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    data: StepDone,
) -> Order:
    order, step = await _work_on(
        session, principal, order_id, step_id, "Marking a step done"
    )
    if step.direction == "in" and step.outstanding > 0:
        raise Conflict(
            f"A collection step is done once its receipts reach its amount; "
            f"{step.outstanding} {order.currency} is outstanding. Record the "
            "receipts, or skip the step to waive the rest.",
            extra={"outstanding": str(step.outstanding), "currency": order.currency},
        )
    _close(step, principal)
    if data.note is not None:
        step.note = data.note
    await _touch_plan(session, principal, order)
    await session.flush()

    record_event(
        session,
        "plan_step.done",
        subject_id=order.id,
        payload={"step_id": str(step.id), "name": step.name, "automatic": False},
    )
    logger.info("plan_step.done", order_id=str(order.id), step_id=str(step.id))
    return order


async def skip(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    data: StepSkip,
) -> Order:
    """Skip a pending step; on a collection step the rest is waived, not owed."""
    order, step = await _work_on(
        session, principal, order_id, step_id, "Skipping a step"
    )
    waived = step.outstanding
    step.status = "skipped"
    step.skipped_at = func.now()
    step.skipped_by = principal.user_id
    step.skip_reason = data.reason
    await _touch_plan(session, principal, order)
    await session.flush()

    record_event(
        session,
        "plan_step.skipped",
        subject_id=order.id,
        payload={
            "step_id": str(step.id),
            "name": step.name,
            "reason": data.reason,
            "waived": str(waived),
            "currency": order.currency,
        },
    )
    logger.info("plan_step.skipped", order_id=str(order.id), step_id=str(step.id))
    return order


async def _received_on(session: AsyncSession, value: date | None) -> date:
    today = await tenant_today(session)
    if value is None:
        return today
    if value > today:
        raise ValidationFailed.single(
            "received_on",
            f"Money cannot have come in after today ({today} on the tenant's "
            "calendar).",
            code="in_future",
        )
    return value


def _receivable(step: PlanStep, data: ReceiptCreate, currency: str) -> Decimal:
    """The receipt's amount at the currency's scale, if the step can take it: 422
    for an amount wrong in itself, 409 for one the step's state refuses."""
    if not fits_currency(data.amount, currency):
        raise ValidationFailed.single(
            "amount",
            f"{currency} amounts have at most {minor_units(currency)} decimal places.",
            code="too_many_decimals",
        )
    if step.direction != "in":
        kind = "a payment out" if step.direction == "out" else "not a money step"
        raise Conflict(
            f"Receipts are recorded on collection steps; '{step.name}' is {kind} "
            "(mark it done instead).",
            extra={"direction": step.direction},
        )
    amount = round_money(data.amount, currency)
    outstanding = step.outstanding
    if amount > outstanding:
        raise Conflict(
            f"The receipt of {amount} {currency} is more than the {outstanding} "
            f"{currency} outstanding on the step.",
            extra={"outstanding": str(outstanding), "currency": currency},
        )
    return amount


async def record_receipt(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    data: ReceiptCreate,
) -> tuple[Order, PlanStep, Receipt]:
    """Money in against a collection step; the receipt that reaches the step's
    amount marks it done."""
    order, step = await _work_on(
        session, principal, order_id, step_id, "Recording a receipt"
    )
    currency = order.currency
    amount = _receivable(step, data, currency)
    received_on = await _received_on(session, data.received_on)
    outstanding = step.outstanding

    receipt = Receipt(
        tenant_id=order.tenant_id,
        order_id=order.id,
        step_id=step.id,
        amount=amount,
        received_on=received_on,
        reference=data.reference,
        recorded_by=principal.user_id,
        api_key_id=principal.api_key_id,
    )
    session.add(receipt)
    step.received = step.received + amount
    closed = step.received == step.amount
    if closed:
        _close(step, principal)
    await _touch_plan(session, principal, order)
    await session.flush()
    # done_at is the database's clock: read it back for the answer.
    await session.refresh(step)

    record_event(
        session,
        "payment.received",
        subject_id=order.id,
        payload={
            "step_id": str(step.id),
            "receipt_id": str(receipt.id),
            "amount": str(amount),
            "currency": currency,
            "received_on": received_on.isoformat(),
            "outstanding": str(outstanding - amount),
        },
    )
    if closed:
        record_event(
            session,
            "plan_step.done",
            subject_id=order.id,
            payload={"step_id": str(step.id), "name": step.name, "automatic": True},
        )
    logger.info(
        "payment.received",
        order_id=str(order.id),
        step_id=str(step.id),
        amount=str(amount),
        closed=closed,
    )
    return order, step, receipt


async def list_receipts(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    params: PageParams,
) -> tuple[Order, list[Receipt], str | None]:
    order = await order_of(session, principal, order_id)
    if await repository.step(session, order.id, step_id) is None:
        raise NotFound("No such step on this order's plan.")
    rows = await repository.receipts_page(session, step_id, params)
    kept, next_cursor = page_of(rows, lambda row: (row.id,), params)
    return order, kept, next_cursor


def receipt_read(receipt: Receipt, currency: str) -> ReceiptRead:
    return ReceiptRead(
        id=receipt.id,
        order_id=receipt.order_id,
        step_id=receipt.step_id,
        amount=receipt.amount,
        currency=currency,
        received_on=receipt.received_on,
        reference=receipt.reference,
        recorded_by=receipt.recorded_by,
        api_key_id=receipt.api_key_id,
        recorded_at=receipt.recorded_at,
    )


async def receipt_result(
    session: AsyncSession, order: Order, step: PlanStep, receipt: Receipt
) -> ReceiptResult:
    today = await tenant_today(session)
    return ReceiptResult(
        receipt=receipt_read(receipt, order.currency),
        step=step_read(step, currency=order.currency, today=today),
    )
