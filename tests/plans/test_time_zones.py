"""Due dates are judged on each tenant's own calendar: an Asia/Shanghai and an
America/Sao_Paulo tenant each get their notice on their local day, across a month
end; across a DST change (America/New_York, Europe/Berlin) the local midnight moves
with the clocks."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from crm_api.plans.sweep import sweep
from tests.fixtures.api import TenantContext, sign_up
from tests.orders.conftest import step
from tests.plans.conftest import (
    POLICY,
    Clock,
    approved_order,
    create_action_type,
    money_step,
    put_plan,
)


async def _tenant_with_a_due_step(
    client: httpx.AsyncClient, tenant: TenantContext, *, lead_days: int, due_on: str
) -> None:
    """A tenant whose policy reminds ``lead_days`` ahead and duns once, a day late,
    with one order in execution whose one collection step falls due ``due_on``."""
    headers = tenant.headers
    policy = await client.put(
        POLICY,
        json={"reminder_lead_days": lead_days, "dunning_days": [1]},
        headers=headers,
    )
    assert policy.status_code == 200, policy.text
    customer = await client.post(
        "/api/v1/customers",
        json={"name": "Customer"},
        params={"allow_duplicate": "true"},
        headers=headers,
    )
    collect = await create_action_type(client, headers, "Collect", "in")
    order = await approved_order(client, headers, customer.json(), "100")
    await put_plan(client, headers, order, money_step(collect, due_on, "100"))
    await step(client, headers, order, "start")


async def _made(owner: asyncpg.Connection, tenant: TenantContext) -> list[str]:
    rows = await owner.fetch(
        "SELECT kind || ' ' || notice_on AS made FROM payment_notices "
        "WHERE tenant_id = $1 ORDER BY kind",
        tenant.tenant["id"],
    )
    return [row["made"] for row in rows]


@pytest.fixture
async def sao_paulo(client: httpx.AsyncClient) -> TenantContext:
    return await sign_up(
        client,
        slug="paulista",
        time_zone="America/Sao_Paulo",
        default_currency="BRL",
        locale="pt-BR",
    )


async def test_shanghai_and_sao_paulo_each_get_their_notices_on_their_local_day(
    client: httpx.AsyncClient,
    tenant_b: TenantContext,  # Asia/Shanghai: UTC+8
    sao_paulo: TenantContext,  # America/Sao_Paulo: UTC-3, no DST since 2019
    clock: Clock,
    ctx: dict[str, Any],
    owner: asyncpg.Connection,
) -> None:
    # Across the month end: due 1 February, reminded on the day (lead 0), dunned the
    # day after.
    clock.set("2026-01-20T00:00:00+00:00")
    for tenant in (tenant_b, sao_paulo):
        await _tenant_with_a_due_step(client, tenant, lead_days=0, due_on="2026-02-01")
    timeline: list[tuple[str, list[str], list[str]]] = []

    for instant in (
        "2026-01-31T15:59:00+00:00",  # Shanghai 23:59 on 31 Jan; Sao Paulo 12:59
        "2026-01-31T16:00:00+00:00",  # Shanghai midnight: 1 Feb there
        "2026-02-01T02:59:00+00:00",  # Sao Paulo 23:59 on 31 Jan
        "2026-02-01T03:00:00+00:00",  # Sao Paulo midnight: 1 Feb there
        "2026-02-01T16:00:00+00:00",  # Shanghai 2 Feb; Sao Paulo 13:00 on 1 Feb
        "2026-02-02T03:00:00+00:00",  # Sao Paulo 2 Feb
    ):
        clock.set(instant)
        await sweep(ctx)
        timeline.append(
            (instant[:16], await _made(owner, tenant_b), await _made(owner, sao_paulo))
        )

    reminded = ["reminder 2026-02-01"]
    dunned = ["dunning 2026-02-02", "reminder 2026-02-01"]
    assert timeline == [
        ("2026-01-31T15:59", [], []),
        ("2026-01-31T16:00", reminded, []),
        ("2026-02-01T02:59", reminded, []),
        ("2026-02-01T03:00", reminded, reminded),
        ("2026-02-01T16:00", dunned, reminded),
        ("2026-02-02T03:00", dunned, dunned),
    ]


async def test_new_york_turns_the_day_at_its_own_midnight_across_the_spring_change(
    client: httpx.AsyncClient,
    clock: Clock,
    ctx: dict[str, Any],
    owner: asyncpg.Connection,
) -> None:
    # Clocks go forward at 02:00 on Sunday 8 March 2026: midnight opening 8 March is
    # still EST (05:00 UTC), midnight opening 10 March is EDT (04:00 UTC).
    new_york = await sign_up(
        client, slug="gotham", time_zone="America/New_York", default_currency="USD"
    )
    clock.set("2026-03-01T12:00:00+00:00")
    # Due 9 March: reminded a day ahead (8 March), dunned a day late (10 March).
    await _tenant_with_a_due_step(client, new_york, lead_days=1, due_on="2026-03-09")
    seen: list[tuple[str, list[str]]] = []

    for instant in (
        "2026-03-08T04:59:00+00:00",  # 23:59 EST on 7 March
        "2026-03-08T05:00:00+00:00",  # 00:00 EST on 8 March
        "2026-03-10T03:59:00+00:00",  # 23:59 EDT on 9 March
        "2026-03-10T04:00:00+00:00",  # 00:00 EDT on 10 March (a fixed -05:00: 23:00)
    ):
        clock.set(instant)
        await sweep(ctx)
        seen.append((instant[:16], await _made(owner, new_york)))

    assert seen == [
        ("2026-03-08T04:59", []),
        ("2026-03-08T05:00", ["reminder 2026-03-08"]),
        ("2026-03-10T03:59", ["reminder 2026-03-08"]),
        ("2026-03-10T04:00", ["dunning 2026-03-10", "reminder 2026-03-08"]),
    ]


async def test_berlin_turns_the_day_at_its_own_midnight_across_the_autumn_change(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,  # Europe/Berlin
    clock: Clock,
    ctx: dict[str, Any],
    owner: asyncpg.Connection,
) -> None:
    # Clocks go back at 03:00 on Sunday 25 October 2026: midnight opening 25 October
    # is CEST (22:00 UTC the day before), midnight opening 26 October is CET (23:00).
    clock.set("2026-10-01T12:00:00+00:00")
    # Due 25 October: reminded on the day, dunned on 26 October.
    await _tenant_with_a_due_step(client, tenant_a, lead_days=0, due_on="2026-10-25")
    seen: list[tuple[str, list[str]]] = []

    for instant in (
        "2026-10-24T21:59:00+00:00",  # 23:59 CEST on 24 October
        "2026-10-24T22:00:00+00:00",  # 00:00 CEST on 25 October
        "2026-10-25T22:30:00+00:00",  # 23:30 CET on 25 October (+02:00 says 26th)
        "2026-10-25T23:00:00+00:00",  # 00:00 CET on 26 October
    ):
        clock.set(instant)
        await sweep(ctx)
        seen.append((instant[:16], await _made(owner, tenant_a)))

    assert seen == [
        ("2026-10-24T21:59", []),
        ("2026-10-24T22:00", ["reminder 2026-10-25"]),
        ("2026-10-25T22:30", ["reminder 2026-10-25"]),
        ("2026-10-25T23:00", ["dunning 2026-10-26", "reminder 2026-10-25"]),
    ]
