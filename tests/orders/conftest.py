from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext, add_user

ORDERS = "/api/v1/orders"
RULES = "/api/v1/approval-rules"
INBOX = "/api/v1/approvals/inbox"

Headers = dict[str, str]


def line(
    quantity: str = "1",
    unit_price: str = "10.00",
    **fields: Any,
) -> dict[str, Any]:
    return {
        "description": "Chai",
        "quantity": quantity,
        "unit_price": unit_price,
        **fields,
    }


async def create_order(
    client: httpx.AsyncClient,
    headers: Headers,
    customer: dict[str, Any],
    *lines: dict[str, Any],
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "customer_id": customer["id"],
        "lines": list(lines) if lines else [line()],
        **fields,
    }
    response = await client.post(ORDERS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def act(
    client: httpx.AsyncClient,
    headers: Headers,
    order: dict[str, Any] | str,
    action: str,
    comment: str | None = None,
) -> httpx.Response:
    order_id = order if isinstance(order, str) else order["id"]
    body = {"comment": comment} if comment is not None else None
    return await client.post(
        f"{ORDERS}/{order_id}/{action}", json=body, headers=headers
    )


async def step(
    client: httpx.AsyncClient,
    headers: Headers,
    order: dict[str, Any] | str,
    action: str,
    comment: str | None = None,
) -> dict[str, Any]:
    """``act`` that must succeed; returns the order as it is afterwards."""
    response = await act(client, headers, order, action, comment)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def read_order(
    client: httpx.AsyncClient, headers: Headers, order: dict[str, Any]
) -> dict[str, Any]:
    response = await client.get(f"{ORDERS}/{order['id']}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def create_rule(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    *levels: list[str],
    name: str = "Rule",
    **conditions: Any,
) -> dict[str, Any]:
    body = {
        "name": name,
        "conditions": conditions,
        "levels": [{"roles": roles} for roles in levels],
    }
    response = await client.post(RULES, json=body, headers=ctx.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def transitions(
    client: httpx.AsyncClient, headers: Headers, order: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await client.get(f"{ORDERS}/{order['id']}/transitions", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


class Team:
    """A tenant's people: a salesperson who sells, two managers and a finance user
    who approve, each a user linked to an employee in the root department."""

    def __init__(self, ctx: TenantContext) -> None:
        self.ctx = ctx
        self.users: dict[str, dict[str, Any]] = {}
        self.headers: dict[str, Headers] = {}

    async def add(self, client: httpx.AsyncClient, name: str, *roles: str) -> None:
        user, headers = await add_user(client, self.ctx, roles=list(roles))
        self.users[name] = user
        self.headers[name] = headers


@pytest.fixture
async def team(client: httpx.AsyncClient, tenant_a: TenantContext) -> Team:
    people = Team(tenant_a)
    await people.add(client, "seller", "sales")
    await people.add(client, "manager", "manager")
    await people.add(client, "other_manager", "manager")
    await people.add(client, "finance", "finance")
    return people


@pytest.fixture
async def customer(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> dict[str, Any]:
    return await create_customer(client, tenant_a, level="A")


async def event_types(owner: asyncpg.Connection, order: dict[str, Any]) -> list[str]:
    """The outbox events about ``order``, in the order they were written."""
    rows = await owner.fetch(
        "SELECT type FROM outbox_events WHERE subject_id = $1 ORDER BY id",
        uuid.UUID(order["id"]),
    )
    return [row["type"] for row in rows]


async def seller_customer(
    client: httpx.AsyncClient,
    team: Team,
    name: str = "Seller's customer",
    **fields: Any,
) -> dict[str, Any]:
    """A customer the seller owns (and so may sell to)."""
    response = await client.post(
        "/api/v1/customers",
        json={"name": name, **fields},
        params={"allow_duplicate": "true"},
        headers=team.headers["seller"],
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
