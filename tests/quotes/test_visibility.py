"""Who sees which quotes: owners, departments, roles; and nothing across tenants."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext, add_user
from tests.quotes.conftest import (
    QUOTES,
    create_quote,
    line,
    revision_path,
    sent_quote,
    transition,
)


async def _ids(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get(QUOTES, headers=headers)
    assert response.status_code == 200, response.text
    return [q["id"] for q in response.json()["items"]]


class TestOwnScope:
    async def test_a_sales_user_sees_only_their_own_quotes(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        seller, seller_headers = await add_user(client, tenant_a, roles=["sales"])
        _, other_headers = await add_user(client, tenant_a, roles=["sales"])
        customer = await create_customer(
            client, tenant_a, owner_id=seller["employee_id"]
        )
        mine = await create_quote(
            client, tenant_a, customer=customer, headers=seller_headers
        )
        admins = await create_quote(client, tenant_a)

        assert mine["owner_id"] == seller["employee_id"]
        assert mine["department_id"] == seller["department_id"]
        assert await _ids(client, seller_headers) == [mine["id"]]
        assert await _ids(client, other_headers) == []
        assert await _ids(client, tenant_a.headers) == [mine["id"], admins["id"]]
        for path in (f"{QUOTES}/{mine['id']}", revision_path(mine)):
            response = await client.get(path, headers=other_headers)
            assert response.status_code == 404, path
        count = await client.get(f"{QUOTES}/count", headers=other_headers)
        assert count.json() == {"count": 0}

    async def test_another_sellers_quote_cannot_be_changed(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, other_headers = await add_user(client, tenant_a, roles=["sales"])
        quote = await sent_quote(client, tenant_a)

        responses = [
            await client.patch(
                f"{QUOTES}/{quote['id']}", json={"title": "x"}, headers=other_headers
            ),
            await client.delete(f"{QUOTES}/{quote['id']}", headers=other_headers),
            await client.post(
                f"{QUOTES}/{quote['id']}/revisions", headers=other_headers
            ),
            await transition(client, tenant_a, quote, "accept", headers=other_headers),
            await transition(client, tenant_a, quote, "reject", headers=other_headers),
        ]

        assert [r.status_code for r in responses] == [404] * 5

    async def test_a_seller_cannot_quote_a_customer_they_cannot_see(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, seller_headers = await add_user(client, tenant_a, roles=["sales"])
        admins_customer = await create_customer(client, tenant_a)

        response = await client.post(
            QUOTES,
            json={
                "customer_id": admins_customer["id"],
                "valid_until": "2099-12-31",
                "lines": [line()],
            },
            headers=seller_headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "customer_id"

    async def test_a_seller_cannot_hand_a_quote_to_someone_else(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        seller, seller_headers = await add_user(client, tenant_a, roles=["sales"])
        customer = await create_customer(
            client, tenant_a, owner_id=seller["employee_id"]
        )

        response = await client.post(
            QUOTES,
            json={
                "customer_id": customer["id"],
                "valid_until": "2099-12-31",
                "owner_id": tenant_a.admin_employee_id,
            },
            headers=seller_headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "outside_scope"

    async def test_reassigning_a_quote_moves_who_sees_it(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        seller, seller_headers = await add_user(client, tenant_a, roles=["sales"])
        quote = await create_quote(client, tenant_a)

        response = await client.patch(
            f"{QUOTES}/{quote['id']}",
            json={"owner_id": seller["employee_id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["owner_id"] == seller["employee_id"]
        assert await _ids(client, seller_headers) == [quote["id"]]


class TestRoles:
    async def test_marketing_reads_quotes_but_cannot_write_them(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)
        _, marketing = await add_user(client, tenant_a, roles=["marketing"])

        read = await client.get(f"{QUOTES}/{quote['id']}", headers=marketing)
        write = await transition(client, tenant_a, quote, "send", headers=marketing)

        assert read.status_code == 200
        assert write.status_code == 403

    async def test_a_user_without_an_employee_sees_no_own_quotes(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_quote(client, tenant_a)
        _, loose = await add_user(client, tenant_a, roles=["sales"], employee=False)

        assert await _ids(client, loose) == []


class TestOtherDomains:
    async def test_a_leavers_open_quotes_go_to_their_successor(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        leaver, _ = await add_user(client, tenant_a, roles=["sales"])
        successor, _ = await add_user(client, tenant_a, roles=["sales"])
        customer = await create_customer(
            client, tenant_a, owner_id=leaver["employee_id"]
        )
        open_quote = await sent_quote(
            client, tenant_a, customer=customer, owner_id=leaver["employee_id"]
        )
        won = await sent_quote(
            client, tenant_a, customer=customer, owner_id=leaver["employee_id"]
        )
        await transition(client, tenant_a, won, "accept")

        response = await client.post(
            f"/api/v1/employees/{leaver['employee_id']}/leave",
            json={"handover_to": successor["employee_id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["moved"]["quotes.owner_id"] == 1
        moved = await client.get(
            f"{QUOTES}/{open_quote['id']}", headers=tenant_a.headers
        )
        kept = await client.get(f"{QUOTES}/{won['id']}", headers=tenant_a.headers)
        assert moved.json()["owner_id"] == successor["employee_id"]
        assert kept.json()["owner_id"] == leaver["employee_id"]

    async def test_merging_customers_moves_their_quotes(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        survivor = await create_customer(client, tenant_a, name="Alfreds")
        duplicate = await create_customer(client, tenant_a, name="Alfreds GmbH")
        quote = await create_quote(client, tenant_a, customer=duplicate)

        merged = await client.post(
            f"/api/v1/customers/{survivor['id']}/merge",
            json={"duplicate_id": duplicate["id"]},
            headers=tenant_a.headers,
        )

        assert merged.status_code == 200, merged.text
        reread = await client.get(f"{QUOTES}/{quote['id']}", headers=tenant_a.headers)
        assert reread.json()["customer_id"] == survivor["id"]
        assert reread.headers["ETag"] != '"1"'


def _endpoints(quote: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"{QUOTES}/{quote['id']}"
    return [
        ("GET", base, None),
        ("PATCH", base, {"title": "stolen"}),
        ("DELETE", base, None),
        ("GET", f"{base}/revisions", None),
        ("POST", f"{base}/revisions", None),
        ("GET", f"{base}/revisions/1", None),
        ("PATCH", f"{base}/revisions/1", {"notes": "stolen"}),
        ("POST", f"{base}/revisions/1/send", None),
        ("POST", f"{base}/revisions/1/accept", None),
        ("POST", f"{base}/revisions/1/reject", None),
    ]


class TestTenantIsolation:
    @pytest.mark.parametrize("index", range(10))
    async def test_another_tenant_gets_404_on_every_quote_endpoint(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
        index: int,
    ) -> None:
        quote = await create_quote(client, tenant_a)
        method, path, body = _endpoints(quote)[index]

        response = await client.request(
            method, path, json=body, headers=tenant_b.headers
        )

        assert response.status_code == 404, response.text
        reread = await client.get(f"{QUOTES}/{quote['id']}", headers=tenant_a.headers)
        assert reread.json() == quote

    async def test_another_tenant_lists_and_counts_nothing(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        quote = await create_quote(client, tenant_a)

        listed = await _ids(client, tenant_b.headers)
        filtered = await client.get(
            QUOTES,
            params={"customer_id": quote["customer_id"]},
            headers=tenant_b.headers,
        )
        counted = await client.get(f"{QUOTES}/count", headers=tenant_b.headers)

        assert listed == []
        assert filtered.json()["items"] == []
        assert counted.json() == {"count": 0}

    async def test_another_tenants_customer_and_product_cannot_be_quoted(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        customer_a = await create_customer(client, tenant_a)
        customer_b = await create_customer(client, tenant_b)
        product_a = (
            await client.post(
                "/api/v1/products",
                json={"sku": "A", "name": "A", "list_price": "1"},
                headers=tenant_a.headers,
            )
        ).json()

        foreign_customer = await client.post(
            QUOTES,
            json={"customer_id": customer_a["id"], "valid_until": "2099-12-31"},
            headers=tenant_b.headers,
        )
        foreign_product = await client.post(
            QUOTES,
            json={
                "customer_id": customer_b["id"],
                "valid_until": "2099-12-31",
                "lines": [{"product_id": product_a["id"], "quantity": "1"}],
            },
            headers=tenant_b.headers,
        )

        assert foreign_customer.status_code == 422
        assert foreign_customer.json()["errors"][0]["field"] == "customer_id"
        assert foreign_product.status_code == 422
        assert foreign_product.json()["errors"][0]["field"] == "lines.0.product_id"
