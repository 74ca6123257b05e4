"""Changing the organisation stays within the changer's scope.

The directory (departments, employees) is readable tenant-wide; writes reach only as
far as the writer's scope. The organisation is the one of the customer visibility
tests: Tenant > Sales (Sam) > North (Nora; Ann, Abe) and South (Sid; Sue).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.customers import test_visibility
from tests.customers.test_visibility import Org
from tests.fixtures.api import add_user

org = test_visibility.org

EMPLOYEES = "/api/v1/employees"
DEPARTMENTS = "/api/v1/departments"


async def _count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get("/api/v1/customers/count", headers=headers)
    assert response.status_code == 200
    return int(response.json()["count"])


class TestManagersChangeOnlyTheirSubtree:
    async def test_a_manager_cannot_touch_an_employee_of_another_office(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        nora, sue = org["Nora"], org["Sue"]
        path = f"{EMPLOYEES}/{sue.employee_id}"

        patched = await client.patch(
            path, json={"title": "hacked"}, headers=nora.headers
        )
        left = await client.post(
            f"{path}/leave",
            json={"handover_to": nora.employee_id},
            headers=nora.headers,
        )
        deleted = await client.delete(path, headers=nora.headers)

        assert [patched.status_code, left.status_code, deleted.status_code] == [404] * 3
        assert (await client.get(path, headers=nora.headers)).status_code == 200

    @pytest.mark.parametrize("where", ["South", "root"])
    async def test_a_manager_cannot_hire_outside_their_subtree(
        self, client: httpx.AsyncClient, org: Org, where: str
    ) -> None:
        department = (
            org.ctx.root_department_id if where == "root" else org.departments[where]
        )

        response = await client.post(
            EMPLOYEES,
            json={"name": "Hire", "department_id": department},
            headers=org["Nora"].headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "outside_scope"

    async def test_a_manager_cannot_move_themselves_up_to_see_everything(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        nora = org["Nora"]
        before = await _count(client, nora.headers)

        response = await client.patch(
            f"{EMPLOYEES}/{nora.employee_id}",
            json={"department_id": org.ctx.root_department_id},
            headers=nora.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "department_id"
        assert await _count(client, nora.headers) == before

    async def test_a_manager_cannot_make_the_admin_leave_and_take_over(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        nora = org["Nora"]

        response = await client.post(
            f"{EMPLOYEES}/{org.ctx.admin_employee_id}/leave",
            json={"handover_to": nora.employee_id},
            headers=nora.headers,
        )

        assert response.status_code == 404
        me = await client.get("/api/v1/me", headers=org.ctx.headers)
        assert me.json()["employee_id"] == org.ctx.admin_employee_id

    async def test_a_manager_moves_people_within_the_subtree_only(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        sam, ann = org["Sam"], org["Ann"]

        within = await client.patch(
            f"{EMPLOYEES}/{ann.employee_id}",
            json={"department_id": org.departments["South"]},
            headers=sam.headers,
        )
        boss_outside = await client.patch(
            f"{EMPLOYEES}/{ann.employee_id}",
            json={"manager_id": org.ctx.admin_employee_id},
            headers=sam.headers,
        )
        handover_outside = await client.post(
            f"{EMPLOYEES}/{ann.employee_id}/leave",
            json={"handover_to": org.ctx.admin_employee_id},
            headers=sam.headers,
        )

        assert within.status_code == 200
        assert boss_outside.status_code == 422
        assert boss_outside.json()["errors"][0]["code"] == "outside_scope"
        assert handover_outside.status_code == 422
        assert handover_outside.json()["errors"][0]["field"] == "handover_to"

    async def test_only_an_all_scope_links_user_accounts(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        user, _ = await add_user(client, org.ctx, roles=["sales"], employee=False)

        response = await client.patch(
            f"{EMPLOYEES}/{org['Ann'].employee_id}",
            json={"user_id": user["id"]},
            headers=org["Nora"].headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "user_id"


class TestWithoutAnActiveEmployee:
    async def test_a_manager_who_has_left_changes_nobody(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        nora = org["Nora"]
        left = await client.post(
            f"{EMPLOYEES}/{nora.employee_id}/leave",
            json={"handover_to": org["Sam"].employee_id},
            headers=org.ctx.headers,
        )
        assert left.status_code == 200

        patched = await client.patch(
            f"{EMPLOYEES}/{org['Ann'].employee_id}",
            json={"title": "changed by a leaver"},
            headers=nora.headers,
        )
        hired = await client.post(
            EMPLOYEES,
            json={"name": "Hire", "department_id": org.departments["North"]},
            headers=nora.headers,
        )

        assert patched.status_code == 404
        assert hired.status_code == 422


class TestDepartmentScope:
    @pytest.fixture
    async def dept_admin(self, client: httpx.AsyncClient, org: Org) -> dict[str, str]:
        role = await client.post(
            "/api/v1/roles",
            json={
                "key": "dept_admin",
                "name": "Department admin",
                "permissions": [
                    "departments:read",
                    "departments:write",
                    "employees:read",
                    "customers:read",
                ],
                "scope": "department",
            },
            headers=org.ctx.headers,
        )
        assert role.status_code == 201, role.text
        _, headers = await add_user(
            client,
            org.ctx,
            roles=["dept_admin"],
            department_id=org.departments["North"],
        )
        return headers

    async def test_outside_departments_are_404_and_new_places_outside_are_422(
        self, client: httpx.AsyncClient, org: Org, dept_admin: dict[str, str]
    ) -> None:
        north, south = org.departments["North"], org.departments["South"]
        root = org.ctx.root_department_id

        renamed_sibling = await client.patch(
            f"{DEPARTMENTS}/{south}", json={"name": "Mine"}, headers=dept_admin
        )
        renamed_root = await client.patch(
            f"{DEPARTMENTS}/{root}", json={"name": "Mine"}, headers=dept_admin
        )
        deleted_sibling = await client.delete(
            f"{DEPARTMENTS}/{south}",
            params={"handover_to": north},
            headers=dept_admin,
        )
        new_root = await client.post(
            DEPARTMENTS, json={"name": "Top"}, headers=dept_admin
        )
        own_to_top = await client.patch(
            f"{DEPARTMENTS}/{north}", json={"parent_id": None}, headers=dept_admin
        )
        below_own = await client.post(
            DEPARTMENTS, json={"name": "Team", "parent_id": north}, headers=dept_admin
        )

        statuses = [
            renamed_sibling.status_code,
            renamed_root.status_code,
            deleted_sibling.status_code,
            new_root.status_code,
            own_to_top.status_code,
            below_own.status_code,
        ]
        assert statuses == [404, 404, 404, 422, 422, 201]
        assert own_to_top.json()["errors"][0]["field"] == "parent_id"

    async def test_own_scope_changes_no_department(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        await client.post(
            "/api/v1/roles",
            json={
                "key": "self_org",
                "name": "Self",
                "permissions": ["departments:read", "departments:write"],
                "scope": "own",
            },
            headers=org.ctx.headers,
        )
        _, headers = await add_user(
            client, org.ctx, roles=["self_org"], department_id=org.departments["North"]
        )

        renamed = await client.patch(
            f"{DEPARTMENTS}/{org.departments['North']}",
            json={"name": "Mine"},
            headers=headers,
        )
        created = await client.post(
            DEPARTMENTS,
            json={"name": "Team", "parent_id": org.departments["North"]},
            headers=headers,
        )

        assert (renamed.status_code, created.status_code) == (404, 422)


class TestDeletingEmployees:
    async def test_someone_who_has_left_is_kept_with_their_history(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        abe = org["Abe"]
        left = await client.post(
            f"{EMPLOYEES}/{abe.employee_id}/leave",
            json={"handover_to": org["Ann"].employee_id},
            headers=org.ctx.headers,
        )
        assert left.status_code == 200

        response = await client.delete(
            f"{EMPLOYEES}/{abe.employee_id}", headers=org.ctx.headers
        )

        assert response.status_code == 409
        assert response.json()["extra"]["history"]["left"] == 1

    async def test_null_for_a_required_field_lists_the_field(
        self, client: httpx.AsyncClient, org: Org
    ) -> None:
        responses: list[Any] = [
            await client.patch(
                f"{EMPLOYEES}/{org['Ann'].employee_id}",
                json={"name": None},
                headers=org.ctx.headers,
            ),
            await client.patch(
                f"{DEPARTMENTS}/{org.departments['North']}",
                json={"name": None},
                headers=org.ctx.headers,
            ),
        ]

        for response in responses:
            assert response.status_code == 422
            assert response.json()["errors"][0]["field"] == "name"
