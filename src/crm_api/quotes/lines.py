"""Quote lines from input: products filled in, amounts checked, figures computed.

Every figure follows the money rule in :mod:`crm_api.kernel.money`: a line's net and
tax are rounded half-up to the currency's minor unit, a revision's totals are the
sums of its lines' rounded figures.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import FieldError, ValidationFailed
from crm_api.kernel.money import (
    LineFigures,
    fits_currency,
    line_figures,
    minor_units,
    round_money,
    totals,
)
from crm_api.products import repository as products
from crm_api.quotes.models import QuoteLine, QuoteRevision
from crm_api.quotes.schemas import LineIn


def _error(index: int, field: str, code: str, message: str) -> FieldError:
    return FieldError(
        field=f"lines.{index}.{field}", location="body", code=code, message=message
    )


async def build_lines(
    session: AsyncSession,
    data: Sequence[LineIn],
    *,
    currency: str,
    keep_products: Collection[uuid.UUID] = (),
) -> list[QuoteLine]:
    """New line rows for ``data``, or one 422 listing every bad value.

    An inactive product may not go on a new line; ``keep_products`` are those the
    revision already carried (a line kept through an edit keeps its product).
    """
    found = await products.many(
        session, [line.product_id for line in data if line.product_id is not None]
    )
    errors: list[FieldError] = []
    built: list[QuoteLine] = []
    for index, line in enumerate(data):
        description, unit, unit_price = line.description, line.unit, line.unit_price
        if line.product_id is not None:
            product = found.get(line.product_id)
            if product is None:
                errors.append(
                    _error(index, "product_id", "not_found", "No such product.")
                )
                continue
            if not product.active and product.id not in keep_products:
                errors.append(
                    _error(index, "product_id", "inactive", "The product is inactive.")
                )
            description = description or product.name
            unit = unit or product.unit
            if unit_price is None:
                if product.currency != currency:
                    errors.append(
                        _error(
                            index,
                            "unit_price",
                            "required",
                            f"The product is priced in {product.currency}, the "
                            f"quote in {currency}: give the unit price.",
                        )
                    )
                    continue
                unit_price = product.list_price
        if unit_price is None:
            errors.append(
                _error(index, "unit_price", "required", "A free-text line needs one.")
            )
            continue
        if not fits_currency(unit_price, currency):
            errors.append(
                _error(
                    index,
                    "unit_price",
                    "too_precise",
                    f"{currency} amounts have at most {minor_units(currency)} "
                    "decimal places.",
                )
            )
            continue
        figures = line_figures(
            quantity=line.quantity,
            unit_price=unit_price,
            discount_percent=line.discount_percent,
            tax_rate_percent=line.tax_rate_percent,
            currency=currency,
        )
        built.append(
            QuoteLine(
                tenant_id=current_tenant(session),
                position=index + 1,
                product_id=line.product_id,
                description=description or "",
                unit=unit,
                quantity=line.quantity,
                unit_price=round_money(unit_price, currency),
                discount_percent=line.discount_percent,
                tax_rate_percent=line.tax_rate_percent,
                net=figures.net,
                tax=figures.tax,
            )
        )
    if errors:
        raise ValidationFailed("One or more lines are invalid.", errors=errors)
    return built


def copy_line(line: QuoteLine) -> QuoteLine:
    """The same line for another revision: figures are copied, not recomputed."""
    return QuoteLine(
        tenant_id=line.tenant_id,
        position=line.position,
        product_id=line.product_id,
        description=line.description,
        unit=line.unit,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount_percent=line.discount_percent,
        tax_rate_percent=line.tax_rate_percent,
        net=line.net,
        tax=line.tax,
    )


def apply_totals(
    revision: QuoteRevision, lines: Sequence[QuoteLine], currency: str
) -> None:
    """Store the revision's totals: the sums of its lines' rounded figures."""
    summed = totals(
        (LineFigures(net=line.net, tax=line.tax) for line in lines), currency
    )
    revision.net_total = summed.net
    revision.tax_total = summed.tax
    revision.gross_total = summed.gross
