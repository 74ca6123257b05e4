"""Who sees which customers: roles' scopes, enforced in the queries themselves.

The organisation used throughout::

    Tenant (root, admin)
    └── Sales (Sam, manager)
        ├── North (Nora, manager; agents Ann and Abe)
        └── South (Sid, manager; agent Sue)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.fixtures.api import TenantContext, add_user
from tests.imports import conftest as imports
from tests.imports.conftest import import_file, row_errors

# The import tests' fixtures: the worker's job context, and no queued jobs left over.
job_ctx = imports.job_ctx
_forget_queued_jobs = imports._forget_queued_jobs

BASE = "/api/v1/customers"


@dataclass
class Person:
    user: dict[str, Any]
    headers: dict[str, str]
    customers: list[str] = field(default_factory=list)

    @property
    def employee_id(self) -> str:
        return str(self.user["employee_id"])


@dataclass
class Org:
    ctx: TenantContext
    departments: dict[str, str]
    people: dict[str, Person]

    def __getitem__(self, name: str) -> Person:
        return self.people[name]


async def _department(
    client: httpx.AsyncClient, ctx: TenantContext, name: str, parent_id: str
) -> str:
    response = await client.post(
        "/api/v1/departments",
        json={"name": name, "parent_id": parent_id},
        headers=ctx.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _customer(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        BASE,
        json={"name": name, **fields},
        headers=headers,
        params={"allow_duplicate": "true"},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def org(client: httpx.AsyncClient, tenant_a: TenantContext) -> Org:
    ctx = tenant_a
    sales = await _department(client, ctx, "Sales", ctx.root_department_id)
    north = await _department(client, ctx, "North", sales)
    south = await _department(client, ctx, "South", sales)
    departments = {"Sales": sales, "North": north, "South": south}
    people: dict[str, Person] = {}
    for name, role, department in (
        ("Sam", "manager", "Sales"),
        ("Nora", "manager", "North"),
        ("Sid", "manager", "South"),
        ("Ann", "sales", "North"),
        ("Abe", "sales", "North"),
        ("Sue", "sales", "South"),
    ):
        user, headers = await add_user(
            client,
            ctx,
            roles=[role],
            email=f"{name.lower()}@acme.example.com",
            department_id=departments[department],
        )
        people[name] = Person(user, headers)
    for name in ("Ann", "Abe", "Sue", "Nora"):
        for number in (1, 2):
            created = await _customer(
                client, people[name].headers, f"{name}'s customer {number}"
            )
            people[name].customers.append(created["id"])
    return Org(ctx, departments, people)


async def _listed(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    names: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(BASE, params=params, headers=headers)
        assert response.status_code == 200, response.text
        names |= {item["name"] for item in response.json()["items"]}
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return names


async def _count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get(f"{BASE}/count", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


async def _exported(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    response = await client.get(f"{BASE}/export", headers=headers)
    assert response.status_code == 200, response.text
    return {row["name"] for row in csv.DictReader(io.StringIO(response.text))}


def _of(*owners: str) -> set[str]:
    return {f"{owner}'s customer {n}" for owner in owners for n in (1, 2)}


class TestListsCountsAndExports:
    @pytest.mark.parametrize(
        ("who", "sees"),
        [
            ("Ann", ("Ann",)),
            ("Sue", ("Sue",)),
            ("Nora", ("Ann", "Abe", "Nora")),
            ("Sid", ("Sue",)),
            ("Sam", ("Ann", "Abe", "Sue", "Nora")),
        ],
    )
    async def test_each_sees_their_scope_in_list_count_and_export(
        self, client: httpx.AsyncClient, org: Org, who: str, sees: tuple[str, ...]
    ) -> None:
        headers = org[who].headers

        assert await _listed(client, headers) == _of(*sees)
        assert await _count(client, headers) == 2 * len(sees)
        assert await _exported(client, headers) == _of(*sees)

    async def test_admin_sees_everything(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        assert await _listed(client, org.ctx.headers) == _of(
            "Ann", "Abe", "Sue", "Nora"
        )

    async def test_a_filter_cannot_widen_the_scope(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        response = await client.get(
            BASE,
            params={"owner_id": org["Sue"].employee_id},
            headers=org["Ann"].headers,
        )

        assert response.status_code == 200
        assert response.json()["items"] == []


class TestSingleRecords:
    async def test_a_customer_outside_the_scope_is_404_like_a_missing_one(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        theirs = org["Sue"].customers[0]
        headers = org["Ann"].headers

        responses = [
            await client.get(f"{BASE}/{theirs}", headers=headers),
            await client.patch(
                f"{BASE}/{theirs}", json={"industry": "X"}, headers=headers
            ),
            await client.delete(f"{BASE}/{theirs}", headers=headers),
            await client.get(f"{BASE}/{theirs}/contacts", headers=headers),
            await client.post(
                f"{BASE}/{theirs}/contacts", json={"name": "Eve"}, headers=headers
            ),
            await client.get(f"{BASE}/{theirs}/interactions", headers=headers),
            await client.post(
                f"{BASE}/{theirs}/interactions",
                json={
                    "kind": "call",
                    "occurred_at": "2026-12-01T10:00:00Z",
                    "summary": "x",
                },
                headers=headers,
            ),
            await client.post(
                f"{BASE}/{org['Ann'].customers[0]}/merge",
                json={"duplicate_id": theirs},
                headers=headers,
            ),
        ]
        missing = await client.get(
            f"{BASE}/01a00000-0000-7000-8000-000000000000", headers=headers
        )

        assert [r.status_code for r in responses] == [404] * len(responses)
        assert responses[0].json()["detail"] == missing.json()["detail"]

    async def test_a_contact_of_a_hidden_customer_cannot_be_read_by_id(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        theirs = org["Sue"].customers[0]
        contact = await client.post(
            f"{BASE}/{theirs}/contacts",
            json={"name": "Eve"},
            headers=org["Sue"].headers,
        )
        assert contact.status_code == 201
        path = f"{BASE}/{theirs}/contacts/{contact.json()['id']}"

        assert (await client.get(path, headers=org["Ann"].headers)).status_code == 404
        assert (await client.get(path, headers=org["Sid"].headers)).status_code == 200

    async def test_a_manager_reads_and_changes_their_teams_customers(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        anns = org["Ann"].customers[0]

        patched = await client.patch(
            f"{BASE}/{anns}", json={"industry": "Shipping"}, headers=org["Nora"].headers
        )
        hidden = await client.get(f"{BASE}/{anns}", headers=org["Sid"].headers)

        assert patched.status_code == 200
        assert hidden.status_code == 404


class TestChangesToTheOrganisation:
    async def test_a_manager_moved_to_another_department_sees_the_new_subtree_at_once(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        moved = await client.patch(
            f"/api/v1/employees/{org['Nora'].employee_id}",
            json={"department_id": org.departments["South"]},
            headers=org.ctx.headers,
        )
        assert moved.status_code == 200

        # Her own customers stay hers; the team she sees is now South's.
        assert await _listed(client, org["Nora"].headers) == _of("Sue", "Nora")

    async def test_moving_a_department_under_another_widens_that_managers_view(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        moved = await client.patch(
            f"/api/v1/departments/{org.departments['South']}",
            json={"parent_id": org.departments["North"]},
            headers=org.ctx.headers,
        )
        assert moved.status_code == 200

        assert await _listed(client, org["Nora"].headers) == _of(
            "Ann", "Abe", "Sue", "Nora"
        )

    async def test_a_user_without_an_employee_owns_nothing_and_sees_nothing(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        _, headers = await add_user(client, org.ctx, roles=["sales"], employee=False)

        created = await client.post(BASE, json={"name": "Nobody's"}, headers=headers)

        assert await _listed(client, headers) == set()
        assert created.status_code == 422
        assert created.json()["errors"][0]["field"] == "owner_id"


class TestAssigning:
    async def test_an_agent_cannot_hand_a_customer_to_someone_else(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        response = await client.post(
            BASE,
            json={"name": "Gift", "owner_id": org["Abe"].employee_id},
            headers=org["Ann"].headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "outside_scope"

    async def test_a_manager_assigns_within_the_subtree_only(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        anns = org["Ann"].customers[0]

        inside = await client.patch(
            f"{BASE}/{anns}",
            json={"owner_id": org["Abe"].employee_id},
            headers=org["Nora"].headers,
        )
        outside = await client.patch(
            f"{BASE}/{org['Ann'].customers[1]}",
            json={"owner_id": org["Sue"].employee_id},
            headers=org["Nora"].headers,
        )

        assert inside.status_code == 200
        assert inside.json()["department_id"] == org.departments["North"]
        assert anns not in await _ids(client, org["Ann"].headers)
        assert outside.status_code == 422
        assert outside.json()["errors"][0]["field"] == "owner_id"

    async def test_a_new_owner_brings_their_department(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        anns = org["Ann"].customers[0]

        moved = await client.patch(
            f"{BASE}/{anns}",
            json={"owner_id": org["Sue"].employee_id},
            headers=org.ctx.headers,
        )

        assert moved.json()["department_id"] == org.departments["South"]
        assert (
            await client.get(f"{BASE}/{anns}", headers=org["Sid"].headers)
        ).status_code == 200
        assert (
            await client.get(f"{BASE}/{anns}", headers=org["Nora"].headers)
        ).status_code == 404

    async def test_an_owner_who_has_left_cannot_be_given_customers(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        left = await client.post(
            f"/api/v1/employees/{org['Abe'].employee_id}/leave",
            json={"handover_to": org["Ann"].employee_id},
            headers=org.ctx.headers,
        )
        assert left.status_code == 200

        response = await client.post(
            BASE,
            json={"name": "Late", "owner_id": org["Abe"].employee_id},
            headers=org.ctx.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "employee_left"


async def _ids(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    response = await client.get(BASE, params={"limit": 200}, headers=headers)
    assert response.status_code == 200
    return {item["id"] for item in response.json()["items"]}


class TestHandover:
    async def test_a_leavers_customers_go_to_the_colleague_with_the_colleagues_department(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        left = await client.post(
            f"/api/v1/employees/{org['Ann'].employee_id}/leave",
            json={"handover_to": org["Sue"].employee_id},
            headers=org.ctx.headers,
        )

        assert left.status_code == 200
        assert left.json()["moved"]["customers.owner_id"] == 2
        for customer_id in org["Ann"].customers:
            read = await client.get(f"{BASE}/{customer_id}", headers=org.ctx.headers)
            assert read.json()["owner_id"] == org["Sue"].employee_id
            assert read.json()["department_id"] == org.departments["South"]
        assert await _listed(client, org["Sue"].headers) == _of("Sue", "Ann")
        assert await _listed(client, org["Nora"].headers) == _of("Abe", "Nora")

    async def test_an_employee_owning_customers_cannot_be_deleted(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        response = await client.delete(
            f"/api/v1/employees/{org['Ann'].employee_id}", headers=org.ctx.headers
        )

        assert response.status_code == 409
        assert response.json()["extra"]["history"]["customers.owner_id"] == 2

    async def test_deleting_a_department_hands_its_customers_to_the_successor(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        north = org.departments["North"]
        refused = await client.delete(
            f"/api/v1/departments/{north}", headers=org.ctx.headers
        )
        deleted = await client.delete(
            f"/api/v1/departments/{north}",
            params={"handover_to": org.departments["South"]},
            headers=org.ctx.headers,
        )

        assert refused.status_code == 409
        assert deleted.status_code == 204, deleted.text
        assert await _listed(client, org["Sid"].headers) == _of(
            "Ann", "Abe", "Sue", "Nora"
        )


class TestDuplicatesAndImports:
    async def test_a_duplicate_outside_the_scope_is_counted_not_shown(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        response = await client.post(
            BASE, json={"name": "Sue's customer 1"}, headers=org["Ann"].headers
        )

        assert response.status_code == 409
        assert response.json()["extra"]["duplicates"] == []
        assert response.json()["extra"]["hidden_duplicates"] == 1

    async def test_an_import_updates_only_customers_the_importer_may_change(
        self,
        client: httpx.AsyncClient,
        org: Org,
        job_ctx: dict[str, Any],
    ) -> None:
        codes = {}
        for name in ("Ann", "Sue"):
            read = await client.get(
                f"{BASE}/{org[name].customers[0]}", headers=org.ctx.headers
            )
            codes[name] = read.json()["code"]
        content = (
            "code,name,city\n"
            f"{codes['Ann']},Ann renamed,Oslo\n"
            f"{codes['Sue']},Sue renamed,Rome\n"
            "NEW-1,Brand new,Lima\n"
        ).encode()
        mapping = {"columns": {"code": "code", "name": "name", "city": "address.city"}}

        done = await import_file(
            client, org.ctx, job_ctx, content, mapping, headers=org["Ann"].headers
        )
        errors = await row_errors(client, org.ctx, done["id"])
        sue = await client.get(
            f"{BASE}/{org['Sue'].customers[0]}", headers=org.ctx.headers
        )
        new = await client.get(
            BASE, params={"code": "NEW-1"}, headers=org["Ann"].headers
        )

        counts = (done["rows_created"], done["rows_updated"], done["rows_failed"])
        assert counts == (1, 1, 1)
        assert [(e["row_number"], e["code"]) for e in errors] == [(3, "outside_scope")]
        assert sue.json()["name"] == "Sue's customer 1"
        assert new.json()["items"][0]["owner_id"] == org["Ann"].employee_id
