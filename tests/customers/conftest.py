from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.api import TenantContext


async def create_customer(
    client: httpx.AsyncClient, ctx: TenantContext, **fields: Any
) -> dict[str, Any]:
    body = {"name": "Alfreds Futterkiste", **fields}
    response = await client.post(
        "/api/v1/customers",
        json=body,
        headers=ctx.headers,
        params={"allow_duplicate": "true"},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def define(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    entity: str = "customer",
    **definition: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/custom-attributes/{entity}", json=definition, headers=ctx.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
