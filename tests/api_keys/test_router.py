from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

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
