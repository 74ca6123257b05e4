"""Northwind's orders, loaded through the API by the example loader, agree to the cent
with the money rule computed here straight from the CSV files: each line's net is
quantity x unit price x (1 - discount), rounded half-up to the cent, and an order's
net total is the sum of its lines. Freight is not part of any total (the loader keeps
it in the ``freight`` attribute); tax is 0 throughout.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from crm_api.imports.service import job_id
from crm_api.imports.tasks import import_customers
from crm_api.kernel.db import create_engine, create_sessionmaker
from crm_api.settings import Settings
from tests.fixtures.api import TenantContext, sign_up

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "northwind"
CENT = Decimal("0.01")


def _loader() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "load_northwind", ROOT / "examples" / "load_northwind.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def _rows(name: str) -> list[dict[str, str]]:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"sample data not found at {path}")
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def expected_net_totals() -> dict[str, Decimal]:
    """Each order's net total under the money rule, from order_details.csv alone."""
    totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for row in _rows("order_details.csv"):
        net = (
            Decimal(row["quantity"])
            * Decimal(row["unit_price"])
            * (1 - Decimal(row["discount"]))
        )
        totals[row["order_id"]] += net.quantize(CENT, rounding=ROUND_HALF_UP)
    return dict(totals)


async def _all(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    path: str,
    **params: str,
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "200", **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=ctx.headers)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


async def _count(client: httpx.AsyncClient, ctx: TenantContext, path: str) -> int:
    return len(await _all(client, ctx, path))


@pytest.fixture
async def northwind(client: httpx.AsyncClient) -> TenantContext:
    _rows("orders.csv")  # skip early without the data
    return await sign_up(
        client,
        slug="northwind",
        name="Northwind Traders",
        default_currency="USD",
        time_zone="America/New_York",
        locale="en-US",
    )


@pytest.fixture
async def run_import(
    settings: Settings, redis_dsn: str, northwind: TenantContext
) -> AsyncIterator[Callable[[str], Awaitable[None]]]:
    """The loader's wait for an import: run its job here, as a worker would."""
    assert settings.database_url is not None
    engine = create_engine(settings.database_url, app_role=settings.database_app_role)
    job_ctx = {"sessionmaker": create_sessionmaker(engine), "job_try": 1}
    ran: list[str] = []

    async def wait(import_id: str) -> None:
        ran.append(import_id)
        await import_customers(job_ctx, northwind.tenant["id"], import_id)

    yield wait
    await engine.dispose()
    # The upload also queued the job in Redis; no worker runs it here.
    redis = Redis.from_url(redis_dsn)
    for import_id in ran:
        queued = job_id(import_id)  # type: ignore[arg-type]
        await redis.delete(f"arq:job:{queued}")
        await redis.zrem("arq:queue", queued)
    await redis.aclose()


class TestNorthwindOrders:
    async def test_every_order_total_agrees_with_the_csv_files_to_the_cent(
        self,
        client: httpx.AsyncClient,
        northwind: TenantContext,
        run_import: Callable[[str], Awaitable[None]],
        owner: asyncpg.Connection,
    ) -> None:
        orders_csv = {row["order_id"]: row for row in _rows("orders.csv")}
        expected = expected_net_totals()

        loaded = await _loader().load(client, northwind.headers, DATA, wait=run_import)
        orders = {
            order["number"]: order
            for order in await _all(client, northwind, "/api/v1/orders")
        }

        assert (loaded.orders_created, loaded.orders_existing) == (830, 0)
        assert len(orders) == len(orders_csv) == len(expected) == 830
        actual = {number: Decimal(o["total_net"]) for number, o in orders.items()}
        disagreeing = {
            number: (actual[number], total)
            for number, total in expected.items()
            if actual[number] != total
        }
        assert disagreeing == {}
        grand_total = sum(actual.values(), Decimal(0))
        assert grand_total == sum(expected.values(), Decimal(0))
        assert grand_total == Decimal("1265793.29")
        # Rounding each line half-up is what the rule says: neither half-even per
        # line (1,265,793.02) nor the exact sum (1,265,793.0395) would match.
        assert sum(len(o["lines"]) for o in orders.values()) == 2155
        assert {o["currency"] for o in orders.values()} == {"USD"}
        assert all(o["total_tax"] == "0.00" for o in orders.values())
        assert all(o["total_gross"] == o["total_net"] for o in orders.values())
        freight = [Decimal(o["custom"]["freight"]) for o in orders.values()]
        assert sum(freight, Decimal(0)) == Decimal("64942.69")

    async def test_spot_checks_owners_customers_and_history(
        self,
        client: httpx.AsyncClient,
        northwind: TenantContext,
        run_import: Callable[[str], Awaitable[None]],
        owner: asyncpg.Connection,
    ) -> None:
        orders_csv = {row["order_id"]: row for row in _rows("orders.csv")}

        await _loader().load(client, northwind.headers, DATA, wait=run_import)
        orders = {
            order["number"]: order
            for order in await _all(client, northwind, "/api/v1/orders")
        }
        employees = {
            str(e["custom"]["northwind_id"]): e["id"]
            for e in await _all(client, northwind, "/api/v1/employees")
            if "northwind_id" in e["custom"]
        }
        customers = {
            c["code"]: c["id"]
            for c in await _all(client, northwind, "/api/v1/customers")
        }
        history = await owner.fetch(
            """SELECT o.number, t.position, t.action, t.from_status, t.to_status,
                      t.comment, t.user_id
               FROM order_transitions t JOIN orders o ON o.id = t.order_id
               WHERE o.tenant_id = $1""",
            uuid.UUID(northwind.tenant["id"]),
        )
        events = await owner.fetchval(
            "SELECT count(*) FROM outbox_events WHERE type = 'order.imported' "
            "AND tenant_id = $1",
            uuid.UUID(northwind.tenant["id"]),
        )

        nets = {n: orders[n]["total_net"] for n in ("10248", "10250", "10260")}
        assert nets == {"10248": "440.00", "10250": "1552.60", "10260": "1504.65"}
        # 17.45 x 30 x 0.95 = 497.325 -> 497.33 and 21.5 x 15 x 0.95 = 306.375 ->
        # 306.38: the lines' rounded figures add up to a cent more than the exact sum.
        assert orders["10605"]["total_net"] == "4109.71"
        assert [line["net_amount"] for line in orders["10605"]["lines"]] == [
            "497.33",
            "1045.00",
            "2261.00",
            "306.38",
        ]
        discounted = orders["10250"]["lines"][1]
        assert (discounted["discount_percent"], discounted["unit_price"]) == (
            "15",
            "42.40",
        )

        assert len(employees) == 9
        for number, row in orders_csv.items():
            order = orders[number]
            assert order["owner_id"] == employees[row["employee_id"]], number
            assert order["customer_id"] == customers[row["customer_id"]], number
            assert order["ordered_on"] == row["order_date"], number
            assert order["status"] == "completed", number
        steps = Counter(
            (r["position"], r["action"], r["from_status"], r["to_status"], r["comment"])
            for r in history
        )
        assert steps == {(1, "import", "draft", "completed", "imported"): 830}
        assert {str(r["user_id"]) for r in history} == {northwind.admin["id"]}
        assert events == 830
        response = await client.get(
            f"/api/v1/orders/{orders['10248']['id']}/transitions",
            headers=northwind.headers,
        )
        [step] = response.json()["items"]
        assert (step["action"], step["to_status"], step["comment"]) == (
            "import",
            "completed",
            "imported",
        )
        assert orders["10248"]["allowed_actions"] == []
        assert date.fromisoformat(orders["10248"]["ordered_on"]) == date(1996, 7, 4)

    async def test_loading_again_creates_nothing_new(
        self,
        client: httpx.AsyncClient,
        northwind: TenantContext,
        run_import: Callable[[str], Awaitable[None]],
    ) -> None:
        loader = _loader()
        await loader.load(client, northwind.headers, DATA, wait=run_import)
        paths = (
            "/api/v1/orders",
            "/api/v1/customers",
            "/api/v1/employees",
            "/api/v1/products",
        )
        before = [await _count(client, northwind, path) for path in paths]

        again = await loader.load(client, northwind.headers, DATA, wait=run_import)

        assert (again.orders_created, again.orders_existing) == (0, 830)
        assert again.customer_import["rows_unchanged"] == 91
        assert [await _count(client, northwind, path) for path in paths] == before
        assert before == [830, 91, 10, 77]
