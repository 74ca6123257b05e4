"""An approved order's plan: made, replaced and generated only while the order is
approved, its collection steps adding up to the order's total, and every bad input a
clear 422 (or 409 for the wrong state)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext, add_user
from tests.orders.conftest import create_order, event_types, line, step
from tests.plans.conftest import (
    Clock,
    approved_order,
    create_action_type,
    money_step,
    plan_path,
    put_plan,
    read_plan,
)


class TestReplace:
    async def test_an_approved_order_gets_a_plan_with_pending_steps_and_figures(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        ship: dict[str, Any],
        owner: asyncpg.Connection,
        clock: Clock,
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer, "250.00")

        response = await client.put(
            plan_path(order),
            json={
                "steps": [
                    money_step(collect, "2026-02-01", "100.00"),
                    money_step(ship, "2026-02-10", None, note="by sea"),
                    money_step(collect, "2026-03-01", "150"),
                ]
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == '"1"'
        plan = response.json()
        assert [s["position"] for s in plan["steps"]] == [1, 2, 3]
        assert [s["status"] for s in plan["steps"]] == ["pending"] * 3
        assert [s["amount"] for s in plan["steps"]] == ["100.00", None, "150.00"]
        assert plan["steps"][1]["note"] == "by sea"
        assert {s["assignee_id"] for s in plan["steps"]} == {order["owner_id"]}
        assert plan["summary"] == {
            "currency": "EUR",
            "total_gross": "250.00",
            "planned": "250.00",
            "paid": "0.00",
            "outstanding": "250.00",
            "overdue": "0.00",
            "as_of": "2026-01-15",
            "pending_steps": 3,
            "editable": True,
        }
        assert "plan.created" in await event_types(owner, order)

    async def test_replacing_needs_the_current_etag_and_swaps_every_step(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)
        first = await put_plan(
            client, tenant_a.headers, order, money_step(collect, "2026-02-01", "100")
        )
        body = {
            "steps": [
                money_step(collect, "2026-02-01", "30"),
                money_step(collect, "2026-03-01", "70"),
            ]
        }

        replaced = await client.put(
            plan_path(order), json=body, headers={**tenant_a.headers, "If-Match": '"1"'}
        )
        stale = await client.put(
            plan_path(order), json=body, headers={**tenant_a.headers, "If-Match": '"1"'}
        )

        assert replaced.status_code == 200, replaced.text
        assert replaced.headers["ETag"] == '"2"'
        assert [s["amount"] for s in replaced.json()["steps"]] == ["30.00", "70.00"]
        assert first["steps"][0]["id"] not in {
            s["id"] for s in replaced.json()["steps"]
        }
        assert stale.status_code == 412
        assert (await event_types(owner, order)).count("plan.replaced") == 1

    async def test_if_match_before_there_is_a_plan_is_412(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.put(
            plan_path(order),
            json={"steps": [money_step(collect, "2026-02-01", "100")]},
            headers={**tenant_a.headers, "If-Match": '"3"'},
        )

        assert response.status_code == 412

    @pytest.mark.parametrize("status", ["draft", "pending_approval", "in_execution"])
    async def test_a_plan_changes_only_while_the_order_is_approved(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        status: str,
    ) -> None:
        headers = tenant_a.headers
        if status == "pending_approval":
            rule = {"name": "All", "conditions": {}, "levels": [{"roles": ["finance"]}]}
            created = await client.post(
                "/api/v1/approval-rules", json=rule, headers=headers
            )
            assert created.status_code == 201
        order = await create_order(client, headers, customer, line("1", "100"))
        if status != "draft":
            order = await step(client, headers, order, "submit")
        if status == "in_execution":
            await put_plan(
                client, headers, order, money_step(collect, "2026-02-01", "100")
            )
            order = await step(client, headers, order, "start")
        assert order["status"] == status

        response = await client.put(
            plan_path(order),
            json={"steps": [money_step(collect, "2026-02-01", "100")]},
            headers=headers,
        )

        assert response.status_code == 409
        assert response.json()["extra"] == {"status": status}
        assert status in response.json()["detail"]

    async def test_reading_an_order_without_a_plan_is_404(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.get(plan_path(order), headers=tenant_a.headers)

        assert response.status_code == 404
        assert response.json()["extra"] == {"order_status": "approved"}


class TestCollectionTotal:
    async def test_money_steps_short_of_the_total_are_422_naming_the_difference(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer, "100.00")

        response = await client.put(
            plan_path(order),
            json={
                "steps": [
                    money_step(collect, "2026-02-01", "60"),
                    money_step(collect, "2026-03-01", "39.99"),
                ]
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        problem = response.json()
        assert problem["errors"][0]["field"] == "steps"
        assert problem["errors"][0]["code"] == "collection_total"
        assert problem["extra"] == {
            "currency": "EUR",
            "total_gross": "100.00",
            "planned": "99.99",
            "difference": "-0.01",
        }
        assert "0.01 short" in problem["detail"]
        missing = await client.get(plan_path(order), headers=tenant_a.headers)
        assert missing.status_code == 404  # nothing was written

    async def test_money_steps_over_the_total_are_422_even_with_partial_collection(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer, "100.00")

        for partial in (False, True):
            response = await client.put(
                plan_path(order),
                json={
                    "allow_partial_collection": partial,
                    "steps": [money_step(collect, "2026-02-01", "100.01")],
                },
                headers=tenant_a.headers,
            )

            assert response.status_code == 422
            assert response.json()["extra"]["difference"] == "0.01"
            assert "0.01 more than" in response.json()["detail"]

    async def test_partial_collection_allows_less_than_the_total(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer, "100.00")

        plan = await put_plan(
            client,
            tenant_a.headers,
            order,
            money_step(collect, "2026-02-01", "40"),
            allow_partial_collection=True,
        )

        assert plan["allow_partial_collection"] is True
        assert plan["summary"]["planned"] == "40.00"
        assert plan["summary"]["outstanding"] == "40.00"

    async def test_paying_out_steps_do_not_count_towards_the_total(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        refund = await create_action_type(client, tenant_a.headers, "Commission", "out")
        order = await approved_order(client, tenant_a.headers, customer, "100.00")

        plan = await put_plan(
            client,
            tenant_a.headers,
            order,
            money_step(collect, "2026-02-01", "100"),
            money_step(refund, "2026-02-15", "5.50"),
        )

        assert plan["summary"]["planned"] == "100.00"
        assert plan["steps"][1]["amount"] == "5.50"


class TestBadInput:
    @pytest.mark.parametrize("due_on", ["12-31", "--12-31", "--1231", "12/31"])
    async def test_a_due_date_without_a_year_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        due_on: str,
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.put(
            plan_path(order),
            json={"steps": [money_step(collect, due_on, "100")]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error["field"] == "steps.0.due_on"
        assert error["code"] == "date_without_year"

    @pytest.mark.parametrize(
        ("due_on", "code"),
        [
            ("2026-02-30", "date_invalid"),
            ("2026-02-01T00:00:00Z", "date_format"),
            (1767225600, "date_type"),
            ("next friday", "date_format"),
        ],
    )
    async def test_due_dates_are_calendar_days_written_yyyy_mm_dd(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        due_on: Any,
        code: str,
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.put(
            plan_path(order),
            json={"steps": [money_step(collect, due_on, "100")]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == code

    async def test_money_with_more_decimals_than_the_currency_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        euros = await approved_order(client, tenant_a.headers, customer, "100.00")
        yen = await approved_order(
            client, tenant_a.headers, customer, "1000", currency="JPY"
        )

        cents = await client.put(
            plan_path(euros),
            json={"steps": [money_step(collect, "2026-02-01", "100.001")]},
            headers=tenant_a.headers,
        )
        fraction = await client.put(
            plan_path(yen),
            json={"steps": [money_step(collect, "2026-02-01", "999.5")]},
            headers=tenant_a.headers,
        )

        for response, places in ((cents, 2), (fraction, 0)):
            assert response.status_code == 422
            [error] = response.json()["errors"]
            assert error["field"] == "steps.0.amount"
            assert error["code"] == "too_many_decimals"
            assert f"at most {places} decimal" in error["message"]

    @pytest.mark.parametrize("amount", ["-100", "0", "-0.01"])
    async def test_amounts_not_above_zero_are_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        amount: str,
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.put(
            plan_path(order),
            json={
                "allow_partial_collection": True,
                "steps": [money_step(collect, "2026-02-01", amount)],
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "steps.0.amount"
        assert response.json()["errors"][0]["code"] == "greater_than"

    async def test_every_step_problem_is_listed_at_once(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        ship: dict[str, Any],
    ) -> None:
        old = await create_action_type(client, tenant_a.headers, "Old", active=False)
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.put(
            plan_path(order),
            json={
                "steps": [
                    money_step(collect, "2026-02-01", None),
                    money_step(ship, "2026-02-01", "10"),
                    money_step(old, "2026-02-01", None),
                    {
                        "action_type_id": "01a23c93-9d43-7c0d-9d1e-a9ba76279840",
                        "due_on": "2026-02-01",
                    },
                    money_step(
                        ship,
                        "2026-02-01",
                        None,
                        assignee_id="01a23c93-9d43-7c0d-9d1e-a9ba76279840",
                    ),
                ]
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        errors = {(e["field"], e["code"]) for e in response.json()["errors"]}
        assert errors == {
            ("steps.0.amount", "required"),
            ("steps.1.amount", "not_money"),
            ("steps.2.action_type_id", "inactive"),
            ("steps.3.action_type_id", "not_found"),
            ("steps.4.assignee_id", "not_found"),
        }

    async def test_unknown_fields_are_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.put(
            plan_path(order),
            json={
                "steps": [
                    money_step(collect, "2026-02-01", "100", status="done"),
                ],
                "approved": True,
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
            ("steps.0.status", "unknown_field"),
            ("approved", "unknown_field"),
        }

    async def test_a_step_for_someone_who_left_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        leaver, _ = await add_user(client, tenant_a, roles=["sales"])
        left = await client.post(
            f"/api/v1/employees/{leaver['employee_id']}/leave",
            json={"handover_to": tenant_a.admin_employee_id},
            headers=tenant_a.headers,
        )
        assert left.status_code == 200, left.text
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.put(
            plan_path(order),
            json={
                "steps": [
                    money_step(
                        collect,
                        "2026-02-01",
                        "100",
                        assignee_id=leaver["employee_id"],
                    )
                ]
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "employee_left"


class TestGenerate:
    async def test_one_step_per_active_type_due_after_the_approval_day(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        headers = tenant_a.headers
        await create_action_type(client, headers, "Invoice", "none", 0)
        await create_action_type(client, headers, "Collect payment", "in", 30)
        await create_action_type(client, headers, "Deposit", "in", 7)
        await create_action_type(client, headers, "Commission", "out", 10)
        await create_action_type(client, headers, "Ship", "none", 3)
        await create_action_type(client, headers, "Retired", "none", 1, active=False)
        order = await approved_order(client, headers, customer, "119.00")
        approved_on = await owner.fetchval(
            "SELECT (occurred_at AT TIME ZONE 'Europe/Berlin')::date "
            "FROM order_transitions WHERE order_id = $1 AND to_status = 'approved'",
            uuid.UUID(order["id"]),
        )

        response = await client.post(f"{plan_path(order)}/generate", headers=headers)

        assert response.status_code == 201, response.text
        steps = response.json()["steps"]
        assert [(s["name"], s["amount"]) for s in steps] == [
            ("Invoice", None),
            ("Ship", None),
            ("Deposit", "119.00"),  # the soonest collecting type takes the total
        ]
        offsets = [0, 3, 7]
        assert [s["due_on"] for s in steps] == [
            (approved_on + timedelta(days=d)).isoformat() for d in offsets
        ]
        assert {s["assignee_id"] for s in steps} == {order["owner_id"]}
        assert "plan.generated" in await event_types(owner, order)

    async def test_generating_over_an_existing_plan_is_409(
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

        response = await client.post(
            f"{plan_path(order)}/generate", headers=tenant_a.headers
        )

        assert response.status_code == 409

    async def test_without_a_collecting_type_generation_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        ship: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.post(
            f"{plan_path(order)}/generate", headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert "collects money" in response.json()["detail"]

    async def test_generated_steps_go_to_the_named_assignee(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        clerk, _ = await add_user(client, tenant_a, roles=["finance"])
        order = await approved_order(client, tenant_a.headers, customer)

        response = await client.post(
            f"{plan_path(order)}/generate",
            json={"assignee_id": clerk["employee_id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 201
        assert response.json()["steps"][0]["assignee_id"] == clerk["employee_id"]


class TestVisibility:
    async def test_a_plan_follows_its_orders_scope(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        seller, seller_headers = await add_user(client, tenant_a, roles=["sales"])
        _, other_headers = await add_user(client, tenant_a, roles=["sales"])
        mine = await client.post(
            "/api/v1/customers",
            json={"name": "Seller's own"},
            params={"allow_duplicate": "true"},
            headers=seller_headers,
        )
        order = await approved_order(client, seller_headers, mine.json())
        body = {"steps": [money_step(collect, "2026-02-01", "100")]}

        own = await client.put(plan_path(order), json=body, headers=seller_headers)
        other_put = await client.put(plan_path(order), json=body, headers=other_headers)
        other_get = await client.get(plan_path(order), headers=other_headers)
        admin_get = await client.get(plan_path(order), headers=tenant_a.headers)

        assert own.status_code == 200, own.text
        assert other_put.status_code == other_get.status_code == 404
        assert admin_get.status_code == 200
        assert order["owner_id"] == seller["employee_id"]

    async def test_service_reads_plans_but_cannot_change_them(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        _, service = await add_user(client, tenant_a, roles=["service"])
        order = await approved_order(client, tenant_a.headers, customer)
        body = {"steps": [money_step(collect, "2026-02-01", "100")]}
        await put_plan(client, tenant_a.headers, order, *body["steps"])

        read = await client.get(plan_path(order), headers=service)
        write = await client.put(plan_path(order), json=body, headers=service)

        assert read.status_code == 200
        assert write.status_code == 403


class TestHandover:
    async def test_a_leavers_pending_steps_go_to_the_colleague_done_ones_stay(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        ship: dict[str, Any],
        clock: Clock,
    ) -> None:
        leaver, _ = await add_user(client, tenant_a, roles=["finance"])
        colleague, _ = await add_user(client, tenant_a, roles=["finance"])
        order = await approved_order(client, tenant_a.headers, customer)
        plan = await put_plan(
            client,
            tenant_a.headers,
            order,
            money_step(ship, "2026-01-10", None, assignee_id=leaver["employee_id"]),
            money_step(collect, "2026-02-01", "100", assignee_id=leaver["employee_id"]),
        )
        await step(client, tenant_a.headers, order, "start")
        done = await client.post(
            f"{plan_path(order)}/steps/{plan['steps'][0]['id']}/done",
            headers=tenant_a.headers,
        )
        assert done.status_code == 200, done.text

        left = await client.post(
            f"/api/v1/employees/{leaver['employee_id']}/leave",
            json={"handover_to": colleague["employee_id"]},
            headers=tenant_a.headers,
        )

        assert left.status_code == 200, left.text
        after = await read_plan(client, tenant_a.headers, order)
        assert [s["assignee_id"] for s in after["steps"]] == [
            leaver["employee_id"],
            colleague["employee_id"],
        ]

    async def test_two_customers_orders_keep_separate_plans(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        other = await create_customer(client, tenant_a, name="Other")
        first = await approved_order(client, tenant_a.headers, customer, "10")
        second = await approved_order(client, tenant_a.headers, other, "20")

        await put_plan(
            client, tenant_a.headers, first, money_step(collect, "2026-02-01", "10")
        )
        await put_plan(
            client, tenant_a.headers, second, money_step(collect, "2026-02-01", "20")
        )

        assert (await read_plan(client, tenant_a.headers, first))["summary"][
            "planned"
        ] == "10.00"
        assert (await read_plan(client, tenant_a.headers, second))["summary"][
            "planned"
        ] == "20.00"
