"""`crm-api import customers`: the same import, from the command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from crm_api.cli import main
from crm_api.settings import Settings, get_settings
from tests.customers.conftest import define
from tests.fixtures.api import TenantContext
from tests.imports.conftest import NORTHWIND, REPO_ROOT, count, northwind_bytes

MAPPING_FILE = REPO_ROOT / "examples" / "northwind-customers-mapping.json"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[None]:
    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CRM_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _run(*args: str) -> Result:
    # The command runs its own event loop, so it runs in a thread of its own here.
    return await asyncio.to_thread(
        CliRunner().invoke, main, ["import", "customers", *args]
    )


def _report(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout[result.stdout.index("{") :])  # type: ignore[no-any-return]


async def test_northwind_through_the_cli_then_again_as_a_dry_run(
    env: None,
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
) -> None:
    northwind_bytes()
    await define(client, tenant_a, key="fax", label="Fax", type="text")
    arguments = [str(NORTHWIND), "--mapping", str(MAPPING_FILE), "--tenant", "acme"]

    first = await _run(*arguments)
    again = await _run(*arguments, "--dry-run")

    assert first.exit_code == 0, first.output
    assert "Importing" in first.stderr
    report = _report(first)
    assert (report["status"], report["rows_created"]) == ("succeeded", 91)
    assert report["created_by"] == tenant_a.admin["id"]
    assert await count(client, tenant_a, **{"custom.fax[exists]": "true"}) == 69
    assert again.exit_code == 0, again.output
    assert _report(again)["rows_unchanged"] == 91
    assert await count(client, tenant_b) == 0


async def test_failed_rows_are_listed_and_exit_3(
    env: None, client: httpx.AsyncClient, tenant_a: TenantContext, tmp_path: Path
) -> None:
    csv_file = tmp_path / "customers.csv"
    csv_file.write_bytes(b"code,name\nA1,Alpha\nA2,\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"columns": {"code": "code", "name": "name"}}')

    result = await _run(
        str(csv_file), "--mapping", str(mapping), "--as", tenant_a.admin["email"]
    )

    assert result.exit_code == 3, result.output
    report = _report(result)
    assert (report["rows_created"], report["rows_failed"]) == (1, 1)
    assert report["first_errors"][0]["row_number"] == 3


async def test_a_bad_mapping_is_reported_without_a_traceback(
    env: None, tenant_a: TenantContext, tmp_path: Path
) -> None:
    csv_file = tmp_path / "customers.csv"
    csv_file.write_bytes(b"code,name\nA1,Alpha\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"columns": {"code": "code", "name": "nmae"}}')

    result = await _run(str(csv_file), "--mapping", str(mapping))

    assert result.exit_code == 1
    assert "mapping.columns.name" in result.output
    assert "Traceback" not in result.output


async def test_an_unknown_tenant_is_reported(
    env: None, tenant_a: TenantContext, tmp_path: Path
) -> None:
    csv_file = tmp_path / "customers.csv"
    csv_file.write_bytes(b"code,name\nA1,Alpha\n")

    result = await _run(
        str(csv_file), "--mapping", str(MAPPING_FILE), "--tenant", "nobody"
    )

    assert result.exit_code == 1
    assert "nobody" in result.output
