"""Notices through the API: listed within the caller's order scope plus their own as
assignee, filtered, acknowledged once; and the tenant's reminder policy."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from crm_api.plans.sweep import sweep
from tests.fixtures.api import TenantContext, add_user
from tests.orders.conftest import step
from tests.plans.conftest import (
    NOTICES,
    POLICY,
    Clock,
    approved_order,
    money_step,
    put_plan,
)


class TestPolicy:
    async def test_defaults_apply_until_the_tenant_sets_its_own(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(POLICY, headers=tenant_a.headers)

        assert response.status_code == 200
        assert response.headers["ETag"] == '"0"'
        assert response.json() == {
            "reminder_lead_days": 3,
            "dunning_days": [1, 7, 14],
            "is_default": True,
            "updated_at": None,
        }

    async def test_put_with_the_etag_sets_it_and_a_stale_etag_is_412(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        body = {"reminder_lead_days": 5, "dunning_days": [3, 10, 30, 60]}

        first = await client.put(
            POLICY, json=body, headers={**tenant_a.headers, "If-Match": '"0"'}
        )
        second = await client.put(
            POLICY,
            json={**body, "reminder_lead_days": 1},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )
        stale = await client.put(
            POLICY, json=body, headers={**tenant_a.headers, "If-Match": '"1"'}
        )

        assert first.status_code == 200, first.text
        assert first.headers["ETag"] == '"1"'
        assert first.json()["is_default"] is False
        assert second.json()["reminder_lead_days"] == 1
        assert second.headers["ETag"] == '"2"'
        assert stale.status_code == 412
        read = await client.get(POLICY, headers=tenant_a.headers)
        assert read.json()["dunning_days"] == [3, 10, 30, 60]
        events = await owner.fetchval(
            "SELECT count(*) FROM outbox_events "
            "WHERE type = 'payment_reminder_policy.updated'"
        )
        assert events == 2

    @pytest.mark.parametrize(
        ("body", "field", "code"),
        [
            ({"reminder_lead_days": 3, "dunning_days": [7, 1]}, "dunning_days", None),
            ({"reminder_lead_days": 3, "dunning_days": [1, 1]}, "dunning_days", None),
            (
                {"reminder_lead_days": -1, "dunning_days": []},
                "reminder_lead_days",
                None,
            ),
            (
                {"reminder_lead_days": 400, "dunning_days": []},
                "reminder_lead_days",
                None,
            ),
            ({"reminder_lead_days": 3, "dunning_days": [0]}, "dunning_days.0", None),
            ({"reminder_lead_days": 3}, "dunning_days", "missing"),
            (
                {"reminder_lead_days": 3, "dunning_days": [], "sms": True},
                "sms",
                "unknown_field",
            ),
        ],
    )
    async def test_bad_policies_are_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        body: dict[str, Any],
        field: str,
        code: str | None,
    ) -> None:
        response = await client.put(POLICY, json=body, headers=tenant_a.headers)

        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error["field"] == field
        if code is not None:
            assert error["code"] == code

    async def test_everyone_reads_the_policy_but_only_tenant_admins_set_it(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, seller = await add_user(client, tenant_a, roles=["sales"])

        read = await client.get(POLICY, headers=seller)
        write = await client.put(
            POLICY,
            json={"reminder_lead_days": 1, "dunning_days": []},
            headers=seller,
        )

        assert read.status_code == 200
        assert write.status_code == 403


class TestNotices:
    @pytest.fixture
    async def people(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        collect: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
    ) -> dict[str, Any]:
        """A seller's order whose collection steps are the clerk's: one due in two
        days (a reminder) and one 8 days late (dunning 1 and 2); and an order of the
        admin's with one late step of its own (dunning 1 and 2)."""
        _seller, seller_headers = await add_user(client, tenant_a, roles=["sales"])
        clerk, clerk_headers = await add_user(client, tenant_a, roles=["sales"])
        own_customer = await client.post(
            "/api/v1/customers",
            json={"name": "Seller's customer"},
            params={"allow_duplicate": "true"},
            headers=seller_headers,
        )
        sellers = await approved_order(client, seller_headers, own_customer.json())
        await put_plan(
            client,
            tenant_a.headers,
            sellers,
            money_step(collect, "2026-01-17", "60", assignee_id=clerk["employee_id"]),
            money_step(collect, "2026-01-07", "40", assignee_id=clerk["employee_id"]),
        )
        await step(client, tenant_a.headers, sellers, "start")
        admins = await approved_order(
            client,
            tenant_a.headers,
            (
                await client.post(
                    "/api/v1/customers",
                    json={"name": "Admin's customer"},
                    params={"allow_duplicate": "true"},
                    headers=tenant_a.headers,
                )
            ).json(),
        )
        await put_plan(
            client, tenant_a.headers, admins, money_step(collect, "2026-01-07", "100")
        )
        await step(client, tenant_a.headers, admins, "start")
        result = await sweep(ctx)
        assert (result["reminders"], result["dunning"]) == (1, 4)
        return {
            "seller": seller_headers,
            "clerk": clerk_headers,
            "clerk_employee": clerk["employee_id"],
            "sellers_order": sellers,
            "admins_order": admins,
        }

    async def test_lists_newest_first_within_scope_and_filters(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        people: dict[str, Any],
    ) -> None:
        headers = tenant_a.headers

        everything = await client.get(NOTICES, headers=headers)
        reminders = await client.get(
            NOTICES, params={"kind": "reminder"}, headers=headers
        )
        of_order = await client.get(
            NOTICES, params={"order_id": people["admins_order"]["id"]}, headers=headers
        )
        for_clerk = await client.get(
            NOTICES, params={"assignee_id": people["clerk_employee"]}, headers=headers
        )
        first = await client.get(NOTICES, params={"limit": 3}, headers=headers)
        rest = await client.get(
            NOTICES,
            params={"limit": 3, "cursor": first.json()["next_cursor"]},
            headers=headers,
        )

        items = everything.json()["items"]
        assert len(items) == 5
        assert [n["id"] for n in items] == sorted(
            (n["id"] for n in items), reverse=True
        )
        assert [n["kind"] for n in reminders.json()["items"]] == ["reminder"]
        assert len(of_order.json()["items"]) == 2
        assert len(for_clerk.json()["items"]) == 3
        paged = first.json()["items"] + rest.json()["items"]
        assert [n["id"] for n in paged] == [n["id"] for n in items]

    async def test_the_assignee_sees_their_notices_wherever_the_order_sits(
        self,
        client: httpx.AsyncClient,
        people: dict[str, Any],
    ) -> None:
        # The clerk (sales, own scope) cannot read the seller's order, but the
        # notices on it are addressed to them.
        mine = await client.get(
            NOTICES, params={"mine": "true"}, headers=people["clerk"]
        )
        listed = await client.get(NOTICES, headers=people["clerk"])
        order = await client.get(
            f"/api/v1/orders/{people['sellers_order']['id']}", headers=people["clerk"]
        )

        assert order.status_code == 404
        assert len(mine.json()["items"]) == 3
        assert {n["assignee_id"] for n in mine.json()["items"]} == {
            people["clerk_employee"]
        }
        assert len(listed.json()["items"]) == 3

    async def test_an_owner_sees_the_notices_on_their_orders_but_not_others(
        self,
        client: httpx.AsyncClient,
        people: dict[str, Any],
    ) -> None:
        listed = await client.get(NOTICES, headers=people["seller"])
        mine = await client.get(
            NOTICES, params={"mine": "true"}, headers=people["seller"]
        )
        admins = await client.get(
            NOTICES,
            params={"order_id": people["admins_order"]["id"]},
            headers=people["seller"],
        )

        assert {n["order_id"] for n in listed.json()["items"]} == {
            people["sellers_order"]["id"]
        }
        assert len(listed.json()["items"]) == 3
        assert mine.json()["items"] == []
        assert admins.json()["items"] == []

    async def test_one_notice_reads_within_scope_and_is_404_outside(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        people: dict[str, Any],
    ) -> None:
        admins = await client.get(
            NOTICES,
            params={"order_id": people["admins_order"]["id"]},
            headers=tenant_a.headers,
        )
        notice_id = admins.json()["items"][0]["id"]

        read = await client.get(f"{NOTICES}/{notice_id}", headers=tenant_a.headers)
        hidden = await client.get(f"{NOTICES}/{notice_id}", headers=people["seller"])

        assert read.status_code == 200
        assert read.json()["id"] == notice_id
        assert hidden.status_code == 404

    async def test_the_assignee_acknowledges_once(
        self,
        client: httpx.AsyncClient,
        people: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        mine = await client.get(
            NOTICES, params={"mine": "true"}, headers=people["clerk"]
        )
        notice_id = mine.json()["items"][0]["id"]
        path = f"{NOTICES}/{notice_id}/acknowledge"

        first = await client.post(path, headers=people["clerk"])
        again = await client.post(path, headers=people["clerk"])
        outsider = await client.post(path, headers=people["seller"])

        assert first.status_code == 200, first.text
        assert first.json()["acknowledged_at"] is not None
        assert first.json()["acknowledged_by"] is not None
        assert again.status_code == 409
        assert again.json()["extra"]["acknowledged_at"] is not None
        # The seller reaches the order (it is theirs) with orders:write: they may
        # acknowledge too, but this one is taken.
        assert outsider.status_code == 409
        unacknowledged = await client.get(
            NOTICES,
            params={"mine": "true", "acknowledged": "false"},
            headers=people["clerk"],
        )
        assert len(unacknowledged.json()["items"]) == 2
        assert (
            await owner.fetchval(
                "SELECT count(*) FROM outbox_events "
                "WHERE type = 'payment_notice.acknowledged'"
            )
            == 1
        )

    async def test_someone_without_reach_cannot_acknowledge(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        people: dict[str, Any],
    ) -> None:
        admins = await client.get(
            NOTICES,
            params={"order_id": people["admins_order"]["id"]},
            headers=tenant_a.headers,
        )
        notice_id = admins.json()["items"][0]["id"]

        response = await client.post(
            f"{NOTICES}/{notice_id}/acknowledge", headers=people["clerk"]
        )

        assert response.status_code == 404

    async def test_a_bad_filter_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            NOTICES, params={"kind": "letter"}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "kind"
