"""The API conventions every endpoint shares: problems, limits, ids, CORS, health."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from crm_api.app import create_app
from crm_api.kernel.errors import BadRequest
from crm_api.kernel.requests import parse_json
from crm_api.settings import Settings
from tests.fixtures.api import PASSWORD, TenantContext

PROBLEM = "application/problem+json"


def _signup_body(**admin: object) -> dict[str, object]:
    return {
        "tenant": {
            "name": "T",
            "slug": "t-co",
            "default_currency": "EUR",
            "time_zone": "UTC",
        },
        "admin": {
            "email": "a@t.example.com",
            "full_name": "A",
            "password": PASSWORD,
            **admin,
        },
    }


class TestBadBodies:
    async def test_malformed_json_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/signup",
            content=b'{"tenant": {',
            headers={"content-type": "application/json"},
        )

        assert response.status_code == 400
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "urn:crm-api:problem:bad-request"

    async def test_json_nested_ten_thousand_deep_is_400(
        self, client: httpx.AsyncClient
    ) -> None:
        body = b"[" * 10_000 + b"]" * 10_000

        response = await client.post(
            "/api/v1/signup", content=body, headers={"content-type": "application/json"}
        )

        assert response.status_code == 400
        assert "nested" in response.json()["detail"]

    async def test_body_over_the_limit_is_413(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        body = b'{"x": "' + b"a" * settings.max_body_bytes + b'"}'

        response = await client.post(
            "/api/v1/signup", content=body, headers={"content-type": "application/json"}
        )

        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM

    async def test_streamed_body_over_the_limit_is_413(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(settings.max_body_bytes // 65536 + 2):
                yield b"a" * 65536

        response = await client.post(
            "/api/v1/signup",
            content=chunks(),
            headers={"content-type": "application/json"},
        )

        assert response.status_code == 413

    async def test_wrong_types_list_every_field(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {
            "tenant": {"name": 5, "slug": ["x"], "default_currency": None},
            "admin": "me",
        }

        response = await client.post("/api/v1/signup", json=body)

        assert response.status_code == 422
        problem = response.json()
        assert problem["type"] == "urn:crm-api:problem:validation-error"
        fields = {error["field"] for error in problem["errors"]}
        assert {
            "tenant.name",
            "tenant.slug",
            "tenant.default_currency",
            "admin",
        } <= fields

    async def test_unknown_field_is_422(self, client: httpx.AsyncClient) -> None:
        body = _signup_body(nmae="typo")

        response = await client.post("/api/v1/signup", json=body)

        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error == {
            "field": "admin.nmae",
            "location": "body",
            "code": "unknown_field",
            "message": "Unknown field",
        }

    async def test_ten_thousand_character_email_is_422(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/v1/signup", json=_signup_body(email="a" * 9_990 + "@example.com")
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "admin.email"

    async def test_not_json_content_type_is_422(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/v1/signup",
            content=b"tenant=x",
            headers={"content-type": "text/plain"},
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM

    async def test_chinese_text_round_trips(self, client: httpx.AsyncClient) -> None:
        body = _signup_body(full_name="张伟")
        body["tenant"]["name"] = "北京贸易有限公司"  # type: ignore[index]

        response = await client.post("/api/v1/signup", json=body)

        assert response.status_code == 201
        assert response.json()["tenant"]["name"] == "北京贸易有限公司"
        assert response.json()["admin"]["full_name"] == "张伟"


class TestDecimalParsing:
    def test_numbers_become_decimals_not_floats(self) -> None:
        value = parse_json(b'{"amount": 0.1, "big": 12345678901234567890.123456789}')

        assert value == {
            "amount": Decimal("0.1"),
            "big": Decimal("12345678901234567890.123456789"),
        }

    @pytest.mark.parametrize("body", [b"NaN", b'{"x": Infinity}', b"\xff\xfe"])
    def test_non_numbers_and_bad_bytes_are_bad_requests(self, body: bytes) -> None:
        with pytest.raises(BadRequest):
            parse_json(body)


class TestProblems:
    async def test_unknown_route_is_problem_404(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/nowhere")

        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["status"] == 404

    async def test_wrong_method_is_problem_405(self, client: httpx.AsyncClient) -> None:
        response = await client.delete("/api/v1/signup")

        assert response.status_code == 405
        assert response.headers["content-type"] == PROBLEM

    async def test_missing_credentials_is_401_with_challenge(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/users")

        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_bad_path_id_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            "/api/v1/users/not-a-uuid", headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["location"] == "path"


class TestRequestId:
    async def test_request_id_is_generated_and_in_problems(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/nowhere")

        request_id = response.headers["x-request-id"]
        assert len(request_id) == 32
        assert response.json()["request_id"] == request_id

    async def test_incoming_request_id_is_kept(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "trace-42"})

        assert response.headers["x-request-id"] == "trace-42"

    async def test_unsafe_incoming_request_id_is_replaced(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "x\ny" * 100})

        assert response.headers["x-request-id"] != "x\ny" * 100


class TestCors:
    @pytest.fixture
    async def cors_client(self, settings: Settings) -> httpx.AsyncClient:
        app: FastAPI = create_app(
            settings.model_copy(update={"cors_origins": ["https://app.example.com"]})
        )
        app.state.resources = None
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        )

    async def test_named_origin_is_allowed_with_credentials(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        response = await cors_client.options(
            "/api/v1/me",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "GET",
            },
        )

        assert (
            response.headers["access-control-allow-origin"] == "https://app.example.com"
        )
        assert response.headers["access-control-allow-credentials"] == "true"

    async def test_other_origin_gets_no_grant(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        response = await cors_client.get(
            "/healthz", headers={"Origin": "https://evil.example"}
        )

        assert "access-control-allow-origin" not in response.headers


class TestHealth:
    async def test_live_and_ready(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ok"}

    async def test_metrics_count_requests_by_route(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.get("/healthz")

        metrics = (await client.get("/metrics")).text

        assert (
            'crm_http_requests_total{method="GET",route="/healthz",status="200"}'
            in metrics
        )
