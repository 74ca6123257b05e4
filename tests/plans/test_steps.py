"""Working the plan of an order in execution: receipts (partial, never past what is
outstanding, even at the same moment), done and skipped steps, the figures, and the
hooks the orders workflow calls."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from crm_api.kernel.db import set_tenant
from crm_api.orders.models import Order
from crm_api.plans.hooks import blocks_completion, plan_summaries
from tests.fixtures.api import TenantContext, add_user
from tests.orders.conftest import event_types, step
from tests.plans.conftest import (
    Clock,
    approved_order,
    create_action_type,
    money_step,
    plan_path,
    put_plan,
    read_plan,
    receive,
    step_path,
)


async def _executing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    customer: dict[str, Any],
    *steps: dict[str, Any],
    total: str = "100.00",
    **plan_fields: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An order of ``total`` with ``steps`` as its plan, in execution."""
    order = await approved_order(client, headers, customer, total)
    plan = await put_plan(client, headers, order, *steps, **plan_fields)
    order = await step(client, headers, order, "start")
    return order, plan["steps"]


class TestReceipts:
    async def test_partial_receipts_add_up_and_the_last_one_closes_the_step(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        owner: asyncpg.Connection,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )

        first = await receive(
            client, tenant_a.headers, order, collection["id"], "30.5", reference="T1"
        )
        second = await receive(
            client,
            tenant_a.headers,
            order,
            collection["id"],
            "69.50",
            received_on="2026-01-14",
        )

        assert first.status_code == 201, first.text
        assert first.json()["receipt"]["amount"] == "30.50"
        assert first.json()["receipt"]["received_on"] == "2026-01-15"  # today
        assert first.json()["receipt"]["reference"] == "T1"
        assert first.json()["step"]["outstanding"] == "69.50"
        assert first.json()["step"]["status"] == "pending"
        assert second.status_code == 201, second.text
        closed = second.json()["step"]
        assert closed["status"] == "done"
        assert closed["outstanding"] == "0.00"
        assert closed["done_by"] == tenant_a.admin["id"]
        assert closed["done_at"] is not None
        plan = await read_plan(client, tenant_a.headers, order)
        assert plan["summary"]["paid"] == "100.00"
        assert plan["summary"]["outstanding"] == "0.00"
        events = await event_types(owner, order)
        assert events.count("payment.received") == 2
        assert events.count("plan_step.done") == 1

    async def test_a_receipt_larger_than_what_is_outstanding_is_409(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )
        await receive(client, tenant_a.headers, order, collection["id"], "60")

        response = await receive(
            client, tenant_a.headers, order, collection["id"], "41"
        )

        assert response.status_code == 409
        assert response.json()["extra"] == {"outstanding": "40.00", "currency": "EUR"}
        plan = await read_plan(client, tenant_a.headers, order)
        assert plan["steps"][0]["received"] == "60.00"

    @pytest.mark.parametrize(
        ("body", "field", "code"),
        [
            ({"amount": "10.001"}, "amount", "too_many_decimals"),
            ({"amount": "-10"}, "amount", "greater_than"),
            ({"amount": "0"}, "amount", "greater_than"),
            ({"amount": "10", "received_on": "01-15"}, "received_on", None),
            ({"amount": "10", "received_on": "2026-01-16"}, "received_on", "in_future"),
            ({"amount": "10", "paid_by": "cash"}, "paid_by", "unknown_field"),
        ],
    )
    async def test_a_receipt_wrong_in_itself_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        body: dict[str, Any],
        field: str,
        code: str | None,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )

        response = await client.post(
            step_path(order, collection["id"], "receipts"),
            json=body,
            headers=tenant_a.headers,
        )

        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["field"] == field
        assert error["code"] == (code or "date_without_year")

    async def test_receipts_in_yen_have_no_decimals(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        order = await approved_order(
            client, tenant_a.headers, customer, "1000", currency="JPY"
        )
        plan = await put_plan(
            client, tenant_a.headers, order, money_step(collect, "2026-02-01", "1000")
        )
        await step(client, tenant_a.headers, order, "start")
        step_id = plan["steps"][0]["id"]

        fraction = await receive(client, tenant_a.headers, order, step_id, "0.5")
        whole = await receive(client, tenant_a.headers, order, step_id, "999")

        assert fraction.status_code == 422
        assert whole.status_code == 201
        assert whole.json()["step"]["outstanding"] == "1"

    async def test_receipts_go_only_on_pending_collection_steps(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        ship: dict[str, Any],
        clock: Clock,
    ) -> None:
        payout = await create_action_type(client, tenant_a.headers, "Commission", "out")
        order, [collection, shipping, commission] = await _executing(
            client,
            tenant_a.headers,
            customer,
            money_step(collect, "2026-02-01", "100"),
            money_step(ship, "2026-02-01", None),
            money_step(payout, "2026-02-01", "5"),
        )
        await receive(client, tenant_a.headers, order, collection["id"], "100")

        closed = await receive(client, tenant_a.headers, order, collection["id"], "1")
        no_money = await receive(client, tenant_a.headers, order, shipping["id"], "1")
        paid_out = await receive(client, tenant_a.headers, order, commission["id"], "1")

        assert closed.status_code == 409
        assert closed.json()["extra"] == {"step_status": "done"}
        assert no_money.status_code == 409
        assert no_money.json()["extra"] == {"direction": "none"}
        assert paid_out.status_code == 409
        assert paid_out.json()["extra"] == {"direction": "out"}

    async def test_before_the_order_starts_no_receipt_is_taken(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)
        plan = await put_plan(
            client, tenant_a.headers, order, money_step(collect, "2026-02-01", "100")
        )

        response = await receive(
            client, tenant_a.headers, order, plan["steps"][0]["id"], "10"
        )

        assert response.status_code == 409
        assert response.json()["extra"] == {"status": "approved"}

    async def test_a_step_of_another_order_is_404(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        order, _ = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )
        _, [foreign] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )

        response = await receive(client, tenant_a.headers, order, foreign["id"], "10")

        assert response.status_code == 404

    async def test_receipts_are_listed_oldest_first(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )
        for amount in ("10", "20", "30"):
            await receive(client, tenant_a.headers, order, collection["id"], amount)
        path = step_path(order, collection["id"], "receipts")

        first = await client.get(path, params={"limit": 2}, headers=tenant_a.headers)
        rest = await client.get(
            path,
            params={"limit": 2, "cursor": first.json()["next_cursor"]},
            headers=tenant_a.headers,
        )

        amounts = [r["amount"] for r in first.json()["items"] + rest.json()["items"]]
        assert amounts == ["10.00", "20.00", "30.00"]
        assert rest.json()["next_cursor"] is None

    async def test_a_receipt_moves_the_plans_etag(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )
        before = await client.get(plan_path(order), headers=tenant_a.headers)

        await receive(client, tenant_a.headers, order, collection["id"], "10")

        after = await client.get(plan_path(order), headers=tenant_a.headers)
        assert before.headers["ETag"] != after.headers["ETag"]

    async def test_the_same_idempotency_key_records_one_receipt(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )
        headers = {**tenant_a.headers, "Idempotency-Key": "bank-line-17"}

        first = await receive(client, headers, order, collection["id"], "25")
        again = await receive(client, headers, order, collection["id"], "25")

        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        plan = await read_plan(client, tenant_a.headers, order)
        assert plan["summary"]["paid"] == "25.00"


class TestConcurrentReceipts:
    async def test_two_receipts_at_once_on_one_step_never_overshoot(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        owner: asyncpg.Connection,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )

        results = await asyncio.gather(
            receive(client, tenant_a.headers, order, collection["id"], "60"),
            receive(client, tenant_a.headers, order, collection["id"], "60"),
        )

        assert sorted(r.status_code for r in results) == [201, 409]
        row = await owner.fetchrow(
            "SELECT received, (SELECT sum(amount) FROM receipts WHERE step_id = $1) "
            "AS receipts FROM plan_steps WHERE id = $1",
            uuid.UUID(collection["id"]),
        )
        assert row["received"] == row["receipts"] == 60

    async def test_many_receipts_at_once_fill_the_step_exactly(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        owner: asyncpg.Connection,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )

        results = await asyncio.gather(
            *(
                receive(client, tenant_a.headers, order, collection["id"], "25")
                for _ in range(6)
            )
        )

        assert sorted(r.status_code for r in results) == [201] * 4 + [409] * 2
        plan = await read_plan(client, tenant_a.headers, order)
        assert plan["steps"][0]["status"] == "done"
        assert plan["summary"]["paid"] == "100.00"
        assert await owner.fetchval("SELECT count(*) FROM receipts") == 4
        done_events = await owner.fetchval(
            "SELECT count(*) FROM outbox_events WHERE type = 'plan_step.done'"
        )
        assert done_events == 1

    async def test_the_database_refuses_a_step_collecting_past_its_amount(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        owner: asyncpg.Connection,
    ) -> None:
        _, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )

        with pytest.raises(asyncpg.CheckViolationError):
            await owner.execute(
                "UPDATE plan_steps SET received = 100.01 WHERE id = $1",
                uuid.UUID(collection["id"]),
            )


class TestDoneAndSkip:
    async def test_done_records_who_and_when_and_answers_the_plan(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        ship: dict[str, Any],
        clock: Clock,
        owner: asyncpg.Connection,
    ) -> None:
        order, [_, shipping] = await _executing(
            client,
            tenant_a.headers,
            customer,
            money_step(collect, "2026-02-01", "100"),
            money_step(ship, "2026-01-20", None),
        )

        response = await client.post(
            step_path(order, shipping["id"], "done"),
            json={"note": "sent by DHL"},
            headers=tenant_a.headers,
        )
        again = await client.post(
            step_path(order, shipping["id"], "done"), headers=tenant_a.headers
        )

        assert response.status_code == 200, response.text
        done = response.json()["steps"][1]
        assert done["status"] == "done"
        assert done["done_by"] == tenant_a.admin["id"]
        assert done["done_at"] is not None
        assert done["note"] == "sent by DHL"
        assert response.json()["summary"]["pending_steps"] == 1
        assert again.status_code == 409
        assert "plan_step.done" in await event_types(owner, order)

    async def test_a_collection_step_with_money_outstanding_is_not_marked_done(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )
        await receive(client, tenant_a.headers, order, collection["id"], "99.99")

        response = await client.post(
            step_path(order, collection["id"], "done"), headers=tenant_a.headers
        )

        assert response.status_code == 409
        assert response.json()["extra"] == {"outstanding": "0.01", "currency": "EUR"}

    async def test_skipping_a_collection_step_waives_the_rest(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        owner: asyncpg.Connection,
    ) -> None:
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-01-10", "100")
        )
        await receive(client, tenant_a.headers, order, collection["id"], "70")
        before = await read_plan(client, tenant_a.headers, order)

        response = await client.post(
            step_path(order, collection["id"], "skip"),
            json={"reason": "goodwill"},
            headers=tenant_a.headers,
        )

        assert before["summary"]["overdue"] == "30.00"
        assert response.status_code == 200, response.text
        skipped = response.json()["steps"][0]
        assert skipped["status"] == "skipped"
        assert skipped["skip_reason"] == "goodwill"
        assert skipped["skipped_by"] == tenant_a.admin["id"]
        assert skipped["skipped_at"] is not None
        assert response.json()["summary"] | {"as_of": None} == {
            "currency": "EUR",
            "total_gross": "100.00",
            "planned": "100.00",
            "paid": "70.00",
            "outstanding": "0.00",
            "overdue": "0.00",
            "as_of": None,
            "pending_steps": 0,
            "editable": False,
        }
        payload = await owner.fetchval(
            "SELECT payload FROM outbox_events WHERE type = 'plan_step.skipped'"
        )
        assert '"waived": "30.00"' in payload

    async def test_steps_are_worked_only_while_the_order_is_in_execution(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        ship: dict[str, Any],
        collect: dict[str, Any],
    ) -> None:
        order = await approved_order(client, tenant_a.headers, customer)
        plan = await put_plan(
            client,
            tenant_a.headers,
            order,
            money_step(collect, "2026-02-01", "100"),
            money_step(ship, "2026-02-01", None),
        )

        done = await client.post(
            step_path(order, plan["steps"][1]["id"], "done"), headers=tenant_a.headers
        )
        skipped = await client.post(
            step_path(order, plan["steps"][1]["id"], "skip"), headers=tenant_a.headers
        )

        assert done.status_code == skipped.status_code == 409


class TestFigures:
    async def test_overdue_is_what_is_outstanding_on_steps_due_before_today(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        order, [early, _today, _later] = await _executing(
            client,
            tenant_a.headers,
            customer,
            money_step(collect, "2026-01-14", "30"),
            money_step(collect, "2026-01-15", "30"),
            money_step(collect, "2026-01-16", "40"),
        )
        await receive(client, tenant_a.headers, order, early["id"], "10")

        plan = await read_plan(client, tenant_a.headers, order)

        assert [s["overdue"] for s in plan["steps"]] == [True, False, False]
        assert plan["summary"]["overdue"] == "20.00"
        assert plan["summary"]["outstanding"] == "90.00"
        assert plan["summary"]["paid"] == "10.00"
        assert plan["summary"]["as_of"] == "2026-01-15"

    async def test_overdue_is_judged_on_the_tenants_calendar(
        self,
        client: httpx.AsyncClient,
        tenant_b: TenantContext,
        clock: Clock,
    ) -> None:
        headers = tenant_b.headers  # Asia/Shanghai, UTC+8
        customer = (
            await client.post(
                "/api/v1/customers",
                json={"name": "Customer"},
                params={"allow_duplicate": "true"},
                headers=headers,
            )
        ).json()
        collect = await create_action_type(client, headers, "Collect", "in")
        order, _ = await _executing(
            client, headers, customer, money_step(collect, "2026-01-15", "100")
        )

        clock.set("2026-01-15T15:59:00+00:00")  # 23:59 in Shanghai: due today
        before = await read_plan(client, headers, order)
        clock.set("2026-01-15T16:00:00+00:00")  # midnight there: overdue
        after = await read_plan(client, headers, order)

        assert (before["summary"]["as_of"], before["summary"]["overdue"]) == (
            "2026-01-15",
            "0.00",
        )
        assert (after["summary"]["as_of"], after["summary"]["overdue"]) == (
            "2026-01-16",
            "100.00",
        )


class TestHooks:
    async def test_pending_steps_block_completion_and_closed_ones_do_not(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        ship: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
    ) -> None:
        order, [collection, shipping] = await _executing(
            client,
            tenant_a.headers,
            customer,
            money_step(collect, "2026-01-10", "100"),
            money_step(ship, "2026-02-01", None),
        )
        no_plan = await approved_order(client, tenant_a.headers, customer)

        async def ask() -> tuple[str | None, str | None, Any, Any]:
            async with ctx["sessionmaker"]() as session, session.begin():
                await set_tenant(session, uuid.UUID(tenant_a.tenant["id"]))
                row = await session.get(Order, uuid.UUID(order["id"]))
                bare = await session.get(Order, uuid.UUID(no_plan["id"]))
                assert row is not None
                assert bare is not None
                return (
                    await blocks_completion(session, row.id),
                    await blocks_completion(session, bare.id),
                    (await plan_summaries(session, [row]))[row.id],
                    await plan_summaries(session, [row, bare]),
                )

        blocked, free, summary, many = await ask()
        await receive(client, tenant_a.headers, order, collection["id"], "100")
        await client.post(
            step_path(order, shipping["id"], "skip"), headers=tenant_a.headers
        )
        unblocked, _, settled, _ = await ask()

        assert blocked is not None
        assert "2 plan step(s) still pending" in blocked
        assert "'Collect payment' due 2026-01-10" in blocked
        assert free is None
        assert (summary.paid, summary.outstanding, summary.overdue) == (0, 100, 100)
        assert set(many) == {uuid.UUID(order["id"])}
        assert unblocked is None
        assert (settled.paid, settled.outstanding, settled.overdue) == (100, 0, 0)

    async def test_a_seller_works_steps_only_on_orders_within_their_scope(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> None:
        _, seller = await add_user(client, tenant_a, roles=["sales"])
        order, [collection] = await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-02-01", "100")
        )

        response = await receive(client, seller, order, collection["id"], "10")
        receipts = await client.get(
            step_path(order, collection["id"], "receipts"), headers=seller
        )

        assert response.status_code == receipts.status_code == 404
