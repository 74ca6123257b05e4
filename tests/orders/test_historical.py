"""Historical orders (POST /orders/historical): completed on arrival under the money
rule, keyed by their number, all or nothing per batch, errors named by index."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from crm_api.tenants import calendar
from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext, add_user
from tests.orders.conftest import (
    ORDERS,
    create_order,
    event_types,
    read_order,
    transitions,
)
from tests.products.conftest import create_product

HISTORICAL = f"{ORDERS}/historical"


class Shop:
    """One tenant's customer (by code), product and seller for historical orders."""

    def __init__(
        self, ctx: TenantContext, customer: dict[str, Any], product: dict[str, Any]
    ) -> None:
        self.ctx = ctx
        self.customer = customer
        self.product = product

    def line(self, **fields: Any) -> dict[str, Any]:
        return {
            "product_id": self.product["id"],
            "quantity": "3",
            "unit_price": "0.10",
            **fields,
        }

    def order(
        self, number: str = "10248", *lines: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        return {
            "number": number,
            "customer_code": self.customer["code"],
            "owner_id": self.ctx.admin_employee_id,
            "ordered_on": "1996-07-04",
            "lines": list(lines) or [self.line()],
            **fields,
        }


async def _shop(client: httpx.AsyncClient, ctx: TenantContext) -> Shop:
    customer = await create_customer(client, ctx, code="VINET")
    product = await create_product(client, ctx, sku="NW-11")
    return Shop(ctx, customer, product)


@pytest.fixture
async def shop(client: httpx.AsyncClient, tenant_a: TenantContext) -> Shop:
    return await _shop(client, tenant_a)


@pytest.fixture
async def their_shop(client: httpx.AsyncClient, tenant_b: TenantContext) -> Shop:
    return await _shop(client, tenant_b)


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], *orders: dict[str, Any]
) -> httpx.Response:
    return await client.post(HISTORICAL, json={"orders": list(orders)}, headers=headers)


async def imported(
    client: httpx.AsyncClient, headers: dict[str, str], *orders: dict[str, Any]
) -> dict[str, Any]:
    response = await post(client, headers, *orders)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def fields_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {error["field"]: error["code"] for error in response.json()["errors"]}


async def count(client: httpx.AsyncClient, ctx: TenantContext) -> int:
    response = await client.get(f"{ORDERS}/count", headers=ctx.headers)
    assert response.status_code == 200, response.text
    return response.json()["count"]  # type: ignore[no-any-return]


class TestImport:
    async def test_an_order_arrives_completed_with_its_totals_and_one_transition(
        self,
        client: httpx.AsyncClient,
        shop: Shop,
        owner: asyncpg.Connection,
    ) -> None:
        discounted = shop.line(quantity="35", unit_price="42.40", discount_percent="15")

        report = await imported(
            client, shop.ctx.headers, shop.order("10250", shop.line(), discounted)
        )

        assert (report["created"], report["existing"]) == (1, 0)
        [result] = report["orders"]
        assert (result["index"], result["number"], result["outcome"]) == (
            0,
            "10250",
            "created",
        )
        order = await read_order(client, shop.ctx.headers, result)
        assert order["status"] == "completed"
        assert order["allowed_actions"] == []
        assert order["ordered_on"] == "1996-07-04"
        assert order["currency"] == "EUR"
        assert order["customer_id"] == shop.customer["id"]
        assert order["owner_id"] == shop.ctx.admin_employee_id
        assert order["department_id"] == shop.ctx.root_department_id
        # 3 x 0.10 is exactly 0.30; 35 x 42.40 x 0.85 = 1261.40.
        assert [line["net_amount"] for line in order["lines"]] == ["0.30", "1261.40"]
        assert (order["total_net"], order["total_gross"]) == ("1261.70", "1261.70")
        [step] = await transitions(client, shop.ctx.headers, order)
        assert (step["action"], step["from_status"], step["to_status"]) == (
            "import",
            "draft",
            "completed",
        )
        assert (step["comment"], step["user_id"]) == ("imported", shop.ctx.admin["id"])
        assert await event_types(owner, order) == ["order.imported"]

    async def test_sending_the_batch_again_creates_nothing(
        self, client: httpx.AsyncClient, shop: Shop, owner: asyncpg.Connection
    ) -> None:
        batch = [shop.order("10248"), shop.order("10249")]
        first = await imported(client, shop.ctx.headers, *batch)

        again = await imported(client, shop.ctx.headers, *batch, shop.order("10250"))

        assert (again["created"], again["existing"]) == (1, 2)
        assert [r["outcome"] for r in again["orders"]] == [
            "existing",
            "existing",
            "created",
        ]
        assert [r["id"] for r in again["orders"][:2]] == [
            r["id"] for r in first["orders"]
        ]
        assert await count(client, shop.ctx) == 3
        events = await event_types(owner, first["orders"][0])
        assert events == ["order.imported"]

    async def test_an_existing_number_is_left_alone_however_the_batch_differs(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        [first] = (await imported(client, shop.ctx.headers, shop.order()))["orders"]

        report = await imported(
            client,
            shop.ctx.headers,
            shop.order(lines=[shop.line(quantity="100")]),
        )

        assert report["orders"][0]["outcome"] == "existing"
        order = await read_order(client, shop.ctx.headers, first)
        assert order["total_net"] == "0.30"

    async def test_discontinued_products_and_free_text_lines_are_history_too(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await client.patch(
            f"/api/v1/products/{shop.product['id']}",
            json={"active": False},
            headers=shop.ctx.headers,
        )
        assert response.status_code == 200, response.text
        free_text = {"description": "Setup", "quantity": "1", "unit_price": "5"}

        report = await imported(
            client, shop.ctx.headers, shop.order("1", shop.line(), free_text)
        )

        order = await read_order(client, shop.ctx.headers, report["orders"][0])
        assert [line["description"] for line in order["lines"]] == ["Chai", "Setup"]
        assert order["total_net"] == "5.30"

    async def test_currency_and_custom_values_are_taken(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await client.post(
            "/api/v1/custom-attributes/order",
            json={"key": "freight", "label": "Freight", "type": "money"},
            headers=shop.ctx.headers,
        )
        assert response.status_code == 201, response.text

        report = await imported(
            client,
            shop.ctx.headers,
            shop.order(
                "1",
                shop.line(unit_price="100"),
                currency="JPY",
                custom={"freight": "32.38"},
            ),
        )

        order = await read_order(client, shop.ctx.headers, report["orders"][0])
        assert (order["currency"], order["total_net"]) == ("JPY", "300")
        assert order["custom"] == {"freight": "32.38"}

    async def test_orders_list_filters_on_the_order_date(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        await imported(
            client,
            shop.ctx.headers,
            shop.order("1", ordered_on="1996-07-04"),
            shop.order("2", ordered_on="1997-01-15"),
        )

        response = await client.get(
            ORDERS,
            params={"ordered_on[gte]": "1997-01-01", "sort": "-ordered_on"},
            headers=shop.ctx.headers,
        )

        assert response.status_code == 200, response.text
        assert [o["number"] for o in response.json()["items"]] == ["2"]


class TestOrderDate:
    """Every order has the calendar date it was placed, on the tenant's calendar."""

    @pytest.fixture(autouse=True)
    def _late_evening_in_utc(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # 00:30 in Berlin and 07:30 in Shanghai, already the next day.
        moment = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
        monkeypatch.setattr(calendar, "utc_now", lambda: moment)

    async def test_an_order_entered_directly_is_dated_today_where_the_tenant_is(
        self, client: httpx.AsyncClient, their_shop: Shop
    ) -> None:
        order = await create_order(
            client, their_shop.ctx.headers, their_shop.customer, their_shop.line()
        )

        assert their_shop.ctx.tenant["time_zone"] == "Asia/Shanghai"
        assert order["ordered_on"] == "2026-03-11"

    async def test_a_historical_order_is_placed_by_today_where_the_tenant_is(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        today = await post(
            client, shop.ctx.headers, shop.order(ordered_on="2026-03-11")
        )
        tomorrow = await post(
            client, shop.ctx.headers, shop.order("2", ordered_on="2026-03-12")
        )

        assert today.status_code == 200, today.text
        assert fields_of(tomorrow) == {"orders.0.ordered_on": "in_future"}


class TestBadInput:
    async def test_unknown_customer_code(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await post(
            client, shop.ctx.headers, shop.order(customer_code="NOPE")
        )

        assert fields_of(response) == {"orders.0.customer_code": "not_found"}

    async def test_unknown_product(self, client: httpx.AsyncClient, shop: Shop) -> None:
        unknown = shop.line(product_id="01900000-0000-7000-8000-000000000000")

        response = await post(
            client, shop.ctx.headers, shop.order("1", shop.line(), unknown)
        )

        # Without its product the line has no description either (as in POST /orders).
        assert fields_of(response) == {
            "orders.0.lines.1.product_id": "not_found",
            "orders.0.lines.1.description": "required",
        }

    async def test_duplicate_number_within_a_batch_writes_nothing(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await post(
            client,
            shop.ctx.headers,
            shop.order("1"),
            shop.order("2"),
            shop.order("1"),
        )

        assert fields_of(response) == {"orders.2.number": "duplicate"}
        assert "orders.0" in response.json()["errors"][0]["message"]
        assert await count(client, shop.ctx) == 0

    async def test_money_with_three_decimals_in_eur(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await post(
            client, shop.ctx.headers, shop.order("1", shop.line(unit_price="0.105"))
        )

        assert fields_of(response) == {
            "orders.0.lines.0.unit_price": "too_many_decimals"
        }

    @pytest.mark.parametrize(
        ("line_fields", "field"),
        [
            ({"quantity": "-1"}, "quantity"),
            ({"quantity": "0"}, "quantity"),
            ({"discount_percent": "100.01"}, "discount_percent"),
            ({"discount_percent": "-5"}, "discount_percent"),
            ({"unit_price": "-0.01"}, "unit_price"),
            ({"unit_price": None}, "unit_price"),
        ],
    )
    async def test_line_values_out_of_range(
        self,
        client: httpx.AsyncClient,
        shop: Shop,
        line_fields: dict[str, Any],
        field: str,
    ) -> None:
        response = await post(
            client,
            shop.ctx.headers,
            shop.order("1"),
            shop.order("2", shop.line(), shop.line(**line_fields)),
        )

        assert list(fields_of(response)) == [f"orders.1.lines.1.{field}"]
        assert await count(client, shop.ctx) == 0

    async def test_a_line_without_a_price_is_refused(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        line = shop.line()
        del line["unit_price"]

        response = await post(client, shop.ctx.headers, shop.order("1", line))

        assert fields_of(response) == {"orders.0.lines.0.unit_price": "missing"}

    async def test_every_problem_of_every_order_is_listed_and_nothing_written(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await post(
            client,
            shop.ctx.headers,
            shop.order("1"),
            shop.order("2", customer_code="NOPE", ordered_on="2999-01-01"),
            shop.order("3"),
            shop.order("4", shop.line(unit_price="1.001"), owner_id=shop.product["id"]),
        )

        assert fields_of(response) == {
            "orders.1.customer_code": "not_found",
            "orders.1.ordered_on": "in_future",
            "orders.3.owner_id": "not_found",
            "orders.3.lines.0.unit_price": "too_many_decimals",
        }
        assert await count(client, shop.ctx) == 0

    async def test_unknown_fields(self, client: httpx.AsyncClient, shop: Shop) -> None:
        response = await post(
            client,
            shop.ctx.headers,
            shop.order("1", shop.line(colour="red"), freight="32.38"),
        )
        batch = await client.post(
            HISTORICAL,
            json={"orders": [shop.order("2")], "dry_run": True},
            headers=shop.ctx.headers,
        )

        assert fields_of(response) == {
            "orders.0.freight": "unknown_field",
            "orders.0.lines.0.colour": "unknown_field",
        }
        assert fields_of(batch) == {"dry_run": "unknown_field"}

    async def test_an_order_needs_lines_and_a_batch_at_most_500_orders(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        empty = await post(client, shop.ctx.headers, shop.order("1", lines=[]))
        too_many = await post(
            client, shop.ctx.headers, *(shop.order(str(n)) for n in range(501))
        )
        nothing = await post(client, shop.ctx.headers)

        assert fields_of(empty) == {"orders.0.lines": "too_short"}
        assert fields_of(too_many) == {"orders": "too_long"}
        assert fields_of(nothing) == {"orders": "too_short"}

    async def test_custom_values_are_checked_per_order(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await post(
            client, shop.ctx.headers, shop.order("1", custom={"freight": "1"})
        )

        assert fields_of(response) == {"orders.0.custom.freight": "unknown_attribute"}


class TestWhoMayImport:
    async def test_another_tenants_product_customer_and_employee_are_unknown(
        self, client: httpx.AsyncClient, shop: Shop, their_shop: Shop
    ) -> None:
        theirs = shop.order(
            "1",
            shop.line(product_id=their_shop.product["id"]),
            owner_id=their_shop.ctx.admin_employee_id,
        )
        their_customer = await create_customer(client, their_shop.ctx, code="ONLY-B")

        response = await post(
            client,
            shop.ctx.headers,
            theirs,
            shop.order("2", customer_code=their_customer["code"]),
        )

        assert fields_of(response) == {
            "orders.0.lines.0.product_id": "not_found",
            "orders.0.lines.0.description": "required",
            "orders.0.owner_id": "not_found",
            "orders.1.customer_code": "not_found",
        }

    async def test_tenants_keep_their_own_numbers_and_orders(
        self,
        client: httpx.AsyncClient,
        shop: Shop,
        their_shop: Shop,
    ) -> None:
        ours = await imported(client, shop.ctx.headers, shop.order("10248"))

        theirs = await imported(
            client, their_shop.ctx.headers, their_shop.order("10248")
        )

        assert theirs["orders"][0]["outcome"] == "created"
        assert theirs["orders"][0]["id"] != ours["orders"][0]["id"]
        hidden = await client.get(
            f"{ORDERS}/{ours['orders'][0]['id']}", headers=their_shop.ctx.headers
        )
        assert hidden.status_code == 404
        assert await count(client, shop.ctx) == await count(client, their_shop.ctx) == 1

    async def test_needs_orders_write(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        _, marketing = await add_user(client, shop.ctx, roles=["marketing"])

        response = await post(client, marketing, shop.order())

        assert response.status_code == 403, response.text

    async def test_a_seller_imports_only_their_own_orders(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        seller, headers = await add_user(client, shop.ctx, roles=["sales"])
        response = await client.patch(
            f"/api/v1/customers/{shop.customer['id']}",
            json={"owner_id": seller["employee_id"]},
            headers=shop.ctx.headers,
        )
        assert response.status_code == 200, response.text
        [admins] = (await imported(client, shop.ctx.headers, shop.order("1")))["orders"]

        refused = await post(client, headers, shop.order("2"))
        own = await imported(
            client,
            headers,
            shop.order("1", owner_id=seller["employee_id"]),
            shop.order("3", owner_id=seller["employee_id"]),
        )

        assert fields_of(refused) == {"orders.0.owner_id": "outside_scope"}
        # Order 1 is the admin's: taken, but not the seller's to read.
        taken, created = own["orders"]
        assert (taken["outcome"], taken["id"]) == ("existing", None)
        assert created["outcome"] == "created"
        assert admins["id"] is not None


class TestRacingBatches:
    async def test_the_same_new_number_sent_at_once_is_created_once_and_existing_after(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        # The input that answered 409 to all but one: six batches with HB-CONC at once.
        responses = await asyncio.gather(
            *(post(client, shop.ctx.headers, shop.order("HB-CONC")) for _ in range(6))
        )

        assert [r.status_code for r in responses] == [200] * 6
        outcomes = sorted(r.json()["orders"][0]["outcome"] for r in responses)
        assert outcomes == ["created"] + ["existing"] * 5
        assert await count(client, shop.ctx) == 1
