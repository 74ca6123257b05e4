from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from crm_api.auth.dependencies import Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import Session
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.routing import CrmRoute
from crm_api.orders.models import Order
from crm_api.plans import action_types, notices, policy, service, steps
from crm_api.plans.models import Plan, PlanStep
from crm_api.plans.schemas import (
    ActionTypeCreate,
    ActionTypeRead,
    ActionTypeUpdate,
    Direction,
    NoticeKind,
    NoticeRead,
    PlanGenerate,
    PlanRead,
    PlanReplace,
    ReceiptCreate,
    ReceiptRead,
    ReceiptResult,
    ReminderPolicyRead,
    ReminderPolicyReplace,
    StepDone,
    StepSkip,
)

action_types_router = APIRouter(
    prefix="/action-types", tags=["action_types"], route_class=CrmRoute
)
plans_router = APIRouter(prefix="/orders", tags=["plans"], route_class=CrmRoute)
notices_router = APIRouter(tags=["payment_notices"], route_class=CrmRoute)

CanReadTypes = Annotated[Principal, Depends(require("action_types:read"))]
CanWriteTypes = Annotated[Principal, Depends(require("action_types:write"))]
CanReadOrders = Annotated[Principal, Depends(require("orders:read"))]
CanWriteOrders = Annotated[Principal, Depends(require("orders:write"))]
CanReadTenant = Annotated[Principal, Depends(require("tenant:read"))]
CanWriteTenant = Annotated[Principal, Depends(require("tenant:write"))]
IfMatch = Annotated[int | None, Depends(if_match_header)]
Paging = Annotated[PageParams, Depends(page_params)]

PLAN_RULES = (
    "A plan changes only while its order is approved; `start` fixes it, and in "
    "execution its steps are worked (done, skip, receipts) but never replaced. "
    "Collection steps (action types with direction `in`) add up exactly to the "
    "order's gross total unless `allow_partial_collection` is true (then to at most "
    "it). Amounts are in the order's currency, with no more decimals than it has."
)
STEP_RULES = "Only while the order is in execution and the step is pending (else 409)."


# --- action types ---


@action_types_router.get("", operation_id="action_types_list")
async def list_action_types(
    session: Session,
    _: CanReadTypes,
    page: Paging,
    active: Annotated[
        bool | None, Query(description="Only active or inactive.")
    ] = None,
    direction: Annotated[Direction | None, Query()] = None,
) -> Page[ActionTypeRead]:
    """List the tenant's action types, oldest first."""
    rows, next_cursor = await action_types.list_action_types(
        session, page, active=active, direction=direction
    )
    return Page(items=[action_types.to_read(r) for r in rows], next_cursor=next_cursor)


@action_types_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="action_types_create",
    dependencies=[Idempotent],
)
async def create_action_type(
    data: ActionTypeCreate, session: Session, _: CanWriteTypes, response: Response
) -> ActionTypeRead:
    """Create an action type: a kind of plan step, and whether it moves money."""
    action_type = await action_types.create_action_type(session, data)

    set_etag(response, action_type.version)
    response.headers["Location"] = f"/api/v1/action-types/{action_type.id}"
    return action_types.to_read(action_type)


@action_types_router.get("/{action_type_id}", operation_id="action_types_get")
async def get_action_type(
    action_type_id: uuid.UUID, session: Session, _: CanReadTypes, response: Response
) -> ActionTypeRead:
    """Read one action type."""
    action_type = await action_types.get_action_type(session, action_type_id)

    set_etag(response, action_type.version)
    return action_types.to_read(action_type)


@action_types_router.patch("/{action_type_id}", operation_id="action_types_update")
async def update_action_type(
    action_type_id: uuid.UUID,
    data: ActionTypeUpdate,
    session: Session,
    _: CanWriteTypes,
    expected_version: IfMatch,
    response: Response,
) -> ActionTypeRead:
    """Change an action type; steps already planned keep their name and direction."""
    action_type = await action_types.update_action_type(
        session, action_type_id, data, expected_version=expected_version
    )

    set_etag(response, action_type.version)
    return action_types.to_read(action_type)


@action_types_router.delete(
    "/{action_type_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="action_types_delete",
)
async def delete_action_type(
    action_type_id: uuid.UUID,
    session: Session,
    _: CanWriteTypes,
    expected_version: IfMatch,
) -> None:
    """Delete an action type no plan uses (409 otherwise: deactivate it instead)."""
    await action_types.delete_action_type(
        session, action_type_id, expected_version=expected_version
    )


# --- plans ---


async def _plan(
    session: Session,
    response: Response,
    order: Order,
    plan: Plan,
    plan_steps: list[PlanStep],
) -> PlanRead:
    set_etag(response, plan.version)
    return await service.read_plan(session, order, plan, plan_steps)


@plans_router.get("/{order_id}/plan", operation_id="plans_get")
async def get_plan(
    order_id: uuid.UUID, session: Session, principal: CanReadOrders, response: Response
) -> PlanRead:
    """Read the order's plan with its paid, outstanding and overdue amounts (overdue
    judged on the tenant's calendar); 404 while it has none."""
    order, plan, plan_steps = await service.get_plan(session, principal, order_id)

    return await _plan(session, response, order, plan, plan_steps)


@plans_router.put(
    "/{order_id}/plan", operation_id="plans_replace", description=PLAN_RULES
)
async def replace_plan(
    order_id: uuid.UUID,
    data: PlanReplace,
    session: Session,
    principal: CanWriteOrders,
    expected_version: IfMatch,
    response: Response,
) -> PlanRead:
    """Make or replace the plan of an approved order: every step, each pending.
    `If-Match` is the plan's ETag (none for a first plan)."""
    order, plan, plan_steps = await service.replace_plan(
        session, principal, order_id, data, expected_version=expected_version
    )

    return await _plan(session, response, order, plan, plan_steps)


@plans_router.post(
    "/{order_id}/plan/generate",
    status_code=status.HTTP_201_CREATED,
    operation_id="plans_generate",
    dependencies=[Idempotent],
    description="One step per active action type, due its default offset after the "
    "day the order was approved (tenant's calendar), assigned to the order's owner "
    "unless `assignee_id` says otherwise. The first collecting type (soonest, then by "
    "name) collects the whole gross total; other collecting and paying-out types are "
    "left for you to add with PUT. 409 when the order already has a plan.",
)
async def generate_plan(
    order_id: uuid.UUID,
    session: Session,
    principal: CanWriteOrders,
    response: Response,
    data: PlanGenerate | None = None,
) -> PlanRead:
    """Generate the plan of an approved order from the tenant's action types."""
    order, plan, plan_steps = await service.generate_plan(
        session, principal, order_id, data or PlanGenerate()
    )

    response.headers["Location"] = f"/api/v1/orders/{order.id}/plan"
    return await _plan(session, response, order, plan, plan_steps)


@plans_router.post(
    "/{order_id}/plan/steps/{step_id}/done",
    operation_id="plan_steps_done",
    dependencies=[Idempotent],
    description=STEP_RULES
    + " A collection step is done by its receipts; with money outstanding it is a "
    "409 (record receipts, or skip it).",
)
async def mark_step_done(
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    session: Session,
    principal: CanWriteOrders,
    response: Response,
    data: StepDone | None = None,
) -> PlanRead:
    """Mark a step done (who and when are recorded); answers the plan."""
    await steps.mark_done(session, principal, order_id, step_id, data or StepDone())

    order, plan, plan_steps = await service.get_plan(session, principal, order_id)
    return await _plan(session, response, order, plan, plan_steps)


@plans_router.post(
    "/{order_id}/plan/steps/{step_id}/skip",
    operation_id="plan_steps_skip",
    dependencies=[Idempotent],
    description=STEP_RULES + " Skipping a collection step waives what it has not "
    "collected.",
)
async def skip_step(
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    session: Session,
    principal: CanWriteOrders,
    response: Response,
    data: StepSkip | None = None,
) -> PlanRead:
    """Skip a step (who, when and why are recorded); answers the plan."""
    await steps.skip(session, principal, order_id, step_id, data or StepSkip())

    order, plan, plan_steps = await service.get_plan(session, principal, order_id)
    return await _plan(session, response, order, plan, plan_steps)


@plans_router.post(
    "/{order_id}/plan/steps/{step_id}/receipts",
    status_code=status.HTTP_201_CREATED,
    operation_id="receipts_create",
    dependencies=[Idempotent],
    description=STEP_RULES
    + " Receipts go on collection steps (direction `in`), in parts if need be; the "
    "one that reaches the step's amount marks it done. More than is outstanding on "
    "the step is a 409 (its state refuses it, `extra.outstanding` says how much is "
    "left); a receipt wrong in itself (not above 0, more decimals than the "
    "currency, dated after today on the tenant's calendar) is a 422.",
)
async def create_receipt(
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    data: ReceiptCreate,
    session: Session,
    principal: CanWriteOrders,
    response: Response,
) -> ReceiptResult:
    """Record money received against a collection step."""
    order, step, receipt = await steps.record_receipt(
        session, principal, order_id, step_id, data
    )

    response.headers["Location"] = (
        f"/api/v1/orders/{order.id}/plan/steps/{step.id}/receipts"
    )
    return await steps.receipt_result(session, order, step, receipt)


@plans_router.get(
    "/{order_id}/plan/steps/{step_id}/receipts", operation_id="receipts_list"
)
async def list_receipts(
    order_id: uuid.UUID,
    step_id: uuid.UUID,
    session: Session,
    principal: CanReadOrders,
    page: Paging,
) -> Page[ReceiptRead]:
    """The receipts recorded against a step, oldest first."""
    order, rows, next_cursor = await steps.list_receipts(
        session, principal, order_id, step_id, page
    )
    return Page(
        items=[steps.receipt_read(r, order.currency) for r in rows],
        next_cursor=next_cursor,
    )


# --- reminders and dunning ---


def _policy(response: Response, current: policy.Policy) -> ReminderPolicyRead:
    set_etag(response, current.version)
    return policy.to_read(current)


@notices_router.get(
    "/payment-reminder-policy", operation_id="payment_reminder_policy_get"
)
async def get_reminder_policy(
    session: Session, principal: CanReadTenant, response: Response
) -> ReminderPolicyRead:
    """When payment reminders and dunning notices are made (defaults until set)."""
    current = await policy.current(session, principal.tenant_id)

    return _policy(response, current)


@notices_router.put(
    "/payment-reminder-policy", operation_id="payment_reminder_policy_replace"
)
async def replace_reminder_policy(
    data: ReminderPolicyReplace,
    session: Session,
    principal: CanWriteTenant,
    expected_version: IfMatch,
    response: Response,
) -> ReminderPolicyRead:
    """Set the reminder lead days and dunning levels. Notices already made stay;
    a dunning level is its position in the list. The defaults' ETag is `"0"`."""
    current = await policy.replace(
        session, principal, data, expected_version=expected_version
    )

    return _policy(response, current)


@notices_router.get("/notices", operation_id="notices_list")
async def list_notices(
    session: Session,
    principal: CanReadOrders,
    page: Paging,
    mine: Annotated[
        bool,
        Query(description="Only the notices addressed to the caller as assignee."),
    ] = False,
    kind: Annotated[NoticeKind | None, Query()] = None,
    order_id: Annotated[uuid.UUID | None, Query()] = None,
    assignee_id: Annotated[uuid.UUID | None, Query()] = None,
    acknowledged: Annotated[bool | None, Query()] = None,
) -> Page[NoticeRead]:
    """Payment reminders and dunning notices, newest first: on orders within the
    caller's scope, and those addressed to the caller wherever the order sits."""
    rows, next_cursor = await notices.list_notices(
        session,
        principal,
        page,
        mine=mine,
        kind=kind,
        order_id=order_id,
        assignee_id=assignee_id,
        acknowledged=acknowledged,
    )
    return Page(items=[notices.to_read(r) for r in rows], next_cursor=next_cursor)


@notices_router.get("/notices/{notice_id}", operation_id="notices_get")
async def get_notice(
    notice_id: uuid.UUID, session: Session, principal: CanReadOrders
) -> NoticeRead:
    """Read one notice."""
    notice = await notices.get_notice(session, principal, notice_id)
    return notices.to_read(notice)


@notices_router.post(
    "/notices/{notice_id}/acknowledge",
    operation_id="notices_acknowledge",
    dependencies=[Idempotent],
)
async def acknowledge_notice(
    notice_id: uuid.UUID, session: Session, principal: CanReadOrders
) -> NoticeRead:
    """Acknowledge a notice: its assignee, or anyone whose `orders:write` scope reaches
    the order; once (409 after)."""
    notice = await notices.acknowledge(session, principal, notice_id)
    return notices.to_read(notice)
