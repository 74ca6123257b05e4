"""Every migration downgrades, and the models match what the migrations build."""

from __future__ import annotations

import asyncio
import secrets
import warnings
from collections.abc import Iterator

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from crm_api.cli import ROOT
from crm_api.models import Base
from tests.fixtures.services import postgres_admin_url, with_database


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    return config


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


# Alembic cannot compare an expression index with an operator class; the trigram
# index is checked by name instead (test_trigram_index_exists).
_NOT_COMPARED = {"ix_customers_name_trgm"}


def _comparable(obj: object, name: str | None, type_: str, *_: object) -> bool:
    return name not in _NOT_COMPARED


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[str]:
    with postgres_admin_url() as admin:
        name = f"crm_migrations_{secrets.token_hex(4)}"
        asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
        try:
            yield with_database(admin, name)
        finally:
            asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_upgrade_downgrade_upgrade_round_trips(scratch_url: str) -> None:
    config = _config(scratch_url)

    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")


def test_models_match_the_migrated_schema(scratch_url: str) -> None:
    command.upgrade(_config(scratch_url), "head")

    async def differences() -> list[object]:
        from sqlalchemy.ext.asyncio import create_async_engine

        from crm_api.kernel.db import to_asyncpg_url

        async_engine = create_async_engine(to_asyncpg_url(scratch_url))
        async with async_engine.connect() as connection:
            found = await connection.run_sync(_compare)
        await async_engine.dispose()
        return list(found)

    def _compare(sync: object) -> object:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*gin_trgm_ops.*")
            return compare_metadata(
                MigrationContext.configure(
                    sync,  # type: ignore[arg-type]
                    opts={"compare_type": True, "include_object": _comparable},
                ),
                Base.metadata,
            )

    diff = asyncio.run(differences())
    # Foreign-key names differ (the migrations let PostgreSQL name them); nothing else may.
    meaningful = [
        d
        for d in diff
        if not (isinstance(d, tuple) and d[0] in ("add_fk", "remove_fk"))
    ]
    assert [str(d)[:100] for d in meaningful] == [], "\n".join(
        str(d)[:300] for d in meaningful
    )


def test_trigram_index_exists(scratch_url: str) -> None:
    async def indexes() -> list[str]:
        connection = await asyncpg.connect(scratch_url)
        try:
            rows = await connection.fetch(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_customers_name_trgm'"
            )
        finally:
            await connection.close()
        return [row["indexdef"] for row in rows]

    [definition] = asyncio.run(indexes())
    assert "gin_trgm_ops" in definition
