"""Action types: the tenant's kinds of plan step, with ETags, unique names and a delete
that refuses while plans use the type."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from tests.fixtures.api import TenantContext, add_user
from tests.plans.conftest import (
    ACTION_TYPES,
    approved_order,
    create_action_type,
    money_step,
    put_plan,
)


class TestCreate:
    async def test_creates_with_defaults_etag_and_location(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            ACTION_TYPES, json={"name": "Install"}, headers=tenant_a.headers
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["direction"] == "none"
        assert body["default_offset_days"] == 0
        assert body["active"] is True
        assert response.headers["ETag"] == '"1"'
        assert response.headers["Location"] == f"{ACTION_TYPES}/{body['id']}"

    async def test_a_name_taken_in_another_case_is_conflict(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_action_type(client, tenant_a.headers, "Collect payment", "in")

        response = await client.post(
            ACTION_TYPES, json={"name": "COLLECT PAYMENT"}, headers=tenant_a.headers
        )

        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "name"

    async def test_the_same_name_in_another_tenant_is_fine(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        await create_action_type(client, tenant_a.headers, "Collect payment", "in")

        again = await create_action_type(client, tenant_b.headers, "Collect payment")

        assert again["name"] == "Collect payment"

    async def test_unknown_direction_offset_out_of_range_and_unknown_fields_are_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            ACTION_TYPES,
            json={
                "name": "X",
                "direction": "sideways",
                "default_offset_days": -1,
                "colour": "red",
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        fields = {e["field"]: e["code"] for e in response.json()["errors"]}
        assert fields["colour"] == "unknown_field"
        assert "direction" in fields
        assert "default_offset_days" in fields

    async def test_replays_the_first_answer_for_the_same_idempotency_key(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        headers = {**tenant_a.headers, "Idempotency-Key": "type-1"}

        first = await client.post(ACTION_TYPES, json={"name": "Ship"}, headers=headers)
        again = await client.post(ACTION_TYPES, json={"name": "Ship"}, headers=headers)

        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]

    async def test_a_salesperson_reads_but_does_not_define_types(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_action_type(client, tenant_a.headers, "Ship")
        _, seller = await add_user(client, tenant_a, roles=["sales"])

        listed = await client.get(ACTION_TYPES, headers=seller)
        created = await client.post(ACTION_TYPES, json={"name": "X"}, headers=seller)

        assert listed.status_code == 200
        assert [t["name"] for t in listed.json()["items"]] == ["Ship"]
        assert created.status_code == 403


class TestReadAndList:
    async def test_lists_page_by_cursor_and_filter_by_active_and_direction(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        headers = tenant_a.headers
        collect = await create_action_type(client, headers, "Collect", "in")
        await create_action_type(client, headers, "Refund", "out")
        await create_action_type(client, headers, "Old", active=False)

        first = await client.get(ACTION_TYPES, params={"limit": 2}, headers=headers)
        second = await client.get(
            ACTION_TYPES,
            params={"limit": 2, "cursor": first.json()["next_cursor"]},
            headers=headers,
        )
        active = await client.get(
            ACTION_TYPES, params={"active": "false"}, headers=headers
        )
        money_in = await client.get(
            ACTION_TYPES, params={"direction": "in"}, headers=headers
        )

        names = [t["name"] for t in first.json()["items"] + second.json()["items"]]
        assert names == ["Collect", "Refund", "Old"]
        assert second.json()["next_cursor"] is None
        assert [t["name"] for t in active.json()["items"]] == ["Old"]
        assert [t["id"] for t in money_in.json()["items"]] == [collect["id"]]

    async def test_an_unknown_id_is_404(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            f"{ACTION_TYPES}/01a23c93-9d43-7c0d-9d1e-a9ba76279840",
            headers=tenant_a.headers,
        )

        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


class TestUpdate:
    async def test_patch_with_the_current_etag_changes_and_moves_the_etag(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await create_action_type(client, tenant_a.headers, "Ship")
        path = f"{ACTION_TYPES}/{created['id']}"

        response = await client.patch(
            path,
            json={"default_offset_days": 30, "active": False},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 200, response.text
        assert response.json()["default_offset_days"] == 30
        assert response.json()["active"] is False
        assert response.headers["ETag"] == '"2"'

    async def test_patch_with_a_stale_etag_is_412_and_changes_nothing(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await create_action_type(client, tenant_a.headers, "Ship")
        path = f"{ACTION_TYPES}/{created['id']}"
        await client.patch(path, json={"name": "Ship out"}, headers=tenant_a.headers)

        stale = await client.patch(
            path,
            json={"name": "Deliver"},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert stale.status_code == 412
        current = await client.get(path, headers=tenant_a.headers)
        assert current.json()["name"] == "Ship out"
        assert current.headers["ETag"] == '"2"'

    async def test_null_for_a_required_field_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await create_action_type(client, tenant_a.headers, "Ship")

        response = await client.patch(
            f"{ACTION_TYPES}/{created['id']}",
            json={"name": None},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "name"

    async def test_planned_steps_keep_the_name_and_direction_they_were_planned_with(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)
        plan = await put_plan(
            client,
            tenant_a.headers,
            order,
            money_step(collect, "2026-02-01", "100.00"),
        )

        await client.patch(
            f"{ACTION_TYPES}/{collect['id']}",
            json={"name": "Invoice", "direction": "none"},
            headers=tenant_a.headers,
        )

        kept = await client.get(
            f"/api/v1/orders/{order['id']}/plan", headers=tenant_a.headers
        )
        assert kept.json()["steps"][0]["name"] == "Collect payment"
        assert kept.json()["steps"][0]["direction"] == "in"
        assert kept.json()["steps"][0]["id"] == plan["steps"][0]["id"]


class TestDelete:
    async def test_an_unused_type_is_deleted_with_its_event(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        created = await create_action_type(client, tenant_a.headers, "Ship")
        path = f"{ACTION_TYPES}/{created['id']}"

        deleted = await client.delete(path, headers=tenant_a.headers)

        assert deleted.status_code == 204
        assert (await client.get(path, headers=tenant_a.headers)).status_code == 404
        events = await owner.fetch(
            "SELECT type FROM outbox_events WHERE type LIKE 'action_type.%' ORDER BY id"
        )
        assert [e["type"] for e in events] == [
            "action_type.created",
            "action_type.deleted",
        ]

    async def test_a_type_in_a_plan_is_409_suggesting_to_deactivate(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)
        await put_plan(
            client, tenant_a.headers, order, money_step(collect, "2026-02-01", "100")
        )

        response = await client.delete(
            f"{ACTION_TYPES}/{collect['id']}", headers=tenant_a.headers
        )

        assert response.status_code == 409
        assert response.json()["extra"] == {
            "plan_steps": 1,
            "suggestion": "deactivate",
        }
