"""Tenant isolation on every order, approval and approval-rule endpoint: another
tenant's records read as missing, and nothing of theirs can be moved or listed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext, add_user
from tests.orders.conftest import (
    INBOX,
    ORDERS,
    RULES,
    create_order,
    create_rule,
    line,
    read_order,
    step,
)


@pytest.fixture
async def theirs(
    client: httpx.AsyncClient, tenant_a: TenantContext, customer: dict[str, Any]
) -> dict[str, Any]:
    """Tenant A's order, awaiting a manager's approval."""
    await create_rule(client, tenant_a, ["manager"])
    order = await create_order(client, tenant_a.headers, customer)
    return await step(client, tenant_a.headers, order, "submit")


def _calls(order: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    path = f"{ORDERS}/{order['id']}"
    line_path = f"{path}/lines/{order['lines'][0]['id']}"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", path, None),
        ("PATCH", path, {"number": "stolen"}),
        ("GET", f"{path}/transitions", None),
        ("GET", f"{path}/approvals", None),
        ("POST", f"{path}/lines", line()),
        ("GET", line_path, None),
        ("PATCH", line_path, {"quantity": "9"}),
        ("DELETE", line_path, None),
    ]
    for action in ("submit", "approve", "reject", "reopen", "start", "complete"):
        calls.append(("POST", f"{path}/{action}", None))
    calls.append(("POST", f"{path}/cancel", {"comment": "mine now"}))
    return calls


async def test_every_order_endpoint_answers_404_to_another_tenant(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    theirs: dict[str, Any],
) -> None:
    # A manager of B holds the very role A's order awaits.
    _, b_manager = await add_user(client, tenant_b, roles=["manager"])

    for headers in (tenant_b.headers, b_manager):
        for method, path, body in _calls(theirs):
            response = await client.request(method, path, json=body, headers=headers)

            assert response.status_code == 404, (method, path, response.text)

    unchanged = await read_order(client, tenant_a.headers, theirs)
    assert unchanged["status"] == "pending_approval"
    assert unchanged["number"] == theirs["number"]
    assert unchanged["updated_at"] == theirs["updated_at"]
    assert unchanged["lines"] == theirs["lines"]


async def test_lists_counts_and_the_inbox_never_show_another_tenants_orders(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    theirs: dict[str, Any],
) -> None:
    _, b_manager = await add_user(client, tenant_b, roles=["manager"])
    filters = {"customer_id": theirs["customer_id"], "status": "pending_approval"}

    for headers in (tenant_b.headers, b_manager):
        listed = await client.get(ORDERS, headers=headers)
        filtered = await client.get(ORDERS, params=filters, headers=headers)
        count = await client.get(f"{ORDERS}/count", headers=headers)
        inbox = await client.get(INBOX, headers=headers)

        assert listed.json()["items"] == []
        assert filtered.json()["items"] == []
        assert count.json() == {"count": 0}
        assert inbox.json()["items"] == []

    _, a_manager = await add_user(client, tenant_a, roles=["manager"])
    a_inbox = await client.get(INBOX, headers=a_manager)
    assert [o["id"] for o in a_inbox.json()["items"]] == [theirs["id"]]


async def test_an_order_cannot_be_made_for_another_tenants_customer(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    customer: dict[str, Any],
) -> None:
    response = await client.post(
        ORDERS,
        json={"customer_id": customer["id"], "lines": [line()]},
        headers=tenant_b.headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "customer_id"


async def test_an_order_cannot_be_given_to_another_tenants_employee(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
) -> None:
    mine = await create_customer(client, tenant_b)

    response = await client.post(
        ORDERS,
        json={
            "customer_id": mine["id"],
            "lines": [line()],
            "owner_id": tenant_a.admin_employee_id,
        },
        headers=tenant_b.headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "owner_id"


async def test_approval_rules_are_per_tenant(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
) -> None:
    rule = await create_rule(client, tenant_a, ["manager"])
    path = f"{RULES}/{rule['id']}"

    listed = await client.get(RULES, headers=tenant_b.headers)
    read = await client.get(path, headers=tenant_b.headers)
    changed = await client.patch(path, json={"active": False}, headers=tenant_b.headers)
    deleted = await client.delete(path, headers=tenant_b.headers)
    # B's orders are not held up by A's rule.
    b_order = await create_order(
        client, tenant_b.headers, await create_customer(client, tenant_b)
    )
    submitted = await step(client, tenant_b.headers, b_order, "submit")

    assert listed.json()["items"] == []
    assert [read.status_code, changed.status_code, deleted.status_code] == [404] * 3
    assert submitted["status"] == "approved"
    still = await client.get(path, headers=tenant_a.headers)
    assert still.json()["active"] is True
