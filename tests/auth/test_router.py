from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_api.auth.tokens import issue_token
from crm_api.settings import Settings
from tests.fixtures.api import PASSWORD, TenantContext, add_user, sign_in


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _token_for(
    settings: Settings,
    ctx: TenantContext,
    *,
    now: datetime | None = None,
    **overrides: object,
) -> str:
    token, _ = issue_token(
        settings,
        token_type="access",
        user_id=uuid.UUID(str(overrides.get("user_id", ctx.admin["id"]))),
        tenant_id=uuid.UUID(str(overrides.get("tenant_id", ctx.tenant["id"]))),
        family_id=uuid.uuid4(),
        now=now,
    )
    return token


async def _assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:crm-api:problem:not-authenticated"


class TestPasswordGrant:
    async def test_wrong_password_is_401(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": tenant_a.admin["email"], "password": "wrong password!"},
        )

        await _assert_unauthenticated(response)

    async def test_unknown_email_is_the_same_401(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": "nobody@example.com", "password": PASSWORD},
        )

        await _assert_unauthenticated(response)

    async def test_email_is_case_insensitive(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        tokens = await sign_in(client, tenant_a.admin["email"].upper())

        assert tokens["token_type"] == "bearer"

    async def test_missing_fields_are_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/auth/token", data={"username": "a@b.cd"})

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "password"

    async def test_repeated_failures_are_rate_limited(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        form = {"username": tenant_a.admin["email"], "password": "not the password"}
        statuses = [
            (await client.post("/api/v1/auth/token", data=form)).status_code
            for _ in range(6)
        ]

        assert statuses == [401] * 5 + [429]
        limited = await client.post("/api/v1/auth/token", data=form)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["type"] == "urn:crm-api:problem:rate-limited"


class TestRefresh:
    async def test_rotation_issues_a_working_pair(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tenant_a.tokens["refresh_token"],
            },
        )

        assert response.status_code == 200
        pair = response.json()
        assert pair["refresh_token"] != tenant_a.tokens["refresh_token"]
        me = await client.get("/api/v1/me", headers=_bearer(pair["access_token"]))
        assert me.status_code == 200

    async def test_reused_refresh_token_revokes_the_whole_family(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        old = tenant_a.tokens["refresh_token"]
        rotated = (
            await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "refresh_token", "refresh_token": old},
            )
        ).json()

        reuse = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": old},
        )

        await _assert_unauthenticated(reuse)
        newer = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": rotated["refresh_token"],
            },
        )
        await _assert_unauthenticated(newer)
        me = await client.get("/api/v1/me", headers=_bearer(rotated["access_token"]))
        await _assert_unauthenticated(me)

    async def test_access_token_is_not_a_refresh_token(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tenant_a.tokens["access_token"],
            },
        )

        await _assert_unauthenticated(response)

    async def test_refresh_token_is_not_an_access_token(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            "/api/v1/me", headers=_bearer(tenant_a.tokens["refresh_token"])
        )

        await _assert_unauthenticated(response)


class TestLogout:
    async def test_logout_ends_access_and_refresh_tokens(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post("/api/v1/auth/logout", headers=tenant_a.headers)

        assert response.status_code == 204
        await _assert_unauthenticated(
            await client.get("/api/v1/me", headers=tenant_a.headers)
        )
        refresh = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tenant_a.tokens["refresh_token"],
            },
        )
        await _assert_unauthenticated(refresh)

    async def test_logout_leaves_other_sign_ins_alone(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        other = await sign_in(client, tenant_a.admin["email"])

        await client.post("/api/v1/auth/logout", headers=tenant_a.headers)

        me = await client.get("/api/v1/me", headers=_bearer(other["access_token"]))
        assert me.status_code == 200


class TestBadTokens:
    async def test_expired_token_is_401(
        self, client: httpx.AsyncClient, settings: Settings, tenant_a: TenantContext
    ) -> None:
        past = datetime.now(UTC) - timedelta(seconds=settings.access_token_ttl_s + 5)
        token = _token_for(settings, tenant_a, now=past)

        await _assert_unauthenticated(
            await client.get("/api/v1/me", headers=_bearer(token))
        )

    async def test_wrong_signature_is_401(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        header, payload, signature = tenant_a.tokens["access_token"].split(".")
        forged = f"{header}.{payload}.{signature[:-4]}AAAA"

        await _assert_unauthenticated(
            await client.get("/api/v1/me", headers=_bearer(forged))
        )

    async def test_alg_none_is_401(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, payload, _ = tenant_a.tokens["access_token"].split(".")
        unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."

        await _assert_unauthenticated(
            await client.get("/api/v1/me", headers=_bearer(unsigned))
        )

    async def test_token_naming_another_tenant_finds_no_user(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        # Validly signed, but claims tenant B for a user of tenant A.
        token = _token_for(settings, tenant_a, tenant_id=tenant_b.tenant["id"])

        await _assert_unauthenticated(
            await client.get("/api/v1/me", headers=_bearer(token))
        )

    @pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer", "x" * 5000])
    async def test_garbage_is_401(
        self, client: httpx.AsyncClient, garbage: str
    ) -> None:
        response = await client.get("/api/v1/me", headers=_bearer(garbage))

        assert response.status_code == 401

    async def test_deactivated_users_token_stops_working(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        user, headers = await add_user(client, tenant_a, roles=["sales"])

        await client.post(
            f"/api/v1/users/{user['id']}/deactivate", headers=tenant_a.headers
        )

        await _assert_unauthenticated(await client.get("/api/v1/me", headers=headers))
