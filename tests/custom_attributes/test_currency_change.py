"""Money custom values carry no currency: changing the tenant's would reinterpret them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from crm_api.custom_attributes.values import load_definitions
from crm_api.kernel.db import set_tenant
from tests.custom_attributes.conftest import ENTITY, Record, Records
from tests.customers.conftest import create_customer, define
from tests.fixtures.api import TenantContext

TENANT = "/api/v1/tenant"


async def _currency_to(
    client: httpx.AsyncClient, ctx: TenantContext, currency: str
) -> httpx.Response:
    return await client.patch(
        TENANT, json={"default_currency": currency}, headers=ctx.headers
    )


async def _custom(
    client: httpx.AsyncClient, ctx: TenantContext, customer: dict[str, Any]
) -> dict[str, Any]:
    read = await client.get(f"/api/v1/customers/{customer['id']}", headers=ctx.headers)
    return read.json()["custom"]  # type: ignore[no-any-return]


async def test_currency_change_while_money_values_are_stored_is_conflict(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="deal", label="Deal", type="money")
    await define(client, tenant_a, "contact", key="budget", label="B", type="money")
    customer = await create_customer(client, tenant_a, custom={"deal": "12.34"})
    contact = await client.post(
        f"/api/v1/customers/{customer['id']}/contacts",
        json={"name": "Ada", "custom": {"budget": "5"}},
        headers=tenant_a.headers,
    )
    assert contact.status_code == 201, contact.text

    response = await _currency_to(client, tenant_a, "JPY")
    tenant = await client.get(TENANT, headers=tenant_a.headers)

    assert response.status_code == 409, response.text
    assert response.json()["extra"] == {"affected_records": 2}
    assert "EUR" in response.json()["detail"]
    assert tenant.json()["default_currency"] == "EUR"
    assert await _custom(client, tenant_a, customer) == {"deal": "12.34"}


async def test_archived_money_attribute_still_counts(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="deal", label="Deal", type="money")
    await create_customer(client, tenant_a, custom={"deal": "1.00"})
    archived = await client.patch(
        "/api/v1/custom-attributes/customer/deal",
        json={"archived": True},
        headers=tenant_a.headers,
    )
    assert archived.status_code == 200, archived.text

    response = await _currency_to(client, tenant_a, "USD")

    assert response.status_code == 409
    assert response.json()["extra"] == {"affected_records": 1}


async def test_money_default_blocks_a_currency_change_too(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(
        client, tenant_a, key="deal", label="Deal", type="money", default="12.34"
    )

    response = await _currency_to(client, tenant_a, "JPY")

    assert response.status_code == 409
    assert response.json()["extra"] == {"affected_records": 0}
    assert "customer.deal" in response.json()["detail"]


async def test_currency_changes_once_money_attributes_hold_nothing(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="deal", label="Deal", type="money")
    await define(client, tenant_a, key="motto", label="Motto", type="text")
    await create_customer(client, tenant_a, custom={"motto": "12.34"})

    response = await _currency_to(client, tenant_a, "JPY")

    assert response.status_code == 200, response.text
    assert response.json()["default_currency"] == "JPY"


async def test_values_kept_as_decimal_let_the_currency_change(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="deal", label="Deal", type="money")
    customer = await create_customer(client, tenant_a, custom={"deal": "12.34"})
    to_decimal = await client.patch(
        "/api/v1/custom-attributes/customer/deal",
        json={"type": "decimal"},
        headers=tenant_a.headers,
    )

    response = await _currency_to(client, tenant_a, "JPY")

    assert to_decimal.status_code == 200, to_decimal.text
    assert response.status_code == 200, response.text
    assert await _custom(client, tenant_a, customer) == {"deal": "12.34"}


async def test_sending_the_same_currency_or_other_settings_is_no_change(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="deal", label="Deal", type="money")
    await create_customer(client, tenant_a, custom={"deal": "12.34"})

    response = await client.patch(
        TENANT,
        json={"default_currency": "EUR", "name": "Renamed"},
        headers=tenant_a.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"


async def test_other_tenants_money_values_do_not_count(
    client: httpx.AsyncClient, tenant_a: TenantContext, tenant_b: TenantContext
) -> None:
    await define(client, tenant_b, key="deal", label="Deal", type="money")
    await create_customer(client, tenant_b, custom={"deal": "12.34"})
    await define(client, tenant_a, key="deal", label="Deal", type="money")

    response = await _currency_to(client, tenant_a, "JPY")

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("inserted_first", [True, False])
async def test_currency_change_waits_for_money_values_being_written(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    records: Records,
    inserted_first: bool,
) -> None:
    """The writer checked its value under EUR; the change must count it, not miss it.

    Inserted first, the record's foreign key holds the tenant row (KEY SHARE) while
    the change waits for the writer: no deadlock. Inserted after the change began,
    it is written under EUR all the same.
    """
    await define(client, tenant_a, ENTITY, key="deal", label="Deal", type="money")
    tenant_id = uuid.UUID(tenant_a.tenant["id"])

    async with app.state.resources.sessionmaker() as writer:
        await set_tenant(writer, tenant_id)
        definitions = await load_definitions(writer, ENTITY)
        write = insert(Record).values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            custom=definitions.validate_create({"deal": "12.34"}),
            version=1,
        )
        if inserted_first:
            await writer.execute(write)
        change = asyncio.create_task(_currency_to(client, tenant_a, "JPY"))
        await asyncio.sleep(0.3)
        waited = not change.done()
        if not inserted_first:
            await writer.execute(write)
        await writer.commit()
    response = await change

    assert waited
    assert response.status_code == 409, response.text
    assert response.json()["extra"] == {"affected_records": 1}
