"""The Northwind customers file, exactly as published, through the API and the job."""

from __future__ import annotations

from typing import Any

import httpx

from tests.customers.conftest import define
from tests.fixtures.api import TenantContext
from tests.imports.conftest import (
    NORTHWIND_MAPPING,
    count,
    import_file,
    northwind_bytes,
)


async def test_northwind_imports_and_reimporting_changes_nothing(
    client: httpx.AsyncClient, tenant_a: TenantContext, job_ctx: dict[str, Any]
) -> None:
    content = northwind_bytes()
    await define(client, tenant_a, key="fax", label="Fax", type="text")

    first = await import_file(client, tenant_a, job_ctx, content, NORTHWIND_MAPPING)
    second = await import_file(client, tenant_a, job_ctx, content, NORTHWIND_MAPPING)

    assert first["status"] == "succeeded", first
    assert (first["rows_created"], first["rows_failed"]) == (91, 0)
    assert await count(client, tenant_a) == 91
    assert await count(client, tenant_a, country="USA") == 13
    assert await count(client, tenant_a, country="Germany") == 11
    assert await count(client, tenant_a, **{"custom.fax[exists]": "true"}) == 69
    assert (second["rows_created"], second["rows_updated"]) == (0, 0)
    assert second["rows_unchanged"] == 91
