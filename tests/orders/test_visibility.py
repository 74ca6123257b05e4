"""Orders are owned records: who sees and changes which, and how they follow their
owner (handover), department and customer (merge)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext, add_user
from tests.orders.conftest import (
    ORDERS,
    Team,
    act,
    create_order,
    line,
    read_order,
    seller_customer,
    step,
)


async def _ids(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    response = await client.get(ORDERS, headers=headers)
    assert response.status_code == 200, response.text
    return {order["id"] for order in response.json()["items"]}


class TestOwnScope:
    async def test_a_seller_sees_and_counts_only_their_own_orders(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        customer: dict[str, Any],
    ) -> None:
        mine = await create_order(
            client, team.headers["seller"], await seller_customer(client, team)
        )
        theirs = await create_order(client, tenant_a.headers, customer)
        seller = team.headers["seller"]

        count = await client.get(f"{ORDERS}/count", headers=seller)

        assert mine["owner_id"] == team.users["seller"]["employee_id"]
        assert await _ids(client, seller) == {mine["id"]}
        assert count.json() == {"count": 1}
        assert await _ids(client, tenant_a.headers) == {mine["id"], theirs["id"]}

    async def test_someone_elses_order_reads_like_no_order_at_all(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        customer: dict[str, Any],
    ) -> None:
        theirs = await create_order(client, tenant_a.headers, customer)
        seller = team.headers["seller"]
        path = f"{ORDERS}/{theirs['id']}"
        line_path = f"{path}/lines/{theirs['lines'][0]['id']}"

        responses = [
            await client.get(path, headers=seller),
            await client.patch(path, json={"number": "x"}, headers=seller),
            await client.get(f"{path}/transitions", headers=seller),
            await client.get(f"{path}/approvals", headers=seller),
            await client.post(f"{path}/lines", json=line(), headers=seller),
            await client.get(line_path, headers=seller),
            await client.patch(line_path, json={"quantity": "2"}, headers=seller),
            await client.delete(line_path, headers=seller),
            await act(client, seller, theirs, "submit"),
            await act(client, seller, theirs, "cancel"),
        ]

        assert [r.status_code for r in responses] == [404] * len(responses)
        assert (await read_order(client, tenant_a.headers, theirs))["status"] == "draft"

    async def test_a_seller_sells_only_to_customers_they_see(
        self,
        client: httpx.AsyncClient,
        team: Team,
        customer: dict[str, Any],
    ) -> None:
        response = await client.post(
            ORDERS,
            json={"customer_id": customer["id"], "lines": [line()]},
            headers=team.headers["seller"],
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "customer_id"

    async def test_a_seller_cannot_hand_an_order_to_someone_else(
        self, client: httpx.AsyncClient, team: Team
    ) -> None:
        customer = await seller_customer(client, team)

        response = await client.post(
            ORDERS,
            json={
                "customer_id": customer["id"],
                "lines": [line()],
                "owner_id": team.users["manager"]["employee_id"],
            },
            headers=team.headers["seller"],
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "outside_scope"

    async def test_a_reader_without_write_rights_cannot_move_an_order(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)
        _, service = await add_user(client, tenant_a, roles=["service"])

        read = await client.get(f"{ORDERS}/{order['id']}", headers=service)
        submit = await act(client, service, order, "submit")

        assert read.status_code == 200
        assert submit.status_code == 403


class TestDepartmentScope:
    async def test_a_manager_sees_their_department_subtree_only(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
    ) -> None:
        async def department(name: str, parent: str) -> str:
            response = await client.post(
                "/api/v1/departments",
                json={"name": name, "parent_id": parent},
                headers=tenant_a.headers,
            )
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        east = await department("East", tenant_a.root_department_id)
        east_north = await department("East North", east)
        west = await department("West", tenant_a.root_department_id)
        _, manager = await add_user(
            client, tenant_a, roles=["manager"], department_id=east
        )
        below, _ = await add_user(
            client, tenant_a, roles=["sales"], department_id=east_north
        )
        beside, _ = await add_user(
            client, tenant_a, roles=["sales"], department_id=west
        )
        customer = await create_customer(client, tenant_a)
        in_subtree = await create_order(
            client, tenant_a.headers, customer, owner_id=below["employee_id"]
        )
        outside = await create_order(
            client, tenant_a.headers, customer, owner_id=beside["employee_id"]
        )

        assert await _ids(client, manager) == {in_subtree["id"]}
        hidden = await client.get(f"{ORDERS}/{outside['id']}", headers=manager)
        assert hidden.status_code == 404


class TestFollowing:
    async def test_a_leavers_open_orders_go_to_their_successor_finished_ones_stay(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
    ) -> None:
        customer = await seller_customer(client, team)
        seller = team.headers["seller"]
        open_order = await create_order(client, seller, customer)
        done = await create_order(client, seller, customer)
        for action in ("submit", "start", "complete"):
            await step(client, seller, done, action)

        leave = await client.post(
            f"/api/v1/employees/{team.users['seller']['employee_id']}/leave",
            json={"handover_to": team.users["manager"]["employee_id"]},
            headers=tenant_a.headers,
        )

        assert leave.status_code == 200, leave.text
        moved = await read_order(client, tenant_a.headers, open_order)
        kept = await read_order(client, tenant_a.headers, done)
        assert moved["owner_id"] == team.users["manager"]["employee_id"]
        assert kept["owner_id"] == team.users["seller"]["employee_id"]

    async def test_merging_customers_moves_their_orders(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        duplicate = await create_customer(client, tenant_a, name="Alfreds F.")
        order = await create_order(client, tenant_a.headers, duplicate)
        before = await client.get(f"{ORDERS}/{order['id']}", headers=tenant_a.headers)

        merged = await client.post(
            f"/api/v1/customers/{customer['id']}/merge",
            json={"duplicate_id": duplicate["id"]},
            headers=tenant_a.headers,
        )

        assert merged.status_code == 200, merged.text
        after = await client.get(f"{ORDERS}/{order['id']}", headers=tenant_a.headers)
        assert after.json()["customer_id"] == customer["id"]
        assert after.headers["ETag"] != before.headers["ETag"]

    async def test_a_customer_with_orders_cannot_be_deleted(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)

        response = await client.delete(
            f"/api/v1/customers/{customer['id']}", headers=tenant_a.headers
        )

        assert response.status_code == 409, response.text
        assert (await read_order(client, tenant_a.headers, order))["customer_id"] == (
            customer["id"]
        )
