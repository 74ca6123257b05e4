"""Uploading CSV files and running the import job the way a worker would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from crm_api.imports.tasks import import_customers
from crm_api.kernel.db import create_engine, create_sessionmaker
from crm_api.settings import Settings
from tests.fixtures.api import TenantContext

BASE = "/api/v1/customers/imports"
REPO_ROOT = Path(__file__).resolve().parents[2]
NORTHWIND = REPO_ROOT.parent / "shared" / "data" / "northwind" / "customers.csv"
NORTHWIND_MAPPING: dict[str, Any] = json.loads(
    (REPO_ROOT / "examples" / "northwind-customers-mapping.json").read_text()
)


def northwind_bytes() -> bytes:
    if not NORTHWIND.exists():
        pytest.skip(f"the Northwind sample is not at {NORTHWIND}")
    return NORTHWIND.read_bytes()


@pytest.fixture
async def job_ctx(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """What the arq worker's start-up puts into every job's context."""
    assert settings.database_url is not None
    engine = create_engine(settings.database_url, app_role=settings.database_app_role)
    yield {
        "settings": settings,
        "engine": engine,
        "sessionmaker": create_sessionmaker(engine),
        "job_try": 1,
    }
    await engine.dispose()


@pytest.fixture(autouse=True)
async def _forget_queued_jobs(redis_dsn: str) -> AsyncIterator[None]:
    """Uploads queue real arq jobs; no worker runs them here, so drop them after."""
    yield
    redis = Redis.from_url(redis_dsn)
    keys = [key async for key in redis.scan_iter("arq:job:import:*")]
    if keys:
        await redis.delete(*keys)
        await redis.zrem(
            "arq:queue", *[key.decode()[len("arq:job:") :] for key in keys]
        )
    await redis.aclose()


async def upload(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    content: bytes,
    mapping: dict[str, Any],
    *,
    file_name: str = "customers.csv",
    headers: dict[str, str] | None = None,
    **form: Any,
) -> httpx.Response:
    data = {"mapping": json.dumps(mapping), **{k: str(v) for k, v in form.items()}}
    return await client.post(
        BASE,
        data=data,
        files={"file": (file_name, content, "text/csv")},
        headers={**ctx.headers, **(headers or {})},
    )


async def import_file(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    job_ctx: dict[str, Any],
    content: bytes,
    mapping: dict[str, Any],
    **form: Any,
) -> dict[str, Any]:
    """Upload, run the job to its end, and return the import as the API shows it."""
    response = await upload(client, ctx, content, mapping, **form)
    assert response.status_code == 202, response.text
    created = response.json()
    await import_customers(job_ctx, ctx.tenant["id"], created["id"])
    return await get_import(client, ctx, created["id"])


async def get_import(
    client: httpx.AsyncClient, ctx: TenantContext, import_id: str
) -> dict[str, Any]:
    response = await client.get(f"{BASE}/{import_id}", headers=ctx.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def row_errors(
    client: httpx.AsyncClient, ctx: TenantContext, import_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"{BASE}/{import_id}/errors", params={"limit": 200}, headers=ctx.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def count(client: httpx.AsyncClient, ctx: TenantContext, **params: str) -> int:
    response = await client.get(
        "/api/v1/customers/count", params=params, headers=ctx.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["count"]  # type: ignore[no-any-return]
