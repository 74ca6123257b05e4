from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.fixtures.api import TenantContext, add_user


async def _create_key(
    client: httpx.AsyncClient, ctx: TenantContext, scopes: list[str], **extra: object
) -> dict[str, object]:
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "integration", "scopes": scopes, **extra},
        headers=ctx.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


class TestCreate:
    async def test_key_is_shown_once_and_stored_hashed(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        created = await _create_key(client, tenant_a, ["users:read"])

        read = await client.get(
            f"/api/v1/api-keys/{created['id']}", headers=tenant_a.headers
        )
        stored = await owner.fetchrow("SELECT secret_hash FROM api_keys")

        key = str(created["key"])
        assert key.startswith(f"crm_{created['prefix']}_")
        assert "key" not in read.json()
        assert stored is not None
        assert key.split("_", 2)[2] not in stored["secret_hash"]

    async def test_unknown_scope_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/api-keys",
            json={"name": "x", "scopes": ["everything"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422

    async def test_expiry_in_the_past_is_refused(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/api-keys",
            json={
                "name": "x",
                "scopes": ["users:read"],
                "expires_at": "2020-01-01T00:00:00Z",
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422

    async def test_naive_expiry_is_refused(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/api-keys",
            json={
                "name": "x",
                "scopes": ["users:read"],
                "expires_at": "2099-01-01T00:00:00",
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422


class TestUse:
    async def test_key_authenticates_within_its_scopes(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await _create_key(client, tenant_a, ["users:read"])
        headers = {"X-API-Key": str(created["key"])}

        listed = await client.get("/api/v1/users", headers=headers)
        me = await client.get("/api/v1/me", headers=headers)
        write = await client.post(
            "/api/v1/api-keys",
            json={"name": "y", "scopes": ["users:read"]},
            headers=headers,
        )

        assert listed.status_code == 200
        assert me.json()["kind"] == "api_key"
        assert me.json()["permissions"] == ["users:read"]
        assert write.status_code == 403

    async def test_revoked_key_stops_working(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await _create_key(client, tenant_a, ["users:read"])

        revoke = await client.delete(
            f"/api/v1/api-keys/{created['id']}", headers=tenant_a.headers
        )
        response = await client.get(
            "/api/v1/users", headers={"X-API-Key": str(created["key"])}
        )

        assert revoke.status_code == 204
        assert response.status_code == 401

    async def test_expired_key_stops_working(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        created = await _create_key(
            client,
            tenant_a,
            ["users:read"],
            expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        )
        await owner.execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 second'"
        )

        response = await client.get(
            "/api/v1/users", headers={"X-API-Key": str(created["key"])}
        )

        assert response.status_code == 401

    async def test_tampered_key_is_401(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await _create_key(client, tenant_a, ["users:read"])
        key = str(created["key"])

        for bad in (
            key[:-1] + ("A" if key[-1] != "A" else "B"),
            "crm_short_x",
            "nonsense",
        ):
            response = await client.get("/api/v1/users", headers={"X-API-Key": bad})
            assert response.status_code == 401

    async def test_non_admin_cannot_manage_keys(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, headers = await add_user(client, tenant_a, roles=["manager"])

        response = await client.get("/api/v1/api-keys", headers=headers)

        assert response.status_code == 403


class TestTenantIsolation:
    async def test_other_tenant_cannot_see_or_revoke_keys(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        created = await _create_key(client, tenant_a, ["users:read"])
        path = f"/api/v1/api-keys/{created['id']}"

        read = await client.get(path, headers=tenant_b.headers)
        revoke = await client.delete(path, headers=tenant_b.headers)
        listed = await client.get("/api/v1/api-keys", headers=tenant_b.headers)
        still_works = await client.get(
            "/api/v1/users", headers={"X-API-Key": str(created["key"])}
        )

        assert (read.status_code, revoke.status_code) == (404, 404)
        assert listed.json()["items"] == []
        assert still_works.status_code == 200
        assert [u["id"] for u in still_works.json()["items"]] == [tenant_a.admin["id"]]


class TestActsForItsCreator:
    async def test_key_dies_with_its_deactivated_creator(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        creator, creator_headers = await add_user(client, tenant_a, roles=["admin"])
        key = (
            await client.post(
                "/api/v1/api-keys",
                json={"name": "k", "scopes": ["users:read", "users:write"]},
                headers=creator_headers,
            )
        ).json()["key"]

        await client.post(
            f"/api/v1/users/{creator['id']}/deactivate", headers=tenant_a.headers
        )
        response = await client.post(
            f"/api/v1/users/{creator['id']}/activate", headers={"X-API-Key": key}
        )

        assert response.status_code == 401

    async def test_key_never_holds_more_than_its_creator_now_does(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        creator, creator_headers = await add_user(client, tenant_a, roles=["admin"])
        key = (
            await client.post(
                "/api/v1/api-keys",
                json={"name": "k", "scopes": ["users:read", "users:write"]},
                headers=creator_headers,
            )
        ).json()["key"]

        await client.patch(
            f"/api/v1/users/{creator['id']}",
            json={"roles": ["manager"]},
            headers=tenant_a.headers,
        )
        me = await client.get("/api/v1/me", headers={"X-API-Key": key})

        assert me.json()["permissions"] == ["users:read"]

    async def test_using_a_key_keeps_its_etag(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await _create_key(client, tenant_a, ["users:read"])

        await asyncio.gather(
            *(client.get("/api/v1/users", headers={"X-API-Key": str(created["key"])})
              for _ in range(5))
        )  # fmt: skip
        revoke = await client.delete(
            f"/api/v1/api-keys/{created['id']}",
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert revoke.status_code == 204

    async def test_replayed_creation_never_stores_or_shows_the_key(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        headers = {**tenant_a.headers, "Idempotency-Key": "key-once"}
        body = {"name": "k", "scopes": ["users:read"]}

        first = await client.post("/api/v1/api-keys", json=body, headers=headers)
        replay = await client.post("/api/v1/api-keys", json=body, headers=headers)
        stored = await owner.fetchval("SELECT response_body FROM idempotency_keys")

        assert first.json()["key"].startswith("crm_")
        assert replay.json()["key"] is None
        assert replay.json()["id"] == first.json()["id"]
        assert b"crm_" not in stored


async def _integrator(
    client: httpx.AsyncClient, ctx: TenantContext, scope: str
) -> tuple[dict[str, object], dict[str, str]]:
    """A user whose only role holds api_keys:read/write (and users:read) at ``scope``."""
    role = await client.post(
        "/api/v1/roles",
        json={
            "key": f"integrator_{scope}",
            "name": "Integrator",
            "permissions": ["api_keys:read", "api_keys:write", "users:read"],
            "scope": scope,
        },
        headers=ctx.headers,
    )
    assert role.status_code == 201, role.text
    return await add_user(client, ctx, roles=[f"integrator_{scope}"])


class TestScope:
    """Below an `all` scope one reaches only the keys one created."""

    @pytest.mark.parametrize("scope", ["own", "department"])
    async def test_a_narrower_scope_lists_reads_and_revokes_only_ones_own_keys(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, scope: str
    ) -> None:
        admins = await _create_key(client, tenant_a, ["users:read"])
        user, headers = await _integrator(client, tenant_a, scope)
        created = await client.post(
            "/api/v1/api-keys",
            json={"name": "mine", "scopes": ["users:read"]},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        mine = created.json()
        theirs = f"/api/v1/api-keys/{admins['id']}"

        listed = await client.get("/api/v1/api-keys", headers=headers)
        read = await client.get(theirs, headers=headers)
        revoke = await client.delete(theirs, headers=headers)
        still_works = await client.get(
            "/api/v1/users", headers={"X-API-Key": str(admins["key"])}
        )
        own = await client.delete(f"/api/v1/api-keys/{mine['id']}", headers=headers)

        assert [k["id"] for k in listed.json()["items"]] == [mine["id"]]
        assert mine["created_by"] == user["id"]
        assert (read.status_code, revoke.status_code) == (404, 404)
        assert still_works.status_code == 200
        assert own.status_code == 204

    async def test_an_all_scope_reaches_every_key(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, headers = await _integrator(client, tenant_a, "own")
        theirs = await client.post(
            "/api/v1/api-keys",
            json={"name": "theirs", "scopes": ["users:read"]},
            headers=headers,
        )
        path = f"/api/v1/api-keys/{theirs.json()['id']}"

        listed = await client.get("/api/v1/api-keys", headers=tenant_a.headers)
        read = await client.get(path, headers=tenant_a.headers)
        revoke = await client.delete(path, headers=tenant_a.headers)

        assert [k["id"] for k in listed.json()["items"]] == [theirs.json()["id"]]
        assert (read.status_code, revoke.status_code) == (200, 204)

    async def test_a_key_made_with_a_key_acts_for_the_same_user(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        maker = await _create_key(client, tenant_a, ["api_keys:write", "users:read"])

        made = await client.post(
            "/api/v1/api-keys",
            json={"name": "made", "scopes": ["users:read"]},
            headers={"X-API-Key": str(maker["key"])},
        )
        used = await client.get(
            "/api/v1/users", headers={"X-API-Key": made.json()["key"]}
        )

        assert made.status_code == 201, made.text
        assert made.json()["created_by"] == tenant_a.admin["id"]
        assert used.status_code == 200

    async def test_a_scope_with_surrounding_spaces_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/api-keys",
            json={"name": "x", "scopes": ["users:read", " users:read"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "scopes.1"
