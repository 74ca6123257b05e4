"""The typed index of custom values follows every write, so range filters stay right."""

from __future__ import annotations

import asyncpg
import httpx

from tests.customers.conftest import create_customer, define
from tests.fixtures.api import TenantContext


async def _indexed(owner: asyncpg.Connection) -> dict[str, object]:
    rows = await owner.fetch("SELECT key, num, dt FROM custom_value_index ORDER BY key")
    return {
        row["key"]: row["num"] if row["num"] is not None else row["dt"] for row in rows
    }


async def test_index_follows_create_patch_and_delete(
    client: httpx.AsyncClient, tenant_a: TenantContext, owner: asyncpg.Connection
) -> None:
    await define(client, tenant_a, key="revenue", label="Revenue", type="money")
    await define(client, tenant_a, key="founded", label="Founded", type="date")
    await define(client, tenant_a, key="motto", label="Motto", type="text")
    customer = await create_customer(
        client,
        tenant_a,
        custom={"revenue": "1000.50", "founded": "1990-05-01", "motto": "x"},
    )

    created = await _indexed(owner)
    await client.patch(
        f"/api/v1/customers/{customer['id']}",
        json={"custom": {"revenue": "99", "founded": None}},
        headers=tenant_a.headers,
    )
    patched = await _indexed(owner)
    await client.delete(f"/api/v1/customers/{customer['id']}", headers=tenant_a.headers)

    assert set(created) == {"revenue", "founded"}
    assert str(created["revenue"]) == "1000.50"
    assert {k: str(v) for k, v in patched.items()} == {"revenue": "99.00"}
    assert await _indexed(owner) == {}


async def test_type_change_reindexes_the_attribute(
    client: httpx.AsyncClient, tenant_a: TenantContext, owner: asyncpg.Connection
) -> None:
    await define(client, tenant_a, key="size", label="Size", type="text")
    for size in ("9", "10", "100"):
        await create_customer(
            client, tenant_a, name=f"Size {size}", custom={"size": size}
        )
    assert await _indexed(owner) == {}

    changed = await client.patch(
        "/api/v1/custom-attributes/customer/size",
        json={"type": "integer"},
        headers=tenant_a.headers,
    )
    listed = await client.get(
        "/api/v1/customers",
        params={"custom.size[gte]": "10", "sort": "custom.size"},
        headers=tenant_a.headers,
    )

    assert changed.status_code == 200, changed.text
    assert await owner.fetchval("SELECT count(*) FROM custom_value_index") == 3
    assert [c["name"] for c in listed.json()["items"]] == ["Size 10", "Size 100"]


async def test_index_rows_belong_to_their_tenant_only(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    owner: asyncpg.Connection,
) -> None:
    await define(client, tenant_a, key="revenue", label="Revenue", type="decimal")
    await define(client, tenant_b, key="revenue", label="Revenue", type="decimal")
    await create_customer(client, tenant_a, custom={"revenue": "5"})

    seen_by_b = await client.get(
        "/api/v1/customers",
        params={"custom.revenue[gte]": "1"},
        headers=tenant_b.headers,
    )

    assert seen_by_b.json()["items"] == []
    tenants = await owner.fetch(
        "SELECT DISTINCT tenant_id::text FROM custom_value_index"
    )
    assert [row["tenant_id"] for row in tenants] == [tenant_a.tenant["id"]]
