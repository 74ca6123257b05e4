from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from crm_api.auth.dependencies import CurrentPrincipal, Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import Session
from crm_api.kernel.money import MONEY_RULE_TEXT
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.routing import CrmRoute
from crm_api.orders import history, rule_service, service, workflow
from crm_api.orders.models import Order
from crm_api.orders.schemas import (
    ApprovalRuleCreate,
    ApprovalRuleRead,
    ApprovalRuleUpdate,
    HistoricalImportReport,
    HistoricalOrderBatch,
    OrderActionRequest,
    OrderApprovalRead,
    OrderCount,
    OrderCreate,
    OrderLineIn,
    OrderLineRead,
    OrderLineUpdate,
    OrderRead,
    OrderTransitionRead,
    OrderUpdate,
)
from crm_api.orders.transitions import Action

router = APIRouter(prefix="/orders", tags=["orders"], route_class=CrmRoute)
rules_router = APIRouter(
    prefix="/approval-rules", tags=["approval_rules"], route_class=CrmRoute
)
approvals_router = APIRouter(
    prefix="/approvals", tags=["approvals"], route_class=CrmRoute
)

CanRead = Annotated[Principal, Depends(require("orders:read"))]
CanWrite = Annotated[Principal, Depends(require("orders:write"))]
CanReadRules = Annotated[Principal, Depends(require("approval_rules:read"))]
CanWriteRules = Annotated[Principal, Depends(require("approval_rules:write"))]
IfMatch = Annotated[int | None, Depends(if_match_header)]
Paging = Annotated[PageParams, Depends(page_params)]
SortParam = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Comma-separated fields, `-` for descending, e.g. `-total_gross`.",
    ),
]
FILTER_HELP = (
    "Filters are further query parameters: `field=value` or `field[op]=value` with op "
    "in eq, ne, lt, lte, gt, gte, in, contains, like, exists. Fields: number, status, "
    "customer_id, owner_id, department_id, currency, ordered_on, total_gross, "
    "source_quote_id, created_at, updated_at and `custom.<key>`, compared by type."
)


def _filters(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


async def _order(session: Session, response: Response, order: Order) -> OrderRead:
    set_etag(response, order.version)
    return await service.read(session, order)


@router.get("", operation_id="orders_list", description=FILTER_HELP)
async def list_orders(
    request: Request,
    session: Session,
    principal: CanRead,
    page: Paging,
    sort: SortParam = None,
) -> Page[OrderRead]:
    """List the orders the caller can see, filtered and sorted."""
    orders, next_cursor = await service.list_orders(
        session, principal, _filters(request), page, sort=sort
    )
    return Page(items=await service.read_many(session, orders), next_cursor=next_cursor)


@router.get("/count", operation_id="orders_count", description=FILTER_HELP)
async def count_orders(
    request: Request, session: Session, principal: CanRead
) -> OrderCount:
    """Count the orders a list with the same filters would return."""
    total = await service.count_orders(session, principal, _filters(request))
    return OrderCount(count=total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="orders_create",
    dependencies=[Idempotent],
    description="Send `customer_id` and `lines`, or `from_quote` to copy a quote's "
    "accepted revision (customer, currency, owner, department and every line). "
    + MONEY_RULE_TEXT,
)
async def create_order(
    data: OrderCreate, session: Session, principal: CanWrite, response: Response
) -> OrderRead:
    """Create a draft order, entered directly or from a quote's accepted revision."""
    order = await service.create_order(session, principal, data)

    response.headers["Location"] = f"/api/v1/orders/{order.id}"
    return await _order(session, response, order)


@router.post(
    "/historical",
    operation_id="orders_import_historical",
    dependencies=[Idempotent],
    description="Up to 500 orders done elsewhere, each entering as `completed` (one "
    "recorded transition `import` from draft, comment `imported`, and an "
    "`order.imported` event). The customer is named by `code`; products may be "
    "inactive; the unit price is required (the price charged then). The `number` is "
    "the key: one the tenant already has is reported as `existing` and left alone, so "
    "sending a batch again creates nothing. All or nothing per batch: every problem "
    "is listed under `errors` as `orders.<index>.<field>` and nothing is written. "
    + MONEY_RULE_TEXT,
)
async def import_historical_orders(
    data: HistoricalOrderBatch, session: Session, principal: CanWrite
) -> HistoricalImportReport:
    """Import completed historical orders in one batch."""
    return await history.import_orders(session, principal, data)


@router.get("/{order_id}", operation_id="orders_get")
async def get_order(
    order_id: uuid.UUID, session: Session, principal: CanRead, response: Response
) -> OrderRead:
    """Read one order with its lines and totals."""
    order = await service.get_order(session, principal, order_id)

    return await _order(session, response, order)


@router.patch("/{order_id}", operation_id="orders_update", description=MONEY_RULE_TEXT)
async def update_order(
    order_id: uuid.UUID,
    data: OrderUpdate,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> OrderRead:
    """Change an order: content only in draft (else 409); owner while it is open."""
    order = await service.update_order(
        session, principal, order_id, data, expected_version=expected_version
    )

    return await _order(session, response, order)


@router.post(
    "/{order_id}/lines",
    status_code=status.HTTP_201_CREATED,
    operation_id="order_lines_create",
    dependencies=[Idempotent],
    description=MONEY_RULE_TEXT,
)
async def add_line(
    order_id: uuid.UUID,
    data: OrderLineIn,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> OrderRead:
    """Add a line to a draft order; answers the order with its new totals."""
    order, line = await service.add_line(
        session, principal, order_id, data, expected_version=expected_version
    )

    response.headers["Location"] = f"/api/v1/orders/{order.id}/lines/{line.id}"
    return await _order(session, response, order)


@router.get("/{order_id}/lines/{line_id}", operation_id="order_lines_get")
async def get_line(
    order_id: uuid.UUID, line_id: uuid.UUID, session: Session, principal: CanRead
) -> OrderLineRead:
    """Read one line of an order."""
    line = await service.line_of(session, principal, order_id, line_id)
    return service.line_to_read(line)


@router.patch(
    "/{order_id}/lines/{line_id}",
    operation_id="order_lines_update",
    description=MONEY_RULE_TEXT,
)
async def update_line(
    order_id: uuid.UUID,
    line_id: uuid.UUID,
    data: OrderLineUpdate,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> OrderRead:
    """Change a line of a draft order (409 in any other state); `If-Match` is the
    order's ETag. Answers the order with its new totals."""
    order = await service.update_line(
        session, principal, order_id, line_id, data, expected_version=expected_version
    )

    return await _order(session, response, order)


@router.delete("/{order_id}/lines/{line_id}", operation_id="order_lines_delete")
async def delete_line(
    order_id: uuid.UUID,
    line_id: uuid.UUID,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> OrderRead:
    """Remove a line from a draft order; answers the order with its new totals."""
    order = await service.delete_line(
        session, principal, order_id, line_id, expected_version=expected_version
    )

    return await _order(session, response, order)


@router.get("/{order_id}/transitions", operation_id="orders_transitions_list")
async def list_transitions(
    order_id: uuid.UUID, session: Session, principal: CanRead, page: Paging
) -> Page[OrderTransitionRead]:
    """The order's path through its states, oldest first: who, when, from, to, why."""
    rows, next_cursor = await service.list_transitions(
        session, principal, order_id, page
    )
    return Page(
        items=[OrderTransitionRead.model_validate(row) for row in rows],
        next_cursor=next_cursor,
    )


@router.get("/{order_id}/approvals", operation_id="orders_approvals_list")
async def list_approvals(
    order_id: uuid.UUID, session: Session, principal: CanRead, page: Paging
) -> Page[OrderApprovalRead]:
    """Every approval decision on the order, by round and level."""
    rows, next_cursor = await service.list_approvals(session, principal, order_id, page)
    return Page(
        items=[OrderApprovalRead.model_validate(row) for row in rows],
        next_cursor=next_cursor,
    )


# --- transitions: one endpoint per action ---

Endpoint = Callable[..., Awaitable[OrderRead]]

_ACTIONS: dict[Action, tuple[str, str]] = {
    "submit": (
        "orders:write",
        "Submit a draft for approval. The matching approval rules fix the levels it "
        "needs; with none matching it is approved at once (recorded as automatic).",
    ),
    "approve": (
        "orders:read",
        "Approve the level awaiting a decision (needs a role that level names; not "
        "on an order you submitted or own). The last level approves the order.",
    ),
    "reject": (
        "orders:read",
        "Reject the order at the level awaiting a decision (same rights as approve).",
    ),
    "reopen": ("orders:write", "Take a rejected order back to draft."),
    "start": ("orders:write", "Put an approved order into execution."),
    "complete": ("orders:write", "Complete an order in execution."),
    "cancel": (
        "orders:write",
        "Cancel an order that is draft, pending approval, rejected or approved; an "
        "order in execution cannot be cancelled.",
    ),
}


def _transition_endpoint(action: Action) -> Endpoint:
    async def endpoint(
        order_id: uuid.UUID,
        session: Session,
        principal: CurrentPrincipal,
        expected_version: IfMatch,
        response: Response,
        data: OrderActionRequest | None = None,
    ) -> OrderRead:
        order = await workflow.take(
            session,
            principal,
            order_id,
            action,
            comment=data.comment if data else None,
            expected_version=expected_version,
        )
        return await _order(session, response, order)

    endpoint.__name__ = f"{action}_order"
    return endpoint


for _action, (_permission, _description) in _ACTIONS.items():
    router.add_api_route(
        f"/{{order_id}}/{_action}",
        _transition_endpoint(_action),
        methods=["POST"],
        operation_id=f"orders_{_action}",
        summary=f"{_action.capitalize()} the order",
        description=_description + " An illegal transition is a 409 naming the state.",
        # The permission check first, then the idempotency claim.
        dependencies=[Depends(require(_permission)), Idempotent],
        response_model=OrderRead,
    )


# --- the approver's inbox ---


@approvals_router.get("/inbox", operation_id="approvals_inbox", description=FILTER_HELP)
async def approval_inbox(
    request: Request,
    session: Session,
    principal: CanRead,
    page: Paging,
    sort: SortParam = None,
) -> Page[OrderRead]:
    """Orders awaiting the caller's decision: the current level names one of their
    roles, they neither submitted nor own the order, and have not decided on it in
    this round. Approvers read these orders (and those they decided on) even outside
    their own visibility scope."""
    orders, next_cursor = await service.inbox(
        session, principal, _filters(request), page, sort=sort
    )
    return Page(items=await service.read_many(session, orders), next_cursor=next_cursor)


# --- approval rules ---


@rules_router.get("", operation_id="approval_rules_list")
async def list_rules(
    session: Session,
    _: CanReadRules,
    page: Paging,
    active: Annotated[
        bool | None, Query(description="Only active or inactive.")
    ] = None,
) -> Page[ApprovalRuleRead]:
    """List the tenant's approval rules, oldest first."""
    rules, next_cursor = await rule_service.list_rules(session, page, active=active)
    return Page(items=[rule_service.to_read(r) for r in rules], next_cursor=next_cursor)


@rules_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="approval_rules_create",
    dependencies=[Idempotent],
)
async def create_rule(
    data: ApprovalRuleCreate, session: Session, _: CanWriteRules, response: Response
) -> ApprovalRuleRead:
    """Create an approval rule: conditions that must all hold, and approver levels."""
    rule = await rule_service.create_rule(session, data)

    set_etag(response, rule.version)
    response.headers["Location"] = f"/api/v1/approval-rules/{rule.id}"
    return rule_service.to_read(rule)


@rules_router.get("/{rule_id}", operation_id="approval_rules_get")
async def get_rule(
    rule_id: uuid.UUID, session: Session, _: CanReadRules, response: Response
) -> ApprovalRuleRead:
    """Read one approval rule."""
    rule = await rule_service.get_rule(session, rule_id)

    set_etag(response, rule.version)
    return rule_service.to_read(rule)


@rules_router.patch("/{rule_id}", operation_id="approval_rules_update")
async def update_rule(
    rule_id: uuid.UUID,
    data: ApprovalRuleUpdate,
    session: Session,
    _: CanWriteRules,
    expected_version: IfMatch,
    response: Response,
) -> ApprovalRuleRead:
    """Change an approval rule; orders already submitted keep their levels."""
    rule = await rule_service.update_rule(
        session, rule_id, data, expected_version=expected_version
    )

    set_etag(response, rule.version)
    return rule_service.to_read(rule)


@rules_router.delete(
    "/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="approval_rules_delete",
)
async def delete_rule(
    rule_id: uuid.UUID, session: Session, _: CanWriteRules, expected_version: IfMatch
) -> None:
    """Delete an approval rule; orders already submitted keep their levels."""
    await rule_service.delete_rule(session, rule_id, expected_version=expected_version)
