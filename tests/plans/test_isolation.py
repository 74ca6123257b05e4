"""Tenant isolation on every action-type, plan, step, receipt, notice and policy
endpoint: another tenant's records read as missing, and nothing of theirs can be
changed, listed or used."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from crm_api.plans.sweep import sweep
from tests.fixtures.api import TenantContext, add_user
from tests.orders.conftest import step
from tests.plans.conftest import (
    ACTION_TYPES,
    NOTICES,
    POLICY,
    Clock,
    approved_order,
    create_action_type,
    money_step,
    plan_path,
    put_plan,
    read_plan,
    receive,
    step_path,
)


@pytest.fixture
async def theirs(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    customer: dict[str, Any],
    collect: dict[str, Any],
    ship: dict[str, Any],
    clock: Clock,
    ctx: dict[str, Any],
) -> dict[str, Any]:
    """Tenant A's order in execution with a plan, a receipt, a notice and a policy;
    and another approved order of A's without a plan."""
    headers = tenant_a.headers
    await client.put(
        POLICY, json={"reminder_lead_days": 9, "dunning_days": [2]}, headers=headers
    )
    order = await approved_order(client, headers, customer)
    plan = await put_plan(
        client,
        headers,
        order,
        money_step(collect, "2026-01-20", "100"),
        money_step(ship, "2026-01-20", None),
    )
    await step(client, headers, order, "start")
    collection, shipping = plan["steps"]
    receipt = await receive(client, headers, order, collection["id"], "10")
    assert receipt.status_code == 201
    assert (await sweep(ctx))["reminders"] == 1
    notices = await client.get(NOTICES, headers=headers)
    return {
        "order": order,
        "unplanned": await approved_order(client, headers, customer),
        "collection": collection,
        "shipping": shipping,
        "collect": collect,
        "notice": notices.json()["items"][0],
        "plan": await read_plan(client, headers, order),
    }


def _calls(theirs: dict[str, Any]) -> list[tuple[str, str, Any]]:
    order = theirs["order"]
    type_path = f"{ACTION_TYPES}/{theirs['collect']['id']}"
    collection, shipping = theirs["collection"]["id"], theirs["shipping"]["id"]
    body = {"steps": [money_step(theirs["collect"], "2026-02-01", "100")]}
    notice = f"{NOTICES}/{theirs['notice']['id']}"
    return [
        ("GET", type_path, None),
        ("PATCH", type_path, {"name": "Stolen"}),
        ("DELETE", type_path, None),
        ("GET", plan_path(order), None),
        ("PUT", plan_path(order), body),
        ("PUT", plan_path(theirs["unplanned"]), body),
        ("POST", f"{plan_path(theirs['unplanned'])}/generate", None),
        ("POST", step_path(order, shipping, "done"), None),
        ("POST", step_path(order, shipping, "skip"), {"reason": "mine"}),
        ("POST", step_path(order, collection, "receipts"), {"amount": "5"}),
        ("GET", step_path(order, collection, "receipts"), None),
        ("GET", notice, None),
        ("POST", f"{notice}/acknowledge", None),
    ]


async def test_every_plan_endpoint_answers_404_to_another_tenant(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    theirs: dict[str, Any],
) -> None:
    _, b_finance = await add_user(client, tenant_b, roles=["finance"])

    for headers in (tenant_b.headers, b_finance):
        for method, path, body in _calls(theirs):
            response = await client.request(method, path, json=body, headers=headers)

            assert response.status_code == 404, (method, path, response.text)

    unchanged = await read_plan(client, tenant_a.headers, theirs["order"])
    assert unchanged == theirs["plan"]
    still = await client.get(
        f"{ACTION_TYPES}/{theirs['collect']['id']}", headers=tenant_a.headers
    )
    assert still.json()["name"] == "Collect payment"
    unplanned = await client.get(
        plan_path(theirs["unplanned"]), headers=tenant_a.headers
    )
    assert unplanned.status_code == 404
    notice = await client.get(
        f"{NOTICES}/{theirs['notice']['id']}", headers=tenant_a.headers
    )
    assert notice.json()["acknowledged_at"] is None


async def test_lists_and_the_policy_never_show_another_tenants_data(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    theirs: dict[str, Any],
) -> None:
    headers = tenant_b.headers

    types = await client.get(ACTION_TYPES, headers=headers)
    notices = await client.get(NOTICES, headers=headers)
    filtered = await client.get(
        NOTICES, params={"order_id": theirs["order"]["id"]}, headers=headers
    )
    mine = await client.get(NOTICES, params={"mine": "true"}, headers=headers)
    policy = await client.get(POLICY, headers=headers)
    changed = await client.put(
        POLICY, json={"reminder_lead_days": 1, "dunning_days": [5]}, headers=headers
    )

    assert types.json()["items"] == []
    assert notices.json()["items"] == filtered.json()["items"] == []
    assert mine.json()["items"] == []
    assert policy.json()["is_default"] is True
    assert changed.status_code == 200
    a_policy = await client.get(POLICY, headers=tenant_a.headers)
    assert a_policy.json()["reminder_lead_days"] == 9
    assert a_policy.json()["dunning_days"] == [2]


async def test_another_tenants_types_and_people_cannot_go_into_a_plan(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    theirs: dict[str, Any],
) -> None:
    b_customer = await client.post(
        "/api/v1/customers",
        json={"name": "B"},
        params={"allow_duplicate": "true"},
        headers=tenant_b.headers,
    )
    b_collect = await create_action_type(client, tenant_b.headers, "Collect", "in")
    order = await approved_order(client, tenant_b.headers, b_customer.json())

    response = await client.put(
        plan_path(order),
        json={
            "steps": [
                money_step(theirs["collect"], "2026-02-01", "100"),
                money_step(
                    b_collect,
                    "2026-02-01",
                    "100",
                    assignee_id=tenant_a.admin_employee_id,
                ),
            ]
        },
        headers=tenant_b.headers,
    )

    assert response.status_code == 422
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("steps.0.action_type_id", "not_found"),
        ("steps.1.assignee_id", "not_found"),
    }


async def test_the_sweep_keeps_each_tenants_notices_and_events_in_that_tenant(
    client: httpx.AsyncClient,
    tenant_b: TenantContext,
    theirs: dict[str, Any],
    owner: asyncpg.Connection,
    ctx: dict[str, Any],
) -> None:
    b_customer = await client.post(
        "/api/v1/customers",
        json={"name": "B"},
        params={"allow_duplicate": "true"},
        headers=tenant_b.headers,
    )
    b_collect = await create_action_type(client, tenant_b.headers, "Collect", "in")
    order = await approved_order(client, tenant_b.headers, b_customer.json())
    await put_plan(
        client, tenant_b.headers, order, money_step(b_collect, "2026-01-16", "100")
    )
    await step(client, tenant_b.headers, order, "start")

    await sweep(ctx)

    mismatched = await owner.fetchval(
        "SELECT count(*) FROM payment_notices n JOIN plan_steps s ON s.id = n.step_id "
        "JOIN orders o ON o.id = n.order_id "
        "WHERE n.tenant_id <> s.tenant_id OR n.tenant_id <> o.tenant_id"
    )
    events = await owner.fetch(
        "SELECT e.tenant_id, n.tenant_id AS notice_tenant FROM outbox_events e "
        "JOIN payment_notices n ON n.id = (e.payload ->> 'notice_id')::uuid"
    )
    assert mismatched == 0
    assert len(events) == 2
    assert all(row["tenant_id"] == row["notice_tenant"] for row in events)
    b_notices = await client.get(NOTICES, headers=tenant_b.headers)
    assert [n["order_id"] for n in b_notices.json()["items"]] == [order["id"]]
