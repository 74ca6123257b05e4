"""Products: the tenant's catalogue, one list for everyone with products:read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.custom_attributes.filters import lister
from crm_api.custom_attributes.values import load_definitions
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import Conflict, NotFound, ValidationFailed, refuse_nulls
from crm_api.kernel.filtering import build_filters, build_sort
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.money import fits_currency, minor_units, round_money
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, SortKey, page_of
from crm_api.products import repository
from crm_api.products.models import Product
from crm_api.products.schemas import ProductCreate, ProductRead, ProductUpdate
from crm_api.tenants.models import Tenant

logger = structlog.get_logger(__name__)

SKU_TAKEN = {"uq_products_tenant_sku": ("sku", "Another product has this SKU.")}
RESERVED_PARAMS = frozenset({"limit", "cursor", "sort", "q"})
# PostgreSQL's foreign_key_violation: a row elsewhere still points at the product.
_FOREIGN_KEY_VIOLATION = "23503"


@dataclass(frozen=True)
class ListQuery:
    conditions: list[ColumnElement[bool]]
    keys: list[SortKey]
    joins: list[tuple[Any, ColumnElement[bool]]]


def _lower_sku(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """SKUs compare without case: lower-case the values of ``sku`` filters."""
    return [
        (name, value.lower() if name.split("[")[0] == "sku" else value)
        for name, value in params
    ]


async def list_query(
    session: AsyncSession,
    params: list[tuple[str, str]],
    *,
    q: str | None,
    sort: str | None,
) -> ListQuery:
    definitions = await load_definitions(session, "product", for_write=False)
    resolve, used = lister(
        repository.STANDARD_FIELDS, definitions, model=Product, entity="product"
    )
    non_null: set[str] = set()
    conditions = build_filters(
        _lower_sku(params), resolve, reserved=RESERVED_PARAMS, non_null=non_null
    )
    if q:
        conditions.append(repository.name_search(q))
    keys = build_sort(sort, resolve, id_column=Product.id, non_null=non_null)
    joins = {name: f.join for name, f in used.items() if f.join is not None}
    return ListQuery(conditions, keys, list(joins.values()))


async def list_products(
    session: AsyncSession,
    params: list[tuple[str, str]],
    page: PageParams,
    *,
    q: str | None,
    sort: str | None,
) -> tuple[list[Product], str | None]:
    query = await list_query(session, params, q=q, sort=sort)
    rows = await repository.page(
        session, query.conditions, query.keys, query.joins, page
    )
    kept, next_cursor = page_of(rows, lambda row: tuple(row[1:]), page)
    return [row[0] for row in kept], next_cursor


async def count_products(
    session: AsyncSession, params: list[tuple[str, str]], *, q: str | None
) -> int:
    query = await list_query(session, params, q=q, sort=None)
    return await repository.count(session, query.conditions, query.joins)


async def get_product(
    session: AsyncSession, product_id: uuid.UUID, *, lock: bool = False
) -> Product:
    product = await repository.get(session, product_id, lock=lock)
    if product is None:
        raise NotFound("No such product.")
    return product


def _priced(list_price: Decimal, currency: str, *, field: str) -> Decimal:
    """The price at the currency's scale ("12.3" EUR is 12.30); more decimals than
    the currency has are refused, never rounded away."""
    if not fits_currency(list_price, currency):
        raise ValidationFailed.single(
            field,
            f"{currency} amounts have at most {minor_units(currency)} decimal places.",
            code="too_precise",
        )
    return round_money(list_price, currency)


async def _tenant_currency(session: AsyncSession) -> str:
    tenant = await session.get(Tenant, current_tenant(session))
    if tenant is None:
        raise NotFound("No such tenant.")
    return tenant.default_currency


async def create_product(session: AsyncSession, data: ProductCreate) -> Product:
    currency = data.currency or await _tenant_currency(session)
    list_price = _priced(data.list_price, currency, field="list_price")
    definitions = await load_definitions(session, "product")
    product = Product(
        tenant_id=current_tenant(session),
        sku=data.sku,
        name=data.name,
        category=data.category,
        unit=data.unit,
        list_price=list_price,
        currency=currency,
        active=data.active,
        custom=definitions.validate_create(data.custom),
    )
    session.add(product)
    await flush_or_conflict(session, SKU_TAKEN)
    record_event(
        session,
        "product.created",
        subject_id=product.id,
        payload={"sku": product.sku, "name": product.name},
    )
    logger.info("product.created", product_id=str(product.id))
    return product


async def update_product(
    session: AsyncSession,
    product_id: uuid.UUID,
    data: ProductUpdate,
    *,
    expected_version: int | None,
) -> Product:
    product = await get_product(session, product_id, lock=True)
    check_version(expected_version, product.version)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("sku", "name", "list_price", "currency", "active"))
    if "custom" in changes:
        definitions = await load_definitions(session, "product")
        product.custom = definitions.validate_update(
            product.custom, changes.pop("custom") or {}
        )
    currency = changes.get("currency", product.currency)
    list_price = changes.get("list_price", product.list_price)
    # A new currency must fit the price it keeps, and a new price the currency.
    changes["list_price"] = _priced(
        list_price,
        currency,
        field="list_price" if "list_price" in changes else "currency",
    )
    for field, value in changes.items():
        setattr(product, field, value)
    await flush_or_conflict(session, SKU_TAKEN)
    record_event(
        session,
        "product.updated",
        subject_id=product.id,
        payload={"fields": sorted(data.model_fields_set)},
    )
    return product


async def delete_product(
    session: AsyncSession, product_id: uuid.UUID, *, expected_version: int | None
) -> None:
    """Delete a product no quote or order line uses; a used one is a 409.

    Lines keep pointing at their product for analytics, so a product in use is
    deactivated (``active: false``) instead: it then cannot go on new lines.
    """
    product = await get_product(session, product_id, lock=True)
    check_version(expected_version, product.version)
    in_use = await repository.count_quote_lines(session, product_id)
    if in_use:
        raise _in_use(in_use)
    await session.delete(product)
    try:
        await session.flush()
    except IntegrityError as error:
        # Lines of other domains (orders) keep it too.
        original = getattr(error.orig, "__cause__", None) or error.orig
        if getattr(original, "sqlstate", None) != _FOREIGN_KEY_VIOLATION:
            raise
        raise _in_use(None) from None
    record_event(
        session, "product.deleted", subject_id=product_id, payload={"sku": product.sku}
    )
    logger.info("product.deleted", product_id=str(product_id))


def _in_use(quote_lines: int | None) -> Conflict:
    extra: dict[str, Any] = {"suggestion": "deactivate"}
    if quote_lines is not None:
        extra["quote_lines"] = quote_lines
    return Conflict(
        "The product is used on quote or order lines; deactivate it instead "
        "(PATCH with active: false).",
        extra=extra,
    )


def to_read(product: Product) -> ProductRead:
    return ProductRead.model_validate(product)
