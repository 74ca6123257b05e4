"""Orders generated from a quote's accepted revision: a copy, never shared rows."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext
from tests.orders.conftest import ORDERS, line, step

QUOTES = "/api/v1/quotes"


async def _quote(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    customer: dict[str, Any],
    *,
    accept: bool = True,
) -> dict[str, Any]:
    created = await client.post(
        QUOTES,
        json={
            "customer_id": customer["id"],
            "currency": "EUR",
            "valid_until": (date.today() + timedelta(days=30)).isoformat(),
            "lines": [
                line("3", "0.10"),
                line(
                    "2",
                    "19.99",
                    description="Chang",
                    discount_percent="12.5",
                    tax_rate_percent="19",
                ),
            ],
        },
        headers=ctx.headers,
    )
    assert created.status_code == 201, created.text
    quote = created.json()
    actions = ("send", "accept") if accept else ("send",)
    for action in actions:
        response = await client.post(
            f"{QUOTES}/{quote['id']}/revisions/1/{action}", headers=ctx.headers
        )
        assert response.status_code == 200, response.text
    read = await client.get(f"{QUOTES}/{quote['id']}", headers=ctx.headers)
    return read.json()  # type: ignore[no-any-return]


async def _from_quote(
    client: httpx.AsyncClient, ctx: TenantContext, quote: dict[str, Any], **fields: Any
) -> httpx.Response:
    return await client.post(
        ORDERS,
        json={"from_quote": {"quote_id": quote["id"]}, **fields},
        headers=ctx.headers,
    )


def _figures(lines: list[dict[str, Any]], net: str, tax: str) -> list[tuple[Any, ...]]:
    return [
        (
            ln["product_id"],
            ln["description"],
            ln["quantity"],
            ln["unit_price"],
            ln["discount_percent"],
            ln["tax_rate_percent"],
            ln[net],
            ln[tax],
        )
        for ln in lines
    ]


async def test_an_order_copies_the_accepted_revisions_lines_and_figures(
    client: httpx.AsyncClient, tenant_a: TenantContext, customer: dict[str, Any]
) -> None:
    quote = await _quote(client, tenant_a, customer)

    response = await _from_quote(client, tenant_a, quote, number="SO-1")

    assert response.status_code == 201, response.text
    order = response.json()
    revision = quote["revision"]
    assert (order["source_quote_id"], order["source_quote_revision"]) == (
        quote["id"],
        1,
    )
    assert (order["customer_id"], order["currency"], order["owner_id"]) == (
        quote["customer_id"],
        quote["currency"],
        quote["owner_id"],
    )
    assert order["department_id"] == quote["department_id"]
    assert order["number"] == "SO-1"
    assert order["status"] == "draft"
    assert _figures(order["lines"], "net_amount", "tax_amount") == _figures(
        revision["lines"], "net", "tax"
    )
    assert order["total_gross"] == revision["gross_total"]
    assert {ln["id"] for ln in order["lines"]}.isdisjoint(
        {ln["id"] for ln in revision["lines"]}
    )


async def test_editing_the_order_leaves_the_quote_as_it_was(
    client: httpx.AsyncClient, tenant_a: TenantContext, customer: dict[str, Any]
) -> None:
    quote = await _quote(client, tenant_a, customer)
    order = (await _from_quote(client, tenant_a, quote)).json()

    changed = await client.patch(
        f"{ORDERS}/{order['id']}/lines/{order['lines'][0]['id']}",
        json={"quantity": "30"},
        headers=tenant_a.headers,
    )

    assert changed.status_code == 200, changed.text
    again = await client.get(f"{QUOTES}/{quote['id']}", headers=tenant_a.headers)
    assert again.json()["revision"]["lines"] == quote["revision"]["lines"]


async def test_a_quote_without_an_accepted_revision_is_409_naming_its_state(
    client: httpx.AsyncClient, tenant_a: TenantContext, customer: dict[str, Any]
) -> None:
    quote = await _quote(client, tenant_a, customer, accept=False)

    response = await _from_quote(client, tenant_a, quote)

    assert response.status_code == 409
    assert response.json()["extra"]["state"] == "sent"


@pytest.mark.parametrize(
    "fields",
    [{"lines": [line()]}, {"currency": "USD"}, {"customer_id": "customer"}],
)
async def test_what_the_quote_decides_cannot_be_sent_too(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    customer: dict[str, Any],
    fields: dict[str, Any],
) -> None:
    quote = await _quote(client, tenant_a, customer)
    if fields.get("customer_id") == "customer":
        fields = {"customer_id": customer["id"]}

    response = await _from_quote(client, tenant_a, quote, **fields)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == list(fields)


async def test_one_live_order_per_quote(
    client: httpx.AsyncClient, tenant_a: TenantContext, customer: dict[str, Any]
) -> None:
    quote = await _quote(client, tenant_a, customer)
    first = (await _from_quote(client, tenant_a, quote)).json()

    second = await _from_quote(client, tenant_a, quote)
    await step(client, tenant_a.headers, first, "cancel")
    after_cancel = await _from_quote(client, tenant_a, quote)

    assert second.status_code == 409
    assert second.json()["errors"][0]["field"] == "from_quote.quote_id"
    assert after_cancel.status_code == 201, after_cancel.text


async def test_two_orders_from_one_quote_at_once_only_one_is_made(
    client: httpx.AsyncClient, tenant_a: TenantContext, customer: dict[str, Any]
) -> None:
    quote = await _quote(client, tenant_a, customer)

    responses = await asyncio.gather(
        _from_quote(client, tenant_a, quote), _from_quote(client, tenant_a, quote)
    )

    assert sorted(r.status_code for r in responses) == [201, 409]
    listed = await client.get(
        ORDERS, params={"source_quote_id": quote["id"]}, headers=tenant_a.headers
    )
    assert len(listed.json()["items"]) == 1


async def test_another_tenants_quote_is_422_not_found(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    customer: dict[str, Any],
) -> None:
    quote = await _quote(client, tenant_a, customer)
    await create_customer(client, tenant_b)

    response = await _from_quote(client, tenant_b, quote)

    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "from_quote.quote_id",
        "location": "body",
        "code": "not_found",
        "message": "No such quote.",
    }
