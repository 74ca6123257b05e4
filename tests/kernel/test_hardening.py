"""Inputs and failures found by trying to break the API: each pinned by its exact input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from crm_api.app import create_app
from crm_api.settings import Settings
from tests.fixtures.api import PASSWORD, TenantContext


class TestTextThatCannotBeStored:
    async def test_nul_in_a_json_string_is_422(self, client: httpx.AsyncClient) -> None:
        body = {
            "tenant": {"name": "k\u0000", "slug": "nul", "default_currency": "EUR",
                       "time_zone": "UTC"},
            "admin": {"email": "a@nul.example.com", "full_name": "A", "password": PASSWORD},
        }  # fmt: skip

        response = await client.post("/api/v1/signup", json=body)

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "tenant.name"

    async def test_nul_in_a_form_field_is_not_a_500(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": "a\u0000@b.com", "password": PASSWORD},
        )

        assert response.status_code in (401, 422)

    async def test_control_and_bidi_characters_in_names_are_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.patch(
            "/api/v1/tenant", json={"name": "a\u202eb\u0007"}, headers=tenant_a.headers
        )

        assert response.status_code == 422


class TestOddParameters:
    @pytest.mark.parametrize(
        "cursor", ["WzEyM10", "W3t9XQ", "W3RydWVd"]
    )  # [123] [{}] [true]
    async def test_cursor_of_the_wrong_json_type_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, cursor: str
    ) -> None:
        response = await client.get(
            "/api/v1/users", params={"cursor": cursor}, headers=tenant_a.headers
        )

        assert response.status_code == 422

    async def test_if_match_with_a_superscript_digit_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.patch(
            "/api/v1/tenant",
            json={"name": "X"},
            headers=[*tenant_a.headers.items(), ("If-Match", b'"\xb2"')],
        )

        assert response.status_code == 422

    async def test_expiry_past_year_9999_in_utc_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            "/api/v1/api-keys",
            json={
                "name": "y",
                "scopes": ["users:read"],
                "expires_at": "9999-12-31T23:59:59-14:00",
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422

    async def test_a_number_too_long_to_read_is_400_without_internals(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/v1/signup",
            content=b'{"tenant": ' + b"9" * 5000 + b"}",
            headers={"content-type": "application/json"},
        )

        assert response.status_code == 400
        assert "sys." not in response.text

    async def test_thousands_of_unknown_fields_get_a_bounded_answer(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {f"field{n}": n for n in range(5000)}

        response = await client.post("/api/v1/signup", json=body)

        assert response.status_code == 422
        assert len(response.json()["errors"]) == 50


class TestUnexpectedFailures:
    @pytest.fixture
    async def failing_app(self, settings: Settings) -> AsyncIterator[FastAPI]:
        app = create_app(settings)

        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError("internal detail that must not leak")

        async with app.router.lifespan_context(app):
            yield app

    async def test_a_500_is_a_problem_with_the_request_id(
        self, failing_app: FastAPI
    ) -> None:
        transport = httpx.ASGITransport(app=failing_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/boom")

        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["request_id"] == response.headers["x-request-id"]
        assert "internal detail" not in response.text

    async def test_redis_down_is_503_not_500(
        self, failing_app: FastAPI, tenant_a: TenantContext
    ) -> None:
        resources = failing_app.state.resources
        alive = resources.redis
        dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
        object.__setattr__(resources, "redis", dead)
        transport = httpx.ASGITransport(app=failing_app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t"
            ) as http:
                response = await http.post(
                    "/api/v1/auth/token",
                    data={"username": tenant_a.admin["email"], "password": PASSWORD},
                )
        finally:
            object.__setattr__(resources, "redis", alive)
            await dead.aclose()

        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"


class TestConcurrentWrites:
    async def test_patches_without_if_match_all_succeed_in_turn(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        responses = await asyncio.gather(
            *(
                client.patch(
                    "/api/v1/tenant",
                    json={"name": f"Name {n}"},
                    headers=tenant_a.headers,
                )
                for n in range(8)
            )
        )

        assert [r.status_code for r in responses] == [200] * 8
