"""What the orders workflow asks of plans. Orders import this module; it imports only
orders' models, so there is no import cycle.

Wiring, for the orders package:

- ``complete``: under the order's row lock (FOR UPDATE, which ``workflow._locked``
  takes), ``reason = await blocks_completion(session, order.id)``; when it is not
  None, refuse with ``Conflict(reason)``. Work on steps takes the same row in share
  mode, so no step can change between this check and the completion.
- the order's read model: ``plan_summaries(session, orders)`` gives the figures of a
  page of orders in two queries (orders without a plan are absent).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.orders.models import Order
from crm_api.plans import repository
from crm_api.plans.figures import plan_figures
from crm_api.plans.models import PlanStep
from crm_api.plans.schemas import PlanFigures
from crm_api.tenants.calendar import tenant_today

# How many pending steps a refusal names before it only counts the rest.
_NAMED = 5


async def blocks_completion(session: AsyncSession, order_id: uuid.UUID) -> str | None:
    """Why the order cannot complete yet (its plan has pending steps), or None.

    An order without a plan, or whose steps are all done or skipped, may complete.
    """
    pending = await repository.pending_steps(session, order_id)
    if not pending:
        return None
    named = ", ".join(f"'{step.name}' due {step.due_on}" for step in pending[:_NAMED])
    more = f" and {len(pending) - _NAMED} more" if len(pending) > _NAMED else ""
    return (
        f"{len(pending)} plan step(s) still pending: {named}{more}. Mark them done "
        "or skip them first."
    )


async def plan_summaries(
    session: AsyncSession, orders: Sequence[Order]
) -> dict[uuid.UUID, PlanFigures]:
    """The paid, outstanding and overdue amounts of each order's plan (overdue on the
    tenant's calendar), keyed by order id; orders without a plan are absent."""
    ids = [order.id for order in orders]
    plans = await repository.plans_of(session, ids)
    if not plans:
        return {}
    steps_by_order: dict[uuid.UUID, list[PlanStep]] = {}
    for step in await repository.steps(session, list(plans)):
        steps_by_order.setdefault(step.order_id, []).append(step)
    today = await tenant_today(session)
    return {
        order.id: plan_figures(order, steps_by_order.get(order.id, []), today=today)
        for order in orders
        if order.id in plans
    }
