"""What a plan says about money: planned, paid, outstanding and overdue, one definition
for the plan's read model and for the order's (through hooks.py).

- planned: the collection steps' (direction ``in``) amounts;
- paid: every receipt, on whatever step (a skipped step keeps what it collected);
- outstanding: amount - received on *pending* collection steps (skipping a step waives
  the rest of it; a done step has nothing left);
- overdue: the outstanding part of steps due before today on the tenant's calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from crm_api.kernel.money import quantum
from crm_api.orders.models import Order
from crm_api.plans.models import PlanStep
from crm_api.plans.schemas import PlanFigures, PlanStepRead


def is_overdue(step: PlanStep, today: date) -> bool:
    return step.status == "pending" and step.due_on < today


def plan_figures(
    order: Order, steps: Sequence[PlanStep], *, today: date
) -> PlanFigures:
    zero = Decimal(0).quantize(quantum(order.currency))
    planned = paid = outstanding = overdue = zero
    for step in steps:
        paid += step.received
        if step.direction != "in" or step.amount is None:
            continue
        planned += step.amount
        outstanding += step.outstanding
        if is_overdue(step, today):
            overdue += step.outstanding
    return PlanFigures(
        currency=order.currency,
        total_gross=order.total_gross,
        planned=planned,
        paid=paid,
        outstanding=outstanding,
        overdue=overdue,
        as_of=today,
        pending_steps=sum(1 for step in steps if step.status == "pending"),
        editable=order.status == "approved",
    )


def step_read(step: PlanStep, *, currency: str, today: date) -> PlanStepRead:
    scale = quantum(currency)
    return PlanStepRead(
        id=step.id,
        position=step.position,
        action_type_id=step.action_type_id,
        name=step.name,
        direction=step.direction,  # type: ignore[arg-type]
        due_on=step.due_on,
        amount=step.amount,
        received=step.received.quantize(scale),
        outstanding=step.outstanding.quantize(scale),
        overdue=is_overdue(step, today),
        assignee_id=step.assignee_id,
        status=step.status,  # type: ignore[arg-type]
        note=step.note,
        done_at=step.done_at,
        done_by=step.done_by,
        skipped_at=step.skipped_at,
        skipped_by=step.skipped_by,
        skip_reason=step.skip_reason,
    )
