from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.fixtures.api import TenantContext

PRODUCTS = "/api/v1/products"
_skus = itertools.count(1)


async def create_product(
    client: httpx.AsyncClient, ctx: TenantContext, **fields: Any
) -> dict[str, Any]:
    body = {
        "sku": f"SKU-{next(_skus)}",
        "name": "Chai",
        "list_price": "18.00",
        **fields,
    }
    response = await client.post(PRODUCTS, json=body, headers=ctx.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
