"""The organisation of two public sample data sets, loaded through the API."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.customers.conftest import define
from tests.fixtures.api import TenantContext
from tests.organisation.conftest import (
    DEPARTMENTS,
    EMPLOYEES,
    create_department,
    create_employee,
    names_of,
    read,
    tenant_root,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NORTHWIND_EMPLOYEES = DATA / "northwind" / "employees.csv"
MAVEN_SALES_TEAMS = DATA / "maven-crm" / "sales_teams.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        pytest.skip(f"sample data not found at {path}")
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


async def _all_employees(
    client: httpx.AsyncClient, ctx: TenantContext, **params: Any
) -> list[dict[str, Any]]:
    """Every page of a filtered employee list, small pages to walk the cursor."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page_params = {**params, "limit": 7}
        if cursor is not None:
            page_params["cursor"] = cursor
        response = await client.get(EMPLOYEES, params=page_params, headers=ctx.headers)
        assert response.status_code == 200, response.text
        found += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


async def _chain(
    client: httpx.AsyncClient, ctx: TenantContext, employee_id: str
) -> list[str]:
    """Names from the employee up their line of managers."""
    names: list[str] = []
    next_id: str | None = employee_id
    while next_id is not None:
        employee = await read(client, ctx, f"{EMPLOYEES}/{next_id}")
        names.append(employee["name"])
        next_id = employee["manager_id"]
    return names


class TestNorthwind:
    """Nine employees: the vice president of sales heads an office (under the
    tenant's root department) with a Sales department below it; everyone else works
    in Sales, and ``reports_to`` is the manager."""

    @pytest.fixture
    async def loaded(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> dict[str, Any]:
        rows = _rows(NORTHWIND_EMPLOYEES)
        for key, kind in (("northwind_id", "integer"), ("extension", "text"),
                          ("address", "text"), ("notes", "text")):  # fmt: skip
            await define(client, tenant_a, "employee", key=key, label=key, type=kind)
        [vp] = [row for row in rows if not row["reports_to"]]
        office = await create_department(
            client, tenant_a, f"Office of the {vp['title']}", tenant_root(tenant_a)
        )
        sales = await create_department(client, tenant_a, "Sales", office)

        created: dict[str, dict[str, Any]] = {}
        pending = list(rows)
        while pending:  # managers before their reports, whatever the file order
            row = next(r for r in pending if r["reports_to"] in ("", *created))
            pending.remove(row)
            created[row["employee_id"]] = await create_employee(
                client,
                tenant_a,
                office if row is vp else sales,
                f"{row['first_name']} {row['last_name']}",
                created.get(row["reports_to"]),
                title=row["title"],
                hire_date=row["hire_date"],
                phone=row["home_phone"],
                custom={
                    "northwind_id": int(row["employee_id"]),
                    "extension": row["extension"],
                    # The export writes line breaks in addresses as a literal "\n".
                    "address": row["address"].replace("\\n", "\n"),
                    "notes": row["notes"],
                },
            )

        [sales_manager] = [r for r in rows if r["title"] == "Sales Manager"]
        for department, head in ((office, vp), (sales, sales_manager)):
            response = await client.patch(
                f"{DEPARTMENTS}/{department['id']}",
                json={"head_employee_id": created[head["employee_id"]]["id"]},
                headers=tenant_a.headers,
            )
            assert response.status_code == 200, response.text
        return {"rows": rows, "office": office, "sales": sales, "employees": created}

    async def test_counts_and_tree_shape(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        loaded: dict[str, Any],
    ) -> None:
        office, sales = loaded["office"], loaded["sales"]

        everyone = await _all_employees(client, tenant_a)
        in_sales = await _all_employees(client, tenant_a, department_id=sales["id"])
        below_office = await _all_employees(
            client, tenant_a, department_subtree=office["id"]
        )
        tree = await read(client, tenant_a, f"{DEPARTMENTS}/tree")

        employees = loaded["employees"]
        assert len(loaded["rows"]) == 9
        # Everyone: the nine plus the admin's employee record from sign-up.
        assert len(everyone) == 10
        assert {e["id"] for e in everyone} == {
            tenant_a.admin_employee_id,
            *(e["id"] for e in employees.values()),
        }
        assert len(in_sales) == 8
        assert len(below_office) == 9
        root_name = tenant_a.tenant["name"]
        assert names_of(tree["roots"]) == [
            [root_name, [["Office of the Vice President, Sales", [["Sales", []]]]]]
        ]
        [root] = tree["roots"]
        [office_node] = root["children"]
        heads = {
            node["name"]: node["head_employee_id"]
            for node in (root, office_node, office_node["children"][0])
        }
        assert heads == {
            root_name: tenant_a.admin_employee_id,
            "Office of the Vice President, Sales": employees["2"]["id"],
            "Sales": employees["5"]["id"],
        }

    async def test_manager_chains_follow_reports_to(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        loaded: dict[str, Any],
    ) -> None:
        employees = loaded["employees"]
        expected_reports = Counter(r["reports_to"] for r in loaded["rows"])

        suyama = await _chain(client, tenant_a, employees["6"]["id"])
        davolio = await _chain(client, tenant_a, employees["1"]["id"])
        fuller_reports = await _all_employees(
            client, tenant_a, manager_id=employees["2"]["id"]
        )
        buchanan_reports = await _all_employees(
            client, tenant_a, manager_id=employees["5"]["id"]
        )

        assert suyama == ["Michael Suyama", "Steven Buchanan", "Andrew Fuller"]
        assert davolio == ["Nancy Davolio", "Andrew Fuller"]
        assert len(fuller_reports) == expected_reports["2"] == 5
        assert len(buchanan_reports) == expected_reports["5"] == 3

    async def test_quoted_text_and_dates_round_trip(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        loaded: dict[str, Any],
    ) -> None:
        [fuller_row] = [r for r in loaded["rows"] if r["employee_id"] == "2"]

        fuller = await read(
            client, tenant_a, f"{EMPLOYEES}/{loaded['employees']['2']['id']}"
        )
        suyama = await read(
            client, tenant_a, f"{EMPLOYEES}/{loaded['employees']['6']['id']}"
        )

        assert fuller["title"] == "Vice President, Sales"
        assert fuller["custom"]["notes"] == fuller_row["notes"]
        assert '"' not in fuller["custom"]["notes"]
        assert "," in fuller["custom"]["notes"]
        assert date.fromisoformat(fuller["hire_date"]) == date(1992, 8, 14)
        assert suyama["custom"]["address"] == "Coventry House\nMiner Rd."

    async def test_the_sales_manager_leaving_hands_his_team_to_a_colleague(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        loaded: dict[str, Any],
    ) -> None:
        employees = loaded["employees"]
        buchanan, davolio = employees["5"], employees["1"]

        response = await client.post(
            f"{EMPLOYEES}/{buchanan['id']}/leave",
            json={"handover_to": davolio["id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 200, response.text
        # Every registered reference is reported; the leaver owned no records.
        assert {k: v for k, v in response.json()["moved"].items() if v} == {
            "employees.manager_id": 3,
            "departments.head_employee_id": 1,
        }
        assert "customers.owner_id" in response.json()["moved"]
        assert await _chain(client, tenant_a, employees["6"]["id"]) == [
            "Michael Suyama",
            "Nancy Davolio",
            "Andrew Fuller",
        ]
        sales = await read(client, tenant_a, f"{DEPARTMENTS}/{loaded['sales']['id']}")
        assert sales["head_employee_id"] == davolio["id"]


class TestMavenSalesTeams:
    """35 agents under 6 managers in 3 regional offices. The offices become
    departments under one Sales department; both managers of an office work in it and
    the first one the file names heads it; agents report to their manager."""

    @pytest.fixture
    async def loaded(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> dict[str, Any]:
        rows = _rows(MAVEN_SALES_TEAMS)
        sales = await create_department(client, tenant_a, "Sales")
        offices: dict[str, dict[str, Any]] = {}
        managers: dict[str, dict[str, Any]] = {}
        agents: dict[str, dict[str, Any]] = {}
        for row in rows:
            name = row["regional_office"]
            if name not in offices:
                offices[name] = await create_department(client, tenant_a, name, sales)
            office = offices[name]
            if row["manager"] not in managers:
                managers[row["manager"]] = await create_employee(
                    client, tenant_a, office, row["manager"], title="Sales Manager"
                )
                if office["head_employee_id"] is None:
                    response = await client.patch(
                        f"{DEPARTMENTS}/{office['id']}",
                        json={"head_employee_id": managers[row["manager"]]["id"]},
                        headers=tenant_a.headers,
                    )
                    assert response.status_code == 200, response.text
                    offices[name] = response.json()
            agents[row["sales_agent"]] = await create_employee(
                client,
                tenant_a,
                office,
                row["sales_agent"],
                managers[row["manager"]],
                title="Sales Agent",
            )
        return {
            "rows": rows,
            "sales": sales,
            "offices": offices,
            "managers": managers,
            "agents": agents,
        }

    async def test_counts_and_tree_shape(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        loaded: dict[str, Any],
    ) -> None:
        rows, offices = loaded["rows"], loaded["offices"]

        everyone = await _all_employees(
            client, tenant_a, department_subtree=loaded["sales"]["id"]
        )
        subtree = await read(
            client, tenant_a, f"{DEPARTMENTS}/{loaded['sales']['id']}/subtree"
        )
        per_office = {
            name: len(
                await _all_employees(client, tenant_a, department_id=office["id"])
            )
            for name, office in offices.items()
        }

        assert (len(rows), len(loaded["managers"]), len(offices)) == (35, 6, 3)
        assert len(everyone) == 41
        assert names_of([subtree]) == [
            ["Sales", [["Central", []], ["East", []], ["West", []]]]
        ]
        agents_per_office = Counter(r["regional_office"] for r in rows)
        assert per_office == {
            name: agents_per_office[name] + 2 for name in ("Central", "East", "West")
        }

    async def test_offices_are_headed_by_their_managers(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        loaded: dict[str, Any],
    ) -> None:
        managers_by_id = {m["id"]: m for m in loaded["managers"].values()}

        for office in loaded["offices"].values():
            current = await read(client, tenant_a, f"{DEPARTMENTS}/{office['id']}")
            head = managers_by_id[current["head_employee_id"]]
            assert head["department_id"] == office["id"]

    async def test_every_agent_reports_to_their_manager_in_their_office(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        loaded: dict[str, Any],
    ) -> None:
        agents, managers = loaded["agents"], loaded["managers"]

        for row in loaded["rows"]:
            chain = await _chain(client, tenant_a, agents[row["sales_agent"]]["id"])
            assert chain == [row["sales_agent"], row["manager"]]
        for name, manager in managers.items():
            reports = await _all_employees(client, tenant_a, manager_id=manager["id"])
            expected = {
                r["sales_agent"] for r in loaded["rows"] if r["manager"] == name
            }
            assert {e["name"] for e in reports} == expected
            assert {e["department_id"] for e in reports} == {manager["department_id"]}
