"""Huge JSON numbers are refused at once wherever an attribute value arrives.

``1e5000000`` is the exact input that once held the event loop for minutes (an integer
built before its range was checked). The request parser now refuses such exponents as
well; ``1e999`` gets past it, so the attribute checks are shown answering on their own.
"""

from __future__ import annotations

import httpx
import pytest

from tests.customers.conftest import create_customer, define
from tests.fixtures.api import TenantContext

pytestmark = pytest.mark.timeout(10)

HUGE = ["1e5000000", "1e999"]
DEFINITIONS = "/api/v1/custom-attributes"


async def _post(
    client: httpx.AsyncClient, ctx: TenantContext, path: str, body: str
) -> httpx.Response:
    return await client.post(
        path,
        content=body.encode(),
        headers={**ctx.headers, "Content-Type": "application/json"},
        params={"allow_duplicate": "true"},
    )


def _fields(response: httpx.Response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("number", HUGE)
async def test_customer_with_a_huge_integer_value_is_422(
    client: httpx.AsyncClient, tenant_a: TenantContext, number: str
) -> None:
    await define(client, tenant_a, key="f_integer", label="F", type="integer")

    response = await _post(
        client,
        tenant_a,
        "/api/v1/customers",
        f'{{"name":"big","custom":{{"f_integer":{number}}}}}',
    )

    assert response.status_code == 422, response.text
    assert _fields(response) == ["custom.f_integer"]


async def test_attribute_check_itself_refuses_a_huge_integer_as_too_large(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="f_integer", label="F", type="integer")

    response = await _post(
        client,
        tenant_a,
        "/api/v1/customers",
        '{"name":"big","custom":{"f_integer":1e999}}',
    )

    assert response.json()["errors"][0]["code"] == "too_large"


@pytest.mark.parametrize("number", HUGE)
async def test_contact_with_a_huge_integer_value_is_422(
    client: httpx.AsyncClient, tenant_a: TenantContext, number: str
) -> None:
    await define(
        client, tenant_a, "contact", key="f_integer", label="F", type="integer"
    )
    customer = await create_customer(client, tenant_a)

    response = await _post(
        client,
        tenant_a,
        f"/api/v1/customers/{customer['id']}/contacts",
        f'{{"name":"Ada","custom":{{"f_integer":{number}}}}}',
    )

    assert response.status_code == 422, response.text
    assert _fields(response) == ["custom.f_integer"]


@pytest.mark.parametrize("kind", ["integer", "decimal", "money"])
@pytest.mark.parametrize("number", HUGE)
async def test_huge_default_is_422(
    client: httpx.AsyncClient, tenant_a: TenantContext, kind: str, number: str
) -> None:
    response = await _post(
        client,
        tenant_a,
        f"{DEFINITIONS}/customer",
        f'{{"key":"f","label":"F","type":"{kind}","default":{number}}}',
    )

    assert response.status_code == 422, response.text
    assert _fields(response) == ["default"]


@pytest.mark.parametrize("number", HUGE)
async def test_huge_conversion_set_value_is_422(
    client: httpx.AsyncClient, tenant_a: TenantContext, number: str
) -> None:
    await define(client, tenant_a, key="size", label="Size", type="text")
    await create_customer(client, tenant_a, custom={"size": "twelve"})

    response = await client.patch(
        f"{DEFINITIONS}/customer/size",
        content=(
            '{"type":"integer","conversion":{"on_incompatible":"set",'
            f'"value":{number}}}}}'
        ).encode(),
        headers={**tenant_a.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert _fields(response) == ["conversion.value"]
