"""Type changes on entities whose values the typed index follows (customers, contacts).

The index trigger runs while a conversion rewrites values, before the definition
changes: it must cope with values of the new type under the old one, and the index
must be right once the change is done.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests.customers.conftest import create_customer, define
from tests.fixtures.api import TenantContext


async def _change(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    key: str,
    body: dict[str, Any],
    entity: str = "customer",
) -> httpx.Response:
    return await client.patch(
        f"/api/v1/custom-attributes/{entity}/{key}", json=body, headers=ctx.headers
    )


async def _customer_values(
    client: httpx.AsyncClient, ctx: TenantContext, key: str
) -> list[Any]:
    listed = await client.get(
        "/api/v1/customers", params={"sort": "name"}, headers=ctx.headers
    )
    assert listed.status_code == 200, listed.text
    return [c["custom"].get(key) for c in listed.json()["items"]]


async def _index(owner: asyncpg.Connection, key: str) -> list[tuple[Any, ...]]:
    rows = await owner.fetch(
        "SELECT num, dt, ts FROM custom_value_index WHERE key = $1 "
        "ORDER BY num, dt, ts",
        key,
    )
    return [tuple(row) for row in rows]


class TestSetWhileTheOldTypeIsIndexed:
    async def test_integer_to_select_with_set_replaces_the_numbers(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        await define(client, tenant_a, key="score", label="Score", type="integer")
        await create_customer(client, tenant_a, name="A", custom={"score": 1})
        await create_customer(client, tenant_a, name="B", custom={"score": 2})

        response = await _change(
            client,
            tenant_a,
            "score",
            {
                "type": "select",
                "options": ["low", "high"],
                "conversion": {"on_incompatible": "set", "value": "low"},
            },
        )

        assert response.status_code == 200, response.text
        assert await _customer_values(client, tenant_a, "score") == ["low", "low"]
        assert await _index(owner, "score") == []

    async def test_date_to_integer_with_set_indexes_the_new_number(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        await define(client, tenant_a, key="since", label="Since", type="date")
        await create_customer(
            client, tenant_a, name="A", custom={"since": "2024-05-01"}
        )

        response = await _change(
            client,
            tenant_a,
            "since",
            {"type": "integer", "conversion": {"on_incompatible": "set", "value": 5}},
        )
        filtered = await client.get(
            "/api/v1/customers",
            params={"custom.since[gte]": "5", "sort": "custom.since"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 200, response.text
        assert await _customer_values(client, tenant_a, "since") == [5]
        assert [(str(num), dt, ts) for num, dt, ts in await _index(owner, "since")] == [
            ("5", None, None)
        ]
        assert [c["name"] for c in filtered.json()["items"]] == ["A"]

    async def test_date_to_email_with_set_replaces_the_dates(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        await define(client, tenant_a, key="since", label="Since", type="date")
        await create_customer(
            client, tenant_a, name="A", custom={"since": "2024-05-01"}
        )

        response = await _change(
            client,
            tenant_a,
            "since",
            {
                "type": "email",
                "conversion": {"on_incompatible": "set", "value": "Ada@Example.com"},
            },
        )

        assert response.status_code == 200, response.text
        assert await _customer_values(client, tenant_a, "since") == ["ada@example.com"]
        assert await _index(owner, "since") == []

    async def test_date_to_select_with_a_non_calendar_option_as_the_set_value(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        # Looks like a date to a pattern, but casting it would fail.
        await define(client, tenant_a, key="since", label="Since", type="date")
        await create_customer(
            client, tenant_a, name="A", custom={"since": "2024-05-01"}
        )

        response = await _change(
            client,
            tenant_a,
            "since",
            {
                "type": "select",
                "options": ["2025-02-30"],
                "conversion": {"on_incompatible": "set", "value": "2025-02-30"},
            },
        )

        assert response.status_code == 200, response.text
        assert await _customer_values(client, tenant_a, "since") == ["2025-02-30"]

    async def test_integer_to_date_with_a_new_default_and_set(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        await define(
            client, tenant_a, key="score", label="Score", type="integer", default=3
        )
        await create_customer(client, tenant_a, name="A", custom={"score": 7})

        response = await _change(
            client,
            tenant_a,
            "score",
            {
                "type": "date",
                "default": "2025-01-01",
                "conversion": {"on_incompatible": "set", "value": "2025-06-30"},
            },
        )

        assert response.status_code == 200, response.text
        assert response.json()["default"] == "2025-01-01"
        assert await _customer_values(client, tenant_a, "score") == ["2025-06-30"]
        assert [str(dt) for _, dt, _ in await _index(owner, "score")] == ["2025-06-30"]

    async def test_contact_integer_to_select_with_set(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        await define(
            client, tenant_a, "contact", key="score", label="Score", type="integer"
        )
        customer = await create_customer(client, tenant_a, name="A")
        contacts = f"/api/v1/customers/{customer['id']}/contacts"
        for name, score in (("Ada", 1), ("Bob", 2)):
            created = await client.post(
                contacts,
                json={"name": name, "custom": {"score": score}},
                headers=tenant_a.headers,
            )
            assert created.status_code == 201, created.text

        response = await _change(
            client,
            tenant_a,
            "score",
            {
                "type": "select",
                "options": ["low", "high"],
                "conversion": {"on_incompatible": "set", "value": "low"},
            },
            entity="contact",
        )
        listed = await client.get(contacts, headers=tenant_a.headers)

        assert response.status_code == 200, response.text
        assert [c["custom"] for c in listed.json()["items"]] == [
            {"score": "low"},
            {"score": "low"},
        ]
        assert await _index(owner, "score") == []


class TestDateTimeRange:
    @pytest.mark.parametrize(
        "edge", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-12:00"]
    )
    async def test_text_outside_the_utc_years_is_refused_like_a_direct_write(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, edge: str
    ) -> None:
        await define(client, tenant_a, key="seen", label="Seen", type="datetime")
        direct = await client.post(
            "/api/v1/customers",
            json={"name": "Direct", "custom": {"seen": edge}},
            headers=tenant_a.headers,
            params={"allow_duplicate": "true"},
        )
        await define(client, tenant_a, key="noted", label="Noted", type="text")
        await create_customer(client, tenant_a, name="A", custom={"noted": edge})
        await create_customer(
            client, tenant_a, name="B", custom={"noted": "2025-01-01T10:00:00+02:00"}
        )

        refused = await _change(client, tenant_a, "noted", {"type": "datetime"})
        cleared = await _change(
            client,
            tenant_a,
            "noted",
            {"type": "datetime", "conversion": {"on_incompatible": "clear"}},
        )
        sorted_list = await client.get(
            "/api/v1/customers",
            params={"sort": "-custom.noted"},
            headers=tenant_a.headers,
        )

        assert direct.status_code == 422
        assert refused.status_code == 409
        assert refused.json()["extra"] == {"affected_records": 1}
        assert cleared.status_code == 200, cleared.text
        assert sorted_list.status_code == 200, sorted_list.text
        assert [c["custom"].get("noted") for c in sorted_list.json()["items"]] == [
            "2025-01-01T08:00:00Z",
            None,
        ]
