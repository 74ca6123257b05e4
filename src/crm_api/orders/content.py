"""Order content: the money rule applied to lines, new drafts, and the checks every
way of filling an order shares (directly, by PATCH, or from a quote)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.customers.models import Customer
from crm_api.customers.service import get_visible_customer
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import FieldError, NotFound, ValidationFailed
from crm_api.kernel.ids import new_id
from crm_api.kernel.money import (
    fits_currency,
    line_figures,
    minor_units,
    round_money,
    totals,
)
from crm_api.orders.models import Order, OrderLine
from crm_api.orders.schemas import OrderLineIn
from crm_api.products import repository as products_repository
from crm_api.products.models import Product
from crm_api.tenants.models import Tenant


def plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros or exponent: 1.500 -> 1.5, 1E+2 -> 100."""
    return Decimal(format(value.normalize(), "f"))


def field_error(field: str, code: str, message: str) -> FieldError:
    return FieldError(field=field, location="body", code=code, message=message)


def too_precise(field: str, currency: str) -> FieldError:
    return field_error(
        field,
        "too_many_decimals",
        f"{currency} amounts have at most {minor_units(currency)} decimal places.",
    )


def invalid_lines(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed("One or more order lines are invalid.", errors=errors)


async def build_lines(
    session: AsyncSession,
    items: Sequence[OrderLineIn],
    *,
    currency: str,
    prefix: str = "lines",
) -> list[OrderLine]:
    """New line rows from the request, every problem with any line listed at once."""
    products = await products_repository.many(
        session, [item.product_id for item in items if item.product_id is not None]
    )
    lines, errors = lines_from(
        items,
        products,
        tenant_id=current_tenant(session),
        currency=currency,
        prefix=prefix,
    )
    if errors:
        raise invalid_lines(errors)
    return lines


def lines_from(
    items: Sequence[OrderLineIn],
    products: Mapping[uuid.UUID, Product],
    *,
    tenant_id: uuid.UUID,
    currency: str,
    prefix: str,
    allow_inactive: bool = False,
) -> tuple[list[OrderLine], list[FieldError]]:
    """Line rows for ``items`` and the problems found, given the products they name.

    A product must exist and, unless ``allow_inactive`` (history that was sold while
    it was still on offer), be active; its name fills a missing description, and its
    list price a missing unit price when it is in the order's currency.
    """
    errors: list[FieldError] = []
    lines: list[OrderLine] = []
    for index, item in enumerate(items):
        at = f"{prefix}.{index}." if prefix else ""
        found = len(errors)
        product = products.get(item.product_id) if item.product_id else None
        if item.product_id is not None and product is None:
            errors.append(
                field_error(at + "product_id", "not_found", "No such product.")
            )
        elif product is not None and not product.active and not allow_inactive:
            errors.append(
                field_error(at + "product_id", "inactive", "The product is inactive.")
            )
        description = item.description or (product.name if product else None)
        if description is None:
            errors.append(
                field_error(at + "description", "required", "Describe the line.")
            )
        unit_price = item.unit_price
        if unit_price is None and product is not None and product.currency == currency:
            unit_price = product.list_price
        if unit_price is None:
            errors.append(
                field_error(
                    at + "unit_price",
                    "required",
                    f"Give a unit price in {currency}.",
                )
            )
        elif not fits_currency(unit_price, currency):
            errors.append(too_precise(at + "unit_price", currency))
        if len(errors) > found or description is None or unit_price is None:
            continue
        lines.append(
            OrderLine(
                id=new_id(),
                tenant_id=tenant_id,
                product_id=item.product_id,
                description=description,
                quantity=plain(item.quantity),
                unit_price=round_money(unit_price, currency),
                discount_percent=plain(item.discount_percent),
                tax_rate_percent=plain(item.tax_rate_percent),
                net_amount=Decimal(0),
                tax_amount=Decimal(0),
            )
        )
    return lines, errors


def check_prices(order: Order) -> None:
    """Every unit price fits the order's (new) currency, or a 422 naming each line."""
    errors = [
        too_precise(f"lines.{index}.unit_price", order.currency)
        for index, line in enumerate(order.lines)
        if not fits_currency(line.unit_price, order.currency)
    ]
    if errors:
        raise invalid_lines(errors)


def recompute(order: Order) -> None:
    """Number the lines, apply the money rule to each and sum the totals."""
    figures = []
    for position, line in enumerate(order.lines, start=1):
        line.position = position
        line.unit_price = round_money(line.unit_price, order.currency)
        figure = line_figures(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
            tax_rate_percent=line.tax_rate_percent,
            currency=order.currency,
        )
        line.net_amount, line.tax_amount = figure.net, figure.tax
        figures.append(figure)
    total = totals(figures, order.currency)
    order.total_net, order.total_tax = total.net, total.tax
    order.total_gross = total.gross


async def tenant_of(session: AsyncSession) -> Tenant:
    tenant = await session.get(Tenant, current_tenant(session))
    if tenant is None:
        raise RuntimeError("the session's tenant does not exist")
    return tenant


async def check_customer(
    session: AsyncSession, principal: Principal, customer_id: uuid.UUID
) -> Customer:
    """The order's customer: one the caller may see, else a 422 on the field."""
    try:
        return await get_visible_customer(session, principal, customer_id)
    except NotFound:
        raise ValidationFailed.single(
            "customer_id", "No such customer.", code="not_found"
        ) from None


def blank_order(
    *,
    tenant_id: uuid.UUID,
    customer_id: uuid.UUID,
    currency: str,
    owner_id: Any = None,
) -> Order:
    """A new draft with no lines; the caller fills lines, owner and custom values."""
    order_id = new_id()
    return Order(
        id=order_id,
        tenant_id=tenant_id,
        number=f"O-{order_id.hex[-10:].upper()}",
        status="draft",
        customer_id=customer_id,
        currency=currency,
        owner_id=owner_id,
        total_net=Decimal(0),
        total_tax=Decimal(0),
        total_gross=Decimal(0),
        custom={},
        approval_round=0,
        approval_levels=[],
        awaiting_roles=[],
        lines=[],
    )
