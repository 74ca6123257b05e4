from __future__ import annotations

import csv
import io

import httpx

from tests.customers.conftest import create_customer, define
from tests.fixtures.api import TenantContext

EXPORT = "/api/v1/customers/export"


async def test_export_streams_the_filtered_list_with_custom_columns(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="employees", label="Employees", type="integer")
    await create_customer(
        client, tenant_a, code="A1", name="Alfreds, \"Futterkiste\"\nBerlin",
        address={"country": "Germany"}, tags=["vip", "food"], custom={"employees": 12},
    )  # fmt: skip
    await create_customer(
        client, tenant_a, code="B2", name="北京贸易", address={"country": "China"}
    )

    response = await client.get(
        EXPORT, params={"country": "Germany"}, headers=tenant_a.headers
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    assert rows[0]["code"] == "A1"
    assert rows[0]["name"] == 'Alfreds, "Futterkiste"\nBerlin'
    assert rows[0]["tags"] == "food;vip" or rows[0]["tags"] == "vip;food"
    assert rows[0]["custom.employees"] == "12"


async def test_export_with_bom_and_chinese_text(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await create_customer(client, tenant_a, code="B2", name="北京贸易")

    response = await client.get(
        EXPORT, params={"bom": "true"}, headers=tenant_a.headers
    )

    assert response.content.startswith("\ufeff".encode())
    assert "北京贸易" in response.content.decode("utf-8-sig")


async def test_bad_filter_is_422_before_any_csv(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    response = await client.get(EXPORT, params={"nope": "1"}, headers=tenant_a.headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_export_holds_only_the_callers_tenant(
    client: httpx.AsyncClient, tenant_a: TenantContext, tenant_b: TenantContext
) -> None:
    await create_customer(client, tenant_a, code="SECRET", name="Secret")
    await create_customer(client, tenant_b, code="MINE", name="Mine")

    response = await client.get(EXPORT, headers=tenant_b.headers)

    codes = [row["code"] for row in csv.DictReader(io.StringIO(response.text))]
    assert codes == ["MINE"]
