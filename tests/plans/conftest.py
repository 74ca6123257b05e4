from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crm_api.kernel.db import create_engine, create_sessionmaker
from crm_api.settings import Settings
from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext
from tests.orders.conftest import create_order, line, step

ACTION_TYPES = "/api/v1/action-types"
NOTICES = "/api/v1/notices"
POLICY = "/api/v1/payment-reminder-policy"

Headers = dict[str, str]


def plan_path(order: dict[str, Any] | str) -> str:
    order_id = order if isinstance(order, str) else order["id"]
    return f"/api/v1/orders/{order_id}/plan"


def step_path(order: dict[str, Any], step_id: str, action: str = "") -> str:
    path = f"{plan_path(order)}/steps/{step_id}"
    return f"{path}/{action}" if action else path


async def create_action_type(
    client: httpx.AsyncClient,
    headers: Headers,
    name: str,
    direction: str = "none",
    default_offset_days: int = 0,
    **fields: Any,
) -> dict[str, Any]:
    response = await client.post(
        ACTION_TYPES,
        json={
            "name": name,
            "direction": direction,
            "default_offset_days": default_offset_days,
            **fields,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def approved_order(
    client: httpx.AsyncClient,
    headers: Headers,
    customer: dict[str, Any],
    unit_price: str = "100.00",
    **fields: Any,
) -> dict[str, Any]:
    """An order of one line at ``unit_price`` (no tax), approved on submit (the
    tenant has no approval rule)."""
    order = await create_order(
        client, headers, customer, line("1", unit_price), **fields
    )
    approved = await step(client, headers, order, "submit")
    assert approved["status"] == "approved"
    return approved


def money_step(
    action_type: dict[str, Any], due_on: str, amount: str | None, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"action_type_id": action_type["id"], "due_on": due_on}
    if amount is not None:
        body["amount"] = amount
    return {**body, **fields}


async def put_plan(
    client: httpx.AsyncClient,
    headers: Headers,
    order: dict[str, Any],
    *steps: dict[str, Any],
    expect: int = 200,
    **fields: Any,
) -> dict[str, Any]:
    response = await client.put(
        plan_path(order), json={"steps": list(steps), **fields}, headers=headers
    )
    assert response.status_code == expect, response.text
    return response.json()  # type: ignore[no-any-return]


async def read_plan(
    client: httpx.AsyncClient, headers: Headers, order: dict[str, Any]
) -> dict[str, Any]:
    response = await client.get(plan_path(order), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def receive(
    client: httpx.AsyncClient,
    headers: Headers,
    order: dict[str, Any],
    step_id: str,
    amount: str,
    **fields: Any,
) -> httpx.Response:
    return await client.post(
        step_path(order, step_id, "receipts"),
        json={"amount": amount, **fields},
        headers=headers,
    )


@pytest.fixture
async def customer(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> dict[str, Any]:
    return await create_customer(client, tenant_a)


@pytest.fixture
async def collect(client: httpx.AsyncClient, tenant_a: TenantContext) -> dict[str, Any]:
    """Tenant A's collection type: money in from the customer, due 14 days on."""
    return await create_action_type(
        client, tenant_a.headers, "Collect payment", "in", 14
    )


@pytest.fixture
async def ship(client: httpx.AsyncClient, tenant_a: TenantContext) -> dict[str, Any]:
    return await create_action_type(client, tenant_a.headers, "Ship goods", "none", 3)


class Clock:
    """Stands in for ``crm_api.tenants.calendar.utc_now``: time moves when told."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

    def set(self, iso: str) -> None:
        self.now = datetime.fromisoformat(iso).astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("crm_api.tenants.calendar.utc_now", fake)
    return fake


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """What an arq worker hands a job: settings and a sessionmaker as the app role."""
    assert settings.database_url is not None
    engine = create_engine(settings.database_url, app_role=settings.database_app_role)
    yield {
        "settings": settings,
        "engine": engine,
        "sessionmaker": create_sessionmaker(engine),
    }
    await engine.dispose()
