"""Row-level security stops cross-tenant access even when a query forgets its filter."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from crm_api.kernel.db import create_engine, create_sessionmaker, set_tenant
from crm_api.models import Base
from crm_api.settings import Settings
from tests.fixtures.api import TenantContext

TENANT_TABLES = [
    table.name for table in Base.metadata.sorted_tables if "tenant_id" in table.columns
]


@pytest.fixture
async def app_engine(settings: Settings):  # type: ignore[no-untyped-def]
    assert settings.database_url is not None
    engine = create_engine(
        settings.database_url,
        app_role=settings.database_app_role,
        pool_size=1,
        max_overflow=0,
    )
    yield engine
    await engine.dispose()


async def test_unscoped_query_sees_only_the_current_tenant(
    app_engine,
    tenant_a: TenantContext,
    tenant_b: TenantContext,  # type: ignore[no-untyped-def]
) -> None:
    async with create_sessionmaker(app_engine)() as session:
        await set_tenant(session, uuid.UUID(tenant_a.tenant["id"]))

        emails = (await session.scalars(text("SELECT email FROM users"))).all()
        tenants = (await session.scalars(text("SELECT slug FROM tenants"))).all()

    assert emails == [tenant_a.admin["email"]]
    assert tenants == ["acme"]


async def test_without_a_tenant_nothing_is_visible(
    app_engine,
    tenant_a: TenantContext,  # type: ignore[no-untyped-def]
) -> None:
    async with create_sessionmaker(app_engine)() as session:
        for table in ["tenants", *TENANT_TABLES]:
            count = await session.scalar(text(f"SELECT count(*) FROM {table}"))
            assert count == 0, table


async def test_writing_a_row_into_another_tenant_is_refused(
    app_engine,
    tenant_a: TenantContext,
    tenant_b: TenantContext,  # type: ignore[no-untyped-def]
) -> None:
    async with create_sessionmaker(app_engine)() as session:
        await set_tenant(session, uuid.UUID(tenant_a.tenant["id"]))

        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(
                text(
                    "INSERT INTO outbox_events (id, tenant_id, type, payload) "
                    "VALUES (gen_random_uuid(), :tenant, 'x', '{}')"
                ),
                {"tenant": tenant_b.tenant["id"]},
            )


async def test_updates_cannot_reach_other_tenants_rows(
    app_engine,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    owner: asyncpg.Connection,  # type: ignore[no-untyped-def]
) -> None:
    async with create_sessionmaker(app_engine)() as session, session.begin():
        await set_tenant(session, uuid.UUID(tenant_a.tenant["id"]))
        result = await session.execute(text("UPDATE users SET full_name = 'pwned'"))

    assert result.rowcount == 1  # type: ignore[attr-defined]
    names = await owner.fetch("SELECT full_name FROM users ORDER BY full_name")
    assert [row["full_name"] for row in names] == ["Ada Admin", "pwned"]


async def test_every_tenant_table_has_rls_and_the_app_role_cannot_bypass_it(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    rows = await owner.fetch(
        "SELECT relname, relrowsecurity FROM pg_class WHERE relname = ANY($1::text[])",
        ["tenants", *TENANT_TABLES],
    )
    assert {row["relname"]: row["relrowsecurity"] for row in rows} == {
        name: True for name in ["tenants", *TENANT_TABLES]
    }
    role = await owner.fetchrow(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1",
        settings.database_app_role,
    )
    assert role is not None
    assert (role["rolsuper"], role["rolbypassrls"]) == (False, False)
    owners = await owner.fetch(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
    )
    assert settings.database_app_role not in {row["tableowner"] for row in owners}


async def test_app_role_cannot_switch_rls_off(app_engine) -> None:  # type: ignore[no-untyped-def]
    async with create_sessionmaker(app_engine)() as session:
        with pytest.raises(DBAPIError, match="must be owner"):
            await session.execute(text("ALTER TABLE users DISABLE ROW LEVEL SECURITY"))


async def test_cancelled_request_leaves_no_tenant_or_transaction_on_the_pool(
    app_engine,
    tenant_a: TenantContext,
    owner: asyncpg.Connection,  # type: ignore[no-untyped-def]
) -> None:
    sessionmaker = create_sessionmaker(app_engine)
    started = asyncio.Event()

    async def slow_request() -> None:
        async with sessionmaker() as session:
            await set_tenant(session, uuid.UUID(tenant_a.tenant["id"]))
            started.set()
            await session.execute(text("SELECT pg_sleep(10)"))

    task = asyncio.create_task(slow_request())
    await started.wait()
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # The pool holds one connection: whatever comes next reuses it (or its replacement).
    idle_in_transaction = await owner.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'crm-api' "
        "AND state LIKE 'idle in transaction%'"
    )
    async with sessionmaker() as session:
        setting = await session.scalar(
            text("SELECT coalesce(current_setting('app.tenant_id', true), '')")
        )
        visible = await session.scalar(text("SELECT count(*) FROM users"))

    assert idle_in_transaction == 0
    assert setting == ""
    assert visible == 0
    sleeping = await owner.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(10)%' "
        "AND state = 'active'"
    )
    assert sleeping == 0
