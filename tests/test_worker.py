"""Jobs run against the real database, and running one twice changes nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from crm_api.kernel.db import create_engine, create_sessionmaker
from crm_api.settings import Settings
from crm_api.worker import purge_expired
from tests.fixtures.api import TenantContext


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    assert settings.database_url is not None
    engine = create_engine(settings.database_url, app_role=settings.database_app_role)
    yield {
        "settings": settings,
        "engine": engine,
        "sessionmaker": create_sessionmaker(engine),
    }
    await engine.dispose()


async def test_purge_removes_only_expired_rows_in_every_tenant_and_is_idempotent(
    ctx: dict[str, Any],
    owner: asyncpg.Connection,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
) -> None:
    for tenant in (tenant_a, tenant_b):
        await owner.execute(
            "INSERT INTO idempotency_keys (tenant_id, principal, key, fingerprint, created_at) "
            "VALUES ($1, 'user:x', 'old', 'f', now() - interval '2 days'), "
            "($1, 'user:x', 'new', 'f', now())",
            tenant.tenant["id"],
        )
    await owner.execute(
        "UPDATE refresh_tokens SET expires_at = now() - interval '30 days' "
        "WHERE tenant_id = $1",
        tenant_a.tenant["id"],
    )

    first = await purge_expired(ctx)
    second = await purge_expired(ctx)

    assert first == {"idempotency_keys": 2, "refresh_tokens": 1}
    assert second == {"idempotency_keys": 0, "refresh_tokens": 0}
    assert await owner.fetchval("SELECT count(*) FROM idempotency_keys") == 2
    assert await owner.fetchval("SELECT count(*) FROM refresh_tokens") == 1
