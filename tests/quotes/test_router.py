from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.customers.conftest import create_customer, define
from tests.fixtures.api import TenantContext
from tests.products.conftest import PRODUCTS, create_product
from tests.quotes.conftest import (
    FAR_AHEAD,
    QUOTES,
    create_quote,
    line,
    read_revision,
    revision_path,
    sent_quote,
)


class TestCreate:
    async def test_creates_a_draft_first_revision_owned_by_the_caller(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)

        response = await client.post(
            QUOTES,
            json={
                "customer_id": customer["id"],
                "title": "Spring order",
                "valid_until": "2099-06-30",
                "lines": [
                    line(quantity="2", unit_price="12.50", tax_rate_percent="19")
                ],
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 201, response.text
        quote = response.json()
        assert response.headers["Location"] == f"{QUOTES}/{quote['id']}"
        assert response.headers["ETag"] == '"1"'
        assert quote["currency"] == "EUR"
        assert quote["owner_id"] == tenant_a.admin_employee_id
        assert quote["department_id"] == tenant_a.root_department_id
        assert (quote["state"], quote["latest_revision"]) == ("draft", 1)
        assert quote["accepted_revision"] is None
        revision = quote["revision"]
        assert (revision["number"], revision["state"]) == (1, "draft")
        assert revision["valid_until"] == "2099-06-30"
        [only] = revision["lines"]
        assert (only["net"], only["tax"], only["gross"]) == ("25.00", "4.75", "29.75")
        assert (
            revision["net_total"],
            revision["tax_total"],
            revision["gross_total"],
        ) == (
            "25.00",
            "4.75",
            "29.75",
        )

    async def test_a_product_line_takes_name_unit_and_list_price(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(
            client, tenant_a, name="Chai", unit="box", list_price="18.00"
        )

        quote = await create_quote(
            client,
            tenant_a,
            lines=[{"product_id": product["id"], "quantity": "3"}],
        )

        [only] = quote["revision"]["lines"]
        assert only["product_id"] == product["id"]
        assert (only["description"], only["unit"], only["unit_price"]) == (
            "Chai",
            "box",
            "18.00",
        )
        assert only["net"] == "54.00"

    async def test_explicit_values_win_over_the_products(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a, list_price="18.00")

        quote = await create_quote(
            client,
            tenant_a,
            lines=[
                {
                    "product_id": product["id"],
                    "description": "Chai, special blend",
                    "quantity": "1",
                    "unit_price": "16.00",
                }
            ],
        )

        [only] = quote["revision"]["lines"]
        assert (only["description"], only["unit_price"]) == (
            "Chai, special blend",
            "16.00",
        )

    async def test_a_product_priced_in_another_currency_needs_a_unit_price(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a, currency="USD")
        customer = await create_customer(client, tenant_a)

        response = await client.post(
            QUOTES,
            json={
                "customer_id": customer["id"],
                "valid_until": FAR_AHEAD,
                "lines": [{"product_id": product["id"], "quantity": "1"}],
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert (error["field"], error["code"]) == ("lines.0.unit_price", "required")

    async def test_an_inactive_product_cannot_go_on_a_new_line(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a, active=False)
        customer = await create_customer(client, tenant_a)

        response = await client.post(
            QUOTES,
            json={
                "customer_id": customer["id"],
                "valid_until": FAR_AHEAD,
                "lines": [{"product_id": product["id"], "quantity": "1"}],
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "inactive"

    @pytest.mark.parametrize(
        ("change", "field", "code"),
        [
            ({"colour": "red"}, "colour", "unknown_field"),
            ({"lines": [line(colour="red")]}, "lines.0.colour", "unknown_field"),
            (
                {"lines": [{"quantity": "1", "unit_price": "1"}]},
                "lines.0",
                "value_error",
            ),
            (
                {"lines": [{"description": "x", "quantity": "1"}]},
                "lines.0.unit_price",
                "required",
            ),
            ({"valid_until": "03-10"}, "valid_until", "date_from_datetime_parsing"),
            ({"valid_until": None}, "valid_until", "date_type"),
            ({"currency": "ABC"}, "currency", "value_error"),
            (
                {"customer_id": "01900000-0000-7000-8000-000000000000"},
                "customer_id",
                "not_found",
            ),
            (
                {
                    "lines": [
                        {
                            "product_id": "01900000-0000-7000-8000-000000000000",
                            "quantity": 1,
                        }
                    ]
                },
                "lines.0.product_id",
                "not_found",
            ),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        change: dict[str, Any],
        field: str,
        code: str,
    ) -> None:
        customer = await create_customer(client, tenant_a)
        body = {"customer_id": customer["id"], "valid_until": FAR_AHEAD, **change}

        response = await client.post(QUOTES, json=body, headers=tenant_a.headers)

        assert response.status_code == 422, response.text
        errors = {(e["field"], e["code"]) for e in response.json()["errors"]}
        assert (field, code) in errors

    async def test_a_failed_create_leaves_nothing_behind(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)

        await client.post(
            QUOTES,
            json={
                "customer_id": customer["id"],
                "valid_until": FAR_AHEAD,
                "lines": [line(), line(unit_price="1.001")],
            },
            headers=tenant_a.headers,
        )
        listed = await client.get(QUOTES, headers=tenant_a.headers)

        assert listed.json()["items"] == []

    async def test_custom_attributes_are_validated(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(
            client, tenant_a, "quote", key="channel", label="Channel", type="text"
        )

        quote = await create_quote(client, tenant_a, custom={"channel": "web"})
        customer = await create_customer(client, tenant_a)
        wrong = await client.post(
            QUOTES,
            json={
                "customer_id": customer["id"],
                "valid_until": FAR_AHEAD,
                "custom": {"nope": 1},
            },
            headers=tenant_a.headers,
        )

        assert quote["custom"] == {"channel": "web"}
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["field"] == "custom.nope"

    async def test_idempotency_key_replays_the_create(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)
        body = {"customer_id": customer["id"], "valid_until": FAR_AHEAD}
        headers = {**tenant_a.headers, "Idempotency-Key": "quote-1"}

        first = await client.post(QUOTES, json=body, headers=headers)
        second = await client.post(QUOTES, json=body, headers=headers)

        assert second.headers["Idempotent-Replayed"] == "true"
        assert second.json()["id"] == first.json()["id"]


class TestReadAndList:
    async def test_reads_a_quote_with_its_etag(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)

        response = await client.get(f"{QUOTES}/{quote['id']}", headers=tenant_a.headers)

        assert response.status_code == 200
        assert response.headers["ETag"] == '"1"'
        assert response.json() == quote

    async def test_lists_filter_by_customer_state_and_total(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        alfreds = await create_customer(client, tenant_a, name="Alfreds")
        berglunds = await create_customer(client, tenant_a, name="Berglunds")
        small = await create_quote(client, tenant_a, customer=alfreds)
        big = await sent_quote(
            client, tenant_a, customer=berglunds, lines=[line(unit_price="500.00")]
        )

        async def ids(**params: Any) -> list[str]:
            response = await client.get(QUOTES, params=params, headers=tenant_a.headers)
            assert response.status_code == 200, response.text
            return [q["id"] for q in response.json()["items"]]

        assert await ids(customer_id=alfreds["id"]) == [small["id"]]
        assert await ids(state="sent") == [big["id"]]
        assert await ids(**{"state[in]": "draft,sent"}) == [small["id"], big["id"]]
        assert await ids(**{"gross_total[gte]": "100"}) == [big["id"]]
        assert await ids(sort="-gross_total") == [big["id"], small["id"]]
        count = await client.get(
            f"{QUOTES}/count", params={"state": "draft"}, headers=tenant_a.headers
        )
        assert count.json() == {"count": 1}

    async def test_a_state_that_does_not_exist_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            QUOTES, params={"state": "won"}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "state"

    async def test_pages_by_cursor(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)
        made = [
            await create_quote(client, tenant_a, customer=customer) for _ in range(3)
        ]

        first = await client.get(QUOTES, params={"limit": 2}, headers=tenant_a.headers)
        rest = await client.get(
            QUOTES,
            params={"limit": 2, "cursor": first.json()["next_cursor"]},
            headers=tenant_a.headers,
        )

        seen = [q["id"] for q in first.json()["items"] + rest.json()["items"]]
        assert seen == [q["id"] for q in made]
        assert rest.json()["next_cursor"] is None

    async def test_missing_quote_and_revision_are_404(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)

        missing = await client.get(
            f"{QUOTES}/01900000-0000-7000-8000-000000000000", headers=tenant_a.headers
        )
        no_revision = await client.get(
            revision_path(quote, 2), headers=tenant_a.headers
        )

        assert missing.status_code == no_revision.status_code == 404


class TestUpdateAndDelete:
    async def test_changes_title_and_custom_with_if_match(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)
        path = f"{QUOTES}/{quote['id']}"

        changed = await client.patch(
            path,
            json={"title": "Renamed"},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )
        stale = await client.patch(
            path,
            json={"title": "Again"},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert changed.status_code == 200
        assert changed.json()["title"] == "Renamed"
        assert changed.headers["ETag"] == '"2"'
        assert stale.status_code == 412

    @pytest.mark.parametrize("field", ["owner_id", "department_id"])
    async def test_null_for_an_owner_or_department_is_422_naming_it(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, field: str
    ) -> None:
        quote = await create_quote(client, tenant_a)

        response = await client.patch(
            f"{QUOTES}/{quote['id']}", json={field: None}, headers=tenant_a.headers
        )

        assert response.status_code == 422, response.text
        assert response.json()["type"] == "urn:crm-api:problem:validation-error"
        assert response.json()["errors"][0]["field"] == field
        assert response.json()["errors"][0]["code"] == "required"

    async def test_customer_and_currency_are_fixed(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)

        response = await client.patch(
            f"{QUOTES}/{quote['id']}",
            json={"currency": "USD"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "unknown_field"

    async def test_a_draft_quote_can_be_deleted(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)
        path = f"{QUOTES}/{quote['id']}"

        deleted = await client.delete(path, headers=tenant_a.headers)
        gone = await client.get(path, headers=tenant_a.headers)

        assert deleted.status_code == 204
        assert gone.status_code == 404

    async def test_a_sent_quote_cannot_be_deleted(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)

        response = await client.delete(
            f"{QUOTES}/{quote['id']}", headers=tenant_a.headers
        )

        assert response.status_code == 409
        assert response.json()["extra"]["state"] == "sent"


class TestProducts:
    async def test_a_quoted_product_cannot_be_deleted_but_can_be_deactivated(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a)
        await create_quote(
            client, tenant_a, lines=[{"product_id": product["id"], "quantity": "1"}]
        )
        path = f"{PRODUCTS}/{product['id']}"

        refused = await client.delete(path, headers=tenant_a.headers)
        deactivated = await client.patch(
            path, json={"active": False}, headers=tenant_a.headers
        )

        assert refused.status_code == 409
        assert refused.json()["extra"]["quote_lines"] == 1
        assert deactivated.status_code == 200

    async def test_a_line_keeps_a_product_deactivated_since(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a)
        quote = await create_quote(
            client, tenant_a, lines=[{"product_id": product["id"], "quantity": "1"}]
        )
        await client.patch(
            f"{PRODUCTS}/{product['id']}",
            json={"active": False},
            headers=tenant_a.headers,
        )

        response = await client.patch(
            revision_path(quote),
            json={"lines": [{"product_id": product["id"], "quantity": "2"}]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["lines"][0]["quantity"] == "2"

    async def test_a_price_change_leaves_quoted_lines_alone(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        product = await create_product(client, tenant_a, list_price="18.00")
        quote = await create_quote(
            client, tenant_a, lines=[{"product_id": product["id"], "quantity": "1"}]
        )

        await client.patch(
            f"{PRODUCTS}/{product['id']}",
            json={"list_price": "20.00"},
            headers=tenant_a.headers,
        )

        revision = await read_revision(client, tenant_a, quote)
        assert revision["lines"][0]["unit_price"] == "18.00"
