from __future__ import annotations

import httpx

from crm_api.app import create_app
from crm_api.settings import Settings
from tests.fixtures.api import PASSWORD, TenantContext, sign_up


class TestSignup:
    async def test_creates_tenant_and_admin_who_can_sign_in(
        self, client: httpx.AsyncClient
    ) -> None:
        ctx = await sign_up(client, slug="initech")

        me = await client.get("/api/v1/me", headers=ctx.headers)

        assert me.status_code == 200
        body = me.json()
        assert body["kind"] == "user"
        assert body["tenant"]["slug"] == "initech"
        assert body["user"]["roles"] == ["admin"]
        assert "users:write" in body["permissions"]

    async def test_duplicate_slug_is_conflict(self, client: httpx.AsyncClient) -> None:
        await sign_up(client, slug="dup")
        body = {
            "tenant": {
                "name": "Other",
                "slug": "dup",
                "default_currency": "USD",
                "time_zone": "UTC",
            },
            "admin": {
                "email": "x@other.example.com",
                "full_name": "X",
                "password": PASSWORD,
            },
        }

        response = await client.post("/api/v1/signup", json=body)

        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "tenant.slug"

    async def test_admin_email_is_unique_across_tenants(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        body = {
            "tenant": {
                "name": "B",
                "slug": "b-co",
                "default_currency": "USD",
                "time_zone": "UTC",
            },
            "admin": {
                "email": tenant_a.admin["email"].upper(),
                "full_name": "Copycat",
                "password": PASSWORD,
            },
        }

        response = await client.post("/api/v1/signup", json=body)

        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "admin.email"
        tenants = await client.get("/api/v1/tenant", headers=tenant_a.headers)
        assert tenants.status_code == 200

    async def test_rejects_unknown_currency_time_zone_and_locale(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {
            "tenant": {
                "name": "Bad",
                "slug": "bad",
                "default_currency": "XYZ",
                "time_zone": "Mars/Olympus",
                "locale": "xx-YY-ZZ",
            },
            "admin": {
                "email": "a@bad.example.com",
                "full_name": "A",
                "password": PASSWORD,
            },
        }

        response = await client.post("/api/v1/signup", json=body)

        assert response.status_code == 422
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {
            "tenant.default_currency",
            "tenant.time_zone",
            "tenant.locale",
        }

    async def test_nothing_is_written_when_admin_is_invalid(
        self, client: httpx.AsyncClient, owner: object
    ) -> None:
        body = {
            "tenant": {
                "name": "N",
                "slug": "nope",
                "default_currency": "EUR",
                "time_zone": "UTC",
            },
            "admin": {"email": "not-an-email", "full_name": "N", "password": PASSWORD},
        }

        response = await client.post("/api/v1/signup", json=body)

        assert response.status_code == 422
        assert await owner.fetchval("SELECT count(*) FROM tenants") == 0  # type: ignore[attr-defined]


class TestCurrentTenant:
    async def test_update_with_stale_etag_is_412(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        first = await client.get("/api/v1/tenant", headers=tenant_a.headers)
        etag = first.headers["etag"]
        changed = await client.patch(
            "/api/v1/tenant",
            json={"time_zone": "America/Sao_Paulo"},
            headers={**tenant_a.headers, "If-Match": etag},
        )
        assert changed.status_code == 200
        assert changed.json()["time_zone"] == "America/Sao_Paulo"

        stale = await client.patch(
            "/api/v1/tenant",
            json={"name": "Renamed"},
            headers={**tenant_a.headers, "If-Match": etag},
        )

        assert stale.status_code == 412
        assert stale.json()["type"] == "urn:crm-api:problem:precondition-failed"

    async def test_each_tenant_reads_only_itself(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        a = await client.get("/api/v1/tenant", headers=tenant_a.headers)
        b = await client.get("/api/v1/tenant", headers=tenant_b.headers)

        assert a.json()["id"] == tenant_a.tenant["id"]
        assert b.json()["id"] == tenant_b.tenant["id"]

    async def test_non_admin_cannot_change_tenant(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        from tests.fixtures.api import add_user

        _, headers = await add_user(client, tenant_a, roles=["sales"])

        response = await client.patch(
            "/api/v1/tenant", json={"name": "Hijack"}, headers=headers
        )

        assert response.status_code == 403


class TestSignupLimit:
    async def test_many_signups_from_one_address_are_429(
        self, settings: Settings
    ) -> None:
        app = create_app(settings.model_copy(update={"signups_per_hour": 2}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t"
            ) as http:
                statuses = []
                for n in range(3):
                    body = {
                        "tenant": {"name": f"T{n}", "slug": f"limit-{n}",
                                   "default_currency": "EUR", "time_zone": "UTC"},
                        "admin": {"email": f"a@limit-{n}.example.com", "full_name": "A",
                                  "password": PASSWORD},
                    }  # fmt: skip
                    statuses.append(
                        (await http.post("/api/v1/signup", json=body)).status_code
                    )

        assert statuses == [201, 201, 429]
