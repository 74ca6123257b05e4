"""JWT access and refresh tokens (python-jose).

The algorithm comes from settings and only from settings: the token header's ``alg`` is
compared with it before anything else, so ``none`` and key-confusion tokens (HS256
signed with an RSA public key) never reach a verifier.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from jose import jwt
from jose.exceptions import JOSEError

from crm_api.kernel.errors import NotAuthenticated
from crm_api.kernel.ids import new_id
from crm_api.settings import Settings

TokenType = Literal["access", "refresh"]
_REQUIRED_CLAIMS = ("sub", "tid", "typ", "jti", "sid", "iat", "exp", "iss", "aud")
# Clocks drift; a token issued further in the future than this is refused.
_MAX_CLOCK_SKEW_S = 60


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    token_id: uuid.UUID
    family_id: uuid.UUID
    token_type: TokenType
    issued_at: datetime
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def issue_token(
    settings: Settings,
    *,
    token_type: TokenType,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    family_id: uuid.UUID,
    now: datetime | None = None,
) -> tuple[str, TokenClaims]:
    issued_at = (now or _now()).replace(microsecond=0)
    ttl_s = (
        settings.access_token_ttl_s
        if token_type == "access"
        else settings.refresh_token_ttl_s
    )
    claims = TokenClaims(
        user_id=user_id,
        tenant_id=tenant_id,
        token_id=new_id(),
        family_id=family_id,
        token_type=token_type,
        issued_at=issued_at,
        expires_at=issued_at + timedelta(seconds=ttl_s),
    )
    payload = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "tid": str(tenant_id),
        "typ": token_type,
        "jti": str(claims.token_id),
        "sid": str(family_id),
        "iat": int(issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    token = jwt.encode(
        payload, settings.jwt_signing_key, algorithm=settings.jwt_algorithm
    )
    return token, claims


def decode_token(
    settings: Settings,
    token: str,
    *,
    expected_type: TokenType,
    now: datetime | None = None,
) -> TokenClaims:
    """Verify signature, algorithm, issuer, audience, type and expiry (exp == now fails)."""
    invalid = NotAuthenticated("The token is invalid or has expired.")
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError:
        raise invalid from None
    if header.get("alg") != settings.jwt_algorithm:
        raise invalid
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            settings.jwt_verification_key,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            # Expiry is checked below, without leeway: a token is dead at exp itself.
            options={"verify_exp": False, "leeway": 0},
        )
    except JOSEError:
        raise invalid from None
    if any(claim not in payload for claim in _REQUIRED_CLAIMS):
        raise invalid
    if payload["typ"] != expected_type:
        article = "An" if expected_type == "access" else "A"
        raise NotAuthenticated(f"{article} {expected_type} token is required here.")
    moment = int((now or _now()).timestamp())
    exp, iat = payload["exp"], payload["iat"]
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise invalid
    if moment >= exp or iat > moment + _MAX_CLOCK_SKEW_S:
        raise invalid
    try:
        return TokenClaims(
            user_id=uuid.UUID(payload["sub"]),
            tenant_id=uuid.UUID(payload["tid"]),
            token_id=uuid.UUID(payload["jti"]),
            family_id=uuid.UUID(payload["sid"]),
            token_type=expected_type,
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=datetime.fromtimestamp(exp, UTC),
        )
    except (KeyError, TypeError, ValueError):
        raise invalid from None
