"""The reminder and dunning sweep: which steps get which notice when, exactly once per
step, kind and level however often and on however many workers it runs, with the
outbox events for exactly the notices made."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from crm_api.plans.sweep import sweep
from crm_api.worker import WorkerSettings
from tests.fixtures.api import TenantContext, add_user
from tests.orders.conftest import step
from tests.plans.conftest import (
    POLICY,
    Clock,
    approved_order,
    create_action_type,
    money_step,
    put_plan,
    receive,
    step_path,
)


async def _executing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    customer: dict[str, Any],
    *steps: dict[str, Any],
    total: str = "100.00",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    order = await approved_order(client, headers, customer, total)
    plan = await put_plan(client, headers, order, *steps)
    order = await step(client, headers, order, "start")
    return order, plan["steps"]


async def _notices(owner: asyncpg.Connection) -> list[tuple[str, int]]:
    rows = await owner.fetch(
        "SELECT kind, level FROM payment_notices ORDER BY created_at, kind, level"
    )
    return [(row["kind"], row["level"]) for row in rows]


async def _duplicates(owner: asyncpg.Connection) -> int:
    return int(
        await owner.fetchval(
            "SELECT count(*) FROM (SELECT step_id, kind, level FROM payment_notices "
            "GROUP BY step_id, kind, level HAVING count(*) > 1) AS d"
        )
    )


async def _payment_events(owner: asyncpg.Connection) -> list[str]:
    rows = await owner.fetch(
        "SELECT type FROM outbox_events WHERE type IN "
        "('payment.due_soon', 'payment.overdue') ORDER BY id"
    )
    return [row["type"] for row in rows]


class TestReminders:
    async def test_a_reminder_comes_once_within_the_lead_days_and_not_before(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-01-20", "100")
        )

        clock.set("2026-01-16T12:00:00+00:00")  # 4 days ahead: outside 3 lead days
        early = await sweep(ctx)
        clock.set("2026-01-17T12:00:00+00:00")
        on_time = await sweep(ctx)
        again = await sweep(ctx)
        clock.set("2026-01-20T12:00:00+00:00")  # the due day itself: still no more
        due_day = await sweep(ctx)

        assert (early["reminders"], on_time["reminders"]) == (0, 1)
        assert (again["reminders"], due_day["reminders"]) == (0, 0)
        assert await _notices(owner) == [("reminder", 0)]
        assert await _payment_events(owner) == ["payment.due_soon"]

    async def test_the_notice_says_what_is_outstanding_for_whom_on_which_day(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        clerk, _ = await add_user(client, tenant_a, roles=["finance"])
        order, [collection] = await _executing(
            client,
            tenant_a.headers,
            customer,
            money_step(collect, "2026-01-17", "100", assignee_id=clerk["employee_id"]),
        )
        await receive(client, tenant_a.headers, order, collection["id"], "35.50")

        await sweep(ctx)

        notice = await owner.fetchrow("SELECT * FROM payment_notices")
        assert notice["step_id"] == uuid.UUID(collection["id"])
        assert notice["order_id"] == uuid.UUID(order["id"])
        assert notice["assignee_id"] == uuid.UUID(clerk["employee_id"])
        assert str(notice["amount"]) == "64.50"
        assert notice["currency"] == "EUR"
        assert (notice["kind"], notice["level"], notice["days"]) == ("reminder", 0, 3)
        assert notice["due_on"].isoformat() == "2026-01-17"
        assert notice["notice_on"].isoformat() == "2026-01-15"
        assert notice["id"].version == 7
        event = await owner.fetchrow(
            "SELECT subject_id, payload FROM outbox_events "
            "WHERE type = 'payment.due_soon'"
        )
        assert event["subject_id"] == uuid.UUID(order["id"])
        assert f'"notice_id": "{notice["id"]}"' in event["payload"]
        assert '"amount": "64.50"' in event["payload"]


class TestDunning:
    async def test_each_level_comes_once_as_its_day_is_reached(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        clock.set("2026-01-05T12:00:00+00:00")
        await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-01-10", "100")
        )
        made: list[tuple[str, int, int]] = []

        for day in ("07", "10", "11", "12", "17", "18", "24", "25", "31"):
            clock.set(f"2026-01-{day}T12:00:00+00:00")
            result = await sweep(ctx)
            made.append((day, result["reminders"], result["dunning"]))

        assert made == [
            ("07", 1, 0),  # three days ahead: the reminder
            ("10", 0, 0),  # due today: not overdue yet
            ("11", 0, 1),  # a day after: level 1
            ("12", 0, 0),
            ("17", 0, 1),  # seven days after: level 2
            ("18", 0, 0),
            ("24", 0, 1),  # fourteen days after: level 3
            ("25", 0, 0),
            ("31", 0, 0),  # no level 4
        ]
        assert await _notices(owner) == [
            ("reminder", 0),
            ("dunning", 1),
            ("dunning", 2),
            ("dunning", 3),
        ]
        assert await _payment_events(owner) == [
            "payment.due_soon",
            "payment.overdue",
            "payment.overdue",
            "payment.overdue",
        ]

    async def test_a_step_first_seen_late_gets_every_level_it_reached(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-01-06", "100")
        )

        result = await sweep(ctx)  # 2026-01-15: nine days late

        assert (result["reminders"], result["dunning"]) == (0, 2)
        assert sorted(await _notices(owner)) == [("dunning", 1), ("dunning", 2)]

    async def test_paying_out_is_reminded_but_never_dunned(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        payout = await create_action_type(client, tenant_a.headers, "Commission", "out")
        await _executing(
            client,
            tenant_a.headers,
            customer,
            money_step(collect, "2026-03-01", "100"),
            money_step(payout, "2026-01-16", "5"),
        )

        await sweep(ctx)
        clock.set("2026-02-15T12:00:00+00:00")
        later = await sweep(ctx)

        assert await _notices(owner) == [("reminder", 0)]
        assert later == {
            "tenants": 1,
            "reminders": 0,
            "dunning": 0,
            "busy": 0,
            "failed": 0,
        }


class TestWhatIsSwept:
    async def test_closed_steps_steps_without_money_and_orders_not_running_are_left(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        ship: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        headers = tenant_a.headers
        order, [paid, skipped, shipping, open_] = await _executing(
            client,
            headers,
            customer,
            money_step(collect, "2026-01-10", "25"),
            money_step(collect, "2026-01-10", "25"),
            money_step(ship, "2026-01-10", None),
            money_step(collect, "2026-01-16", "50"),
        )
        await receive(client, headers, order, paid["id"], "25")
        await client.post(step_path(order, skipped["id"], "skip"), headers=headers)
        planned_only = await approved_order(client, headers, customer)
        await put_plan(
            client, headers, planned_only, money_step(collect, "2026-01-10", "100")
        )
        cancelled = await approved_order(client, headers, customer)
        await put_plan(
            client, headers, cancelled, money_step(collect, "2026-01-10", "100")
        )
        await step(client, headers, cancelled, "cancel")

        result = await sweep(ctx)

        assert (result["reminders"], result["dunning"]) == (1, 0)
        step_ids = await owner.fetch("SELECT step_id FROM payment_notices")
        assert [row["step_id"] for row in step_ids] == [uuid.UUID(open_["id"])]
        assert shipping["direction"] == "none"

    async def test_the_tenants_policy_sets_lead_days_and_levels(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        policy = await client.put(
            POLICY,
            json={"reminder_lead_days": 0, "dunning_days": [2, 30]},
            headers=tenant_a.headers,
        )
        assert policy.status_code == 200, policy.text
        await _executing(
            client,
            tenant_a.headers,
            customer,
            money_step(collect, "2026-01-16", "50"),
            money_step(collect, "2026-01-13", "50"),
        )

        first = await sweep(ctx)  # 01-15: 01-16 is not today; 01-13 is 2 days late
        clock.set("2026-01-16T12:00:00+00:00")
        second = await sweep(ctx)

        assert (first["reminders"], first["dunning"]) == (0, 1)
        assert (second["reminders"], second["dunning"]) == (1, 0)
        days = await owner.fetch(
            "SELECT kind, level, days FROM payment_notices ORDER BY kind"
        )
        assert [tuple(row) for row in days] == [("dunning", 1, 2), ("reminder", 0, 0)]

    async def test_without_dunning_levels_no_dunning_is_made(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        await client.put(
            POLICY,
            json={"reminder_lead_days": 3, "dunning_days": []},
            headers=tenant_a.headers,
        )
        await _executing(
            client, tenant_a.headers, customer, money_step(collect, "2026-01-01", "100")
        )

        result = await sweep(ctx)

        assert (result["reminders"], result["dunning"]) == (0, 0)
        assert await _notices(owner) == []


class TestExactlyOnce:
    @pytest.fixture
    async def due(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
        customer: dict[str, Any],
        collect: dict[str, Any],
        clock: Clock,
    ) -> int:
        """Four orders in tenant A and one in B, each with a step due in two days
        (a reminder) and one fifteen days late (three dunning levels): 20 notices."""
        for _ in range(4):
            await _executing(
                client,
                tenant_a.headers,
                customer,
                money_step(collect, "2026-01-17", "60"),
                money_step(collect, "2025-12-31", "40"),
            )
        b_customer = (
            await client.post(
                "/api/v1/customers",
                json={"name": "B's customer"},
                params={"allow_duplicate": "true"},
                headers=tenant_b.headers,
            )
        ).json()
        b_collect = await create_action_type(client, tenant_b.headers, "Collect", "in")
        await _executing(
            client,
            tenant_b.headers,
            b_customer,
            money_step(b_collect, "2026-01-17", "60"),
            money_step(b_collect, "2025-12-31", "40"),
        )
        return 5 * 4

    @pytest.mark.parametrize("exclusive", [False, True])
    async def test_three_sweeps_at_once_and_again_make_one_notice_per_step_and_level(
        self,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
        due: int,
        exclusive: bool,
    ) -> None:
        # exclusive=False: no per-tenant lock, the three race on the unique
        # constraint itself; exclusive=True: the production setting.
        racing = await asyncio.gather(
            *(sweep(ctx, exclusive=exclusive) for _ in range(3))
        )
        repeated = [await sweep(ctx, exclusive=exclusive) for _ in range(2)]

        made = sum(r["reminders"] + r["dunning"] for r in racing)
        assert made == due
        assert all(r["failed"] == 0 for r in racing)
        assert [r["reminders"] + r["dunning"] for r in repeated] == [0, 0]
        assert await owner.fetchval("SELECT count(*) FROM payment_notices") == due
        assert await _duplicates(owner) == 0
        events = await _payment_events(owner)
        assert len(events) == due
        assert events.count("payment.due_soon") == 5

    async def test_a_notice_that_exists_is_never_made_again(
        self,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
        due: int,
    ) -> None:
        await sweep(ctx)

        with pytest.raises(asyncpg.UniqueViolationError):
            await owner.execute(
                "INSERT INTO payment_notices (id, tenant_id, order_id, step_id, kind, "
                "level, days, due_on, amount, currency, assignee_id, notice_on) "
                "SELECT crm_uuid7(), tenant_id, order_id, step_id, kind, level, days, "
                "due_on, amount, currency, assignee_id, notice_on "
                "FROM payment_notices LIMIT 1"
            )

    async def test_a_sweep_that_rolls_back_leaves_neither_notices_nor_events(
        self,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
        due: int,
        tenant_a: TenantContext,
    ) -> None:
        from crm_api.plans.sweep import sweep_tenant

        async with ctx["sessionmaker"]() as session:
            await session.begin()
            outcome = await sweep_tenant(session, uuid.UUID(tenant_a.tenant["id"]))
            await session.rollback()

        assert outcome.reminders + outcome.dunning == 16
        assert await owner.fetchval("SELECT count(*) FROM payment_notices") == 0
        assert await _payment_events(owner) == []

    async def test_a_tenant_being_swept_is_left_to_the_worker_sweeping_it(
        self,
        ctx: dict[str, Any],
        owner: asyncpg.Connection,
        due: int,
        tenant_a: TenantContext,
    ) -> None:
        from crm_api.plans.sweep import sweep_tenant

        async with ctx["sessionmaker"]() as session, session.begin():
            held = await sweep_tenant(session, uuid.UUID(tenant_a.tenant["id"]))
            other = await sweep(ctx)

        assert held.reminders + held.dunning == 16
        assert other["busy"] == 1
        assert other["reminders"] + other["dunning"] == 4  # tenant B only
        assert await owner.fetchval("SELECT count(*) FROM payment_notices") == due


def test_the_worker_runs_the_sweep_every_quarter_hour() -> None:
    [job] = [j for j in WorkerSettings.cron_jobs if j.name == "payment_sweep"]

    assert job.coroutine is sweep
    assert job.minute == {0, 15, 30, 45}
    assert job.unique is True
