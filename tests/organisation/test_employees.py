from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.customers.conftest import define
from tests.fixtures.api import TenantContext, add_user
from tests.organisation.conftest import (
    DEPARTMENTS,
    EMPLOYEES,
    create_chain,
    create_department,
    create_employee,
    patch,
    read,
)


async def _leave(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    leaver: dict[str, Any],
    colleague: dict[str, Any] | str,
    **headers: str,
) -> httpx.Response:
    handover_to = colleague if isinstance(colleague, str) else colleague["id"]
    return await client.post(
        f"{EMPLOYEES}/{leaver['id']}/leave",
        json={"handover_to": handover_to},
        headers={**ctx.headers, **headers},
    )


async def _ids(
    client: httpx.AsyncClient, ctx: TenantContext, **params: Any
) -> list[str]:
    response = await client.get(EMPLOYEES, params=params, headers=ctx.headers)
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["items"]]


@pytest.fixture
async def sales(client: httpx.AsyncClient, tenant_a: TenantContext) -> dict[str, Any]:
    return await create_department(client, tenant_a, "Sales")


class TestCreate:
    async def test_creates_an_active_employee_with_etag(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        response = await client.post(
            EMPLOYEES,
            json={
                "department_id": sales["id"],
                "name": "Nancy Davolio",
                "title": "Sales Representative",
                "phone": "(206) 555-9857",
                "email": "Nancy@Northwind.example.com",
                "hire_date": "1992-05-01",
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 201
        assert response.headers["etag"] == '"1"'
        nancy = response.json()
        assert nancy["status"] == "active"
        assert nancy["hire_date"] == "1992-05-01"
        assert nancy["email"] == "nancy@northwind.example.com"
        assert nancy["left_at"] is None

    async def test_unknown_field_and_bad_date_are_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        body = {"department_id": sales["id"], "name": "Nancy"}

        unknown = await client.post(
            EMPLOYEES, json={**body, "status": "left"}, headers=tenant_a.headers
        )
        bad_date = await client.post(
            EMPLOYEES,
            json={**body, "hire_date": "1992-02-30"},
            headers=tenant_a.headers,
        )

        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["code"] == "unknown_field"
        assert bad_date.status_code == 422
        assert bad_date.json()["errors"][0]["field"] == "hire_date"

    async def test_unknown_department_and_manager_are_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        no_department = await client.post(
            EMPLOYEES,
            json={"department_id": str(uuid.uuid4()), "name": "Nancy"},
            headers=tenant_a.headers,
        )
        no_manager = await client.post(
            EMPLOYEES,
            json={
                "department_id": sales["id"],
                "name": "Nancy",
                "manager_id": str(uuid.uuid4()),
            },
            headers=tenant_a.headers,
        )

        assert no_department.json()["errors"][0]["field"] == "department_id"
        assert no_manager.json()["errors"][0]["field"] == "manager_id"
        assert {no_department.status_code, no_manager.status_code} == {422}

    async def test_custom_attributes_are_validated(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        await define(
            client, tenant_a, "employee", key="extension", label="Ext", type="integer"
        )

        good = await create_employee(
            client, tenant_a, sales, "Nancy", custom={"extension": 5467}
        )
        bad = await client.post(
            EMPLOYEES,
            json={
                "department_id": sales["id"],
                "name": "Janet",
                "custom": {"extension": "x"},
            },
            headers=tenant_a.headers,
        )
        unknown = await client.post(
            EMPLOYEES,
            json={"department_id": sales["id"], "name": "Janet", "custom": {"n": 1}},
            headers=tenant_a.headers,
        )

        assert good["custom"] == {"extension": 5467}
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "custom.extension"
        assert unknown.json()["errors"][0]["code"] == "unknown_attribute"

    async def test_links_a_user_once(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        # A bare user: add_user would otherwise link an employee of its own.
        user, _ = await add_user(client, tenant_a, roles=["sales"], employee=False)
        await create_employee(client, tenant_a, sales, "Nancy", user_id=user["id"])

        second = await client.post(
            EMPLOYEES,
            json={"department_id": sales["id"], "name": "Janet", "user_id": user["id"]},
            headers=tenant_a.headers,
        )

        assert second.status_code == 409
        assert second.json()["errors"][0]["field"] == "user_id"

    async def test_manager_may_write_employees_but_sales_may_not(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        # The manager works in Sales: hiring there is within their scope.
        _, manager_headers = await add_user(
            client, tenant_a, roles=["manager"], department_id=sales["id"]
        )
        _, sales_headers = await add_user(client, tenant_a, roles=["sales"])
        body = {"department_id": sales["id"], "name": "Nancy"}

        by_manager = await client.post(EMPLOYEES, json=body, headers=manager_headers)
        by_sales = await client.post(EMPLOYEES, json=body, headers=sales_headers)
        sales_reads = await client.get(EMPLOYEES, headers=sales_headers)
        manager_moves = await client.post(
            DEPARTMENTS, json={"name": "Mine"}, headers=manager_headers
        )

        assert by_manager.status_code == 201
        assert by_sales.status_code == 403
        assert sales_reads.status_code == 200
        assert manager_moves.status_code == 403


class TestUpdate:
    async def test_patch_changes_only_what_is_sent(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy", title="Rep")
        other = await create_department(client, tenant_a, "Other")

        response = await client.patch(
            f"{EMPLOYEES}/{nancy['id']}",
            json={"department_id": other["id"], "phone": "(206) 555-9857"},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'
        assert response.json()["department_id"] == other["id"]
        assert response.json()["title"] == "Rep"

    async def test_stale_if_match_is_412(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        await patch(client, tenant_a, f"{EMPLOYEES}/{nancy['id']}", {"title": "Rep"})

        stale = await client.patch(
            f"{EMPLOYEES}/{nancy['id']}",
            json={"title": "Manager"},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert stale.status_code == 412
        assert stale.json()["extra"]["current_etag"] == '"2"'

    async def test_unknown_field_and_null_name_are_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        path = f"{EMPLOYEES}/{nancy['id']}"

        unknown = await patch(client, tenant_a, path, {"status": "left"})
        null_name = await patch(client, tenant_a, path, {"name": None})

        assert unknown.status_code == 422
        assert null_name.status_code == 422
        assert (await read(client, tenant_a, path))["status"] == "active"


class TestManagerCycles:
    async def test_own_manager_is_409(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")

        response = await patch(
            client, tenant_a, f"{EMPLOYEES}/{nancy['id']}", {"manager_id": nancy["id"]}
        )

        assert response.status_code == 409
        assert response.json()["errors"][0]["code"] == "cycle"
        assert "Nancy > Nancy" in response.json()["detail"]

    async def test_longer_cycle_is_409_naming_it(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        andrew = await create_employee(client, tenant_a, sales, "Andrew")
        steven = await create_employee(client, tenant_a, sales, "Steven", andrew)
        michael = await create_employee(client, tenant_a, sales, "Michael", steven)

        response = await patch(
            client,
            tenant_a,
            f"{EMPLOYEES}/{andrew['id']}",
            {"manager_id": michael["id"]},
        )

        assert response.status_code == 409
        assert "Andrew > Michael > Steven > Andrew" in response.json()["detail"]
        assert response.json()["extra"]["cycle"] == [
            andrew["id"],
            michael["id"],
            steven["id"],
            andrew["id"],
        ]

    async def test_manager_who_left_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        andrew = await create_employee(client, tenant_a, sales, "Andrew")
        steven = await create_employee(client, tenant_a, sales, "Steven")
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        await _leave(client, tenant_a, andrew, steven)

        response = await patch(
            client, tenant_a, f"{EMPLOYEES}/{nancy['id']}", {"manager_id": andrew["id"]}
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "employee_left"

    async def test_two_changes_that_together_make_a_cycle_let_one_through(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        for round_ in range(3):
            a = await create_employee(client, tenant_a, sales, f"A{round_}")
            b = await create_employee(client, tenant_a, sales, f"B{round_}")

            responses = await asyncio.gather(
                patch(
                    client, tenant_a, f"{EMPLOYEES}/{a['id']}", {"manager_id": b["id"]}
                ),
                patch(
                    client, tenant_a, f"{EMPLOYEES}/{b['id']}", {"manager_id": a["id"]}
                ),
            )

            assert sorted(r.status_code for r in responses) == [200, 409]


class TestList:
    async def test_filters_by_department_subtree_manager_and_status(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales, east, team = await create_chain(client, tenant_a, "Sales", "East", "T")
        finance = await create_department(client, tenant_a, "Finance")
        boss = await create_employee(client, tenant_a, sales, "Boss")
        eve = await create_employee(client, tenant_a, east, "Eve", boss)
        tom = await create_employee(client, tenant_a, team, "Tom", eve)
        fay = await create_employee(client, tenant_a, finance, "Fay")
        await _leave(client, tenant_a, tom, eve)

        assert await _ids(client, tenant_a, department_id=east["id"]) == [eve["id"]]
        assert await _ids(client, tenant_a, department_subtree=east["id"]) == [
            eve["id"],
            tom["id"],
        ]
        assert await _ids(client, tenant_a, department_subtree=sales["id"]) == [
            boss["id"],
            eve["id"],
            tom["id"],
        ]
        assert await _ids(client, tenant_a, manager_id=boss["id"]) == [eve["id"]]
        assert await _ids(client, tenant_a, status="left") == [tom["id"]]
        # The admin's employee record from sign-up is active too.
        assert await _ids(client, tenant_a, status="active") == [
            tenant_a.admin_employee_id,
            boss["id"],
            eve["id"],
            fay["id"],
        ]

    async def test_subtree_filter_follows_a_move(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales, east = await create_chain(client, tenant_a, "Sales", "East")
        ops = await create_department(client, tenant_a, "Ops")
        eve = await create_employee(client, tenant_a, east, "Eve")

        await patch(
            client, tenant_a, f"{DEPARTMENTS}/{east['id']}", {"parent_id": ops["id"]}
        )

        assert await _ids(client, tenant_a, department_subtree=sales["id"]) == []
        assert await _ids(client, tenant_a, department_subtree=ops["id"]) == [eve["id"]]

    async def test_pages_by_cursor(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        created = [
            await create_employee(client, tenant_a, sales, f"E{n}") for n in range(3)
        ]

        first = await client.get(
            EMPLOYEES, params={"limit": 2}, headers=tenant_a.headers
        )
        second = await client.get(
            EMPLOYEES,
            params={"limit": 2, "cursor": first.json()["next_cursor"]},
            headers=tenant_a.headers,
        )

        ids = [e["id"] for e in first.json()["items"] + second.json()["items"]]
        # The admin's employee record, created at sign-up, comes first.
        assert ids == [tenant_a.admin_employee_id, *(e["id"] for e in created)]
        assert first.json()["next_cursor"] is not None
        assert second.json()["next_cursor"] is None

    async def test_bad_status_filter_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            EMPLOYEES, params={"status": "retired"}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "status"


class TestLeave:
    async def test_direct_reports_and_headed_departments_move_to_the_colleague(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        andrew = await create_employee(client, tenant_a, sales, "Andrew")
        steven = await create_employee(client, tenant_a, sales, "Steven", andrew)
        laura = await create_employee(client, tenant_a, sales, "Laura", andrew)
        michael = await create_employee(client, tenant_a, sales, "Michael", steven)
        nancy = await create_employee(client, tenant_a, sales, "Nancy", steven)
        await patch(
            client,
            tenant_a,
            f"{DEPARTMENTS}/{sales['id']}",
            {"head_employee_id": steven["id"]},
        )

        response = await _leave(client, tenant_a, steven, laura, **{"If-Match": '"1"'})

        assert response.status_code == 200
        result = response.json()
        assert result["employee"]["status"] == "left"
        assert result["employee"]["left_at"] is not None
        assert result["employee"]["manager_id"] == andrew["id"]
        # Every registered reference is reported; the leaver owned no records.
        assert {k: v for k, v in result["moved"].items() if v} == {
            "employees.manager_id": 2,
            "departments.head_employee_id": 1,
        }
        assert "customers.owner_id" in result["moved"]
        assert response.headers["etag"] == '"2"'
        assert await _ids(client, tenant_a, manager_id=laura["id"]) == [
            michael["id"],
            nancy["id"],
        ]
        assert await _ids(client, tenant_a, manager_id=steven["id"]) == []
        department = await read(client, tenant_a, f"{DEPARTMENTS}/{sales['id']}")
        assert department["head_employee_id"] == laura["id"]

    async def test_a_direct_report_taking_over_moves_up_to_the_leavers_manager(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        andrew = await create_employee(client, tenant_a, sales, "Andrew")
        steven = await create_employee(client, tenant_a, sales, "Steven", andrew)
        michael = await create_employee(client, tenant_a, sales, "Michael", steven)
        robert = await create_employee(client, tenant_a, sales, "Robert", steven)

        response = await _leave(client, tenant_a, steven, michael)

        assert response.status_code == 200
        assert response.json()["moved"]["employees.manager_id"] == 1
        michael_now = await read(client, tenant_a, f"{EMPLOYEES}/{michael['id']}")
        robert_now = await read(client, tenant_a, f"{EMPLOYEES}/{robert['id']}")
        assert michael_now["manager_id"] == andrew["id"]
        assert robert_now["manager_id"] == michael["id"]

    async def test_a_colleague_further_below_is_409_cycle(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        andrew = await create_employee(client, tenant_a, sales, "Andrew")
        steven = await create_employee(client, tenant_a, sales, "Steven", andrew)
        michael = await create_employee(client, tenant_a, sales, "Michael", steven)

        response = await _leave(client, tenant_a, andrew, michael)

        assert response.status_code == 409
        assert "Michael > Steven > Michael" in response.json()["detail"]
        assert (await read(client, tenant_a, f"{EMPLOYEES}/{andrew['id']}"))[
            "status"
        ] == "active"

    async def test_colleague_who_left_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        janet = await create_employee(client, tenant_a, sales, "Janet")
        laura = await create_employee(client, tenant_a, sales, "Laura")
        await _leave(client, tenant_a, janet, laura)

        response = await _leave(client, tenant_a, nancy, janet)

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "handover_to"
        assert response.json()["errors"][0]["code"] == "employee_left"

    async def test_handover_to_themselves_or_nobody_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")

        to_self = await _leave(client, tenant_a, nancy, nancy)
        to_nobody = await _leave(client, tenant_a, nancy, str(uuid.uuid4()))
        without = await client.post(
            f"{EMPLOYEES}/{nancy['id']}/leave", json={}, headers=tenant_a.headers
        )

        assert [to_self.status_code, to_nobody.status_code, without.status_code] == [
            422,
            422,
            422,
        ]

    async def test_leaving_twice_is_409(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        janet = await create_employee(client, tenant_a, sales, "Janet")
        await _leave(client, tenant_a, nancy, janet)

        response = await _leave(client, tenant_a, nancy, janet)

        assert response.status_code == 409

    async def test_stale_if_match_is_412(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        janet = await create_employee(client, tenant_a, sales, "Janet")
        await patch(client, tenant_a, f"{EMPLOYEES}/{nancy['id']}", {"title": "Rep"})

        response = await _leave(client, tenant_a, nancy, janet, **{"If-Match": '"1"'})

        assert response.status_code == 412

    async def test_two_opposite_handovers_at_once_leave_one_active(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        janet = await create_employee(client, tenant_a, sales, "Janet")

        responses = await asyncio.gather(
            _leave(client, tenant_a, nancy, janet),
            _leave(client, tenant_a, janet, nancy),
        )

        assert sorted(r.status_code for r in responses) == [200, 422]
        # Besides the admin's own employee record, exactly one of the two is active.
        active = await _ids(client, tenant_a, status="active")
        assert tenant_a.admin_employee_id in active
        assert len(active) == 2


class TestDelete:
    async def test_employee_without_history_is_deleted(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")

        response = await client.delete(
            f"{EMPLOYEES}/{nancy['id']}",
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 204
        gone = await client.get(f"{EMPLOYEES}/{nancy['id']}", headers=tenant_a.headers)
        assert gone.status_code == 404

    async def test_manager_head_or_linked_employee_is_409(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        # A bare user: add_user would otherwise link an employee of its own.
        user, _ = await add_user(client, tenant_a, roles=["sales"], employee=False)
        andrew = await create_employee(client, tenant_a, sales, "Andrew")
        await create_employee(client, tenant_a, sales, "Steven", andrew)
        head = await create_employee(client, tenant_a, sales, "Head")
        await patch(
            client,
            tenant_a,
            f"{DEPARTMENTS}/{sales['id']}",
            {"head_employee_id": head["id"]},
        )
        linked = await create_employee(
            client, tenant_a, sales, "Linked", user_id=user["id"]
        )

        responses = [
            await client.delete(f"{EMPLOYEES}/{e['id']}", headers=tenant_a.headers)
            for e in (andrew, head, linked)
        ]

        assert [r.status_code for r in responses] == [409, 409, 409]
        assert [r.json()["extra"]["history"] for r in responses] == [
            {"reports": 1},
            {"departments_headed": 1},
            {"user_account": 1},
        ]

    async def test_stale_if_match_is_412(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        sales: dict[str, Any],
    ) -> None:
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        await patch(client, tenant_a, f"{EMPLOYEES}/{nancy['id']}", {"title": "Rep"})

        response = await client.delete(
            f"{EMPLOYEES}/{nancy['id']}",
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 412


class TestTenantIsolation:
    @pytest.fixture
    async def theirs(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, sales: dict[str, Any]
    ) -> dict[str, Any]:
        return await create_employee(client, tenant_a, sales, "Nancy Davolio")

    async def test_another_tenant_cannot_read_or_list(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
        sales: dict[str, Any],
        theirs: dict[str, Any],
    ) -> None:
        got = await client.get(f"{EMPLOYEES}/{theirs['id']}", headers=tenant_b.headers)

        assert got.status_code == 404
        # Tenant B lists only its own admin's employee record.
        assert await _ids(client, tenant_b) == [tenant_b.admin_employee_id]
        assert await _ids(client, tenant_b, department_id=sales["id"]) == []
        assert await _ids(client, tenant_b, department_subtree=sales["id"]) == []

    async def test_another_tenant_cannot_change_delete_or_retire(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
        theirs: dict[str, Any],
    ) -> None:
        mine = await create_department(client, tenant_b, "Mine")
        colleague = await create_employee(client, tenant_b, mine, "Colleague")
        path = f"{EMPLOYEES}/{theirs['id']}"

        changed = await patch(client, tenant_b, path, {"title": "Mine now"})
        deleted = await client.delete(path, headers=tenant_b.headers)
        retired = await _leave(client, tenant_b, theirs, colleague)

        assert [changed.status_code, deleted.status_code, retired.status_code] == [
            404,
            404,
            404,
        ]
        assert (await read(client, tenant_a, path))["status"] == "active"

    async def test_another_tenants_department_manager_user_or_colleague_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
        sales: dict[str, Any],
        theirs: dict[str, Any],
    ) -> None:
        mine = await create_department(client, tenant_b, "Mine")
        me = await create_employee(client, tenant_b, mine, "Me")
        their_user, _ = await add_user(client, tenant_a, roles=["sales"])

        into_their_department = await client.post(
            EMPLOYEES,
            json={"department_id": sales["id"], "name": "X"},
            headers=tenant_b.headers,
        )
        under_their_manager = await patch(
            client, tenant_b, f"{EMPLOYEES}/{me['id']}", {"manager_id": theirs["id"]}
        )
        linked_to_their_user = await patch(
            client, tenant_b, f"{EMPLOYEES}/{me['id']}", {"user_id": their_user["id"]}
        )
        handed_to_them = await _leave(client, tenant_b, me, theirs)

        for response, field in (
            (into_their_department, "department_id"),
            (under_their_manager, "manager_id"),
            (linked_to_their_user, "user_id"),
            (handed_to_them, "handover_to"),
        ):
            assert response.status_code == 422, field
            assert response.json()["errors"][0]["field"] == field
