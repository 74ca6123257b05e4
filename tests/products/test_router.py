from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.customers.conftest import define
from tests.fixtures.api import TenantContext, add_user
from tests.products.conftest import PRODUCTS, create_product


async def _skus(
    client: httpx.AsyncClient, ctx: TenantContext, **params: Any
) -> list[str]:
    response = await client.get(PRODUCTS, params=params, headers=ctx.headers)
    assert response.status_code == 200, response.text
    return [p["sku"] for p in response.json()["items"]]


class TestCreate:
    async def test_creates_in_the_tenant_currency_with_money_as_a_string(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            PRODUCTS,
            json={"sku": "CHAI", "name": "Chai", "unit": "box", "list_price": "18.5"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 201, response.text
        created = response.json()
        assert created["currency"] == "EUR"
        assert created["list_price"] == "18.50"
        assert created["active"] is True
        assert response.headers["ETag"] == '"1"'
        assert response.headers["Location"] == f"{PRODUCTS}/{created['id']}"

    async def test_json_number_price_is_read_exactly(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            PRODUCTS,
            content=b'{"sku": "N", "name": "N", "list_price": 0.1}',
            headers={**tenant_a.headers, "content-type": "application/json"},
        )

        assert response.status_code == 201, response.text
        assert response.json()["list_price"] == "0.10"

    async def test_sku_is_unique_ignoring_case(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_product(client, tenant_a, sku="Chai-1")

        response = await client.post(
            PRODUCTS,
            json={"sku": "CHAI-1", "name": "Other", "list_price": "1.00"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "sku"

    async def test_same_sku_in_two_tenants_is_fine(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        await create_product(client, tenant_a, sku="CHAI")

        await create_product(client, tenant_b, sku="CHAI")

    @pytest.mark.parametrize(
        ("body", "field", "code"),
        [
            ({"list_price": "18.001"}, "list_price", "too_precise"),
            ({"list_price": "100.5", "currency": "JPY"}, "list_price", "too_precise"),
            ({"list_price": "1.0001", "currency": "BHD"}, "list_price", "too_precise"),
            ({"list_price": "-1.00"}, "list_price", "greater_than_equal"),
            ({"list_price": "NaN"}, "list_price", "finite_number"),
            ({"currency": "XYZ"}, "currency", "value_error"),
            ({"colour": "red"}, "colour", "unknown_field"),
            ({"sku": "A\u202eB"}, "sku", "value_error"),
            ({"sku": "x" * 65}, "sku", "string_too_long"),
            ({"name": ""}, "name", "string_too_short"),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        body: dict[str, Any],
        field: str,
        code: str,
    ) -> None:
        response = await client.post(
            PRODUCTS,
            json={"sku": "X", "name": "X", "list_price": "1.00", **body},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        [error] = response.json()["errors"]
        assert (error["field"], error["code"]) == (field, code)

    async def test_whole_yen_and_three_decimal_dinar_fit(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        yen = await create_product(client, tenant_a, list_price="100", currency="JPY")
        dinar = await create_product(client, tenant_a, list_price="1.5", currency="BHD")

        assert yen["list_price"] == "100"
        assert dinar["list_price"] == "1.500"

    async def test_custom_attributes_are_validated(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(
            client, tenant_a, "product", key="weight_kg", label="Weight", type="decimal"
        )

        created = await create_product(client, tenant_a, custom={"weight_kg": "0.5"})
        wrong = await client.post(
            PRODUCTS,
            json={
                "sku": "W",
                "name": "W",
                "list_price": "1.00",
                "custom": {"weight_kg": "heavy"},
            },
            headers=tenant_a.headers,
        )
        unknown = await client.post(
            PRODUCTS,
            json={"sku": "U", "name": "U", "list_price": "1", "custom": {"x": 1}},
            headers=tenant_a.headers,
        )

        assert created["custom"] == {"weight_kg": "0.5"}
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["field"] == "custom.weight_kg"
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["code"] == "unknown_attribute"

    async def test_idempotency_key_replays_the_first_response(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        body = {"sku": "IDEM", "name": "Once", "list_price": "1.00"}
        headers = {**tenant_a.headers, "Idempotency-Key": "product-1"}

        first = await client.post(PRODUCTS, json=body, headers=headers)
        second = await client.post(PRODUCTS, json=body, headers=headers)

        assert first.status_code == second.status_code == 201
        assert second.headers["Idempotent-Replayed"] == "true"
        assert second.json()["id"] == first.json()["id"]
        assert await _skus(client, tenant_a) == ["IDEM"]


class TestList:
    async def test_filters_by_category_active_sku_and_name(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_product(
            client, tenant_a, sku="BEV-1", name="Chai", category="Beverages"
        )
        await create_product(
            client,
            tenant_a,
            sku="BEV-2",
            name="Chang",
            category="Beverages",
            active=False,
        )
        await create_product(
            client, tenant_a, sku="CON-1", name="Aniseed Syrup", category="Condiments"
        )

        assert await _skus(client, tenant_a, category="Beverages") == ["BEV-1", "BEV-2"]
        assert await _skus(client, tenant_a, active="false") == ["BEV-2"]
        assert await _skus(client, tenant_a, sku="bev-2") == ["BEV-2"]
        assert await _skus(client, tenant_a, **{"sku[in]": "Bev-1,con-1"}) == [
            "BEV-1",
            "CON-1",
        ]
        assert await _skus(client, tenant_a, q="SYRUP") == ["CON-1"]
        assert await _skus(client, tenant_a, q="%") == []

    async def test_sorts_by_price_and_pages_by_cursor(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        for sku, price in (("A", "5.00"), ("B", "15.00"), ("C", "10.00")):
            await create_product(client, tenant_a, sku=sku, list_price=price)

        first = await client.get(
            PRODUCTS,
            params={"sort": "-list_price", "limit": 2},
            headers=tenant_a.headers,
        )
        rest = await client.get(
            PRODUCTS,
            params={
                "sort": "-list_price",
                "limit": 2,
                "cursor": first.json()["next_cursor"],
            },
            headers=tenant_a.headers,
        )

        assert [p["sku"] for p in first.json()["items"]] == ["B", "C"]
        assert [p["sku"] for p in rest.json()["items"]] == ["A"]
        assert rest.json()["next_cursor"] is None

    async def test_filters_on_custom_attributes_by_type(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(
            client, tenant_a, "product", key="weight_kg", label="Weight", type="decimal"
        )
        await create_product(client, tenant_a, sku="LIGHT", custom={"weight_kg": "9"})
        await create_product(
            client, tenant_a, sku="HEAVY", custom={"weight_kg": "10.5"}
        )

        assert await _skus(client, tenant_a, **{"custom.weight_kg[gte]": "10"}) == [
            "HEAVY"
        ]

    async def test_count_takes_the_same_filters(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_product(client, tenant_a, category="Beverages")
        await create_product(client, tenant_a, category="Condiments")

        response = await client.get(
            f"{PRODUCTS}/count",
            params={"category": "Beverages"},
            headers=tenant_a.headers,
        )

        assert response.json() == {"count": 1}

    async def test_unknown_filter_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            PRODUCTS, params={"colour": "red"}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "colour"


class TestUpdate:
    async def test_changes_fields_and_the_etag(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a)

        response = await client.patch(
            f"{PRODUCTS}/{product['id']}",
            json={"name": "Chai Tea", "list_price": "19", "active": False},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Chai Tea"
        assert response.json()["list_price"] == "19.00"
        assert response.json()["active"] is False
        assert response.headers["ETag"] == '"2"'

    async def test_stale_if_match_is_412(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a)
        path = f"{PRODUCTS}/{product['id']}"
        await client.patch(path, json={"name": "B"}, headers=tenant_a.headers)

        response = await client.patch(
            path, json={"name": "C"}, headers={**tenant_a.headers, "If-Match": '"1"'}
        )

        assert response.status_code == 412

    async def test_a_currency_the_price_does_not_fit_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a, list_price="12.30")

        response = await client.patch(
            f"{PRODUCTS}/{product['id']}",
            json={"currency": "JPY"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "currency"

    async def test_null_for_a_required_field_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a)

        response = await client.patch(
            f"{PRODUCTS}/{product['id']}", json={"sku": None}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "sku"
        assert response.json()["errors"][0]["code"] == "required"

    async def test_taking_another_products_sku_is_409(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_product(client, tenant_a, sku="TAKEN")
        product = await create_product(client, tenant_a, sku="FREE")

        response = await client.patch(
            f"{PRODUCTS}/{product['id']}",
            json={"sku": "taken"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 409


class TestDelete:
    async def test_deletes_an_unused_product(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a)
        path = f"{PRODUCTS}/{product['id']}"

        deleted = await client.delete(path, headers=tenant_a.headers)
        gone = await client.get(path, headers=tenant_a.headers)

        assert deleted.status_code == 204
        assert gone.status_code == 404

    async def test_missing_product_is_404(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.delete(
            f"{PRODUCTS}/01900000-0000-7000-8000-000000000000", headers=tenant_a.headers
        )

        assert response.status_code == 404


class TestPermissions:
    async def test_sales_reads_the_catalogue_but_cannot_change_it(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a)
        _, sales = await add_user(client, tenant_a, roles=["sales"])

        read = await client.get(f"{PRODUCTS}/{product['id']}", headers=sales)
        write = await client.post(
            PRODUCTS, json={"sku": "S", "name": "S", "list_price": "1"}, headers=sales
        )

        assert read.status_code == 200
        assert write.status_code == 403

    async def test_finance_keeps_the_catalogue(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, finance = await add_user(client, tenant_a, roles=["finance"])

        response = await client.post(
            PRODUCTS, json={"sku": "F", "name": "F", "list_price": "1"}, headers=finance
        )

        assert response.status_code == 201

    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get(PRODUCTS)

        assert response.status_code == 401


class TestTenantIsolation:
    async def test_another_tenant_cannot_see_or_touch_a_product(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        product = await create_product(client, tenant_a, sku="SECRET")
        path = f"{PRODUCTS}/{product['id']}"

        read = await client.get(path, headers=tenant_b.headers)
        patch = await client.patch(path, json={"name": "x"}, headers=tenant_b.headers)
        delete = await client.delete(path, headers=tenant_b.headers)
        listed = await _skus(client, tenant_b)
        by_sku = await _skus(client, tenant_b, sku="secret")
        counted = await client.get(f"{PRODUCTS}/count", headers=tenant_b.headers)

        assert (read.status_code, patch.status_code, delete.status_code) == (
            404,
            404,
            404,
        )
        assert listed == by_sku == []
        assert counted.json() == {"count": 0}
        still = await client.get(path, headers=tenant_a.headers)
        assert still.json()["name"] == "Chai"
