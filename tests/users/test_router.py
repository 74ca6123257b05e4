from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fixtures.api import PASSWORD, TenantContext, add_user


def _new_user(email: str, **extra: object) -> dict[str, object]:
    return {"email": email, "full_name": "Nia New", "password": PASSWORD, **extra}


class TestCreate:
    async def test_admin_creates_user_who_can_sign_in(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        user, headers = await add_user(client, tenant_a, roles=["sales", "service"])

        me = await client.get("/api/v1/me", headers=headers)

        assert me.json()["user"]["id"] == user["id"]
        assert user["roles"] == ["sales", "service"]

    async def test_email_taken_in_another_tenant_is_conflict(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        response = await client.post(
            "/api/v1/users",
            json=_new_user(tenant_b.admin["email"]),
            headers=tenant_a.headers,
        )

        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "email"

    async def test_unknown_role_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/users",
            json=_new_user("r@acme.example.com", roles=["superuser"]),
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "roles.0"

    async def test_non_admin_is_forbidden(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, headers = await add_user(client, tenant_a, roles=["sales"])

        response = await client.post(
            "/api/v1/users", json=_new_user("x@acme.example.com"), headers=headers
        )

        assert response.status_code == 403
        assert response.json()["type"] == "urn:crm-api:problem:permission-denied"


class TestList:
    async def test_pages_through_users_with_cursor(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        for _ in range(4):
            await add_user(client, tenant_a, roles=["sales"])

        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (
                await client.get(
                    "/api/v1/users", params=params, headers=tenant_a.headers
                )
            ).json()
            seen += [user["id"] for user in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert pages == 3
        assert len(seen) == len(set(seen)) == 5
        assert seen == sorted(seen)

    async def test_filters_by_role_and_activity(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        finance, _ = await add_user(client, tenant_a, roles=["finance"])
        await add_user(client, tenant_a, roles=["sales"])

        only_finance = await client.get(
            "/api/v1/users", params={"role": "finance"}, headers=tenant_a.headers
        )

        assert [u["id"] for u in only_finance.json()["items"]] == [finance["id"]]

    async def test_limit_over_200_and_bad_cursor_are_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        too_many = await client.get(
            "/api/v1/users", params={"limit": 201}, headers=tenant_a.headers
        )
        bad_cursor = await client.get(
            "/api/v1/users", params={"cursor": "bm9wZQ"}, headers=tenant_a.headers
        )

        assert too_many.status_code == 422
        assert bad_cursor.status_code == 422
        assert bad_cursor.json()["errors"][0]["field"] == "cursor"


class TestUpdate:
    async def test_concurrent_patches_with_one_etag_one_wins(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        user, _ = await add_user(client, tenant_a, roles=["sales"])
        etag = (
            await client.get(f"/api/v1/users/{user['id']}", headers=tenant_a.headers)
        ).headers["etag"]

        responses = await asyncio.gather(
            *(
                client.patch(
                    f"/api/v1/users/{user['id']}",
                    json={"full_name": f"Name {n}"},
                    headers={**tenant_a.headers, "If-Match": etag},
                )
                for n in range(2)
            )
        )

        assert sorted(r.status_code for r in responses) == [200, 412]

    async def test_patch_returns_new_etag(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        user, _ = await add_user(client, tenant_a, roles=["sales"])

        response = await client.patch(
            f"/api/v1/users/{user['id']}",
            json={"roles": ["manager"]},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'
        assert response.json()["roles"] == ["manager"]

    async def test_unknown_field_in_patch_is_422_and_changes_nothing(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        user, _ = await add_user(client, tenant_a, roles=["sales"])

        response = await client.patch(
            f"/api/v1/users/{user['id']}",
            json={"full_name": "Changed", "nmae": "x"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        again = await client.get(
            f"/api/v1/users/{user['id']}", headers=tenant_a.headers
        )
        assert again.json()["full_name"] == "Uma User"

    @pytest.mark.parametrize("field", ["full_name", "roles"])
    async def test_null_for_a_required_field_is_422_and_changes_nothing(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, field: str
    ) -> None:
        user, _ = await add_user(client, tenant_a, roles=["sales"])

        response = await client.patch(
            f"/api/v1/users/{user['id']}",
            json={field: None},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
        assert response.json()["errors"][0]["code"] == "required"
        again = await client.get(
            f"/api/v1/users/{user['id']}", headers=tenant_a.headers
        )
        assert again.headers["etag"] == '"1"'
        assert again.json()["roles"] == ["sales"]

    async def test_a_role_key_with_surrounding_spaces_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        user, _ = await add_user(client, tenant_a, roles=["sales"])

        response = await client.patch(
            f"/api/v1/users/{user['id']}",
            json={"roles": ["sales", " manager"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "roles.1"

    async def test_last_admin_cannot_drop_admin_role(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.patch(
            f"/api/v1/users/{tenant_a.admin['id']}",
            json={"roles": ["sales"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["type"] == "urn:crm-api:problem:business-rule"

    async def test_malformed_if_match_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.patch(
            f"/api/v1/users/{tenant_a.admin['id']}",
            json={"full_name": "X"},
            headers={**tenant_a.headers, "If-Match": "garbage"},
        )

        assert response.status_code == 422


class TestDeactivate:
    async def test_deactivated_user_cannot_sign_in_and_can_be_reactivated(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        user, _ = await add_user(client, tenant_a, roles=["sales"])

        off = await client.post(
            f"/api/v1/users/{user['id']}/deactivate", headers=tenant_a.headers
        )
        denied = await client.post(
            "/api/v1/auth/token", data={"username": user["email"], "password": PASSWORD}
        )
        on = await client.post(
            f"/api/v1/users/{user['id']}/activate", headers=tenant_a.headers
        )
        allowed = await client.post(
            "/api/v1/auth/token", data={"username": user["email"], "password": PASSWORD}
        )

        assert off.json()["is_active"] is False
        assert denied.status_code == 401
        assert on.json()["is_active"] is True
        assert allowed.status_code == 200

    async def test_admin_cannot_deactivate_themselves(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            f"/api/v1/users/{tenant_a.admin['id']}/deactivate", headers=tenant_a.headers
        )

        assert response.status_code == 422


class TestTenantIsolation:
    async def test_other_tenant_cannot_read_or_change_users(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        victim, _ = await add_user(client, tenant_a, roles=["sales"])
        path = f"/api/v1/users/{victim['id']}"

        read = await client.get(path, headers=tenant_b.headers)
        patch = await client.patch(
            path, json={"full_name": "Hacked"}, headers=tenant_b.headers
        )
        off = await client.post(f"{path}/deactivate", headers=tenant_b.headers)
        on = await client.post(f"{path}/activate", headers=tenant_b.headers)
        listed = await client.get("/api/v1/users", headers=tenant_b.headers)

        assert [
            read.status_code,
            patch.status_code,
            off.status_code,
            on.status_code,
        ] == [404] * 4
        assert [u["id"] for u in listed.json()["items"]] == [tenant_b.admin["id"]]
        unchanged = await client.get(path, headers=tenant_a.headers)
        assert unchanged.json()["full_name"] == "Uma User"
        assert unchanged.json()["is_active"] is True


class TestPrivileges:
    async def test_two_admins_deactivating_each_other_at_once_leave_one(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        second, second_headers = await add_user(client, tenant_a, roles=["admin"])

        responses = await asyncio.gather(
            client.post(
                f"/api/v1/users/{second['id']}/deactivate", headers=tenant_a.headers
            ),
            client.post(
                f"/api/v1/users/{tenant_a.admin['id']}/deactivate",
                headers=second_headers,
            ),
        )

        assert sorted(r.status_code for r in responses) in ([200, 401], [200, 422])
        admins = await client.get(
            "/api/v1/users",
            params={"role": "admin", "is_active": "true"},
            headers=tenant_a.headers
            if responses[1].status_code != 200
            else second_headers,
        )
        assert len(admins.json()["items"]) == 1

    async def test_two_admins_demoting_each_other_at_once_leave_one(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        second, second_headers = await add_user(client, tenant_a, roles=["admin"])

        responses = await asyncio.gather(
            client.patch(
                f"/api/v1/users/{second['id']}",
                json={"roles": ["sales"]},
                headers=tenant_a.headers,
            ),
            client.patch(
                f"/api/v1/users/{tenant_a.admin['id']}",
                json={"roles": ["sales"]},
                headers=second_headers,
            ),
        )

        assert 200 in [r.status_code for r in responses]
        assert [r.status_code for r in responses] != [200, 200]

    async def test_key_with_users_write_cannot_create_an_admin(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        key = (
            await client.post(
                "/api/v1/api-keys",
                json={"name": "k", "scopes": ["users:write"]},
                headers=tenant_a.headers,
            )
        ).json()["key"]

        response = await client.post(
            "/api/v1/users",
            json=_new_user("evil@acme.example.com", roles=["admin"]),
            headers={"X-API-Key": key},
        )

        assert response.status_code == 403

    async def test_manager_cannot_deactivate_an_admin(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, manager = await add_user(client, tenant_a, roles=["manager"])

        response = await client.post(
            f"/api/v1/users/{tenant_a.admin['id']}/deactivate", headers=manager
        )

        assert response.status_code == 403

    async def test_patch_that_changes_nothing_records_no_event(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, owner: object
    ) -> None:
        before = await owner.fetchval("SELECT count(*) FROM outbox_events")  # type: ignore[attr-defined]

        response = await client.patch(
            f"/api/v1/users/{tenant_a.admin['id']}", json={}, headers=tenant_a.headers
        )

        assert response.status_code == 200
        assert await owner.fetchval("SELECT count(*) FROM outbox_events") == before  # type: ignore[attr-defined]
