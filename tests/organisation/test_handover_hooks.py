"""Other domains' records follow a leaver's or a deleted department's handover.

A probe table stands in for customers, orders and tasks, which register their owner
and department columns the same way once they point at employees and departments.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, Table, Uuid

from crm_api.organisation import repository
from crm_api.settings import Settings
from tests.fixtures.api import TenantContext
from tests.organisation.conftest import (
    DEPARTMENTS,
    EMPLOYEES,
    create_department,
    create_employee,
)

probe = Table(
    "handover_probe",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid),
    Column("department_id", Uuid),
    Column("done", Boolean),
    Column("version", Integer),
)


@pytest.fixture
async def probe_table(
    owner: asyncpg.Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    await owner.execute(
        """CREATE TABLE handover_probe (
            id uuid PRIMARY KEY, owner_id uuid, department_id uuid,
            done boolean NOT NULL, version integer NOT NULL DEFAULT 1)"""
    )
    await owner.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON handover_probe "
        f"TO {settings.database_app_role}"
    )
    monkeypatch.setattr(repository, "_EMPLOYEE_REFERENCES", [])
    monkeypatch.setattr(repository, "_DEPARTMENT_REFERENCES", [])
    repository.register_employee_reference(
        probe.c.owner_id, open_records=lambda: probe.c.done.is_(False)
    )
    repository.register_department_reference(probe.c.department_id)
    yield
    await owner.execute("DROP TABLE handover_probe")


async def _record(
    owner: asyncpg.Connection,
    *,
    owner_id: str | None = None,
    department_id: str | None = None,
    done: bool = False,
) -> uuid.UUID:
    record_id = uuid.uuid4()
    await owner.execute(
        "INSERT INTO handover_probe (id, owner_id, department_id, done) "
        "VALUES ($1, $2, $3, $4)",
        record_id,
        uuid.UUID(owner_id) if owner_id else None,
        uuid.UUID(department_id) if department_id else None,
        done,
    )
    return record_id


async def _owners(owner: asyncpg.Connection) -> dict[uuid.UUID, tuple[Any, ...]]:
    rows = await owner.fetch(
        "SELECT id, owner_id, department_id, version FROM handover_probe"
    )
    return {
        row["id"]: (row["owner_id"], row["department_id"], row["version"])
        for row in rows
    }


@pytest.mark.usefixtures("probe_table")
class TestRegisteredRecords:
    async def test_leaving_hands_over_open_records_only(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        janet = await create_employee(client, tenant_a, sales, "Janet")
        first = await _record(owner, owner_id=nancy["id"])
        second = await _record(owner, owner_id=nancy["id"])
        closed = await _record(owner, owner_id=nancy["id"], done=True)

        response = await client.post(
            f"{EMPLOYEES}/{nancy['id']}/leave",
            json={"handover_to": janet["id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["moved"]["handover_probe.owner_id"] == 2
        records = await _owners(owner)
        janet_id, nancy_id = uuid.UUID(janet["id"]), uuid.UUID(nancy["id"])
        assert records[first] == (janet_id, None, 2)
        assert records[second] == (janet_id, None, 2)
        assert records[closed] == (nancy_id, None, 1)

    async def test_employee_owning_records_cannot_be_deleted(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        await _record(owner, owner_id=nancy["id"], done=True)

        response = await client.delete(
            f"{EMPLOYEES}/{nancy['id']}", headers=tenant_a.headers
        )

        assert response.status_code == 409
        assert response.json()["extra"]["history"] == {"handover_probe.owner_id": 1}

    async def test_department_records_block_a_plain_delete_and_follow_a_handover(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        old = await create_department(client, tenant_a, "Old")
        new = await create_department(client, tenant_a, "New")
        record = await _record(owner, department_id=old["id"])
        path = f"{DEPARTMENTS}/{old['id']}"

        plain = await client.delete(path, headers=tenant_a.headers)
        handed_over = await client.delete(
            path, params={"handover_to": new["id"]}, headers=tenant_a.headers
        )

        assert plain.status_code == 409
        assert plain.json()["extra"]["contents"] == {"handover_probe.department_id": 1}
        assert handed_over.status_code == 204
        assert (await _owners(owner))[record] == (None, uuid.UUID(new["id"]), 2)
