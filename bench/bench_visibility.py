"""Customer lists as a ``manager`` (department-subtree scope) against the same lists as
an admin (``all`` scope), through the API, interleaved, in one run on one database.

    .venv/bin/python bench/bench_visibility.py                        # 1,000,000 customers
    .venv/bin/python bench/bench_visibility.py --customers 50000 --employees 500   # quick
    .venv/bin/python bench/bench_visibility.py --fresh                # rebuild the data

Set-up (timed and printed, not part of the figures):

1. A database named after the sizes, ``crm_bench_vis_<customers>c_<employees>e``
   (server: --admin-url or $CRM_BENCH_ADMIN_URL, as bench_me.py), migrated to head.
   It is kept: a second run with the same sizes and tree finds the finished build
   (recorded in the database's comment) and reuses it. ``--fresh`` rebuilds it,
   ``--drop`` drops it at the end.
2. A tenant signed up through the API (admin user, root department, admin employee).
3. As the database owner, with set-based SQL: a department tree six levels deep under
   the root (``--fanout``, default 4,3,3,3,3: 485 departments), ``--employees``
   spread evenly over it, and ``--customers`` each owned by an employee (hashed, so
   evenly), department = the owner's department, ``created_at`` spread over three
   years with UUIDv7-like ids in the same order (as the API creates them), status
   50% active / 25% prospect / 15% dormant / 10% lost. Then VACUUM ANALYZE.
4. A ``manager`` user created through the API (POST /api/v1/users) and linked to an
   employee of a level-2/3 department whose subtree holds the share of customers
   nearest ``--target-share`` (PATCH /api/v1/employees/{id} with ``user_id``).

Timed: both users sign in through POST /api/v1/auth/token; then, for each query
(``GET /api/v1/customers?limit=50`` with the default sort, and each ``--variant``, by
default ``limit=50&status=active&sort=-created_at``), ``--rounds`` rounds of
``--per-round`` request pairs through the ASGI app in-process, admin and manager
alternating (the order of each pair flips every pair). The figure is ratio = manager
median / admin median per query (goal: at most 1.5). ``--page N`` times page N instead
of the first (each role's cursor found beforehand by paging through the API). The same
statements are also timed straight against the database (asyncpg, app role, tenant
set) to show what the database alone does, and the manager's statements (compiled from
the service, exactly as the API builds them) are shown with EXPLAIN (ANALYZE, BUFFERS).

The machine is small and shared: read ratios, never absolute figures, and never treat
one run as a pass or a fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_me import DEFAULT_ADMIN_URL, DEFAULT_REDIS_URL, log, with_database
from kept_database import drop_database, open_database, record_build

from crm_api.app import create_app
from crm_api.cli import run_migrations
from crm_api.kernel.logging import configure_logging
from crm_api.settings import Settings

PASSWORD = "benchmark passphrase"  # noqa: S105 - throwaway bench accounts
ADMIN_EMAIL = "admin@visbench.example.com"
MANAGER_EMAIL = "manager@visbench.example.com"
RESULTS = Path(__file__).resolve().parent / "results"
GOAL = 1.5
# Bump when the generated data changes shape: older kept databases are then rebuilt.
LAYOUT = 1
BATCH = 100_000
SPAN_S = 3 * 365 * 24 * 3600  # created_at runs over three years
DEFAULT_QUERY = "limit=50"
DEFAULT_VARIANT = "limit=50&status=active&sort=-created_at"


@dataclass
class Build:
    """What the data set is and where its bench accounts sit (kept in the DB comment)."""

    tenant_id: str
    manager_department_id: str
    manager_department_name: str
    manager_department_level: int
    manager_employee_id: str
    subtree_departments: int
    subtree_customers: int
    customers: int
    build_s: float


# ------------------------------------------------------------------ the database


def _database_name(args: argparse.Namespace) -> str:
    return f"crm_bench_vis_{args.customers}c_{args.employees}e"


def _wanted(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "layout": LAYOUT,
        "customers": args.customers,
        "employees": args.employees,
        "fanout": args.fanout,
    }


# ------------------------------------------------------------------ the data (SQL)


async def _build_departments(
    connection: asyncpg.Connection, tenant_id: str, fanout: Sequence[int]
) -> int:
    """Levels 2.. under the tenant's root (level 1), ``fanout[i]`` children each."""
    for index, children in enumerate(fanout):
        level = index + 2
        await connection.execute(
            """
            WITH new AS MATERIALIZED (
                SELECT gen_random_uuid() AS id, p.id AS parent_id, p.path, g AS n,
                       CASE WHEN $3 = 2 THEN 'Division ' || g
                            ELSE p.name || '.' || g END AS name
                FROM departments p CROSS JOIN generate_series(1, $2) AS g
                WHERE p.tenant_id = $1::uuid AND cardinality(p.path) = $3 - 1
            )
            INSERT INTO departments (id, tenant_id, parent_id, name, position, path,
                                     version)
            SELECT id, $1::uuid, parent_id, name, n - 1, path || id, 1 FROM new
            """,
            tenant_id,
            children,
            level,
        )
    total = await connection.fetchval(
        "SELECT count(*) FROM departments WHERE tenant_id = $1::uuid", tenant_id
    )
    return int(total)


async def _build_employees(
    connection: asyncpg.Connection, tenant_id: str, employees: int
) -> None:
    """``employees`` people, dealt round the departments (ordered by path) in turn."""
    await connection.execute(
        """
        WITH d AS MATERIALIZED (
            SELECT id, row_number() OVER (ORDER BY path) - 1 AS ord,
                   count(*) OVER () AS total
            FROM departments WHERE tenant_id = $1::uuid
        )
        INSERT INTO employees (id, tenant_id, department_id, name, email, status,
                               custom, version)
        SELECT gen_random_uuid(), $1::uuid, d.id, 'Employee ' || g,
               'employee' || g || '@visbench.example.com', 'active', '{}', 1
        FROM generate_series(1, $2) AS g JOIN d ON d.ord = (g - 1) % d.total
        """,
        tenant_id,
        employees,
    )


_CUSTOMERS = """
INSERT INTO customers (id, tenant_id, code, kind, name, status, tags, custom, name_key,
                       country, version, owner_id, department_id, created_at,
                       updated_at)
SELECT
    -- UUIDv7 layout: 48-bit ms timestamp, version 7, variant 10xx: ids sort by time.
    (lpad(to_hex((extract(epoch FROM c.at) * 1000)::bigint), 12, '0')
     || '7' || substr(c.h, 1, 3) || '8' || substr(c.h, 4, 15))::uuid,
    $1::uuid, 'C' || c.n, CASE WHEN c.n % 5 = 0 THEN 'person' ELSE 'company' END,
    c.name, c.status, '{}', '{}', lower(c.name),
    (ARRAY['Germany', 'USA', 'China', 'Brazil'])[1 + c.n % 4], 1,
    o.id, o.department_id, c.at, c.at
FROM (
    SELECT n, md5(n::text) AS h,
           $4::timestamptz + make_interval(secs => n * $5::double precision) AS at,
           initcap(translate(substr(md5('name' || n), 1, 10), '0123456789',
                             'ghijklmnop'))
               || ' ' || (ARRAY['GmbH', 'Ltd', 'Inc', 'SA', 'Co'])[1 + n % 5] AS name,
           CASE WHEN b < 10 THEN 'active' WHEN b < 15 THEN 'prospect'
                WHEN b < 18 THEN 'dormant' ELSE 'lost' END AS status,
           mod(hashint4(n)::bigint + 2147483648, $6) AS owner_ord
    FROM (SELECT n, mod(hashint8(n)::bigint + 2147483648, 20) AS b
          FROM generate_series($2::int, $3::int) AS n) AS s
) AS c
JOIN bench_owner o ON o.ord = c.owner_ord
"""


async def _build_customers(
    connection: asyncpg.Connection, tenant_id: str, customers: int, employees: int
) -> None:
    await connection.execute(
        """
        CREATE TEMP TABLE bench_owner ON COMMIT DROP AS
        SELECT row_number() OVER (ORDER BY id) - 1 AS ord, id, department_id
        FROM employees
        WHERE tenant_id = $1::uuid AND name LIKE 'Employee %'
        """,
        tenant_id,
    )
    await connection.execute("ALTER TABLE bench_owner ADD PRIMARY KEY (ord)")
    await connection.execute("ANALYZE bench_owner")
    step = SPAN_S / max(customers, 1)
    start = await connection.fetchval(
        "SELECT now() - make_interval(secs => $1::double precision)", float(SPAN_S)
    )
    started = time.perf_counter()
    for first in range(1, customers + 1, BATCH):
        last = min(first + BATCH - 1, customers)
        await connection.execute(
            _CUSTOMERS, tenant_id, first, last, start, step, employees
        )
        log(f"inserted {last:,} customers ({time.perf_counter() - started:.0f} s)")


async def _fill(url: str, tenant_id: str, args: argparse.Namespace) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET synchronous_commit = off")
        started = time.perf_counter()
        async with connection.transaction():
            # Skip FK and trigger work row by row (custom is empty, so the custom-value
            # trigger has nothing to index); consistency is checked below, set-based.
            try:
                await connection.execute("SET LOCAL session_replication_role = replica")
            except asyncpg.InsufficientPrivilegeError:
                log("not a superuser: loading with triggers and FK checks on")
            departments = await _build_departments(connection, tenant_id, args.fanout)
            await _build_employees(connection, tenant_id, args.employees)
            log(
                f"{departments} departments, {args.employees:,} employees "
                f"({time.perf_counter() - started:.1f} s)"
            )
            await _build_customers(
                connection, tenant_id, args.customers, args.employees
            )
        broken = await connection.fetchval(
            """
            SELECT count(*) FROM customers c
            LEFT JOIN employees e ON e.id = c.owner_id AND e.tenant_id = c.tenant_id
            LEFT JOIN departments d ON d.id = c.department_id
                                   AND d.tenant_id = c.tenant_id
            WHERE c.tenant_id = $1::uuid
              AND (e.id IS NULL OR d.id IS NULL OR c.department_id <> e.department_id)
            """,
            tenant_id,
        )
        assert broken == 0, f"{broken} customers with a wrong owner or department"
        log("VACUUM ANALYZE ...")
        for table in ("departments", "employees", "customers", "custom_value_index"):
            await connection.execute(f"VACUUM (ANALYZE) {table}")
        log(f"data loaded in {time.perf_counter() - started:.0f} s")
    finally:
        await connection.close()


async def _pick_manager_department(
    url: str, tenant_id: str, target: float
) -> tuple[asyncpg.Record, str]:
    """The level-2/3 department whose subtree's share of customers is nearest
    ``target``, and an employee of that department (not of one below it)."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            """
            WITH per_department AS (
                SELECT department_id, count(*) AS n FROM customers
                WHERE tenant_id = $1::uuid GROUP BY department_id
            )
            SELECT d.id, d.name, cardinality(d.path) AS level,
                   count(s.id) AS departments, coalesce(sum(p.n), 0)::bigint AS customers
            FROM departments d
            JOIN departments s ON s.path @> ARRAY[d.id]
            LEFT JOIN per_department p ON p.department_id = s.id
            WHERE d.tenant_id = $1::uuid AND cardinality(d.path) IN (2, 3)
            GROUP BY d.id, d.name, d.path
            """,
            tenant_id,
        )
        total = await connection.fetchval(
            "SELECT count(*) FROM customers WHERE tenant_id = $1::uuid", tenant_id
        )
        chosen = min(
            rows,
            key=lambda r: (
                abs(int(r["customers"]) / max(total, 1) - target),
                r["name"],
            ),
        )
        employee = await connection.fetchval(
            """
            SELECT id FROM employees
            WHERE department_id = $1 AND user_id IS NULL AND status = 'active'
            ORDER BY name LIMIT 1
            """,
            chosen["id"],
        )
        assert employee is not None, "the chosen department has no employee"
        return chosen, str(employee)
    finally:
        await connection.close()


# ------------------------------------------------------------------ the API side


def _settings(url: str, redis_url: str) -> Settings:
    return Settings(**{  # type: ignore[arg-type]
        "DATABASE_URL": url, "REDIS_URL": redis_url,
        "jwt_secret": "bench-" + "x" * 40, "log_level": "WARNING",
        "password_hash_time_cost": 1, "password_hash_memory_kib": 1024,
        "access_token_ttl_s": 4 * 3600,
    })  # fmt: skip


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: "
        f"{response.status_code} {response.text[:500]}"
    )
    return response.json()


async def _sign_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    body = _ok(
        await client.post(
            "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
        )
    )
    return {"Authorization": f"Bearer {body['access_token']}"}


async def _set_up(
    client: httpx.AsyncClient, url: str, args: argparse.Namespace
) -> Build:
    started = time.perf_counter()
    signup = {
        "tenant": {"name": "Visbench", "slug": "visbench", "default_currency": "EUR",
                   "time_zone": "Europe/Berlin"},
        "admin": {"email": ADMIN_EMAIL, "full_name": "Bench Admin", "password": PASSWORD},
    }  # fmt: skip
    created = _ok(await client.post("/api/v1/signup", json=signup), 201)
    tenant_id = created["tenant"]["id"]
    await _fill(url, tenant_id, args)

    department, employee_id = await _pick_manager_department(
        url, tenant_id, args.target_share
    )
    admin = await _sign_in(client, ADMIN_EMAIL)
    user = _ok(
        await client.post(
            "/api/v1/users",
            json={"email": MANAGER_EMAIL, "full_name": "Bench Manager",
                  "password": PASSWORD, "roles": ["manager"]},
            headers=admin,
        ),
        201,
    )  # fmt: skip
    _ok(
        await client.patch(
            f"/api/v1/employees/{employee_id}",
            json={"user_id": user["id"]},
            headers=admin,
        )
    )
    return Build(
        tenant_id=tenant_id,
        manager_department_id=str(department["id"]),
        manager_department_name=department["name"],
        manager_department_level=int(department["level"]),
        manager_employee_id=employee_id,
        subtree_departments=int(department["departments"]),
        subtree_customers=int(department["customers"]),
        customers=args.customers,
        build_s=round(time.perf_counter() - started, 1),
    )


# ------------------------------------------------------------------ checks, SQL


async def _subtree(url: str, department_id: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT id FROM departments WHERE path @> ARRAY[$1::uuid]", department_id
        )
        return {str(row["id"]) for row in rows}
    finally:
        await connection.close()


async def _check(
    client: httpx.AsyncClient,
    queries: dict[str, str],
    headers: dict[str, dict[str, str]],
    build: Build,
    subtree: set[str],
) -> None:
    """Each list answers a full page; the manager's rows are all within their scope."""
    for name, params in queries.items():
        for role, auth in headers.items():
            page = _ok(
                await client.get("/api/v1/customers", params=params, headers=auth)
            )
            items = page["items"]
            assert len(items) == 50, (name, role, len(items))
            assert page["next_cursor"], (name, role)
            if role == "manager":
                outside = [
                    c["id"]
                    for c in items
                    if c["department_id"] not in subtree
                    and c["owner_id"] != build.manager_employee_id
                ]
                assert not outside, f"manager sees customers outside scope: {outside}"
            for key, value in _params(params):
                if key == "status":
                    assert all(c["status"] == value for c in items), (name, role)


async def _statement(
    app: Any,
    build: Build,
    email: str,
    params: list[tuple[str, str]],
    cursor: str | None,
) -> tuple[str, list[Any]]:
    """The SQL the list endpoint runs for ``email``'s user and ``params``, built by
    the service itself (as asyncpg SQL and arguments)."""
    from sqlalchemy import select
    from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

    from crm_api.auth import repository as auth_repository
    from crm_api.auth.grants import principal_for_user
    from crm_api.customers import repository, service
    from crm_api.customers.models import Customer
    from crm_api.kernel.db import set_tenant
    from crm_api.kernel.pagination import PageParams, paginate
    from crm_api.users.models import User

    filters = [(k, v) for k, v in params if k not in ("limit", "sort")]
    sort = dict(params).get("sort")
    limit = int(dict(params).get("limit", "50"))
    tenant_id = uuid.UUID(build.tenant_id)
    async with app.state.resources.sessionmaker() as session, session.begin():
        await set_tenant(session, tenant_id)
        user_id = await session.scalar(select(User.id).where(User.email == email))
        assert user_id is not None
        row = await auth_repository.user_row(session, user_id)
        principal = await principal_for_user(session, row, tenant_id=tenant_id)
        query = await service.list_query(session, principal, filters, q=None, sort=sort)
    statement = repository.joined(
        select(Customer, *(key.column for key in query.keys)), query.joins
    ).where(*query.conditions)
    statement = paginate(statement, query.keys, PageParams(limit=limit, cursor=cursor))
    dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
    compiled = statement.compile(dialect=dialect)
    names = list(compiled.positiontup or [])
    return compiled.string, [compiled.params[name] for name in names]


async def _explain(
    connection: asyncpg.Connection, tenant_id: str, sql: str, values: list[Any]
) -> list[str]:
    async with connection.transaction():
        await connection.execute(
            "SELECT set_config('app.tenant_id', $1, true)", tenant_id
        )
        rows = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *values)
    return [str(row[0]) for row in rows]


# ------------------------------------------------------------------ measuring


def _p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 2),
        "p90_ms": round(_p90(values), 2),
        "n": len(values),
    }


async def _cursors(
    client: httpx.AsyncClient,
    queries: dict[str, str],
    headers: dict[str, dict[str, str]],
    page: int,
) -> dict[str, dict[str, str | None]]:
    """Per query and role, the cursor of page ``page`` (None for the first), found by
    following ``next_cursor`` as a client would (not timed)."""
    found: dict[str, dict[str, str | None]] = {}
    for name, query in queries.items():
        found[name] = {}
        for role, auth in headers.items():
            cursor: str | None = None
            for _ in range(page - 1):
                params = _params(query) + ([("cursor", cursor)] if cursor else [])
                body = _ok(
                    await client.get(
                        "/api/v1/customers",
                        params=urllib.parse.urlencode(params),
                        headers=auth,
                    )
                )
                cursor = body["next_cursor"]
                assert cursor, f"{name}: {role} has fewer than {page} pages"
            found[name][role] = cursor
    return found


def _with_cursor(query: str, cursor: str | None) -> str:
    if cursor is None:
        return query
    return query + "&" + urllib.parse.urlencode({"cursor": cursor})


async def _measure_api(
    client: httpx.AsyncClient,
    requests: dict[str, dict[str, str]],
    headers: dict[str, dict[str, str]],
    args: argparse.Namespace,
) -> dict[str, dict[str, list[float]]]:
    """``requests``: per query, per role, the query string to time."""
    samples: dict[str, dict[str, list[float]]] = {
        name: {role: [] for role in headers} for name in requests
    }
    roles = list(headers)
    for per in requests.values():  # warm-up: caches, prepared statements
        for _ in range(args.warmup):
            for role in roles:
                await client.get(
                    "/api/v1/customers", params=per[role], headers=headers[role]
                )
    for round_no in range(args.rounds):
        for name, per in requests.items():
            for pair in range(args.per_round):
                order = roles if (round_no + pair) % 2 == 0 else roles[::-1]
                for role in order:
                    started = time.perf_counter()
                    response = await client.get(
                        "/api/v1/customers", params=per[role], headers=headers[role]
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, response.text[:300]
                    samples[name][role].append(elapsed)
        done = {
            name: round(
                statistics.median(per["manager"]) / statistics.median(per["admin"]), 2
            )
            for name, per in samples.items()
        }
        log(f"round {round_no + 1}/{args.rounds}: ratio so far {done}")
    return samples


async def _measure_sql(
    url: str,
    tenant_id: str,
    statements: dict[str, dict[str, tuple[str, list[Any]]]],
    repeat: int,
) -> dict[str, dict[str, list[float]]]:
    """The same statements straight against the database (app role, tenant set,
    one transaction each, prepared once as the app's driver does), interleaved."""
    connection = await asyncpg.connect(url, server_settings={"role": "crm_app"})
    samples: dict[str, dict[str, list[float]]] = {
        name: {role: [] for role in per} for name, per in statements.items()
    }
    try:
        for name, per in statements.items():
            roles = list(per)
            for index in range(repeat + 3):
                order = roles if index % 2 == 0 else roles[::-1]
                for role in order:
                    sql, values = per[role]
                    started = time.perf_counter()
                    async with connection.transaction():
                        await connection.execute(
                            "SELECT set_config('app.tenant_id', $1, true)", tenant_id
                        )
                        rows = await connection.fetch(sql, *values)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert len(rows) == 51, (name, role, len(rows))
                    if index >= 3:  # the first few warm up
                        samples[name][role].append(elapsed)
    finally:
        await connection.close()
    return samples


def _ratios(
    samples: dict[str, dict[str, list[float]]],
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, per in samples.items():
        admin, manager = _summary(per["admin"]), _summary(per["manager"])
        out[name] = {
            "admin": admin,
            "manager": manager,
            "ratio": round(manager["median_ms"] / admin["median_ms"], 2),
        }
    return out


# ------------------------------------------------------------------ the run


def _params(text: str) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(text, keep_blank_values=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name = _database_name(args)
    url = with_database(args.admin_url, name)
    wanted = _wanted(args)
    set_up_started = time.perf_counter()
    recorded = await open_database(args.admin_url, name, wanted, args.fresh)
    build = None if recorded is None else Build(**recorded)
    await asyncio.to_thread(run_migrations, url)
    reused = build is not None

    configure_logging(json_output=False, level="WARNING")
    app = create_app(_settings(url, args.redis_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=120
        ) as client:
            if build is None:
                build = await _set_up(client, url, args)
                await record_build(args.admin_url, name, wanted, build.__dict__)
            set_up_s = time.perf_counter() - set_up_started
            share = build.subtree_customers / build.customers
            log(
                f"set-up took {set_up_s:.1f} s ({'reused' if reused else 'built'}); "
                f"manager's department {build.manager_department_name!r} "
                f"(level {build.manager_department_level}, "
                f"{build.subtree_departments} departments in its subtree) sees "
                f"{build.subtree_customers:,} of {build.customers:,} customers "
                f"({share:.1%})"
            )

            headers = {
                "admin": await _sign_in(client, ADMIN_EMAIL),
                "manager": await _sign_in(client, MANAGER_EMAIL),
            }
            queries = {"default": args.query}
            for index, variant in enumerate(args.variant or [DEFAULT_VARIANT]):
                queries["variant" + (str(index + 1) if index else "")] = variant
            subtree = await _subtree(url, build.manager_department_id)
            await _check(client, queries, headers, build, subtree)

            cursors = await _cursors(client, queries, headers, args.page)
            emails = {"admin": ADMIN_EMAIL, "manager": MANAGER_EMAIL}
            statements = {
                qname: {
                    role: await _statement(
                        app, build, email, _params(query), cursors[qname][role]
                    )
                    for role, email in emails.items()
                }
                for qname, query in queries.items()
            }
            requests = {
                qname: {
                    role: _with_cursor(query, cursors[qname][role]) for role in headers
                }
                for qname, query in queries.items()
            }
            api = await _measure_api(client, requests, headers, args)

    sql = await _measure_sql(url, build.tenant_id, statements, args.sql_repeat)
    explained: dict[str, dict[str, list[str]]] = {}
    direct = await asyncpg.connect(url, server_settings={"role": "crm_app"})
    try:
        for qname, per in statements.items():
            explained[qname] = {
                role: await _explain(direct, build.tenant_id, *per[role])
                for role in per
            }
    finally:
        await direct.close()
    if args.drop:
        await drop_database(args.admin_url, name)

    return {
        "bench": "visibility",
        "database": name,
        "reused": reused,
        "set_up_s": round(set_up_s, 1),
        "build_s": build.build_s,
        "customers": build.customers,
        "employees": args.employees,
        "fanout": args.fanout,
        "manager_department": build.manager_department_name,
        "manager_department_level": build.manager_department_level,
        "manager_share": round(build.subtree_customers / build.customers, 4),
        "queries": queries,
        "page": args.page,
        "rounds": args.rounds,
        "per_round": args.per_round,
        "api": _ratios(api),
        "sql": _ratios(sql),
        "goal": f"ratio <= {GOAL}",
        "manager_sql": {k: v["manager"][0] for k, v in statements.items()},
        "explain": explained,
    }


def _report(result: dict[str, Any]) -> None:
    page = f" (page {result['page']})" if result["page"] > 1 else ""
    for qname, per_role in result["explain"].items():
        print(f"\n=== EXPLAIN (ANALYZE, BUFFERS): manager, {qname}: "
              f"GET /api/v1/customers?{result['queries'][qname]}{page}")  # fmt: skip
        print(result["manager_sql"][qname])
        print("\n".join(per_role["manager"]))
        admin_time = [line for line in per_role["admin"] if "Execution Time" in line]
        print(f"(admin, same query: {admin_time[0].strip() if admin_time else '?'})")

    print(f"\n{'query':<8} {'side':<4} {'role':<8} {'median ms':>10} {'p90 ms':>9} "
          f"{'n':>4} {'ratio':>6}")  # fmt: skip
    for side in ("api", "sql"):
        for qname, figures in result[side].items():
            for role in ("admin", "manager"):
                f = figures[role]
                ratio = f"{figures['ratio']:.2f}" if role == "manager" else ""
                print(f"{qname:<8} {side:<4} {role:<8} {f['median_ms']:>10.2f} "
                      f"{f['p90_ms']:>9.2f} {f['n']:>4} {ratio:>6}")  # fmt: skip

    api = result["api"]
    verdicts = ", ".join(
        f"{q} ({result['queries'][q]}) {api[q]['ratio']:.2f} "
        f"[{api[q]['manager']['median_ms']:.1f} vs {api[q]['admin']['median_ms']:.1f} ms]"
        for q in api
    )
    sql = ", ".join(f"{q} {result['sql'][q]['ratio']:.2f}" for q in result["sql"])
    worst = max(api[q]["ratio"] for q in api)
    print(
        f"\nSummary: {result['customers']:,} customers, {result['employees']:,} "
        f"employees, a six-level tree (fanout {result['fanout']}); set-up "
        f"{result['set_up_s']:.0f} s ({'reused' if result['reused'] else 'built'}, "
        f"build {result['build_s']:.0f} s). The manager sits in "
        f"{result['manager_department']!r} (level "
        f"{result['manager_department_level']}) and sees "
        f"{result['manager_share']:.1%} of the customers. Through the API, "
        f"{result['rounds']} rounds x {result['per_round']} interleaved pairs"
        f"{', page ' + str(result['page']) if result['page'] > 1 else ''}, "
        f"ratio = manager median / admin median: {verdicts}. The database alone "
        f"(same statements, asyncpg): {sql}. Goal <= {GOAL}: "
        f"{'met' if worst <= GOAL else 'NOT met'} in this run (one run on a noisy "
        f"machine: a reading, not a verdict)."
    )


def _fanout(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if len(values) != 5 or min(values) < 1:
        raise argparse.ArgumentTypeError("five positive numbers: levels 2 to 6")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--employees", type=int, default=5_000)
    parser.add_argument(
        "--fanout",
        type=_fanout,
        default=[4, 3, 3, 3, 3],
        help="children per department, levels 2..6 (default 4,3,3,3,3)",
    )
    parser.add_argument(
        "--target-share",
        type=float,
        default=0.10,
        help="the manager's subtree share of customers to aim for (default 0.10); "
        "read when the data is built (add --fresh to change it on a kept database)",
    )
    parser.add_argument("--query", default=DEFAULT_QUERY)
    parser.add_argument(
        "--variant",
        action="append",
        help="a sorted/filtered list query to compare too (repeatable; default "
        f"{DEFAULT_VARIANT!r})",
    )
    parser.add_argument(
        "--page",
        type=int,
        default=1,
        help="time page N of each list (its cursor found by paging, untimed)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--sql-repeat", type=int, default=40)
    parser.add_argument("--fresh", action="store_true", help="rebuild the data")
    parser.add_argument("--drop", action="store_true", help="drop the database after")
    args = parser.parse_args()
    if args.employees < 1 or args.customers < 51 or args.page < 1:
        parser.error("need at least 1 employee, 51 customers and page 1")

    result = asyncio.run(run(args))
    _report(result)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"visibility-{int(time.time())}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
