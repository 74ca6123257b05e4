"""Authentication and authorisation as FastAPI dependencies."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from crm_api.api_keys.repository import key_by_prefix, touch_key
from crm_api.auth import repository
from crm_api.auth.grants import principal_for_user
from crm_api.auth.principal import Principal
from crm_api.auth.tokens import decode_token
from crm_api.kernel import idempotency
from crm_api.kernel.db import set_tenant
from crm_api.kernel.deps import AppSettings, Session
from crm_api.kernel.errors import NotAuthenticated, PermissionDenied
from crm_api.kernel.routing import request_session

API_KEY_HEADER = "X-API-Key"
_API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token", auto_error=False, scheme_name="OAuth2Password"
)
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey"
)


def split_api_key(raw: str) -> tuple[str, str] | None:
    """``crm_<prefix>_<secret>`` -> (prefix, secret), or None if it is not that shape."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != "crm" or len(parts[1]) != 12:
        return None
    return parts[1], parts[2]


def hash_api_secret(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough to make a leak of the
    # table useless; a password hash would only slow every request down.
    return hashlib.sha256(secret.encode()).hexdigest()


async def _principal_from_api_key(session: Session, raw: str) -> Principal:
    invalid = NotAuthenticated("The API key is invalid, expired or revoked.")
    parts = split_api_key(raw)
    if parts is None:
        raise invalid
    prefix, secret = parts
    tenant_id = await repository.tenant_of_api_key(session, prefix)
    if tenant_id is None:
        raise invalid
    await set_tenant(session, tenant_id)
    key = await key_by_prefix(session, prefix)
    now = datetime.now(UTC)
    if (
        key is None
        or not hmac.compare_digest(key.secret_hash, hash_api_secret(secret))
        or key.revoked_at is not None
        or (key.expires_at is not None and key.expires_at <= now)
    ):
        raise invalid
    # A key acts for its creator: it dies with their account and never holds more
    # than they currently do.
    # NOTE: a key whose creator's account was removed (created_by NULL) cannot be
    # traced to anyone's rights or records, so it is refused like a revoked one.
    creator = (
        None
        if key.created_by is None
        else await repository.user_row(session, key.created_by)
    )
    if creator is None or not creator.is_active:
        raise invalid
    acting_as = await principal_for_user(session, creator, tenant_id=tenant_id)
    if key.last_used_at is None or now - key.last_used_at > _API_KEY_TOUCH_INTERVAL:
        await touch_key(session, key.id, at=now)
    # The creator's rights, narrowed to the key's scopes; it is not a user sign-in.
    return replace(
        acting_as,
        user_id=None,
        api_key_id=key.id,
        user=None,
        permissions=acting_as.permissions & frozenset(key.scopes),
    )


async def get_principal(
    session: Session,
    settings: AppSettings,
    token: Annotated[str | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    if token is None and api_key is None:
        raise NotAuthenticated("Send a bearer access token or an X-API-Key header.")
    if token is None:
        assert api_key is not None
        return await _principal_from_api_key(session, api_key)
    claims = decode_token(settings, token, expected_type="access")
    await set_tenant(session, claims.tenant_id)
    user = await repository.active_user_row(session, claims.user_id, claims.family_id)
    if user is None:
        raise NotAuthenticated("The token's user is deactivated or signed out.")
    return await principal_for_user(
        session, user, tenant_id=claims.tenant_id, session_id=claims.family_id
    )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the call through only with ``permission``."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise PermissionDenied(f"This needs the '{permission}' permission.")
        return principal

    return check


def idempotent(*, redact: tuple[str, ...] = ()) -> Callable[..., Awaitable[None]]:
    """The ``Idempotency-Key`` dependency; ``redact`` lists secrets never stored."""

    async def claim(
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=255,
                description="Retry-safe key: the same key and body replay the first "
                "response; the same key with another body is a 422.",
            ),
        ] = None,
    ) -> None:
        if idempotency_key is None:
            return
        await idempotency.claim(
            request_session(request),
            tenant_id=principal.tenant_id,
            principal=principal.key,
            key=idempotency_key,
            request_fingerprint=await idempotency.fingerprint(request),
            redact=redact,
        )

    return claim


Idempotent = Depends(idempotent())
