"""The baseline for bench_me.py: GET /api/v1/me in bare Starlette + asyncpg.

It does what crm-api's ``GET /api/v1/me`` does for a bearer token, with no framework
on top: verify the JWT with python-jose (same checks as ``crm_api.auth.tokens``), then
in ONE transaction on a pooled connection running as the app role (so row-level
security applies) set ``app.tenant_id``, load the active user of a non-revoked
session, load the tenant, commit, and answer the same JSON shape.

Configured from the environment, like ``crm_api.asgi``: DATABASE_URL, CRM_JWT_SECRET,
and optionally CRM_DATABASE_APP_ROLE, CRM_DATABASE_POOL_SIZE,
CRM_DATABASE_MAX_OVERFLOW, CRM_JWT_ISSUER, CRM_JWT_AUDIENCE.

Run: ``uvicorn --app-dir bench bare_app:app``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from jose import jwt
from jose.exceptions import JOSEError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The role -> permission table is the product's own (a pure function over a dict), so
# the answer stays the same as crm-api's while that table changes.
from crm_api.auth.principal import permissions_of_roles

ALGORITHM = "HS256"
SECRET = os.environ["CRM_JWT_SECRET"]
ISSUER = os.environ.get("CRM_JWT_ISSUER", "crm-api")
AUDIENCE = os.environ.get("CRM_JWT_AUDIENCE", "crm-api")
APP_ROLE = os.environ.get("CRM_DATABASE_APP_ROLE", "crm_app")
POOL_SIZE = int(os.environ.get("CRM_DATABASE_POOL_SIZE", "10"))
MAX_OVERFLOW = int(os.environ.get("CRM_DATABASE_MAX_OVERFLOW", "10"))
REQUIRED_CLAIMS = ("sub", "tid", "typ", "jti", "sid", "iat", "exp", "iss", "aud")
MAX_CLOCK_SKEW_S = 60

SET_TENANT_SQL = "SELECT set_config('app.tenant_id', $1, true)"
# The statements crm-api compiles (auth/repository.py _ACTIVE_USER_ROW, then
# me/service.py _TENANT_ROW).
USER_SQL = """
SELECT users.id, users.email, users.full_name, users.roles, users.is_active,
       users.last_login_at, users.created_at, users.updated_at
FROM users
WHERE users.id = $1::UUID AND users.is_active AND NOT (EXISTS (
    SELECT refresh_tokens.id FROM refresh_tokens
    WHERE refresh_tokens.family_id = $2::UUID AND refresh_tokens.revoked_at IS NOT NULL))
"""
TENANT_SQL = """
SELECT tenants.name, tenants.slug, tenants.default_currency, tenants.time_zone,
       tenants.locale, tenants.id, tenants.created_at, tenants.updated_at,
       tenants.version
FROM tenants
WHERE tenants.id = $1::UUID
"""


def _dsn() -> str:
    url = os.environ["DATABASE_URL"]
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def _problem(status: int, detail: str) -> Response:
    return JSONResponse(
        {
            "type": "about:blank",
            "title": "Not authenticated",
            "status": status,
            "detail": detail,
        },
        status_code=status,
        media_type="application/problem+json",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _claims(token: str) -> dict[str, Any] | None:
    try:
        if jwt.get_unverified_header(token).get("alg") != ALGORITHM:
            return None
        payload: dict[str, Any] = jwt.decode(
            token,
            SECRET,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"verify_exp": False, "leeway": 0},
        )
    except JOSEError:
        return None
    if any(claim not in payload for claim in REQUIRED_CLAIMS):
        return None
    if payload["typ"] != "access":
        return None
    now = int(time.time())
    exp, iat = payload["exp"], payload["iat"]
    if not isinstance(exp, int) or not isinstance(iat, int):
        return None
    if now >= exp or iat > now + MAX_CLOCK_SKEW_S:
        return None
    try:
        payload["sub"] = uuid.UUID(payload["sub"])
        payload["tid"] = uuid.UUID(payload["tid"])
        payload["sid"] = uuid.UUID(payload["sid"])
        uuid.UUID(payload["jti"])
    except (TypeError, ValueError):
        return None
    return payload


def _iso(value: Any) -> str | None:
    # As pydantic writes an aware UTC datetime.
    return None if value is None else value.isoformat().replace("+00:00", "Z")


async def me(request: Request) -> Response:
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _problem(401, "Send a bearer access token or an X-API-Key header.")
    claims = _claims(token)
    if claims is None:
        return _problem(401, "The token is invalid or has expired.")
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as connection, connection.transaction():
        await connection.fetchval(SET_TENANT_SQL, str(claims["tid"]))
        user = await connection.fetchrow(USER_SQL, claims["sub"], claims["sid"])
        if user is None:
            return _problem(401, "The token's user is deactivated or signed out.")
        tenant = await connection.fetchrow(TENANT_SQL, claims["tid"])
    if tenant is None:
        return JSONResponse(
            {"status": 404, "detail": "No such tenant."}, status_code=404
        )
    return JSONResponse(
        {
            "kind": "user",
            "user": {
                "id": str(user["id"]),
                "email": user["email"],
                "full_name": user["full_name"],
                "roles": list(user["roles"]),
                "is_active": user["is_active"],
                "last_login_at": _iso(user["last_login_at"]),
                "created_at": _iso(user["created_at"]),
                "updated_at": _iso(user["updated_at"]),
            },
            "api_key_id": None,
            "tenant": {
                "id": str(tenant["id"]),
                "name": tenant["name"],
                "slug": tenant["slug"],
                "default_currency": tenant["default_currency"],
                "time_zone": tenant["time_zone"],
                "locale": tenant["locale"],
                "created_at": _iso(tenant["created_at"]),
                "updated_at": _iso(tenant["updated_at"]),
            },
            "permissions": sorted(permissions_of_roles(user["roles"])),
        }
    )


async def _no_reset(connection: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release ``RESET ALL`` round trip.

    crm-api's SQLAlchemy pool does not run one either, and nothing here outlives the
    transaction (``set_config(..., true)`` is transaction-local), so the baseline does
    exactly the same round trips: BEGIN, three statements, COMMIT.
    """


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        _dsn(),
        min_size=POOL_SIZE,
        max_size=POOL_SIZE + MAX_OVERFLOW,
        reset=_no_reset,
        server_settings={"application_name": "crm-bench-bare", "role": APP_ROLE},
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(routes=[Route("/api/v1/me", me, methods=["GET"])], lifespan=lifespan)
