"""The import endpoints: what an upload is checked for, who may see what."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from crm_api.app import create_app
from crm_api.settings import Settings
from tests.customers.conftest import define
from tests.fixtures.api import TenantContext, add_user
from tests.imports.conftest import BASE, import_file, row_errors, upload

SIMPLE = {"columns": {"code": "code", "name": "name"}}
CSV = b"code,name,city\nA1,Alpha,Berlin\nA2,Beta,Paris\n"


class TestCreate:
    async def test_upload_is_accepted_stored_and_queued(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
        redis_dsn: str,
    ) -> None:
        response = await upload(client, tenant_a, CSV, SIMPLE, dry_run="true")

        assert response.status_code == 202, response.text
        body = response.json()
        assert response.headers["location"] == f"{BASE}/{body['id']}"
        assert body["status"] == "queued"
        assert body["dry_run"] is True
        assert body["encoding"] == "utf-8"
        assert body["delimiter"] == ","
        assert body["unmapped_columns"] == ["city"]
        assert body["total_bytes"] == len(CSV)
        stored = await owner.fetchval(
            "SELECT string_agg(data, ''::bytea ORDER BY seq) FROM import_chunks "
            "WHERE import_id = $1",
            body["id"],
        )
        assert stored == CSV
        redis = Redis.from_url(redis_dsn)
        assert await redis.exists(f"arq:job:import:{body['id']}")
        await redis.aclose()

    async def test_a_file_larger_than_the_body_limit_is_stored_in_chunks(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
        settings: Settings,
    ) -> None:
        rows = b"".join(b"C%07d,Customer %d\n" % (i, i) for i in range(150_000))
        content = b"code,name\n" + rows
        assert len(content) > 2 * settings.max_body_bytes

        response = await upload(client, tenant_a, content, SIMPLE)

        assert response.status_code == 202, response.text
        chunks = await owner.fetch(
            "SELECT seq, length(data) AS size FROM import_chunks "
            "WHERE import_id = $1 ORDER BY seq",
            response.json()["id"],
        )
        assert [c["seq"] for c in chunks] == list(range(len(chunks)))
        assert len(chunks) == -(-len(content) // 1_048_576)
        assert sum(c["size"] for c in chunks) == len(content)

    @pytest.mark.parametrize(
        ("columns", "field", "code"),
        [
            (
                {"code": "code", "name": "nmae"},
                "mapping.columns.name",
                "unknown_target",
            ),
            (
                {"code": "code", "name": "name", "city": "custom.nope"},
                "mapping.columns.city",
                "unknown_attribute",
            ),
            ({"name": "name"}, "mapping.columns", "required_target"),
            (
                {"code": "code", "name": "name", "city": "name"},
                "mapping.columns.city",
                "duplicate_target",
            ),
            (
                {"code": "code", "name": "name", "fax": "custom.fax"},
                "mapping.columns.fax",
                "unknown_attribute",
            ),
        ],
    )
    async def test_a_bad_mapping_is_422_at_its_column(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        columns: dict[str, str],
        field: str,
        code: str,
    ) -> None:
        response = await upload(client, tenant_a, CSV, {"columns": columns})

        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in errors
        ]

    async def test_a_mapped_column_missing_from_the_file_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, key="fax", label="Fax", type="text")
        mapping = {"columns": {"code": "code", "name": "name", "fax": "custom.fax"}}

        response = await upload(client, tenant_a, CSV, mapping)

        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error["field"] == "mapping.columns.fax"
        assert error["code"] == "unknown_column"
        assert "code, name, city" in error["message"]

    @pytest.mark.parametrize(
        "mapping",
        ["not json", '{"columns": {}}', '{"columns": {"a": "code"}, "x": 1}', "[]"],
    )
    async def test_a_mapping_that_is_not_the_documented_json_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, mapping: str
    ) -> None:
        response = await client.post(
            BASE,
            data={"mapping": mapping},
            files={"file": ("c.csv", CSV)},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"].startswith("mapping")

    async def test_the_gbk_file_without_a_code_column_cannot_be_mapped(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        content = "姓名,电话\n张伟,13800138000\n".encode("gbk")

        response = await upload(
            client, tenant_a, content, {"columns": {"姓名": "name", "电话": "phone"}}
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["message"] == (
            "A column must be mapped to 'code'."
        )

    @pytest.mark.parametrize(
        ("content", "form", "field"),
        [
            (b"", {}, "file"),
            (b"\n\n", {}, "file"),
            (CSV, {"encoding": "no-such-codec"}, "encoding"),
            ("姓名,电话\n".encode("gbk"), {"encoding": "utf-8"}, "file"),
            (CSV, {"surprise": "1"}, "surprise"),
        ],
    )
    async def test_an_unusable_upload_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        content: bytes,
        form: dict[str, str],
        field: str,
    ) -> None:
        response = await upload(client, tenant_a, content, SIMPLE, **form)

        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field

    async def test_a_file_field_that_is_not_a_file_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            BASE,
            data={"mapping": json.dumps(SIMPLE), "file": "code,name\n"},
            headers={**tenant_a.headers},
            files={"other": ("x.csv", b"x")},
        )

        assert response.status_code == 422

    async def test_the_same_idempotency_key_replays_the_upload(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        key = {"Idempotency-Key": "upload-1"}

        first = await upload(client, tenant_a, CSV, SIMPLE, headers=key)
        again = await upload(client, tenant_a, CSV, SIMPLE, headers=key)
        other = await upload(
            client, tenant_a, CSV + b"A3,Gamma,Rome\n", SIMPLE, headers=key
        )

        assert first.status_code == again.status_code == 202
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        assert other.status_code == 422
        assert await owner.fetchval("SELECT count(*) FROM customer_imports") == 1

    async def test_writing_needs_customers_write(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, headers = await add_user(client, tenant_a, roles=["finance"])

        response = await client.post(
            BASE,
            data={"mapping": json.dumps(SIMPLE)},
            files={"file": ("c.csv", CSV)},
            headers=headers,
        )

        assert response.status_code == 403

    async def test_without_credentials_it_is_401(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            BASE, data={"mapping": json.dumps(SIMPLE)}, files={"file": ("c.csv", CSV)}
        )

        assert response.status_code == 401


class TestUploadLimit:
    @pytest.fixture
    async def small_upload_client(
        self, settings: Settings
    ) -> AsyncIterator[httpx.AsyncClient]:
        limited = settings.model_copy(update={"max_upload_bytes": 2 * 1_048_576})
        app: FastAPI = create_app(limited)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test"
            ) as http:
                yield http

    async def test_uploads_have_their_own_limit(
        self,
        small_upload_client: httpx.AsyncClient,
        tenant_a: TenantContext,
    ) -> None:
        fits = b"code,name\n" + b"A1,x\n" * 300_000  # 1.5 MB: over the body limit
        too_big = b"code,name\n" + b"A1,x\n" * 500_000  # 2.5 MB

        accepted = await upload(small_upload_client, tenant_a, fits, SIMPLE)
        refused = await upload(small_upload_client, tenant_a, too_big, SIMPLE)

        assert accepted.status_code == 202, accepted.text
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"

    async def test_other_posts_keep_the_body_limit(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, settings: Settings
    ) -> None:
        response = await client.post(
            "/api/v1/customers",
            content=b'{"name": "' + b"a" * settings.max_body_bytes + b'"}',
            headers={**tenant_a.headers, "content-type": "application/json"},
        )

        assert response.status_code == 413


class TestRead:
    async def test_list_pages_newest_first(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        ids = [
            (await upload(client, tenant_a, CSV, SIMPLE)).json()["id"] for _ in range(3)
        ]

        first = await client.get(BASE, params={"limit": 2}, headers=tenant_a.headers)
        rest = await client.get(
            BASE,
            params={"limit": 2, "cursor": first.json()["next_cursor"]},
            headers=tenant_a.headers,
        )

        listed = [i["id"] for i in first.json()["items"] + rest.json()["items"]]
        assert listed == list(reversed(ids))
        assert rest.json()["next_cursor"] is None

    async def test_reading_needs_only_customers_read(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = (await upload(client, tenant_a, CSV, SIMPLE)).json()
        _, headers = await add_user(client, tenant_a, roles=["finance"])

        one = await client.get(f"{BASE}/{created['id']}", headers=headers)
        errors = await client.get(f"{BASE}/{created['id']}/errors", headers=headers)

        assert one.status_code == 200
        assert one.headers["etag"]
        assert errors.status_code == 200

    async def test_another_tenant_sees_neither_the_import_nor_its_errors(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        done = await import_file(client, tenant_a, job_ctx, CSV + b"A3,,Rome\n", SIMPLE)
        assert done["rows_failed"] == 1
        assert len(await row_errors(client, tenant_a, done["id"])) == 1

        one = await client.get(f"{BASE}/{done['id']}", headers=tenant_b.headers)
        errors = await client.get(
            f"{BASE}/{done['id']}/errors", headers=tenant_b.headers
        )
        listed = await client.get(BASE, headers=tenant_b.headers)

        assert one.status_code == 404
        assert errors.status_code == 404
        assert listed.json()["items"] == []

    async def test_unknown_import_is_404(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        missing = "01890000-0000-7000-8000-000000000000"

        response = await client.get(f"{BASE}/{missing}", headers=tenant_a.headers)

        assert response.status_code == 404


class TestWhoSeesWhichImport:
    """Only an `all` scope on customers:read sees other people's imports."""

    @pytest.mark.parametrize("roles", [["sales"], ["marketing"]])
    async def test_a_narrower_scope_sees_only_the_imports_one_started(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, roles: list[str]
    ) -> None:
        admins = await upload(client, tenant_a, CSV + b"A3,,Rome\n", SIMPLE)
        user, headers = await add_user(client, tenant_a, roles=roles)
        mine = await upload(client, tenant_a, CSV, SIMPLE, headers=headers)
        assert (admins.status_code, mine.status_code) == (202, 202)
        hidden = admins.json()["id"]

        listed = await client.get(BASE, headers=headers)
        one = await client.get(f"{BASE}/{hidden}", headers=headers)
        errors = await client.get(f"{BASE}/{hidden}/errors", headers=headers)
        own = await client.get(f"{BASE}/{mine.json()['id']}", headers=headers)

        assert [i["id"] for i in listed.json()["items"]] == [mine.json()["id"]]
        assert (one.status_code, errors.status_code) == (404, 404)
        assert own.status_code == 200
        assert own.json()["created_by"] == user["id"]

    async def test_an_all_scope_sees_everyones_imports(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        _, sales = await add_user(client, tenant_a, roles=["sales"])
        theirs = (await upload(client, tenant_a, CSV, SIMPLE, headers=sales)).json()
        mine = (await upload(client, tenant_a, CSV, SIMPLE)).json()

        listed = await client.get(BASE, headers=tenant_a.headers)
        one = await client.get(f"{BASE}/{theirs['id']}", headers=tenant_a.headers)

        assert [i["id"] for i in listed.json()["items"]] == [mine["id"], theirs["id"]]
        assert one.status_code == 200

    async def test_a_key_sees_the_imports_of_the_user_it_acts_for(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        hidden = (await upload(client, tenant_a, CSV, SIMPLE)).json()
        role = await client.post(
            "/api/v1/roles",
            json={
                "key": "integrator",
                "name": "Integrator",
                "permissions": ["api_keys:read", "api_keys:write"],
                "scope": "own",
            },
            headers=tenant_a.headers,
        )
        assert role.status_code == 201, role.text
        _, sales = await add_user(client, tenant_a, roles=["sales", "integrator"])
        key = await client.post(
            "/api/v1/api-keys",
            json={"name": "sync", "scopes": ["customers:read", "customers:write"]},
            headers=sales,
        )
        assert key.status_code == 201, key.text
        by_key = {"X-API-Key": key.json()["key"]}
        by_user = (await upload(client, tenant_a, CSV, SIMPLE, headers=sales)).json()
        # Not upload(): it sends the admin's bearer token, which wins over a key.
        uploaded = await client.post(
            BASE,
            data={"mapping": json.dumps(SIMPLE)},
            files={"file": ("customers.csv", CSV, "text/csv")},
            headers=by_key,
        )
        assert uploaded.status_code == 202, uploaded.text
        mine = uploaded.json()

        listed = await client.get(BASE, headers=by_key)
        one = await client.get(f"{BASE}/{hidden['id']}", headers=by_key)

        assert [i["id"] for i in listed.json()["items"]] == [mine["id"], by_user["id"]]
        assert one.status_code == 404
