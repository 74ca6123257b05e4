"""An order's plan: made (``PUT``) or generated from the action types while the order
is approved, read with its money figures at any time.

When a plan may change: only while its order is ``approved``. Approval fixes the
order's content and total, so that is when a plan can be laid against it; ``start``
(approved -> in_execution) fixes the plan, and from then on its steps are worked
(done, skipped, receipts) but never replaced. Replacing takes the order's row lock
(FOR UPDATE), the lock ``start`` takes too, so a plan cannot change under a start
that is happening at the same moment. In execution, work on steps takes the order's
lock in share mode, so the order cannot be completed in the middle of it either.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import structlog
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import (
    BusinessRuleViolated,
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.money import fits_currency, minor_units, round_money
from crm_api.kernel.outbox import record_event
from crm_api.orders.models import Order
from crm_api.organisation.models import Employee
from crm_api.organisation.visibility import visible
from crm_api.plans import repository
from crm_api.plans.figures import plan_figures, step_read
from crm_api.plans.models import ActionType, Plan, PlanStep
from crm_api.plans.repository import RowLock
from crm_api.plans.schemas import (
    PlanGenerate,
    PlanRead,
    PlanReplace,
    PlanStepIn,
)
from crm_api.tenants.calendar import tenant_today, today_in
from crm_api.tenants.models import Tenant

logger = structlog.get_logger(__name__)

ONE_PLAN = {
    "uq_plans_tenant_order": (
        "order_id",
        "Another plan was made for this order at the same moment.",
    )
}


def _error(field: str, code: str, message: str) -> FieldError:
    return FieldError(field=field, location="body", code=code, message=message)


async def order_of(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    write: bool = False,
    lock: RowLock = None,
) -> Order:
    """The order, if the caller's ``orders:read`` (or, to change its plan,
    ``orders:write``) scope reaches it; 404 otherwise."""
    permission = "orders:write" if write else "orders:read"
    condition = visible(
        principal, permission, owner=Order.owner_id, department=Order.department_id
    )
    found = await repository.order(session, order_id, condition, lock=lock)
    if found is None:
        raise NotFound("No such order.")
    return found


def require_status(order: Order, status: str, doing: str) -> None:
    if order.status != status:
        raise Conflict(
            f"{doing} needs the order to be {status}; it is {order.status}.",
            extra={"status": order.status},
        )


# --- reading ---


async def read_plan(
    session: AsyncSession, order: Order, plan: Plan, steps: Sequence[PlanStep]
) -> PlanRead:
    today = await tenant_today(session)
    return PlanRead(
        order_id=order.id,
        order_status=order.status,  # type: ignore[arg-type]
        allow_partial_collection=plan.allow_partial_collection,
        steps=[step_read(s, currency=order.currency, today=today) for s in steps],
        summary=plan_figures(order, steps, today=today),
        updated_by=plan.updated_by,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


async def get_plan(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID
) -> tuple[Order, Plan, list[PlanStep]]:
    order = await order_of(session, principal, order_id)
    plan = await repository.plan(session, order.id)
    if plan is None:
        raise NotFound(
            "The order has no plan yet.", extra={"order_status": order.status}
        )
    return order, plan, await repository.steps(session, [order.id])


# --- making ---


def _amount_errors(
    action_type: ActionType, amount: Decimal | None, currency: str, at: str
) -> list[FieldError]:
    """Money steps name an amount in the order's currency; other steps name none."""
    if action_type.direction == "none":
        if amount is None:
            return []
        message = f"'{action_type.name}' moves no money; leave the amount out."
        return [_error(f"{at}.amount", "not_money", message)]
    if amount is None:
        message = f"'{action_type.name}' moves money; name the amount."
        return [_error(f"{at}.amount", "required", message)]
    if not fits_currency(amount, currency):
        message = (
            f"{currency} amounts have at most {minor_units(currency)} decimal places."
        )
        return [_error(f"{at}.amount", "too_many_decimals", message)]
    return []


def _assignee_errors(employee: Employee | None, at: str) -> list[FieldError]:
    if employee is None:
        return [_error(f"{at}.assignee_id", "not_found", "No such employee.")]
    if employee.status != "active":
        message = f"{employee.name} has left."
        return [_error(f"{at}.assignee_id", "employee_left", message)]
    return []


async def _steps_from(
    session: AsyncSession,
    order: Order,
    steps_in: Sequence[PlanStepIn],
    *,
    allow_partial: bool,
) -> list[PlanStep]:
    """Check every step (all problems at once) and the collection total; new rows."""
    types = await repository.action_types_by_id(
        session, [s.action_type_id for s in steps_in]
    )
    assignee_ids = [s.assignee_id or order.owner_id for s in steps_in]
    employees = await repository.employees_by_id(session, assignee_ids)
    errors: list[FieldError] = []
    steps: list[PlanStep] = []
    for index, data in enumerate(steps_in):
        at = f"steps.{index}"
        action_type = types.get(data.action_type_id)
        if action_type is None:
            errors.append(_error(f"{at}.action_type_id", "not_found", "No such type."))
            continue
        if not action_type.active:
            message = f"'{action_type.name}' is inactive."
            errors.append(_error(f"{at}.action_type_id", "inactive", message))
        errors += _assignee_errors(employees.get(assignee_ids[index]), at)
        errors += _amount_errors(action_type, data.amount, order.currency, at)

        moves_money = action_type.direction != "none"
        steps.append(
            PlanStep(
                tenant_id=order.tenant_id,
                order_id=order.id,
                position=index + 1,
                action_type_id=action_type.id,
                name=action_type.name,
                direction=action_type.direction,
                due_on=data.due_on,
                amount=(
                    round_money(data.amount, order.currency)
                    if moves_money and data.amount is not None
                    else None
                ),
                received=Decimal(0),
                assignee_id=assignee_ids[index],
                status="pending",
                note=data.note,
            )
        )
    if errors:
        raise ValidationFailed("The plan's steps are invalid.", errors=errors)
    _check_collection(order, steps, allow_partial=allow_partial)
    return steps


def _check_collection(
    order: Order, steps: Sequence[PlanStep], *, allow_partial: bool
) -> None:
    """Collection steps add up to the gross total (at most to it, if partial)."""
    currency = order.currency
    planned = round_money(
        sum((s.amount or Decimal(0) for s in steps if s.direction == "in"), Decimal(0)),
        currency,
    )
    total = round_money(order.total_gross, currency)
    difference = planned - total
    if difference == 0 or (allow_partial and difference < 0):
        return
    if difference < 0:
        message = (
            f"The collection steps add up to {planned} {currency}, {-difference} "
            f"short of the order's gross total {total} {currency} (send "
            "allow_partial_collection: true to collect less)."
        )
    else:
        message = (
            f"The collection steps add up to {planned} {currency}, {difference} more "
            f"than the order's gross total {total} {currency}."
        )
    raise BusinessRuleViolated(
        message,
        errors=[_error("steps", "collection_total", message)],
        extra={
            "currency": currency,
            "total_gross": str(total),
            "planned": str(planned),
            "difference": str(difference),
        },
    )


async def _save(
    session: AsyncSession,
    principal: Principal,
    order: Order,
    plan: Plan | None,
    steps: list[PlanStep],
    *,
    allow_partial: bool,
) -> Plan:
    if plan is None:
        plan = Plan(
            tenant_id=order.tenant_id,
            order_id=order.id,
            currency=order.currency,
            allow_partial_collection=allow_partial,
            updated_by=principal.user_id,
        )
        session.add(plan)
        await flush_or_conflict(session, ONE_PLAN)
    else:
        await repository.delete_steps(session, order.id)
        plan.allow_partial_collection = allow_partial
        plan.updated_by = principal.user_id
        plan.updated_at = func.now()
    session.add_all(steps)
    await session.flush()
    return plan


async def _open_for_planning(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, doing: str
) -> tuple[Order, Plan | None]:
    order = await order_of(session, principal, order_id, write=True, lock="update")
    require_status(order, "approved", doing)
    return order, await repository.plan(session, order.id, lock=True)


async def replace_plan(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    data: PlanReplace,
    *,
    expected_version: int | None,
) -> tuple[Order, Plan, list[PlanStep]]:
    """Make or replace the whole plan of an approved order."""
    order, plan = await _open_for_planning(
        session, principal, order_id, "Changing the plan"
    )
    if plan is None and expected_version is not None:
        raise PreconditionFailed("The order has no plan yet; send no If-Match.")
    if plan is not None:
        check_version(expected_version, plan.version)
    steps = await _steps_from(
        session, order, data.steps, allow_partial=data.allow_partial_collection
    )
    created = plan is None
    plan = await _save(
        session,
        principal,
        order,
        plan,
        steps,
        allow_partial=data.allow_partial_collection,
    )

    _record(session, order, steps, "plan.created" if created else "plan.replaced")
    return order, plan, steps


async def _approval_date(session: AsyncSession, order: Order) -> date:
    """The day the order was approved, on the tenant's calendar."""
    approved_at = await repository.approved_at(session, order.id)
    tenant = await session.get(Tenant, current_tenant(session))
    if approved_at is None or tenant is None:
        raise RuntimeError("an approved order without its approval transition")
    return today_in(tenant.time_zone, now=approved_at)


async def generate_plan(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    data: PlanGenerate,
) -> tuple[Order, Plan, list[PlanStep]]:
    """A plan from the tenant's active action types: one step per type, due its
    default offset after the approval date. The first collecting type (soonest, then
    by name) collects the whole gross total; further collecting types and paying-out
    types are left out, since no amount for them can be known. Add them with PUT."""
    order, plan = await _open_for_planning(
        session, principal, order_id, "Generating a plan"
    )
    if plan is not None:
        raise Conflict(
            "The order already has a plan; replace it with PUT.",
            extra={"status": order.status},
        )
    types = await repository.active_action_types(session)
    if not types:
        raise BusinessRuleViolated(
            "The tenant has no active action types to generate a plan from."
        )
    approved_on = await _approval_date(session, order)
    collecting = order.total_gross > 0
    steps_in: list[PlanStepIn] = []
    for action_type in types:
        amount = None
        if action_type.direction == "out":
            continue
        if action_type.direction == "in":
            if not collecting:
                continue
            amount, collecting = order.total_gross, False
        steps_in.append(
            PlanStepIn(
                action_type_id=action_type.id,
                due_on=approved_on + timedelta(days=action_type.default_offset_days),
                amount=amount,
                assignee_id=data.assignee_id,
            )
        )
    if collecting:
        raise BusinessRuleViolated(
            "No active action type collects money (direction in); create one, or "
            "send the plan with PUT."
        )
    steps = await _steps_from(session, order, steps_in, allow_partial=False)
    plan = await _save(session, principal, order, None, steps, allow_partial=False)

    _record(session, order, steps, "plan.generated")
    return order, plan, steps


def _record(
    session: AsyncSession, order: Order, steps: Sequence[PlanStep], event: str
) -> None:
    record_event(
        session,
        event,
        subject_id=order.id,
        payload={
            "number": order.number,
            "steps": len(steps),
            "currency": order.currency,
            "planned": str(
                sum((s.amount or 0 for s in steps if s.direction == "in"), Decimal(0))
            ),
        },
    )
    logger.info(event, order_id=str(order.id), steps=len(steps))
