"""A throwaway table of records registered as the "opportunity" entity.

It has what an entity table has for custom attributes (tenant_id, a JSONB ``custom``
column, row-level security) plus a version and an ``updated_at`` that refreshes on
update, to show that conversions leave them alone. It lives in its own metadata, so
the application's table list (and the suite's clean-up) never sees it; the tenants'
clean-up empties it through its foreign key.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import DateTime, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_api.custom_attributes import registry
from crm_api.custom_attributes.kinds import Entity
from crm_api.custom_attributes.registry import EntityTable
from crm_api.kernel.rls import isolate
from crm_api.settings import Settings

TABLE = "custom_attribute_test_records"
ENTITY: Entity = "opportunity"


class _TestBase(DeclarativeBase):
    pass


class Record(_TestBase):
    __tablename__ = TABLE

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB)
    version: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


@dataclass
class Records:
    """Records of the test table, written and read as the owner (no RLS)."""

    owner: asyncpg.Connection

    async def add(self, tenant_id: str, custom: dict[str, Any]) -> uuid.UUID:
        record_id = uuid.uuid4()
        await self.owner.execute(
            f"INSERT INTO {TABLE} (id, tenant_id, custom, version, updated_at) "
            "VALUES ($1, $2, $3::jsonb, 1, now() - interval '1 day')",
            record_id,
            uuid.UUID(tenant_id),
            json.dumps(custom),
        )
        return record_id

    async def custom(self, record_id: uuid.UUID) -> dict[str, Any]:
        raw = await self.owner.fetchval(
            f"SELECT custom FROM {TABLE} WHERE id = $1", record_id
        )
        return json.loads(raw)  # type: ignore[no-any-return]

    async def row(self, record_id: uuid.UUID) -> asyncpg.Record:
        return await self.owner.fetchrow(
            f"SELECT * FROM {TABLE} WHERE id = $1", record_id
        )


@pytest.fixture(scope="session")
async def records_table(owner: asyncpg.Connection, settings: Settings) -> str:
    await owner.execute(
        f"""CREATE TABLE {TABLE} (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            custom jsonb NOT NULL DEFAULT '{{}}',
            version integer NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now())"""
    )
    for statement in isolate(TABLE, settings.database_app_role):
        await owner.execute(statement)
    return TABLE


@pytest.fixture
def records(
    records_table: str, owner: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> Records:
    """The test table, registered as the entity for this test only."""
    monkeypatch.setitem(registry._REGISTRY, ENTITY, EntityTable(ENTITY, Record))
    return Records(owner)
