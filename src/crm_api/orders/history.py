"""Historical orders: business done before the tenant came to us, imported in batches.

Each order arrives finished. It is checked like an order entered directly (a customer
the caller can see, products that exist, prices that fit the currency, an owner within
the caller's reach, the tenant's custom attributes), gets its lines and totals from the
same money rule (content.py), and enters the state machine already ``completed``: one
recorded step from draft, commented "imported", with an ``order.imported`` event.

The order's number is its key. A number the tenant already has is reported as
``existing`` and left alone, without further checks, so sending a batch again changes
nothing. A batch is all or nothing: every problem of every order is listed (fields
prefixed ``orders.<index>.``) and none of the batch is written. Batches racing with
the same new numbers take turns on them (transaction locks per number), so the later
ones find the orders and report them as existing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.custom_attributes.values import Definitions, load_definitions
from crm_api.customers.repository import customer_visibility
from crm_api.kernel.errors import FieldError, ValidationFailed
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.orders import content, repository
from crm_api.orders.models import Order, OrderTransition
from crm_api.orders.schemas import (
    HistoricalImportReport,
    HistoricalOrderBatch,
    HistoricalOrderIn,
    HistoricalOrderResult,
)
from crm_api.orders.service import UNIQUE, readable
from crm_api.orders.transitions import IMPORTED
from crm_api.organisation import visibility
from crm_api.products import repository as products_repository
from crm_api.products.models import Product
from crm_api.tenants.calendar import today_in
from crm_api.tenants.models import Tenant

logger = structlog.get_logger(__name__)

IMPORT_COMMENT = "imported"


def _prefixed(prefix: str, errors: Iterable[FieldError]) -> list[FieldError]:
    return [
        error.model_copy(update={"field": prefix + error.field}) for error in errors
    ]


async def _owners(
    session: AsyncSession, principal: Principal, owner_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID] | list[FieldError]]:
    """Per owner: (owner, department) as every other order gets them, or why not.

    A batch names few owners, so each is checked once by the shared rule.
    """
    found: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID] | list[FieldError]] = {}
    for owner_id in owner_ids:
        if owner_id in found:
            continue
        try:
            found[owner_id] = await visibility.assign(
                session,
                principal,
                "orders:write",
                owner_id=owner_id,
                department_id=None,
            )
        except ValidationFailed as refused:
            found[owner_id] = list(refused.errors or [])
    return found


@dataclass(frozen=True)
class _Known:
    """What the batch's orders refer to, looked up once for the whole batch."""

    tenant: Tenant
    today: date
    customers: dict[str, uuid.UUID]
    products: dict[uuid.UUID, Product]
    owners: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID] | list[FieldError]]
    definitions: Definitions


async def _look_up(
    session: AsyncSession, principal: Principal, items: list[HistoricalOrderIn]
) -> _Known:
    tenant = await content.tenant_of(session)
    product_ids = [
        line.product_id
        for item in items
        for line in item.lines
        if line.product_id is not None
    ]
    return _Known(
        tenant=tenant,
        today=today_in(tenant.time_zone),
        customers=await repository.customer_ids_by_code(
            session,
            {item.customer_code for item in items},
            customer_visibility(principal, "customers:read"),
        ),
        products=await products_repository.many(session, product_ids),
        owners=await _owners(session, principal, (item.owner_id for item in items)),
        definitions=await load_definitions(session, "order"),
    )


def _duplicates(batch: HistoricalOrderBatch) -> list[FieldError]:
    """A number sent twice in one batch: the second is an error, naming the first."""
    first_at: dict[str, int] = {}
    errors: list[FieldError] = []
    for index, item in enumerate(batch.orders):
        if item.number not in first_at:
            first_at[item.number] = index
            continue
        errors.append(
            content.field_error(
                f"orders.{index}.number",
                "duplicate",
                f"Order {item.number} is already orders.{first_at[item.number]} of "
                "this batch.",
            )
        )
    return errors


def _completed_order(
    item: HistoricalOrderIn, at: str, known: _Known, errors: list[FieldError]
) -> Order | None:
    """The order ``item`` describes, completed; or None with its problems added."""
    found = len(errors)
    customer_id = known.customers.get(item.customer_code)
    if customer_id is None:
        errors.append(
            content.field_error(
                at + "customer_code", "not_found", "No customer has this code."
            )
        )
    owner = known.owners[item.owner_id]
    if isinstance(owner, list):
        errors.extend(_prefixed(at, owner))
    if item.ordered_on > known.today:
        errors.append(
            content.field_error(
                at + "ordered_on",
                "in_future",
                f"A historical order was placed by today ({known.today.isoformat()}).",
            )
        )
    currency = item.currency or known.tenant.default_currency
    lines, line_errors = content.lines_from(
        item.lines,
        known.products,
        tenant_id=known.tenant.id,
        currency=currency,
        prefix=at + "lines",
        allow_inactive=True,
    )
    errors.extend(line_errors)
    try:
        custom = known.definitions.validate_create(item.custom)
    except ValidationFailed as invalid:
        errors.extend(_prefixed(at, invalid.errors or []))
        return None
    if len(errors) > found or customer_id is None or isinstance(owner, list):
        return None

    order = content.blank_order(
        tenant_id=known.tenant.id, customer_id=customer_id, currency=currency
    )
    order.number = item.number
    order.status = IMPORTED.target
    order.owner_id, order.department_id = owner
    order.ordered_on = item.ordered_on
    order.custom = custom
    order.lines = lines
    content.recompute(order)
    return order


async def import_orders(
    session: AsyncSession, principal: Principal, batch: HistoricalOrderBatch
) -> HistoricalImportReport:
    errors = _duplicates(batch)
    numbers = {item.number for item in batch.orders}
    await repository.lock_numbers(session, numbers)
    existing = await repository.by_numbers(
        session, {item.number for item in batch.orders}, readable(principal)
    )
    fresh = [
        (index, item)
        for index, item in enumerate(batch.orders)
        if item.number not in existing
    ]
    known = await _look_up(session, principal, [item for _, item in fresh])

    orders: list[Order] = []
    for index, item in fresh:
        order = _completed_order(item, f"orders.{index}.", known, errors)
        if order is not None:
            orders.append(order)
    if errors:
        raise ValidationFailed("One or more orders are invalid.", errors=errors)

    session.add_all(orders)
    await flush_or_conflict(session, UNIQUE)
    for order in orders:
        _record_import(session, principal, order)
    await session.flush()

    created = {order.number: order.id for order in orders}
    logger.info("orders.imported", created=len(created), existing=len(existing))
    return HistoricalImportReport(
        created=len(created),
        existing=len(batch.orders) - len(created),
        orders=[
            HistoricalOrderResult(
                index=index,
                number=item.number,
                outcome="created" if item.number in created else "existing",
                id=created.get(item.number, existing.get(item.number)),
            )
            for index, item in enumerate(batch.orders)
        ],
    )


def _record_import(session: AsyncSession, principal: Principal, order: Order) -> None:
    """The one step an imported order took: from draft to completed, and its event."""
    (source,) = IMPORTED.sources
    session.add(
        OrderTransition(
            tenant_id=order.tenant_id,
            order_id=order.id,
            position=1,
            action="import",
            from_status=source,
            to_status=IMPORTED.target,
            user_id=principal.user_id,
            api_key_id=principal.api_key_id,
            automatic=False,
            comment=IMPORT_COMMENT,
        )
    )
    record_event(
        session,
        IMPORTED.event,
        subject_id=order.id,
        payload={
            "number": order.number,
            "customer_id": str(order.customer_id),
            "owner_id": str(order.owner_id),
            "ordered_on": order.ordered_on.isoformat(),
            "currency": order.currency,
            "total_net": str(order.total_net),
            "total_gross": str(order.total_gross),
            "from": source,
            "to": order.status,
            "user_id": str(principal.user_id) if principal.user_id else None,
            "comment": IMPORT_COMMENT,
        },
    )
