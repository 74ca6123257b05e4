"""Suite-wide fixtures: one migrated database per run, every table emptied per test."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from crm_api.app import create_app
from crm_api.cli import run_migrations
from crm_api.models import Base
from crm_api.settings import Settings
from tests.fixtures.services import postgres_admin_url, redis_url, with_database

pytest_plugins = ["tests.fixtures.api"]


async def _create_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with postgres_admin_url() as admin_url:
        name = f"crm_test_{secrets.token_hex(4)}"
        asyncio.run(_create_database(admin_url, name))
        url = with_database(admin_url, name)
        run_migrations(url)
        try:
            yield url
        finally:
            asyncio.run(_drop_database(admin_url, name))


@pytest.fixture(scope="session")
def redis_dsn() -> Iterator[str]:
    with redis_url() as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, redis_dsn: str) -> Settings:
    return Settings(
        **{  # type: ignore[arg-type]
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_dsn,
            "environment": "test",
            "jwt_secret": "test-secret-" + "x" * 40,
            "log_json": False,
            "log_level": "WARNING",
            "login_attempts_per_minute": 5,
            # Runs sharing one Redis (several checkouts) must not see each other.
            "redis_key_prefix": f"crm-test-{secrets.token_hex(4)}:",
            # Cheap hashes keep the suite fast; production uses the defaults.
            "password_hash_time_cost": 1,
            "password_hash_memory_kib": 1024,
        }
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture(scope="session")
async def owner(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the owner (superuser in tests): bypasses RLS, for set-up only."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture(autouse=True)
async def _clean_state(
    owner: asyncpg.Connection, redis_dsn: str, settings: Settings
) -> AsyncIterator[None]:
    yield
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    await owner.execute(f"TRUNCATE {tables} CASCADE")
    redis = Redis.from_url(redis_dsn)
    keys = [key async for key in redis.scan_iter(f"{settings.redis_key_prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
