"""The command line goes through the same validation and services as the API."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from crm_api.cli import main
from crm_api.settings import Settings, get_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CRM_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("CRM_PASSWORD_HASH_MEMORY_KIB", "1024")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _create(*extra: str) -> list[str]:
    return [
        "create-tenant",
        "--name", "Northwind Traders",
        "--slug", "northwind",
        "--currency", "usd",
        "--time-zone", "America/Sao_Paulo",
        "--admin-email", "nancy@northwind.example.com",
        "--admin-name", "Nancy Davolio",
        "--admin-password", "a long passphrase",
        *extra,
    ]  # fmt: skip


def test_create_tenant_prints_the_tenant_and_admin(env: None) -> None:
    result = CliRunner().invoke(main, _create())

    assert result.exit_code == 0, result.output
    assert '"slug": "northwind"' in result.output
    assert '"default_currency": "USD"' in result.output


def test_create_tenant_reports_bad_input_without_a_traceback(env: None) -> None:
    result = CliRunner().invoke(main, [*_create()[:-1], "short"])

    assert result.exit_code == 1
    assert "password" in result.output
    assert "Traceback" not in result.output


def test_openapi_command_writes_the_contract(tmp_path: object) -> None:
    from pathlib import Path

    target = Path(str(tmp_path)) / "openapi.json"

    result = CliRunner().invoke(main, ["openapi", "--output", str(target)])

    assert result.exit_code == 0
    assert target.read_text().startswith("{")
