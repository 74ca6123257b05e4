"""Roles: built-in and tenant-defined, permissions plus a visibility scope."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.fixtures.api import TenantContext, add_user

ROLES = "/api/v1/roles"
CUSTOMERS = "/api/v1/customers"


async def create_role(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    key: str,
    permissions: list[str],
    scope: str,
) -> httpx.Response:
    return await client.post(
        ROLES,
        json={
            "key": key,
            "name": key.title(),
            "permissions": permissions,
            "scope": scope,
        },
        headers=headers,
    )


async def _me(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


class TestBuiltIn:
    async def test_the_list_starts_with_the_six_built_in_roles(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(ROLES, headers=tenant_a.headers)

        assert response.status_code == 200
        roles = {role["key"]: role for role in response.json()["items"]}
        assert list(roles) == [
            "admin",
            "manager",
            "sales",
            "marketing",
            "service",
            "finance",
        ]
        assert roles["sales"]["scope"] == "own"
        assert roles["manager"]["scope"] == "department"
        assert roles["admin"]["scope"] == "all"
        assert all(role["builtin"] for role in roles.values())

    @pytest.mark.parametrize("method", ["PATCH", "DELETE"])
    async def test_built_in_roles_cannot_be_changed(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, method: str
    ) -> None:
        response = await client.request(
            method,
            f"{ROLES}/sales",
            json={"scope": "all"} if method == "PATCH" else None,
            headers=tenant_a.headers,
        )

        assert response.status_code == 409
        assert "built-in" in response.json()["detail"]

    async def test_a_tenant_role_cannot_take_a_built_in_key(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await create_role(
            client, tenant_a.headers, "sales", ["customers:read"], "all"
        )

        assert response.status_code == 409


class TestTenantRoles:
    async def test_create_read_and_assign_a_role(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await create_role(
            client,
            tenant_a.headers,
            "auditor",
            ["customers:read", "tenant:read"],
            "all",
        )
        user, headers = await add_user(client, tenant_a, roles=["auditor"])
        me = await _me(client, headers)

        assert created.status_code == 201, created.text
        assert created.headers["Location"] == f"{ROLES}/auditor"
        assert created.json()["builtin"] is False
        assert sorted(me["permissions"]) == ["customers:read", "tenant:read"]
        assert me["scopes"]["customers:read"] == "all"
        assert me["employee_id"] == user["employee_id"]
        read = await client.get(f"{ROLES}/auditor", headers=tenant_a.headers)
        assert read.status_code == 200
        assert read.headers["ETag"]

    async def test_an_unknown_permission_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await create_role(
            client, tenant_a.headers, "odd", ["customers:read", "rockets:launch"], "all"
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "permissions.1"

    @pytest.mark.parametrize(
        "body",
        [
            {
                "key": "x",
                "name": "X",
                "permissions": ["customers:read"],
                "scope": "all",
            },
            {
                "key": "Upper",
                "name": "X",
                "permissions": ["tenant:read"],
                "scope": "all",
            },
            {"key": "ok_key", "name": "X", "permissions": [], "scope": "all"},
            {
                "key": "ok_key",
                "name": "X",
                "permissions": ["tenant:read"],
                "scope": "team",
            },
            {
                "key": "ok_key",
                "name": "X",
                "permissions": ["tenant:read"],
                "scope": "all",
                "level": 3,
            },
        ],
    )
    async def test_malformed_roles_are_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, body: dict[str, Any]
    ) -> None:
        response = await client.post(ROLES, json=body, headers=tenant_a.headers)

        assert response.status_code == 422

    async def test_a_duplicate_key_is_409(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        first = await create_role(
            client, tenant_a.headers, "viewer", ["customers:read"], "all"
        )
        second = await create_role(
            client, tenant_a.headers, "viewer", ["customers:read"], "own"
        )

        assert first.status_code == 201
        assert second.status_code == 409

    async def test_a_change_takes_effect_on_the_holders_next_call(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_role(
            client,
            tenant_a.headers,
            "editor",
            ["customers:read", "customers:write"],
            "own",
        )
        _, headers = await add_user(client, tenant_a, roles=["editor"])
        before = await client.post(CUSTOMERS, json={"name": "Kept"}, headers=headers)

        etag = (await client.get(f"{ROLES}/editor", headers=tenant_a.headers)).headers[
            "ETag"
        ]
        changed = await client.patch(
            f"{ROLES}/editor",
            json={"permissions": ["customers:read"]},
            headers={**tenant_a.headers, "If-Match": etag},
        )
        after = await client.post(CUSTOMERS, json={"name": "Refused"}, headers=headers)

        assert before.status_code == 201
        assert changed.status_code == 200
        assert after.status_code == 403

    async def test_a_held_role_cannot_be_deleted_an_unheld_one_can(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_role(client, tenant_a.headers, "held", ["tenant:read"], "own")
        await create_role(client, tenant_a.headers, "spare", ["tenant:read"], "own")
        await add_user(client, tenant_a, roles=["held"])

        held = await client.delete(f"{ROLES}/held", headers=tenant_a.headers)
        spare = await client.delete(f"{ROLES}/spare", headers=tenant_a.headers)

        assert held.status_code == 409
        assert held.json()["extra"]["holders"] == 1
        assert spare.status_code == 204
        missing = await client.get(f"{ROLES}/spare", headers=tenant_a.headers)
        assert missing.status_code == 404

    async def test_assigning_an_unknown_role_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/users",
            json={
                "email": "x@acme.example.com",
                "full_name": "X",
                "password": "a long enough password",
                "roles": ["sales", "ghost"],
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "roles.1"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"permissions": [" customers:read"], "key": "spaced"}, "permissions.0"),
            ({"permissions": ["tenant:read", "customers:read "]}, "permissions.1"),
            ({"key": " spaced"}, "key"),
        ],
    )
    async def test_a_permission_or_key_with_surrounding_spaces_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        body: dict[str, Any],
        field: str,
    ) -> None:
        role = {"key": "spaced", "name": "Spaced", "scope": "all", **body}

        response = await client.post(ROLES, json=role, headers=tenant_a.headers)
        listed = await client.get(ROLES, headers=tenant_a.headers)

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
        assert "spaced" not in [r["key"] for r in listed.json()["items"]]

    async def test_a_permission_with_spaces_is_422_on_update_too(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_role(client, tenant_a.headers, "viewer", ["tenant:read"], "all")

        response = await client.patch(
            f"{ROLES}/viewer",
            json={"permissions": [" customers:read"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "permissions.0"

    @pytest.mark.parametrize("field", ["name", "permissions", "scope"])
    async def test_null_for_a_required_field_is_422_naming_it(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, field: str
    ) -> None:
        await create_role(client, tenant_a.headers, "viewer", ["tenant:read"], "all")

        response = await client.patch(
            f"{ROLES}/viewer", json={field: None}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["type"] == "urn:crm-api:problem:validation-error"
        assert response.json()["errors"] == [
            {
                "field": field,
                "location": "body",
                "code": "required",
                "message": f"'{field}' cannot be null.",
            }
        ]


class TestAssignAndDeleteAtOnce:
    """Giving a role and deleting it race; one of them must lose."""

    @pytest.mark.parametrize("attempt", range(5))
    async def test_assigning_and_deleting_a_role_at_once_never_leaves_it_held(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, attempt: int
    ) -> None:
        key = f"dang_{attempt}"
        await create_role(client, tenant_a.headers, key, ["tenant:read"], "own")
        user, _ = await add_user(client, tenant_a, roles=["sales"])

        assigned, deleted = await asyncio.gather(
            client.patch(
                f"/api/v1/users/{user['id']}",
                json={"roles": ["sales", key]},
                headers=tenant_a.headers,
            ),
            client.delete(f"{ROLES}/{key}", headers=tenant_a.headers),
        )

        held = (
            await client.get(f"/api/v1/users/{user['id']}", headers=tenant_a.headers)
        ).json()["roles"]
        role = await client.get(f"{ROLES}/{key}", headers=tenant_a.headers)
        if assigned.status_code == 200:
            assert deleted.status_code == 409, deleted.text
            assert "hold" in deleted.json()["detail"]
            assert held == sorted(["sales", key])
            assert role.status_code == 200
        else:
            assert (assigned.status_code, deleted.status_code) == (422, 204)
            assert assigned.json()["errors"][0]["code"] == "unknown_role"
            assert held == ["sales"]
            assert role.status_code == 404


class TestUnionOfRoles:
    async def test_rights_are_the_union_and_each_permission_takes_its_widest_scope(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        # Sales writes its own customers; the second role reads all of them.
        await create_role(
            client, tenant_a.headers, "reader_all", ["customers:read"], "all"
        )
        _, colleague = await add_user(client, tenant_a, roles=["sales"])
        theirs = await client.post(
            CUSTOMERS, json={"name": "Colleague's"}, headers=colleague
        )
        _, headers = await add_user(client, tenant_a, roles=["sales", "reader_all"])
        me = await _me(client, headers)

        read = await client.get(f"{CUSTOMERS}/{theirs.json()['id']}", headers=headers)
        write = await client.patch(
            f"{CUSTOMERS}/{theirs.json()['id']}",
            json={"industry": "Nope"},
            headers=headers,
        )

        assert me["scopes"]["customers:read"] == "all"
        assert me["scopes"]["customers:write"] == "own"
        assert read.status_code == 200
        assert write.status_code == 404


class TestGrantingLimits:
    async def test_nobody_creates_a_role_with_more_than_they_hold(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_role(
            client,
            tenant_a.headers,
            "role_keeper",
            ["roles:read", "roles:write", "customers:read"],
            "own",
        )
        _, keeper = await add_user(client, tenant_a, roles=["role_keeper"])

        more_permissions = await create_role(
            client, keeper, "bigger", ["customers:write"], "own"
        )
        wider_scope = await create_role(
            client, keeper, "wider", ["customers:read"], "all"
        )
        within = await create_role(client, keeper, "smaller", ["customers:read"], "own")

        assert more_permissions.status_code == 403
        assert wider_scope.status_code == 403
        assert "customers:read (scope all)" in wider_scope.json()["detail"]
        assert within.status_code == 201

    async def test_a_user_without_roles_write_cannot_manage_roles(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, headers = await add_user(client, tenant_a, roles=["manager"])

        listed = await client.get(ROLES, headers=headers)
        created = await create_role(client, headers, "mine", ["tenant:read"], "own")

        assert listed.status_code == 403
        assert created.status_code == 403


class TestApiKeys:
    async def test_a_key_sees_with_its_creators_scope(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        admin_customer = await client.post(
            CUSTOMERS, json={"name": "Admin's"}, headers=tenant_a.headers
        )
        await create_role(
            client,
            tenant_a.headers,
            "integrator",
            ["customers:read", "api_keys:read", "api_keys:write"],
            "own",
        )
        _, headers = await add_user(client, tenant_a, roles=["integrator"])
        key = await client.post(
            "/api/v1/api-keys",
            json={"name": "sync", "scopes": ["customers:read"]},
            headers=headers,
        )
        assert key.status_code == 201, key.text

        read = await client.get(
            f"{CUSTOMERS}/{admin_customer.json()['id']}",
            headers={"X-API-Key": key.json()["key"]},
        )

        assert read.status_code == 404


class TestTenantIsolation:
    async def test_another_tenant_cannot_see_or_touch_a_role(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        await create_role(client, tenant_a.headers, "a_only", ["tenant:read"], "own")

        listed = await client.get(ROLES, headers=tenant_b.headers)
        read = await client.get(f"{ROLES}/a_only", headers=tenant_b.headers)
        patched = await client.patch(
            f"{ROLES}/a_only", json={"scope": "all"}, headers=tenant_b.headers
        )
        deleted = await client.delete(f"{ROLES}/a_only", headers=tenant_b.headers)
        assigned = await client.post(
            "/api/v1/users",
            json={
                "email": "b@globex.example.com",
                "full_name": "B",
                "password": "a long enough password",
                "roles": ["a_only"],
            },
            headers=tenant_b.headers,
        )
        same_key = await create_role(
            client, tenant_b.headers, "a_only", ["tenant:read"], "all"
        )

        assert "a_only" not in {r["key"] for r in listed.json()["items"]}
        assert (read.status_code, patched.status_code, deleted.status_code) == (
            404,
            404,
            404,
        )
        assert assigned.status_code == 422
        assert same_key.status_code == 201
        still = await client.get(f"{ROLES}/a_only", headers=tenant_a.headers)
        assert still.json()["scope"] == "own"


class TestRolesNamedElsewhere:
    async def test_a_role_an_approval_rule_names_cannot_be_deleted(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_role(
            client, tenant_a.headers, "approver_x", ["orders:read"], "all"
        )
        rule = await client.post(
            "/api/v1/approval-rules",
            json={"name": "Big orders", "levels": [{"roles": ["approver_x"]}]},
            headers=tenant_a.headers,
        )
        assert rule.status_code == 201, rule.text

        refused = await client.delete(f"{ROLES}/approver_x", headers=tenant_a.headers)
        await client.delete(
            f"/api/v1/approval-rules/{rule.json()['id']}", headers=tenant_a.headers
        )
        allowed = await client.delete(f"{ROLES}/approver_x", headers=tenant_a.headers)

        assert refused.status_code == 409
        assert refused.json()["extra"]["used_by"] == {"approval_rules": 1}
        assert allowed.status_code == 204
