"""The Maven sales organisation, loaded by the example script through the API:
an agent sees their accounts, a manager their office's, the vice president and
admins all of them. Expectations are computed from the CSV files here, apart from
the loader."""

from __future__ import annotations

import csv
import importlib.util
import sys
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.api import PASSWORD, TenantContext, add_user, sign_in

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "maven-crm"


def _loader() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "load_maven_sales_org", ROOT / "examples" / "load_maven_sales_org.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def _rows(name: str) -> list[dict[str, str]]:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"sample data not found at {path}")
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _expected_accounts() -> dict[str, set[str]]:
    """Agent -> accounts where they have the most deals (ties: first by name)."""
    deals: dict[str, Counter[str]] = defaultdict(Counter)
    for deal in _rows("sales_pipeline.csv"):
        if deal["account"]:
            deals[deal["account"]][deal["sales_agent"]] += 1
    by_agent: dict[str, set[str]] = defaultdict(set)
    for account, counts in deals.items():
        top = max(counts.values())
        by_agent[sorted(a for a, n in counts.items() if n == top)[0]].add(account)
    return by_agent


async def _visible_names(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> set[str]:
    names: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 40}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/api/v1/customers", params=params, headers=headers)
        assert response.status_code == 200, response.text
        names |= {item["name"] for item in response.json()["items"]}
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return names


@pytest.fixture
async def maven(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> tuple[ModuleType, Any]:
    _rows("sales_teams.csv")  # skip early without the data
    loader = _loader()
    loaded = await loader.load(client, tenant_a.headers, DATA)
    return loader, loaded


async def _sign_in_as(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    maven: tuple[ModuleType, Any],
    name: str,
    roles: list[str],
) -> dict[str, str]:
    loader, loaded = maven
    email = name.lower().replace(" ", ".") + "@acme.example.com"
    await loader.add_login(client, ctx.headers, loaded, name, email=email, roles=roles)
    tokens = await sign_in(client, email, loader.LOGIN_PASSWORD)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


class TestMavenSalesOrganisation:
    async def test_the_organisation_has_three_offices_under_sales(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, maven: Any
    ) -> None:
        _, loaded = maven
        teams = _rows("sales_teams.csv")

        subtree = await client.get(
            f"/api/v1/departments/{loaded.sales_department}/subtree",
            headers=tenant_a.headers,
        )

        assert subtree.status_code == 200
        assert set(loaded.offices) == {"Central", "East", "West"}
        assert len(loaded.employees) == len(teams) + 6 + 1  # agents, managers, VP
        assert len(loaded.customers) == len(_rows("accounts.csv")) == 85

    @pytest.mark.parametrize("agent", ["Anna Snelling", "Darcel Schlecht"])
    async def test_an_agent_sees_exactly_their_own_accounts(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        maven: Any,
        agent: str,
    ) -> None:
        headers = await _sign_in_as(client, tenant_a, maven, agent, ["sales"])

        assert await _visible_names(client, headers) == _expected_accounts()[agent]

    async def test_a_manager_sees_the_accounts_of_their_whole_office(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, maven: Any
    ) -> None:
        teams = _rows("sales_teams.csv")
        manager = "Dustin Brinkmann"
        office = next(r["regional_office"] for r in teams if r["manager"] == manager)
        agents = {r["sales_agent"] for r in teams if r["regional_office"] == office}
        expected = set().union(*(_expected_accounts().get(a, set()) for a in agents))

        headers = await _sign_in_as(client, tenant_a, maven, manager, ["manager"])

        assert office == "Central"
        assert await _visible_names(client, headers) == expected
        other_office = next(
            account
            for agent, accounts in _expected_accounts().items()
            if agent not in agents
            for account in accounts
        )
        _, loaded = maven
        hidden = await client.get(
            f"/api/v1/customers/{loaded.customers[other_office]}", headers=headers
        )
        assert hidden.status_code == 404

    async def test_the_vice_president_and_the_admin_see_every_account(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, maven: Any
    ) -> None:
        every = {row["account"] for row in _rows("accounts.csv")}
        loader, _ = maven

        headers = await _sign_in_as(
            client, tenant_a, maven, loader.VICE_PRESIDENT, ["manager"]
        )

        assert await _visible_names(client, headers) == every
        assert await _visible_names(client, tenant_a.headers) == every


async def _count(client: httpx.AsyncClient, ctx: TenantContext, path: str) -> int:
    total, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(path, params=params, headers=ctx.headers)
        assert response.status_code == 200, response.text
        total += len(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return total


class TestRunningTheLoaderAgain:
    async def test_a_second_load_stops_before_writing_anything(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, maven: Any
    ) -> None:
        loader, _ = maven
        departments = await _count(client, tenant_a, "/api/v1/departments")
        employees = await _count(client, tenant_a, "/api/v1/employees")

        with pytest.raises(loader.AlreadyLoaded, match="already has a 'Sales'"):
            await loader.load(client, tenant_a.headers, DATA)

        assert await _count(client, tenant_a, "/api/v1/departments") == departments
        assert await _count(client, tenant_a, "/api/v1/employees") == employees

    async def test_a_second_run_ends_with_one_line_and_exit_code_1(
        self,
        app: FastAPI,
        tenant_a: TenantContext,
        maven: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        loader, _ = maven
        args = _arguments(loader, tenant_a.admin["email"], PASSWORD)

        code = await loader.run(args, transport=_transport(app))

        err = capsys.readouterr().err
        assert code == 1
        assert err.count("\n") == 1
        assert "already has a 'Sales' department" in err
        assert "Traceback" not in err


class TestApiErrors:
    async def test_a_refused_sign_in_is_one_line_not_a_traceback(
        self,
        app: FastAPI,
        tenant_a: TenantContext,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        loader = _loader()
        args = _arguments(loader, tenant_a.admin["email"], "not the password")

        code = await loader.run(args, transport=_transport(app))

        err = capsys.readouterr().err
        assert code == 1
        assert err.count("\n") == 1
        assert "POST /api/v1/auth/token -> 401" in err

    async def test_a_refused_request_midway_is_one_line_naming_it(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        _rows("sales_teams.csv")  # skip early without the data
        loader = _loader()
        agent, _ = await add_user(client, tenant_a, roles=["sales"])
        args = _arguments(loader, agent["email"], PASSWORD)

        code = await loader.run(args, transport=_transport(app))

        err = capsys.readouterr().err
        assert code == 1
        assert err.count("\n") == 1
        assert "POST /api/v1/departments -> 403: " in err
        assert "departments:write" in err


def _arguments(loader: ModuleType, email: str, password: str) -> Any:
    """The loader's command line against the app under test."""
    argv = ["--api", "http://test", "--email", email, "--password", password]
    return loader.parse_args([*argv, "--data", str(DATA)])


def _transport(app: FastAPI) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=app, raise_app_exceptions=False)
