"""Orders entered directly: content, the money rule, edits while a draft, lists."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests.customers.conftest import create_customer, define
from tests.fixtures.api import TenantContext
from tests.orders.conftest import (
    ORDERS,
    create_order,
    create_rule,
    event_types,
    line,
    read_order,
    step,
)


async def _post(
    client: httpx.AsyncClient, ctx: TenantContext, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(ORDERS, json=body, headers=ctx.headers)


def _errors(response: httpx.Response) -> dict[str, str]:
    return {e["field"]: e["code"] for e in response.json()["errors"]}


class TestCreate:
    async def test_creates_a_draft_with_its_lines_figures_and_totals(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        response = await _post(
            client,
            tenant_a,
            {
                "customer_id": customer["id"],
                "lines": [
                    line("2", "19.99", discount_percent="10", tax_rate_percent="19"),
                    line("1", "5", description="Chang", tax_rate_percent="7"),
                ],
            },
        )

        assert response.status_code == 201, response.text
        order = response.json()
        assert response.headers["ETag"]
        assert response.headers["Location"] == f"{ORDERS}/{order['id']}"
        assert order["status"] == "draft"
        assert order["currency"] == "EUR"
        assert order["number"].startswith("O-")
        assert order["owner_id"] == tenant_a.admin_employee_id
        assert order["department_id"] == tenant_a.root_department_id
        assert order["allowed_actions"] == ["submit", "cancel"]
        first, second = order["lines"]
        # 2 x 19.99 x 0.9 = 35.982 -> 35.98; tax 35.98 x 0.19 = 6.8362 -> 6.84
        assert (first["net_amount"], first["tax_amount"], first["gross_amount"]) == (
            "35.98",
            "6.84",
            "42.82",
        )
        assert (second["unit_price"], second["net_amount"], second["tax_amount"]) == (
            "5.00",
            "5.00",
            "0.35",
        )
        assert [first["position"], second["position"]] == [1, 2]
        assert (order["total_net"], order["total_tax"], order["total_gross"]) == (
            "40.98",
            "7.19",
            "48.17",
        )
        assert await event_types(owner, order) == ["order.created"]

    async def test_currency_and_number_can_be_given(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(
            client, tenant_a.headers, customer, currency="usd", number="10248"
        )

        assert (order["currency"], order["number"]) == ("USD", "10248")

    async def test_a_number_taken_is_409_naming_the_field(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        await create_order(client, tenant_a.headers, customer, number="10248")

        response = await _post(
            client,
            tenant_a,
            {"customer_id": customer["id"], "number": "10248", "lines": [line()]},
        )

        assert response.status_code == 409
        assert _errors(response) == {"number": "duplicate"}

    async def test_unknown_fields_are_422_at_any_depth(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        response = await _post(
            client,
            tenant_a,
            {
                "customer_id": customer["id"],
                "colour": "red",
                "lines": [{**line(), "weight": 3}],
            },
        )

        assert response.status_code == 422
        assert _errors(response) == {
            "colour": "unknown_field",
            "lines.0.weight": "unknown_field",
        }

    async def test_without_a_customer_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await _post(client, tenant_a, {"lines": [line()]})

        assert response.status_code == 422
        assert _errors(response) == {"customer_id": "missing"}

    async def test_a_customer_of_another_tenant_is_422_not_found(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        theirs = await create_customer(client, tenant_b)

        response = await _post(
            client, tenant_a, {"customer_id": theirs["id"], "lines": [line()]}
        )

        assert response.status_code == 422
        assert _errors(response) == {"customer_id": "not_found"}

    async def test_the_same_idempotency_key_replays_the_first_order(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        body = {"customer_id": customer["id"], "lines": [line()]}
        headers = {**tenant_a.headers, "Idempotency-Key": "order-1"}

        first = await client.post(ORDERS, json=body, headers=headers)
        again = await client.post(ORDERS, json=body, headers=headers)
        listed = await client.get(ORDERS, headers=tenant_a.headers)

        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        assert len(listed.json()["items"]) == 1

    async def test_a_product_line_takes_the_products_name_and_list_price(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        product = await client.post(
            "/api/v1/products",
            json={"sku": "CHAI", "name": "Chai", "list_price": "18.00"},
            headers=tenant_a.headers,
        )
        assert product.status_code == 201, product.text

        order = await create_order(
            client,
            tenant_a.headers,
            customer,
            {"product_id": product.json()["id"], "quantity": "2"},
        )

        (only,) = order["lines"]
        assert only["product_id"] == product.json()["id"]
        assert (only["description"], only["unit_price"], only["net_amount"]) == (
            "Chai",
            "18.00",
            "36.00",
        )

    async def test_an_unknown_or_inactive_product_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        product = await client.post(
            "/api/v1/products",
            json={"sku": "OLD", "name": "Old", "list_price": "1", "active": False},
            headers=tenant_a.headers,
        )
        assert product.status_code == 201, product.text

        response = await _post(
            client,
            tenant_a,
            {
                "customer_id": customer["id"],
                "lines": [
                    {"product_id": product.json()["id"], "quantity": "1"},
                    {"product_id": customer["id"], "quantity": "1"},
                ],
            },
        )

        assert response.status_code == 422
        assert _errors(response) == {
            "lines.0.product_id": "inactive",
            "lines.1.product_id": "not_found",
            "lines.1.description": "required",
            "lines.1.unit_price": "required",
        }


class TestMoneyRule:
    async def test_three_at_ten_cents_is_exactly_thirty_cents(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(
            client, tenant_a.headers, customer, line("3", "0.10")
        )

        assert order["lines"][0]["net_amount"] == "0.30"
        assert order["total_gross"] == "0.30"

    async def test_json_numbers_are_read_as_exact_decimals(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        response = await client.post(
            ORDERS,
            content=(
                '{"customer_id": "' + customer["id"] + '", "lines": [{"description": '
                '"Chai", "quantity": 3, "unit_price": 0.1}]}'
            ),
            headers={**tenant_a.headers, "content-type": "application/json"},
        )

        assert response.status_code == 201, response.text
        assert response.json()["total_gross"] == "0.30"
        assert response.json()["lines"][0]["unit_price"] == "0.10"

    async def test_each_line_rounds_half_up_and_totals_add_the_rounded_lines(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        # 1 x 10.05 x 0.5 = 5.025 -> 5.03 (half-up; half-even would give 5.02).
        # Tax 0.10 x 25 % = 0.025 -> 0.03.
        half = line("1", "10.05", discount_percent="50")
        taxed = line("1", "0.10", tax_rate_percent="25")

        order = await create_order(
            client, tenant_a.headers, customer, half, half, taxed
        )

        assert [ln["net_amount"] for ln in order["lines"]] == ["5.03", "5.03", "0.10"]
        assert order["lines"][2]["tax_amount"] == "0.03"
        # The sum of the rounded lines, not the rounded sum (10.05 + 0.10).
        assert order["total_net"] == "10.16"
        assert order["total_gross"] == "10.19"

    async def test_yen_has_no_minor_unit(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        # 3 x 333 x 0.9 = 899.1 -> 899; tax 10 % = 89.9 -> 90.
        order = await create_order(
            client,
            tenant_a.headers,
            customer,
            line("3", "333", discount_percent="10", tax_rate_percent="10"),
            currency="JPY",
        )

        assert order["lines"][0]["unit_price"] == "333"
        assert (order["total_net"], order["total_tax"], order["total_gross"]) == (
            "899",
            "90",
            "989",
        )

    @pytest.mark.parametrize(
        ("currency", "price"), [("EUR", "0.105"), ("JPY", "1.5"), ("BHD", "1.0005")]
    )
    async def test_more_decimals_than_the_currency_has_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        currency: str,
        price: str,
    ) -> None:
        response = await _post(
            client,
            tenant_a,
            {
                "customer_id": customer["id"],
                "currency": currency,
                "lines": [line(), line(unit_price=price)],
            },
        )

        assert response.status_code == 422
        assert _errors(response) == {"lines.1.unit_price": "too_many_decimals"}

    async def test_trailing_zeros_are_not_extra_decimals(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(
            client, tenant_a.headers, customer, line("1", "100.000"), currency="JPY"
        )

        assert order["lines"][0]["unit_price"] == "100"

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"quantity": "-1"}, "lines.0.quantity"),
            ({"quantity": "0"}, "lines.0.quantity"),
            ({"quantity": "1.1234567"}, "lines.0.quantity"),
            ({"discount_percent": "100.01"}, "lines.0.discount_percent"),
            ({"discount_percent": "-5"}, "lines.0.discount_percent"),
            ({"unit_price": "-0.01"}, "lines.0.unit_price"),
            ({"unit_price": "NaN"}, "lines.0.unit_price"),
            ({"tax_rate_percent": "-1"}, "lines.0.tax_rate_percent"),
        ],
    )
    async def test_impossible_line_values_are_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        fields: dict[str, str],
        field: str,
    ) -> None:
        response = await _post(
            client,
            tenant_a,
            {"customer_id": customer["id"], "lines": [line(**fields)]},
        )

        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]

    async def test_a_full_discount_is_allowed_and_costs_nothing(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(
            client, tenant_a.headers, customer, line(discount_percent="100")
        )

        assert order["total_gross"] == "0.00"


class TestEdits:
    async def test_patch_replaces_lines_and_moves_the_etag(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)
        read = await client.get(f"{ORDERS}/{order['id']}", headers=tenant_a.headers)

        response = await client.patch(
            f"{ORDERS}/{order['id']}",
            json={"lines": [line("4", "2.50")], "number": "A-1"},
            headers={**tenant_a.headers, "If-Match": read.headers["ETag"]},
        )

        assert response.status_code == 200, response.text
        assert response.headers["ETag"] != read.headers["ETag"]
        assert response.json()["total_gross"] == "10.00"
        assert response.json()["number"] == "A-1"
        assert await event_types(owner, order) == ["order.created", "order.updated"]

    async def test_a_stale_if_match_is_412_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)
        stale = await client.get(f"{ORDERS}/{order['id']}", headers=tenant_a.headers)
        await client.patch(
            f"{ORDERS}/{order['id']}", json={"number": "B"}, headers=tenant_a.headers
        )

        response = await client.patch(
            f"{ORDERS}/{order['id']}",
            json={"number": "C"},
            headers={**tenant_a.headers, "If-Match": stale.headers["ETag"]},
        )

        assert response.status_code == 412
        assert (await read_order(client, tenant_a.headers, order))["number"] == "B"

    async def test_lines_are_added_changed_and_removed_one_by_one(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer, line("1", "1"))
        base = f"{ORDERS}/{order['id']}/lines"

        added = await client.post(base, json=line("2", "3"), headers=tenant_a.headers)
        assert added.status_code == 201, added.text
        new_line = added.json()["lines"][1]
        assert added.headers["Location"] == f"{base}/{new_line['id']}"
        assert added.json()["total_gross"] == "7.00"

        changed = await client.patch(
            f"{base}/{new_line['id']}",
            json={"discount_percent": "50"},
            headers={**tenant_a.headers, "If-Match": added.headers["ETag"]},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["total_gross"] == "4.00"
        one = await client.get(f"{base}/{new_line['id']}", headers=tenant_a.headers)
        assert one.json()["discount_percent"] == "50"

        first = order["lines"][0]["id"]
        removed = await client.delete(f"{base}/{first}", headers=tenant_a.headers)
        assert removed.status_code == 200, removed.text
        assert [ln["position"] for ln in removed.json()["lines"]] == [1]
        assert removed.json()["total_gross"] == "3.00"

    async def test_a_line_of_another_order_is_404(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        one = await create_order(client, tenant_a.headers, customer)
        other = await create_order(client, tenant_a.headers, customer)

        response = await client.patch(
            f"{ORDERS}/{one['id']}/lines/{other['lines'][0]['id']}",
            json={"quantity": "2"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 404

    async def test_patch_a_line_of_an_approved_order_is_409(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)
        approved = await step(client, tenant_a.headers, order, "submit")
        assert approved["status"] == "approved"
        line_path = f"{ORDERS}/{order['id']}/lines/{order['lines'][0]['id']}"

        response = await client.patch(
            line_path, json={"unit_price": "0.01"}, headers=tenant_a.headers
        )

        assert response.status_code == 409
        assert "approved" in response.json()["detail"]
        assert response.json()["extra"] == {"status": "approved"}
        unchanged = await read_order(client, tenant_a.headers, order)
        assert unchanged["total_gross"] == order["total_gross"]

    @pytest.mark.parametrize(
        "change",
        [
            {"lines": [{"description": "Free", "quantity": "1", "unit_price": "0"}]},
            {"number": "X"},
            {"currency": "USD"},
            {"custom": {}},
            "customer",
            "add_line",
            "delete_line",
        ],
    )
    @pytest.mark.parametrize("status", ["pending_approval", "approved", "cancelled"])
    async def test_content_changes_only_in_draft(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        status: str,
        change: dict[str, Any] | str,
    ) -> None:
        await create_rule(client, tenant_a, ["finance"], min_total_gross="1000")
        price = "1000" if status == "pending_approval" else "1"
        order = await create_order(client, tenant_a.headers, customer, line("1", price))
        after = await step(
            client,
            tenant_a.headers,
            order,
            "cancel" if status == "cancelled" else "submit",
        )
        assert after["status"] == status
        lines_path = f"{ORDERS}/{order['id']}/lines"

        if change == "add_line":
            response = await client.post(
                lines_path, json=line(), headers=tenant_a.headers
            )
        elif change == "delete_line":
            response = await client.delete(
                f"{lines_path}/{order['lines'][0]['id']}", headers=tenant_a.headers
            )
        else:
            body = change
            if change == "customer":
                other = await create_customer(client, tenant_a, name="Other")
                body = {"customer_id": other["id"]}
            response = await client.patch(
                f"{ORDERS}/{order['id']}", json=body, headers=tenant_a.headers
            )

        assert response.status_code == 409, response.text
        assert response.json()["extra"]["status"] == status
        assert status in response.json()["detail"]

    async def test_a_new_currency_must_fit_the_prices_already_there(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(
            client, tenant_a.headers, customer, line("3", "0.10")
        )

        response = await client.patch(
            f"{ORDERS}/{order['id']}",
            json={"currency": "JPY"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert _errors(response) == {"lines.0.unit_price": "too_many_decimals"}

    @pytest.mark.parametrize("field", ["customer_id", "currency", "lines", "number"])
    async def test_null_for_a_required_field_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        field: str,
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)

        response = await client.patch(
            f"{ORDERS}/{order['id']}", json={field: None}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert list(_errors(response)) == [field]

    async def test_the_owner_changes_while_open_but_not_once_completed(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        team: Any,
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)
        seller = team.users["seller"]
        await step(client, tenant_a.headers, order, "submit")

        moved = await client.patch(
            f"{ORDERS}/{order['id']}",
            json={"owner_id": seller["employee_id"]},
            headers=tenant_a.headers,
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["owner_id"] == seller["employee_id"]
        assert moved.json()["department_id"] == seller["department_id"]

        await step(client, tenant_a.headers, order, "start")
        await step(client, tenant_a.headers, order, "complete")
        refused = await client.patch(
            f"{ORDERS}/{order['id']}",
            json={"owner_id": tenant_a.admin_employee_id},
            headers=tenant_a.headers,
        )
        assert refused.status_code == 409
        assert refused.json()["extra"] == {"status": "completed"}


class TestCustomAttributes:
    async def test_values_are_checked_stored_and_filterable(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        await define(
            client, tenant_a, "order", key="priority", label="Priority", type="integer"
        )
        await create_order(client, tenant_a.headers, customer, custom={"priority": 1})
        high = await create_order(
            client, tenant_a.headers, customer, custom={"priority": 5}
        )

        bad = await _post(
            client,
            tenant_a,
            {
                "customer_id": customer["id"],
                "lines": [line()],
                "custom": {"priority": "x"},
            },
        )
        listed = await client.get(
            ORDERS, params={"custom.priority[gte]": "3"}, headers=tenant_a.headers
        )

        assert high["custom"] == {"priority": 5}
        assert bad.status_code == 422
        assert list(_errors(bad)) == ["custom.priority"]
        assert [o["id"] for o in listed.json()["items"]] == [high["id"]]


class TestLists:
    async def test_filters_by_status_customer_and_owner(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        other = await create_customer(client, tenant_a, name="Other")
        draft = await create_order(client, tenant_a.headers, customer)
        submitted = await create_order(client, tenant_a.headers, customer)
        await step(client, tenant_a.headers, submitted, "submit")
        elsewhere = await create_order(client, tenant_a.headers, other)

        async def ids(**params: str) -> set[str]:
            response = await client.get(ORDERS, params=params, headers=tenant_a.headers)
            assert response.status_code == 200, response.text
            return {o["id"] for o in response.json()["items"]}

        assert await ids(status="draft") == {draft["id"], elsewhere["id"]}
        assert await ids(**{"status[in]": "approved,rejected"}) == {submitted["id"]}
        assert await ids(customer_id=other["id"]) == {elsewhere["id"]}
        assert await ids(owner_id=tenant_a.admin_employee_id) == {
            draft["id"],
            submitted["id"],
            elsewhere["id"],
        }
        count = await client.get(
            f"{ORDERS}/count", params={"status": "draft"}, headers=tenant_a.headers
        )
        assert count.json() == {"count": 2}

    async def test_pages_by_cursor_in_the_requested_order(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        made = [
            await create_order(client, tenant_a.headers, customer, line("1", price))
            for price in ("3", "1", "2")
        ]

        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "sort": "-total_gross"}
            if cursor:
                params["cursor"] = cursor
            page = await client.get(ORDERS, params=params, headers=tenant_a.headers)
            seen += [o["total_gross"] for o in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break

        assert seen == ["3.00", "2.00", "1.00"]
        assert len(made) == 3

    @pytest.mark.parametrize(
        "params", [{"colour": "red"}, {"status": "shipped"}, {"sort": "lines"}]
    )
    async def test_an_unknown_filter_value_or_sort_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, params: dict[str, str]
    ) -> None:
        response = await client.get(ORDERS, params=params, headers=tenant_a.headers)

        assert response.status_code == 422
