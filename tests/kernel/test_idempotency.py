from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.fixtures.api import PASSWORD, TenantContext


def _user(email: str) -> dict[str, object]:
    return {
        "email": email,
        "full_name": "Ida",
        "password": PASSWORD,
        "roles": ["sales"],
    }


async def test_same_key_and_body_replays_the_first_response(
    client: httpx.AsyncClient, tenant_a: TenantContext, owner: asyncpg.Connection
) -> None:
    headers = {**tenant_a.headers, "Idempotency-Key": "create-ida-1"}

    first = await client.post(
        "/api/v1/users", json=_user("ida@acme.example.com"), headers=headers
    )
    second = await client.post(
        "/api/v1/users", json=_user("ida@acme.example.com"), headers=headers
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    assert (
        await owner.fetchval("SELECT count(*) FROM users WHERE email LIKE 'ida@%'") == 1
    )


async def test_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    headers = {**tenant_a.headers, "Idempotency-Key": "k-1"}
    await client.post(
        "/api/v1/users", json=_user("one@acme.example.com"), headers=headers
    )

    response = await client.post(
        "/api/v1/users", json=_user("two@acme.example.com"), headers=headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"


async def test_concurrent_requests_with_one_key_create_once(
    client: httpx.AsyncClient, tenant_a: TenantContext, owner: asyncpg.Connection
) -> None:
    headers = {**tenant_a.headers, "Idempotency-Key": "race"}

    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/users", json=_user("race@acme.example.com"), headers=headers
            )
            for _ in range(4)
        )
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert (
        await owner.fetchval("SELECT count(*) FROM users WHERE email LIKE 'race@%'")
        == 1
    )


async def test_failed_request_does_not_burn_the_key(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    headers = {**tenant_a.headers, "Idempotency-Key": "retry-after-fix"}
    bad = _user(tenant_a.admin["email"])  # taken: 409

    failed = await client.post("/api/v1/users", json=bad, headers=headers)
    fixed = await client.post(
        "/api/v1/users", json=_user("fixed@acme.example.com"), headers=headers
    )

    assert failed.status_code == 409
    assert fixed.status_code == 201


async def test_keys_are_per_tenant(
    client: httpx.AsyncClient, tenant_a: TenantContext, tenant_b: TenantContext
) -> None:
    a = await client.post(
        "/api/v1/users",
        json=_user("x@acme.example.com"),
        headers={**tenant_a.headers, "Idempotency-Key": "shared"},
    )
    b = await client.post(
        "/api/v1/users",
        json=_user("x@globex.example.com"),
        headers={**tenant_b.headers, "Idempotency-Key": "shared"},
    )

    assert (a.status_code, b.status_code) == (201, 201)
    assert "idempotent-replayed" not in b.headers


async def test_without_a_key_each_post_acts(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    body = {"name": "k", "scopes": ["users:read"]}

    first = await client.post("/api/v1/api-keys", json=body, headers=tenant_a.headers)
    second = await client.post("/api/v1/api-keys", json=body, headers=tenant_a.headers)

    assert first.json()["id"] != second.json()["id"]
