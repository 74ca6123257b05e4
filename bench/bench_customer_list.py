"""Customer list with a custom-attribute range filter and sort, through the API, against
the same SQL run directly, in one run on one scratch database.

    .venv/bin/python bench/bench_customer_list.py                 # 1,000,000 customers
    .venv/bin/python bench/bench_customer_list.py --rows 200000   # quicker

Set-up (not timed): a scratch database, migrations, a tenant signed up through the API,
a ``revenue`` (money) custom attribute defined through the API, then N customers bulk
inserted with SQL (the typed value index is filled by its trigger, as for API writes).

Timed, alternating: ``GET /api/v1/customers?custom.revenue[gte]=X&sort=-custom.revenue
&limit=50`` through the ASGI app in-process (no network), and the statement the API
runs for it, compiled once and executed with asyncpg as the app role in a transaction
with the tenant set (what the API does). The figure is ratio = API median latency /
SQL median latency (goal: at most 2). Latencies, never pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_me import DEFAULT_ADMIN_URL, DEFAULT_REDIS_URL, log, scratch_database

from crm_api.app import create_app
from crm_api.cli import run_migrations
from crm_api.settings import Settings

PASSWORD = "benchmark passphrase"  # noqa: S105 - a throwaway bench account
RESULTS = Path(__file__).resolve().parent / "results"


async def _sign_up(client: httpx.AsyncClient) -> dict[str, str]:
    body = {
        "tenant": {"name": "Bench", "slug": "bench", "default_currency": "EUR",
                   "time_zone": "Asia/Shanghai"},
        "admin": {"email": "bench@bench.example.com", "full_name": "B", "password": PASSWORD},
    }  # fmt: skip
    created = (await client.post("/api/v1/signup", json=body)).json()
    token = (
        await client.post(
            "/api/v1/auth/token",
            data={"username": "bench@bench.example.com", "password": PASSWORD},
        )
    ).json()["access_token"]
    return {
        "tenant_id": created["tenant"]["id"],
        "token": token,
        "owner_id": created["admin_employee_id"],
        "department_id": created["root_department_id"],
    }


async def _fill(owner_url: str, tenant: dict[str, str], rows: int) -> None:
    connection = await asyncpg.connect(owner_url)
    try:
        started = time.perf_counter()
        batch = 100_000
        for offset in range(0, rows, batch):
            size = min(batch, rows - offset)
            await connection.execute(
                """
                INSERT INTO customers (id, tenant_id, code, kind, name, status, tags,
                    custom, name_key, country, version, owner_id, department_id)
                SELECT gen_random_uuid(), $1::uuid, 'C' || ($2 + n), 'company',
                       'Customer ' || ($2 + n), 'active', '{}',
                       jsonb_build_object('revenue',
                           to_char(round((random() * 1000000)::numeric, 2), 'FM9999990.00')),
                       'customer' || ($2 + n),
                       (ARRAY['Germany','USA','China','Brazil'])[1 + (n % 4)], 1,
                       $4::uuid, $5::uuid
                FROM generate_series(1, $3) AS n
                """,
                tenant["tenant_id"],
                offset,
                size,
                tenant["owner_id"],
                tenant["department_id"],
            )
            log(
                f"inserted {offset + size:,} customers ({time.perf_counter() - started:.0f} s)"
            )
        await connection.execute("ANALYZE customers")
        await connection.execute("ANALYZE custom_value_index")
    finally:
        await connection.close()


async def _compiled_sql(
    app: Any, tenant_id: str, params: list[tuple[str, str]]
) -> tuple[str, list[Any]]:
    """The statement the list endpoint runs for ``params``, as asyncpg SQL + arguments."""
    import uuid

    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    from crm_api.auth.principal import PERMISSIONS, Principal
    from crm_api.customers import repository, service
    from crm_api.customers.models import Customer
    from crm_api.kernel.db import set_tenant
    from crm_api.kernel.pagination import PageParams, paginate

    async with app.state.resources.sessionmaker() as session, session.begin():
        await set_tenant(session, uuid.UUID(tenant_id))
        admin = Principal(
            tenant_id=uuid.UUID(tenant_id),
            user_id=None,
            api_key_id=None,
            permissions=PERMISSIONS,
            scopes=dict.fromkeys(PERMISSIONS, "all"),
        )
        query = await service.list_query(
            session, admin, params, q=None, sort="-custom.revenue"
        )
    statement = repository.joined(
        select(Customer, *(key.column for key in query.keys)), query.joins
    ).where(*query.conditions)
    statement = paginate(statement, query.keys, PageParams(limit=50, cursor=None))
    compiled = statement.compile(dialect=postgresql.asyncpg.dialect())
    sql = compiled.string
    names = list(compiled.positiontup or [])
    values = [compiled.params[name] for name in names]
    return sql, values


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    if True:
        settings = Settings(**{  # type: ignore[arg-type]
            "DATABASE_URL": url, "REDIS_URL": args.redis_url,
            "jwt_secret": "bench-" + "x" * 40, "log_level": "WARNING",
            "password_hash_time_cost": 1, "password_hash_memory_kib": 1024,
        })  # fmt: skip
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://b"
            ) as client:
                tenant = await _sign_up(client)
                headers = {"Authorization": f"Bearer {tenant['token']}"}
                defined = await client.post(
                    "/api/v1/custom-attributes/customer",
                    json={"key": "revenue", "label": "Revenue", "type": "money"},
                    headers=headers,
                )
                assert defined.status_code == 201, defined.text
                await _fill(url, tenant, args.rows)

                params = [("custom.revenue[gte]", str(args.threshold))]
                sql, values = await _compiled_sql(app, tenant["tenant_id"], params)
                query = {"custom.revenue[gte]": str(args.threshold),
                         "sort": "-custom.revenue", "limit": "50"}  # fmt: skip
                check = await client.get(
                    "/api/v1/customers", params=query, headers=headers
                )
                assert check.status_code == 200, check.text
                assert len(check.json()["items"]) == 50

                direct = await asyncpg.connect(url, server_settings={"role": "crm_app"})
                api_ms: list[float] = []
                sql_ms: list[float] = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    response = await client.get(
                        "/api/v1/customers", params=query, headers=headers
                    )
                    api_ms.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200
                    started = time.perf_counter()
                    async with direct.transaction():
                        await direct.execute(
                            "SELECT set_config('app.tenant_id', $1, true)",
                            tenant["tenant_id"],
                        )
                        rows = await direct.fetch(sql, *values)
                    sql_ms.append((time.perf_counter() - started) * 1000)
                    assert len(rows) == 51
                plan = await _explain(direct, tenant["tenant_id"], sql, values)
                await direct.close()
    api = statistics.median(api_ms)
    direct_ms = statistics.median(sql_ms)
    return {
        "bench": "customer_list",
        "rows": args.rows,
        "repeat": args.repeat,
        "api_ms_median": round(api, 2),
        "sql_ms_median": round(direct_ms, 2),
        "ratio": round(api / direct_ms, 2),
        "goal": "<= 2",
        "plan_uses": plan,
    }


async def _explain(
    connection: asyncpg.Connection, tenant_id: str, sql: str, values: list[Any]
) -> list[str]:
    async with connection.transaction():
        await connection.execute(
            "SELECT set_config('app.tenant_id', $1, true)", tenant_id
        )
        lines = await connection.fetch("EXPLAIN " + sql, *values)
    return [
        line[0].strip() for line in lines if "Index" in line[0] or "Scan" in line[0]
    ][:8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threshold", default="500000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with scratch_database(args.admin_url, keep=False) as (_, url):
        run_migrations(url)
        result = asyncio.run(run(args, url))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"customer-list-{int(time.time())}.json").write_text(json.dumps(result))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
