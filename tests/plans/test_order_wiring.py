"""The order itself answers to its plan: completion waits for the steps, and every
read shows paid, outstanding and overdue."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.api import TenantContext
from tests.plans.conftest import Clock, money_step, receive, step_path
from tests.plans.test_steps import _executing

ORDERS = "/api/v1/orders"


class TestCompletion:
    async def test_an_order_with_pending_steps_cannot_complete_until_they_close(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        ship: dict[str, Any],
        clock: Clock,
    ) -> None:
        headers = tenant_a.headers
        order, [collection, shipping] = await _executing(
            client,
            headers,
            customer,
            money_step(collect, "2026-01-10", "100"),
            money_step(ship, "2026-02-01", None),
        )

        refused = await client.post(f"{ORDERS}/{order['id']}/complete", headers=headers)
        await receive(client, headers, order, collection["id"], "100")
        await client.post(step_path(order, shipping["id"], "done"), headers=headers)
        completed = await client.post(
            f"{ORDERS}/{order['id']}/complete", headers=headers
        )

        assert refused.status_code == 409
        assert "2 plan step(s) still pending" in refused.json()["detail"]
        assert completed.status_code == 200, completed.text
        assert completed.json()["status"] == "completed"


class TestPaymentFigures:
    async def test_reads_and_lists_show_paid_outstanding_and_overdue(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        headers = tenant_a.headers
        clock.set("2026-03-01T12:00:00+00:00")
        order, [first, _] = await _executing(
            client,
            headers,
            customer,
            money_step(collect, "2026-02-01", "60.00"),
            money_step(collect, "2026-04-01", "40.00"),
        )
        await receive(client, headers, order, first["id"], "25.00")

        read = await client.get(f"{ORDERS}/{order['id']}", headers=headers)
        listed = await client.get(ORDERS, params={"limit": 200}, headers=headers)

        payment = read.json()["payment"]
        assert payment["paid"] == "25.00"
        assert payment["outstanding"] == "75.00"
        assert payment["overdue"] == "35.00"
        assert payment["as_of"] == "2026-03-01"
        [same] = [o for o in listed.json()["items"] if o["id"] == order["id"]]
        assert same["payment"] == payment
