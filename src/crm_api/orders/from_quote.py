"""An order generated from a quote's accepted revision.

The order gets its own copy of every line (product, description, quantity, unit price,
discount, tax rate) and the quote's customer, currency, owner and department; order
and quote never share rows, so editing one never changes the other. The figures are
computed again under the same money rule, so they equal the quote's.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import FieldError, NotFound, ValidationFailed
from crm_api.kernel.ids import new_id
from crm_api.orders.content import blank_order, check_customer
from crm_api.orders.models import Order, OrderLine
from crm_api.orders.schemas import OrderCreate
from crm_api.quotes.models import QuoteLine
from crm_api.quotes.service import accepted_revision

# Taken from the quote; sending them too would leave two answers to one question.
_FROM_QUOTE = ("customer_id", "currency", "lines")


async def order_from_quote(
    session: AsyncSession, principal: Principal, data: OrderCreate
) -> Order:
    if data.from_quote is None:
        raise ValueError("not an order from a quote")
    sent = [field for field in _FROM_QUOTE if field in data.model_fields_set]
    if sent:
        raise ValidationFailed(
            "An order from a quote takes customer, currency and lines from the quote.",
            errors=[
                FieldError(
                    field=field,
                    location="body",
                    code="not_allowed",
                    message="Comes from the quote; do not send it.",
                )
                for field in sent
            ],
        )
    # Locked: two orders from one quote at the same moment take turns, and the
    # second meets the first (uq_orders_live_source_quote).
    try:
        revision = await accepted_revision(
            session, principal, data.from_quote.quote_id, lock=True
        )
    except NotFound:
        raise ValidationFailed.single(
            "from_quote.quote_id", "No such quote.", code="not_found"
        ) from None
    quote = revision.quote
    customer = await check_customer(session, principal, quote.customer_id)

    order = blank_order(
        tenant_id=current_tenant(session),
        customer_id=customer.id,
        currency=quote.currency,
        owner_id=quote.owner_id,
    )
    order.department_id = quote.department_id
    order.source_quote_id = quote.id
    order.source_quote_revision = revision.number
    order.lines = [_copy(line) for line in revision.lines]
    return order


def _copy(line: QuoteLine) -> OrderLine:
    return OrderLine(
        id=new_id(),
        tenant_id=line.tenant_id,
        product_id=line.product_id,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount_percent=line.discount_percent,
        tax_rate_percent=line.tax_rate_percent,
        net_amount=line.net,
        tax_amount=line.tax,
    )
