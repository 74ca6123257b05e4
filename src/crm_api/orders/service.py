"""Orders: entry (directly or from an accepted quote), content changes while a draft,
the money rule on every line, lists and reads within the caller's visibility.

The state machine lives in workflow.py; who approves in approvals.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.custom_attributes.filters import custom_fields
from crm_api.custom_attributes.values import load_definitions
from crm_api.customers.models import Customer
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import Conflict, FieldError, NotFound, ValidationFailed
from crm_api.kernel.filtering import FilterField, build_filters, build_sort, resolver
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.money import fits_currency
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, SortKey, page_of
from crm_api.orders import content, repository
from crm_api.orders.approvals import roles_of
from crm_api.orders.from_quote import order_from_quote
from crm_api.orders.models import (
    CLOSED_STATUSES,
    Order,
    OrderApproval,
    OrderLine,
    OrderTransition,
)
from crm_api.orders.schemas import (
    MAX_LINES,
    ApprovalLevelState,
    ApprovalState,
    OrderCreate,
    OrderLineIn,
    OrderLineRead,
    OrderLineUpdate,
    OrderPayment,
    OrderRead,
    OrderUpdate,
)
from crm_api.orders.transitions import allowed_actions
from crm_api.organisation import visibility
from crm_api.plans.hooks import plan_summaries
from crm_api.plans.schemas import PlanFigures
from crm_api.products import repository as products_repository
from crm_api.tenants.calendar import tenant_today

logger = structlog.get_logger(__name__)

RESERVED_PARAMS = frozenset({"limit", "cursor", "sort"})
UNIQUE = {
    "uq_orders_tenant_number": ("number", "Another order has this number."),
    "uq_orders_live_source_quote": (
        "from_quote.quote_id",
        "An order was already generated from this quote.",
    ),
}
# Everything an order says it sells; it changes only while the order is a draft.
CONTENT_FIELDS = frozenset({"number", "customer_id", "currency", "lines", "custom"})


# --- visibility ---


def writable(principal: Principal) -> ColumnElement[bool]:
    """Orders the caller may change: their ``orders:write`` scope."""
    return visibility.visible(
        principal, "orders:write", owner=Order.owner_id, department=Order.department_id
    )


def readable(principal: Principal) -> ColumnElement[bool]:
    """Orders the caller may read: their ``orders:read`` scope, plus, for approvers,
    orders awaiting a decision by one of their roles and orders they decided on.

    Approval rules name roles, not departments, so an approver must see what awaits
    them wherever it was sold.
    """
    scope = visibility.visible(
        principal, "orders:read", owner=Order.owner_id, department=Order.department_id
    )
    roles = roles_of(principal)
    if principal.user_id is None or not roles:
        return scope
    awaiting = and_(
        Order.status == "pending_approval", Order.awaiting_roles.overlap(roles)
    )
    return or_(scope, awaiting, repository.decided_by(principal.user_id))


async def get_order(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    for_write: bool = False,
    lock: bool = False,
) -> Order:
    condition = writable(principal) if for_write else readable(principal)
    order = await repository.get(session, order_id, condition, lock=lock)
    if order is None:
        raise NotFound("No such order.")
    return order


# --- lists ---


@dataclass(frozen=True)
class ListQuery:
    conditions: list[ColumnElement[bool]]
    keys: list[SortKey]
    joins: list[tuple[Any, ColumnElement[bool]]]


async def _list_query(
    session: AsyncSession,
    principal: Principal,
    params: Sequence[tuple[str, str]],
    *,
    sort: str | None,
    extra: Sequence[ColumnElement[bool]] = (),
) -> ListQuery:
    definitions = await load_definitions(session, "order", for_write=False)
    used: dict[str, FilterField] = {}
    base = resolver(
        repository.STANDARD_FIELDS,
        custom_fields(definitions, model=Order, entity="order"),
    )

    def resolve(name: str) -> FilterField | None:
        field = base(name)
        if field is not None:
            used[name] = field
        return field

    non_null: set[str] = set()
    conditions = build_filters(
        params, resolve, reserved=RESERVED_PARAMS, non_null=non_null
    )
    conditions.append(readable(principal))
    conditions.extend(extra)
    # Standard fields are never NULL except the quote link.
    non_null |= set(repository.STANDARD_FIELDS) - {"source_quote_id"}
    keys = build_sort(sort, resolve, id_column=Order.id, non_null=non_null)
    joins = {name: f.join for name, f in used.items() if f.join is not None}
    return ListQuery(conditions, keys, list(joins.values()))


async def list_orders(
    session: AsyncSession,
    principal: Principal,
    params: Sequence[tuple[str, str]],
    page: PageParams,
    *,
    sort: str | None,
    extra: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[Order], str | None]:
    query = await _list_query(session, principal, params, sort=sort, extra=extra)
    rows = await repository.page(
        session, query.conditions, query.keys, query.joins, page
    )
    kept, next_cursor = page_of(rows, lambda row: tuple(row[1:]), page)
    return [row[0] for row in kept], next_cursor


async def count_orders(
    session: AsyncSession, principal: Principal, params: Sequence[tuple[str, str]]
) -> int:
    query = await _list_query(session, principal, params, sort=None)
    return await repository.count(session, query.conditions, query.joins)


def _require_draft(order: Order) -> None:
    if order.status != "draft":
        raise Conflict(
            f"The order is {order.status}: its content changes only in draft.",
            extra={"status": order.status},
        )


def _touch(order: Order) -> None:
    """Make the order row itself change, so its version (the ETag) moves on."""
    order.updated_at = func.now()


# --- create ---


async def create_order(
    session: AsyncSession, principal: Principal, data: OrderCreate
) -> Order:
    if data.from_quote is not None:
        order = await order_from_quote(session, principal, data)
    else:
        order = await _direct_order(session, principal, data)

    # From a quote, the quote's owner and department unless the caller names others.
    department_id = data.department_id
    if department_id is None and data.owner_id is None:
        department_id = order.department_id
    owner_id, department_id = await visibility.assign(
        session,
        principal,
        "orders:write",
        owner_id=data.owner_id or order.owner_id,
        department_id=department_id,
    )
    order.owner_id, order.department_id = owner_id, department_id
    definitions = await load_definitions(session, "order")
    order.custom = definitions.validate_create(data.custom)
    if data.number is not None:
        order.number = data.number
    order.ordered_on = await tenant_today(session)
    content.recompute(order)
    session.add(order)
    await flush_or_conflict(session, UNIQUE)

    record_event(
        session,
        "order.created",
        subject_id=order.id,
        payload={
            "number": order.number,
            "customer_id": str(order.customer_id),
            "currency": order.currency,
            "total_gross": str(order.total_gross),
            "source_quote_id": (
                str(order.source_quote_id) if order.source_quote_id else None
            ),
        },
    )
    logger.info("order.created", order_id=str(order.id), number=order.number)
    return order


async def _direct_order(
    session: AsyncSession, principal: Principal, data: OrderCreate
) -> Order:
    if data.customer_id is None:
        raise ValidationFailed.single(
            "customer_id", "Name the customer (or send from_quote).", code="missing"
        )
    customer = await content.check_customer(session, principal, data.customer_id)
    currency = data.currency or (await content.tenant_of(session)).default_currency

    order = content.blank_order(
        tenant_id=current_tenant(session), customer_id=customer.id, currency=currency
    )
    order.lines = await content.build_lines(
        session, data.lines or [], currency=currency
    )
    return order


# --- change ---


async def update_order(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    data: OrderUpdate,
    *,
    expected_version: int | None,
) -> Order:
    order = await get_order(session, principal, order_id, for_write=True, lock=True)
    check_version(expected_version, order.version)
    changes = data.model_dump(exclude_unset=True)
    for required in ("number", "customer_id", "currency", "lines"):
        if required in changes and changes[required] is None:
            raise ValidationFailed.single(required, f"'{required}' cannot be null.")
    if CONTENT_FIELDS & changes.keys():
        _require_draft(order)

    if "owner_id" in changes or "department_id" in changes:
        await _reassign(session, principal, order, data)
    if data.customer_id is not None and data.customer_id != order.customer_id:
        order.customer_id = (
            await content.check_customer(session, principal, data.customer_id)
        ).id
    if data.number is not None:
        order.number = data.number
    if data.currency is not None:
        order.currency = data.currency
    if data.lines is not None:
        order.lines = await content.build_lines(
            session, data.lines, currency=order.currency
        )
    elif data.currency is not None:
        content.check_prices(order)
    if "custom" in changes:
        definitions = await load_definitions(session, "order")
        order.custom = definitions.validate_update(order.custom, data.custom or {})
    content.recompute(order)
    _touch(order)
    await flush_or_conflict(session, UNIQUE)

    record_event(
        session,
        "order.updated",
        subject_id=order.id,
        payload={"fields": sorted(data.model_fields_set)},
    )
    return order


async def _reassign(
    session: AsyncSession, principal: Principal, order: Order, data: OrderUpdate
) -> None:
    """A new owner or department; a finished order keeps the one it finished under."""
    if order.status in CLOSED_STATUSES:
        raise Conflict(
            f"The order is {order.status}: it keeps its owner and department.",
            extra={"status": order.status},
        )
    if "owner_id" in data.model_fields_set and data.owner_id is None:
        raise ValidationFailed.single("owner_id", "'owner_id' cannot be null.")
    if "department_id" in data.model_fields_set and data.department_id is None:
        raise ValidationFailed.single(
            "department_id", "'department_id' cannot be null."
        )
    owner_changes = data.owner_id is not None and data.owner_id != order.owner_id
    department_id = data.department_id
    if department_id is None and not owner_changes:
        department_id = order.department_id
    order.owner_id, order.department_id = await visibility.assign(
        session,
        principal,
        "orders:write",
        owner_id=data.owner_id or order.owner_id,
        department_id=department_id,
    )


async def add_line(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    data: OrderLineIn,
    *,
    expected_version: int | None,
) -> tuple[Order, OrderLine]:
    order = await get_order(session, principal, order_id, for_write=True, lock=True)
    check_version(expected_version, order.version)
    _require_draft(order)
    if len(order.lines) >= MAX_LINES:
        raise ValidationFailed.single(
            "lines", f"An order has at most {MAX_LINES} lines.", code="too_many"
        )

    (line,) = await content.build_lines(
        session, [data], currency=order.currency, prefix=""
    )
    order.lines.append(line)
    content.recompute(order)
    _touch(order)
    await session.flush()
    _line_event(session, order, "added", line.id)
    return order, line


def _find_line(order: Order, line_id: uuid.UUID) -> OrderLine:
    for line in order.lines:
        if line.id == line_id:
            return line
    raise NotFound("No such line on this order.")


async def update_line(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    line_id: uuid.UUID,
    data: OrderLineUpdate,
    *,
    expected_version: int | None,
) -> Order:
    order = await get_order(session, principal, order_id, for_write=True, lock=True)
    check_version(expected_version, order.version)
    _require_draft(order)
    line = _find_line(order, line_id)
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field != "product_id":
            raise ValidationFailed.single(field, f"'{field}' cannot be null.")
    errors: list[FieldError] = []
    if data.product_id is not None and data.product_id != line.product_id:
        product = await products_repository.get(session, data.product_id)
        if product is None:
            errors.append(
                content.field_error("product_id", "not_found", "No such product.")
            )
        elif not product.active:
            errors.append(
                content.field_error(
                    "product_id", "inactive", "The product is inactive."
                )
            )
    if data.unit_price is not None and not fits_currency(
        data.unit_price, order.currency
    ):
        errors.append(content.too_precise("unit_price", order.currency))
    if errors:
        raise content.invalid_lines(errors)

    for field, value in changes.items():
        if isinstance(value, Decimal) and field != "unit_price":
            value = content.plain(value)
        setattr(line, field, value)
    content.recompute(order)
    _touch(order)
    await session.flush()
    _line_event(session, order, "changed", line.id)
    return order


async def delete_line(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    line_id: uuid.UUID,
    *,
    expected_version: int | None,
) -> Order:
    order = await get_order(session, principal, order_id, for_write=True, lock=True)
    check_version(expected_version, order.version)
    _require_draft(order)
    line = _find_line(order, line_id)

    order.lines.remove(line)
    content.recompute(order)
    _touch(order)
    await session.flush()
    _line_event(session, order, "removed", line_id)
    return order


def _line_event(
    session: AsyncSession, order: Order, change: str, line_id: uuid.UUID
) -> None:
    record_event(
        session,
        "order.updated",
        subject_id=order.id,
        payload={
            "fields": ["lines"],
            "line_id": str(line_id),
            "change": change,
            "total_gross": str(order.total_gross),
        },
    )


# --- reads ---


async def line_of(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, line_id: uuid.UUID
) -> OrderLine:
    order = await get_order(session, principal, order_id)
    return _find_line(order, line_id)


def line_to_read(line: OrderLine) -> OrderLineRead:
    return OrderLineRead(
        id=line.id,
        position=line.position,
        product_id=line.product_id,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount_percent=line.discount_percent,
        tax_rate_percent=line.tax_rate_percent,
        net_amount=line.net_amount,
        tax_amount=line.tax_amount,
        gross_amount=line.net_amount + line.tax_amount,
    )


async def read(session: AsyncSession, order: Order) -> OrderRead:
    """The order as the API shows it, with its payment figures."""
    return (await read_many(session, [order]))[0]


async def read_many(session: AsyncSession, orders: Sequence[Order]) -> list[OrderRead]:
    """Orders as the API shows them; the plans of a whole page in two queries."""
    figures = await plan_summaries(session, orders)
    return [to_read(order, figures.get(order.id)) for order in orders]


def to_read(order: Order, plan: PlanFigures | None = None) -> OrderRead:
    approval = None
    if order.approval_round > 0:
        approval = ApprovalState(
            round=order.approval_round,
            current_level=order.current_level,
            levels=[ApprovalLevelState(**step) for step in order.approval_levels],
        )
    return OrderRead(
        id=order.id,
        number=order.number,
        status=order.status,  # type: ignore[arg-type]
        customer_id=order.customer_id,
        currency=order.currency,
        ordered_on=order.ordered_on,
        owner_id=order.owner_id,
        department_id=order.department_id,
        lines=[line_to_read(line) for line in order.lines],
        total_net=order.total_net,
        total_tax=order.total_tax,
        total_gross=order.total_gross,
        custom=dict(order.custom),
        source_quote_id=order.source_quote_id,
        source_quote_revision=order.source_quote_revision,
        approval=approval,
        submitted_by=order.submitted_by,
        allowed_actions=allowed_actions(order.status),
        payment=None
        if plan is None
        else OrderPayment(
            planned=plan.planned,
            paid=plan.paid,
            outstanding=plan.outstanding,
            overdue=plan.overdue,
            as_of=plan.as_of,
            pending_steps=plan.pending_steps,
        ),
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


async def customer_level(session: AsyncSession, customer_id: uuid.UUID) -> str | None:
    """The customer's level as rules see it (whoever submits the order)."""
    return await session.scalar(
        select(Customer.level).where(Customer.id == customer_id)
    )


# --- history and the approver's inbox ---


async def list_transitions(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    params: PageParams,
) -> tuple[list[OrderTransition], str | None]:
    await get_order(session, principal, order_id)
    rows = await repository.transitions_of(session, order_id, params)
    return page_of(rows, lambda row: (row.position,), params)


async def list_approvals(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    params: PageParams,
) -> tuple[list[OrderApproval], str | None]:
    await get_order(session, principal, order_id)
    rows = await repository.approvals_of(session, order_id, params)
    return page_of(rows, lambda row: (row.round, row.level), params)


def awaiting_decision_by(principal: Principal) -> ColumnElement[bool]:
    """Orders whose current level the caller may decide: one of their roles is asked,
    they neither submitted nor own it, and they have not decided in this round."""
    roles = roles_of(principal)
    if principal.user_id is None or not roles:
        return false()
    conditions: list[ColumnElement[bool]] = [
        Order.status == "pending_approval",
        Order.awaiting_roles.overlap(roles),
        or_(Order.submitted_by.is_(None), Order.submitted_by != principal.user_id),
        ~repository.decided_in_current_round(principal.user_id),
    ]
    if principal.employee_id is not None:
        conditions.append(Order.owner_id != principal.employee_id)
    return and_(*conditions)


async def inbox(
    session: AsyncSession,
    principal: Principal,
    params: Sequence[tuple[str, str]],
    page: PageParams,
    *,
    sort: str | None,
) -> tuple[list[Order], str | None]:
    return await list_orders(
        session,
        principal,
        params,
        page,
        sort=sort,
        extra=[awaiting_decision_by(principal)],
    )
