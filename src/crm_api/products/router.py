from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from crm_api.auth.dependencies import Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import Session
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.routing import CrmRoute
from crm_api.products import service
from crm_api.products.schemas import (
    ProductCount,
    ProductCreate,
    ProductRead,
    ProductUpdate,
)

router = APIRouter(prefix="/products", tags=["products"], route_class=CrmRoute)

CanRead = Annotated[Principal, Depends(require("products:read"))]
CanWrite = Annotated[Principal, Depends(require("products:write"))]
IfMatch = Annotated[int | None, Depends(if_match_header)]
Paging = Annotated[PageParams, Depends(page_params)]
SearchText = Annotated[
    str | None,
    Query(max_length=200, description="Case-insensitive substring of the name."),
]
SortParam = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Comma-separated fields, `-` for descending, e.g. `category,-list_price`.",
    ),
]
FILTER_HELP = (
    "Filters are further query parameters: `field=value` or `field[op]=value` with op "
    "in eq, ne, lt, lte, gt, gte, in, like, exists; fields are sku (ignoring case), "
    "name, category, unit, currency, list_price, active, created_at, updated_at and "
    "`custom.<key>`, compared by type."
)


def _filters(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


@router.get("", operation_id="products_list", description=FILTER_HELP)
async def list_products(
    request: Request,
    session: Session,
    _: CanRead,
    page: Paging,
    q: SearchText = None,
    sort: SortParam = None,
) -> Page[ProductRead]:
    """List products, filtered and sorted."""
    products, next_cursor = await service.list_products(
        session, _filters(request), page, q=q, sort=sort
    )
    return Page(items=[service.to_read(p) for p in products], next_cursor=next_cursor)


@router.get("/count", operation_id="products_count", description=FILTER_HELP)
async def count_products(
    request: Request, session: Session, _: CanRead, q: SearchText = None
) -> ProductCount:
    """Count the products a list with the same filters would return."""
    total = await service.count_products(session, _filters(request), q=q)
    return ProductCount(count=total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="products_create",
    dependencies=[Idempotent],
)
async def create_product(
    data: ProductCreate, session: Session, _: CanWrite, response: Response
) -> ProductRead:
    """Add a product to the catalogue; its SKU is unique, ignoring case."""
    product = await service.create_product(session, data)

    set_etag(response, product.version)
    response.headers["Location"] = f"/api/v1/products/{product.id}"
    return service.to_read(product)


@router.get("/{product_id}", operation_id="products_get")
async def get_product(
    product_id: uuid.UUID, session: Session, _: CanRead, response: Response
) -> ProductRead:
    """Read one product."""
    product = await service.get_product(session, product_id)

    set_etag(response, product.version)
    return service.to_read(product)


@router.patch("/{product_id}", operation_id="products_update")
async def update_product(
    product_id: uuid.UUID,
    data: ProductUpdate,
    session: Session,
    _: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> ProductRead:
    """Change a product; lines already quoted keep their own prices."""
    product = await service.update_product(
        session, product_id, data, expected_version=expected_version
    )

    set_etag(response, product.version)
    return service.to_read(product)


@router.delete(
    "/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="products_delete",
)
async def delete_product(
    product_id: uuid.UUID, session: Session, _: CanWrite, expected_version: IfMatch
) -> None:
    """Delete a product; one used on a quote or order line is a 409 (deactivate it)."""
    await service.delete_product(session, product_id, expected_version=expected_version)
