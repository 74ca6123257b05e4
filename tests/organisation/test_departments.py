from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from tests.fixtures.api import TenantContext, add_user
from tests.organisation.conftest import (
    DEPARTMENTS,
    EMPLOYEES,
    create_chain,
    create_department,
    create_employee,
    names_of,
    patch,
    read,
    tenant_root,
)


async def _assert_paths_consistent(owner: asyncpg.Connection) -> None:
    """Every path is its parent's path plus itself, and no department is its own
    ancestor."""
    broken = await owner.fetch(
        """
        SELECT d.id FROM departments d
        LEFT JOIN departments p ON p.id = d.parent_id
        WHERE d.path IS DISTINCT FROM
              CASE WHEN d.parent_id IS NULL THEN ARRAY[d.id]
                   ELSE p.path || d.id END
           OR (SELECT count(*) FROM unnest(d.path) AS step WHERE step = d.id) <> 1
        """
    )
    assert broken == []


class TestCreate:
    async def test_nested_department_has_path_and_etag(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")

        response = await client.post(
            DEPARTMENTS,
            json={"name": "Inside Sales", "parent_id": sales["id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 201
        assert response.headers["etag"] == '"1"'
        assert response.headers["location"].endswith(response.json()["id"])
        inside = response.json()
        assert inside["parent_id"] == sales["id"]
        assert inside["path"] == [sales["id"], inside["id"]]
        assert inside["position"] == 0

    async def test_siblings_are_appended_in_order(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        # At the top level the tenant root already holds position 0, so the
        # siblings are built under it to start from an empty list of children.
        root = tenant_root(tenant_a)
        first = await create_department(client, tenant_a, "First", root)
        second = await create_department(client, tenant_a, "Second", root)

        assert (first["position"], second["position"]) == (0, 1)

    async def test_sibling_name_twice_is_409_ignoring_case(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        root = await create_department(client, tenant_a, "Root")
        await create_department(client, tenant_a, "Sales", root)

        response = await client.post(
            DEPARTMENTS,
            json={"name": "SALES", "parent_id": root["id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "name"

    async def test_same_name_under_other_parents_is_fine(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        east = await create_department(client, tenant_a, "East")
        west = await create_department(client, tenant_a, "West")

        await create_department(client, tenant_a, "Sales", east)
        await create_department(client, tenant_a, "Sales", west)

    async def test_unknown_field_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            DEPARTMENTS, json={"name": "X", "nmae": "x"}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "unknown_field"

    async def test_unknown_parent_and_head_are_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        parent = await client.post(
            DEPARTMENTS,
            json={"name": "X", "parent_id": str(uuid.uuid4())},
            headers=tenant_a.headers,
        )
        head = await client.post(
            DEPARTMENTS,
            json={"name": "X", "head_employee_id": str(uuid.uuid4())},
            headers=tenant_a.headers,
        )

        assert parent.status_code == 422
        assert parent.json()["errors"][0]["field"] == "parent_id"
        assert head.status_code == 422
        assert head.json()["errors"][0]["field"] == "head_employee_id"

    async def test_sales_may_read_but_not_create(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_department(client, tenant_a, "Sales")
        _, sales_headers = await add_user(client, tenant_a, roles=["sales"])

        listed = await client.get(DEPARTMENTS, headers=sales_headers)
        created = await client.post(
            DEPARTMENTS, json={"name": "Mine"}, headers=sales_headers
        )

        assert listed.status_code == 200
        assert created.status_code == 403


class TestUpdate:
    async def test_move_carries_the_subtree_and_bumps_its_etags(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        sales, east, team = await create_chain(client, tenant_a, "Sales", "East", "T")
        ops = await create_department(client, tenant_a, "Operations")

        response = await patch(
            client, tenant_a, f"{DEPARTMENTS}/{east['id']}", {"parent_id": ops["id"]}
        )

        assert response.status_code == 200
        assert response.json()["path"] == [ops["id"], east["id"]]
        moved_team = await client.get(
            f"{DEPARTMENTS}/{team['id']}", headers=tenant_a.headers
        )
        assert moved_team.json()["path"] == [ops["id"], east["id"], team["id"]]
        assert moved_team.headers["etag"] == '"2"'
        sales_subtree = await read(
            client, tenant_a, f"{DEPARTMENTS}/{sales['id']}/subtree"
        )
        assert sales_subtree["children"] == []
        await _assert_paths_consistent(owner)

    async def test_move_to_the_top_with_null_parent(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, east = await create_chain(client, tenant_a, "Sales", "East")

        response = await patch(
            client, tenant_a, f"{DEPARTMENTS}/{east['id']}", {"parent_id": None}
        )

        assert response.status_code == 200
        assert response.json()["parent_id"] is None
        assert response.json()["path"] == [east["id"]]

    async def test_move_under_itself_is_409_naming_the_cycle(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")

        response = await patch(
            client, tenant_a, f"{DEPARTMENTS}/{sales['id']}", {"parent_id": sales["id"]}
        )

        assert response.status_code == 409
        problem = response.json()
        assert problem["errors"][0]["code"] == "cycle"
        assert "Sales > Sales" in problem["detail"]
        assert problem["extra"]["cycle"] == [sales["id"], sales["id"]]

    async def test_move_under_its_child_is_409(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales, east = await create_chain(client, tenant_a, "Sales", "East")

        response = await patch(
            client, tenant_a, f"{DEPARTMENTS}/{sales['id']}", {"parent_id": east["id"]}
        )

        assert response.status_code == 409
        assert "Sales > East > Sales" in response.json()["detail"]

    async def test_move_under_a_descendant_five_levels_down_is_409(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        chain = await create_chain(client, tenant_a, "L0", "L1", "L2", "L3", "L4", "L5")

        response = await patch(
            client,
            tenant_a,
            f"{DEPARTMENTS}/{chain[0]['id']}",
            {"parent_id": chain[5]["id"]},
        )

        assert response.status_code == 409
        assert "L0 > L1 > L2 > L3 > L4 > L5 > L0" in response.json()["detail"]
        assert response.json()["extra"]["cycle"] == [
            *(d["id"] for d in chain),
            chain[0]["id"],
        ]
        unchanged = await read(client, tenant_a, f"{DEPARTMENTS}/{chain[0]['id']}")
        assert unchanged["parent_id"] is None
        await _assert_paths_consistent(owner)

    async def test_move_a_middle_node_under_its_sibling_branch(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        root, a, a1 = await create_chain(client, tenant_a, "Root", "A", "A1")
        b = await create_department(client, tenant_a, "B", root)

        response = await patch(
            client, tenant_a, f"{DEPARTMENTS}/{b['id']}", {"parent_id": a1["id"]}
        )

        assert response.status_code == 200
        assert response.json()["path"] == [root["id"], a["id"], a1["id"], b["id"]]
        await _assert_paths_consistent(owner)

    async def test_move_next_to_a_namesake_is_409(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        east, west = (
            await create_department(client, tenant_a, "East"),
            await create_department(client, tenant_a, "West"),
        )
        await create_department(client, tenant_a, "Sales", east)
        west_sales = await create_department(client, tenant_a, "Sales", west)

        response = await patch(
            client,
            tenant_a,
            f"{DEPARTMENTS}/{west_sales['id']}",
            {"parent_id": east["id"]},
        )

        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "name"

    async def test_rename_with_stale_if_match_is_412(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")
        path = f"{DEPARTMENTS}/{sales['id']}"
        await client.patch(
            path,
            json={"name": "Sales EU"},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        stale = await client.patch(
            path,
            json={"name": "Sales US"},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert stale.status_code == 412
        assert (await read(client, tenant_a, path))["name"] == "Sales EU"

    async def test_unknown_field_in_patch_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")

        response = await patch(
            client, tenant_a, f"{DEPARTMENTS}/{sales['id']}", {"parent": None}
        )

        assert response.status_code == 422

    async def test_two_moves_that_together_make_a_cycle_let_one_through(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        for round_ in range(5):
            root = await create_department(client, tenant_a, f"Root {round_}")
            a, b = (
                await create_department(client, tenant_a, "A", root),
                await create_department(client, tenant_a, "B", root),
            )

            responses = await asyncio.gather(
                patch(
                    client, tenant_a, f"{DEPARTMENTS}/{a['id']}", {"parent_id": b["id"]}
                ),
                patch(
                    client, tenant_a, f"{DEPARTMENTS}/{b['id']}", {"parent_id": a["id"]}
                ),
            )

            assert sorted(r.status_code for r in responses) == [200, 409]
            await _assert_paths_consistent(owner)
            subtree = await read(
                client, tenant_a, f"{DEPARTMENTS}/{root['id']}/subtree"
            )
            assert len(subtree["children"]) == 1
            assert len(subtree["children"][0]["children"]) == 1

    async def test_two_deep_moves_at_once_stay_consistent(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        left = await create_chain(client, tenant_a, "L0", "L1", "L2", "L3")
        right = await create_chain(client, tenant_a, "R0", "R1", "R2", "R3")

        responses = await asyncio.gather(
            patch(
                client,
                tenant_a,
                f"{DEPARTMENTS}/{left[1]['id']}",
                {"parent_id": right[3]["id"]},
            ),
            patch(
                client,
                tenant_a,
                f"{DEPARTMENTS}/{right[1]['id']}",
                {"parent_id": left[3]["id"]},
            ),
        )

        assert sorted(r.status_code for r in responses) == [200, 409]
        await _assert_paths_consistent(owner)

    async def test_employee_who_left_cannot_head_a_department(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")
        nancy = await create_employee(client, tenant_a, sales, "Nancy")
        janet = await create_employee(client, tenant_a, sales, "Janet")
        await client.post(
            f"{EMPLOYEES}/{nancy['id']}/leave",
            json={"handover_to": janet["id"]},
            headers=tenant_a.headers,
        )

        response = await patch(
            client,
            tenant_a,
            f"{DEPARTMENTS}/{sales['id']}",
            {"head_employee_id": nancy["id"]},
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "employee_left"


class TestTree:
    async def test_tree_nests_every_department_in_position_order(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        root = tenant_root(tenant_a)
        sales = await create_department(client, tenant_a, "Sales", root)
        await create_department(client, tenant_a, "West", sales)
        east = await create_department(client, tenant_a, "East", sales, position=0)
        await create_department(client, tenant_a, "Team 1", east)
        await create_department(client, tenant_a, "Finance", root)

        tree = await read(client, tenant_a, f"{DEPARTMENTS}/tree")

        assert names_of(tree["roots"]) == [
            [
                root["name"],
                [
                    ["Sales", [["East", [["Team 1", []]]], ["West", []]]],
                    ["Finance", []],
                ],
            ]
        ]
        [tree_root] = tree["roots"]
        assert tree_root["id"] == root["id"]
        assert tree_root["children"][0]["children"][0]["parent_id"] == sales["id"]

    async def test_subtree_holds_only_the_branch(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales, east, _ = await create_chain(client, tenant_a, "Sales", "East", "Team")
        await create_department(client, tenant_a, "West", sales)
        await create_department(client, tenant_a, "Finance")

        subtree = await read(client, tenant_a, f"{DEPARTMENTS}/{east['id']}/subtree")

        assert names_of([subtree]) == [["East", [["Team", []]]]]

    async def test_subtree_of_unknown_department_is_404(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            f"{DEPARTMENTS}/{uuid.uuid4()}/subtree", headers=tenant_a.headers
        )

        assert response.status_code == 404

    async def test_flat_list_pages_by_cursor_and_filters_by_parent(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")
        children = [
            await create_department(client, tenant_a, f"Team {n}", sales)
            for n in range(3)
        ]

        first = await client.get(
            DEPARTMENTS, params={"limit": 2}, headers=tenant_a.headers
        )
        second = await client.get(
            DEPARTMENTS,
            params={"limit": 2, "cursor": first.json()["next_cursor"]},
            headers=tenant_a.headers,
        )
        third = await client.get(
            DEPARTMENTS,
            params={"limit": 2, "cursor": second.json()["next_cursor"]},
            headers=tenant_a.headers,
        )
        under_sales = await client.get(
            DEPARTMENTS, params={"parent_id": sales["id"]}, headers=tenant_a.headers
        )

        pages = [first.json(), second.json(), third.json()]
        ids = [d["id"] for page in pages for d in page["items"]]
        # The tenant root, created at sign-up, comes first.
        assert ids == [
            tenant_a.root_department_id,
            sales["id"],
            *(c["id"] for c in children),
        ]
        assert [len(page["items"]) for page in pages] == [2, 2, 1]
        assert third.json()["next_cursor"] is None
        assert [d["id"] for d in under_sales.json()["items"]] == [
            c["id"] for c in children
        ]


class TestDelete:
    async def test_empty_department_is_deleted(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")

        response = await client.delete(
            f"{DEPARTMENTS}/{sales['id']}",
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 204
        gone = await client.get(
            f"{DEPARTMENTS}/{sales['id']}", headers=tenant_a.headers
        )
        assert gone.status_code == 404

    async def test_department_with_a_child_is_409(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales, _ = await create_chain(client, tenant_a, "Sales", "East")

        response = await client.delete(
            f"{DEPARTMENTS}/{sales['id']}", headers=tenant_a.headers
        )

        assert response.status_code == 409
        assert response.json()["extra"]["contents"] == {"departments": 1}

    async def test_department_with_an_employee_is_409(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")
        await create_employee(client, tenant_a, sales, "Nancy Davolio")

        response = await client.delete(
            f"{DEPARTMENTS}/{sales['id']}", headers=tenant_a.headers
        )

        assert response.status_code == 409
        assert response.json()["extra"]["contents"] == {"employees": 1}

    async def test_stale_if_match_is_412(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")
        await patch(client, tenant_a, f"{DEPARTMENTS}/{sales['id']}", {"name": "S"})

        response = await client.delete(
            f"{DEPARTMENTS}/{sales['id']}",
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 412

    async def test_handover_moves_employees_and_children_in_one_go(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        company = await create_department(client, tenant_a, "Company")
        old, east, team = await create_chain(client, tenant_a, "Old Sales", "East", "T")
        await patch(
            client, tenant_a, f"{DEPARTMENTS}/{old['id']}", {"parent_id": company["id"]}
        )
        new = await create_department(client, tenant_a, "New Sales", company)
        nancy = await create_employee(client, tenant_a, old, "Nancy Davolio")
        janet = await create_employee(client, tenant_a, east, "Janet Leverling")

        response = await client.delete(
            f"{DEPARTMENTS}/{old['id']}",
            params={"handover_to": new["id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 204
        nancy_now = await read(client, tenant_a, f"{EMPLOYEES}/{nancy['id']}")
        janet_now = await read(client, tenant_a, f"{EMPLOYEES}/{janet['id']}")
        assert nancy_now["department_id"] == new["id"]
        assert janet_now["department_id"] == east["id"]
        team_now = await read(client, tenant_a, f"{DEPARTMENTS}/{team['id']}")
        assert team_now["path"] == [company["id"], new["id"], east["id"], team["id"]]
        tree = await read(client, tenant_a, f"{DEPARTMENTS}/tree")
        assert names_of(tree["roots"]) == [
            [tenant_a.tenant["name"], []],
            ["Company", [["New Sales", [["East", [["T", []]]]]]]],
        ]
        await _assert_paths_consistent(owner)

    async def test_handover_to_the_parent_folds_the_department_into_it(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        sales, east, team, sub = await create_chain(
            client, tenant_a, "Sales", "East", "Team", "Sub"
        )
        eve = await create_employee(client, tenant_a, east, "Eve")

        response = await client.delete(
            f"{DEPARTMENTS}/{east['id']}",
            params={"handover_to": sales["id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 204
        sub_now = await read(client, tenant_a, f"{DEPARTMENTS}/{sub['id']}")
        assert sub_now["path"] == [sales["id"], team["id"], sub["id"]]
        eve_now = await read(client, tenant_a, f"{EMPLOYEES}/{eve['id']}")
        assert eve_now["department_id"] == sales["id"]
        await _assert_paths_consistent(owner)

    async def test_handover_to_itself_or_a_descendant_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        sales, _, team = await create_chain(client, tenant_a, "Sales", "East", "Team")

        to_itself = await client.delete(
            f"{DEPARTMENTS}/{sales['id']}",
            params={"handover_to": sales["id"]},
            headers=tenant_a.headers,
        )
        to_descendant = await client.delete(
            f"{DEPARTMENTS}/{sales['id']}",
            params={"handover_to": team["id"]},
            headers=tenant_a.headers,
        )

        assert to_itself.status_code == 422
        assert to_descendant.status_code == 422
        assert to_descendant.json()["errors"][0] == {
            "field": "handover_to",
            "location": "query",
            "code": "descendant",
            "message": "The handover department lies inside the department being "
            "deleted.",
        }
        assert (
            await client.get(f"{DEPARTMENTS}/{sales['id']}", headers=tenant_a.headers)
        ).status_code == 200

    async def test_handover_with_clashing_child_names_is_409(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        old, _ = await create_chain(client, tenant_a, "Old", "East")
        new, _ = await create_chain(client, tenant_a, "New", "east")

        response = await client.delete(
            f"{DEPARTMENTS}/{old['id']}",
            params={"handover_to": new["id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 409
        assert response.json()["extra"]["clashing_names"] == ["east"]


class TestTenantIsolation:
    async def test_another_tenant_cannot_read_or_list(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        sales, _ = await create_chain(client, tenant_a, "Sales", "East")
        path = f"{DEPARTMENTS}/{sales['id']}"

        get = await client.get(path, headers=tenant_b.headers)
        subtree = await client.get(f"{path}/subtree", headers=tenant_b.headers)
        listed = await client.get(DEPARTMENTS, headers=tenant_b.headers)
        by_parent = await client.get(
            DEPARTMENTS, params={"parent_id": sales["id"]}, headers=tenant_b.headers
        )
        tree = await client.get(f"{DEPARTMENTS}/tree", headers=tenant_b.headers)

        assert get.status_code == 404
        assert subtree.status_code == 404
        # Tenant B sees its own root department and nothing of tenant A's.
        assert [d["id"] for d in listed.json()["items"]] == [
            tenant_b.root_department_id
        ]
        assert by_parent.json()["items"] == []
        assert names_of(tree.json()["roots"]) == [[tenant_b.tenant["name"], []]]

    async def test_another_tenant_cannot_change_or_delete(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        sales = await create_department(client, tenant_a, "Sales")
        path = f"{DEPARTMENTS}/{sales['id']}"

        renamed = await patch(client, tenant_b, path, {"name": "Mine"})
        deleted = await client.delete(path, headers=tenant_b.headers)

        assert renamed.status_code == 404
        assert deleted.status_code == 404
        assert (await read(client, tenant_a, path))["name"] == "Sales"

    async def test_another_tenants_department_is_no_parent_or_handover(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        theirs = await create_department(client, tenant_a, "Sales")
        mine = await create_department(client, tenant_b, "Mine")

        created = await client.post(
            DEPARTMENTS,
            json={"name": "Under theirs", "parent_id": theirs["id"]},
            headers=tenant_b.headers,
        )
        moved = await patch(
            client, tenant_b, f"{DEPARTMENTS}/{mine['id']}", {"parent_id": theirs["id"]}
        )
        handed_over = await client.delete(
            f"{DEPARTMENTS}/{mine['id']}",
            params={"handover_to": theirs["id"]},
            headers=tenant_b.headers,
        )

        assert created.status_code == 422
        assert moved.status_code == 422
        assert handed_over.status_code == 422
        assert handed_over.json()["errors"][0]["field"] == "handover_to"

    async def test_another_tenants_employee_cannot_head_a_department(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        theirs = await create_department(client, tenant_a, "Sales")
        stranger = await create_employee(client, tenant_a, theirs, "Nancy Davolio")
        mine = await create_department(client, tenant_b, "Mine")

        response = await patch(
            client,
            tenant_b,
            f"{DEPARTMENTS}/{mine['id']}",
            {"head_employee_id": stranger["id"]},
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "head_employee_id"
