"""Sign-in, token rotation and sign-out."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import structlog
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth import repository
from crm_api.auth.models import RefreshToken
from crm_api.auth.passwords import verify_password
from crm_api.auth.schemas import TokenPair
from crm_api.auth.tokens import decode_token, issue_token
from crm_api.kernel.db import set_tenant
from crm_api.kernel.errors import NotAuthenticated, ValidationFailed
from crm_api.kernel.ids import new_id
from crm_api.kernel.ratelimit import count_hit
from crm_api.settings import Settings

logger = structlog.get_logger(__name__)

_BAD_CREDENTIALS = "The email or password is wrong, or the account is deactivated."


def _attempts_key(settings: Settings, email: str) -> str:
    digest = hashlib.sha256(email.lower().encode()).hexdigest()[:32]
    return f"{settings.redis_key_prefix}login-failures:{digest}"


async def _check_login_rate(redis: ArqRedis, settings: Settings, email: str) -> None:
    """Count attempts per account per minute; a successful sign-in clears the count."""
    await count_hit(
        redis,
        _attempts_key(settings, email),
        limit=settings.login_attempts_per_minute,
        window_s=60,
        detail="Too many sign-in attempts for this account; wait and try again.",
    )


async def _issue_pair(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    family_id: uuid.UUID,
) -> TokenPair:
    access, _ = issue_token(
        settings,
        token_type="access",
        user_id=user_id,
        tenant_id=tenant_id,
        family_id=family_id,
    )
    refresh, claims = issue_token(
        settings,
        token_type="refresh",
        user_id=user_id,
        tenant_id=tenant_id,
        family_id=family_id,
    )
    session.add(
        RefreshToken(
            id=claims.token_id,
            tenant_id=tenant_id,
            user_id=user_id,
            family_id=family_id,
            expires_at=claims.expires_at,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=access,
        expires_in=settings.access_token_ttl_s,
        refresh_token=refresh,
        refresh_expires_in=settings.refresh_token_ttl_s,
    )


async def sign_in(
    session: AsyncSession,
    *,
    redis: ArqRedis,
    settings: Settings,
    email: str,
    password: str,
) -> TokenPair:
    await _check_login_rate(redis, settings, email)
    user = None
    tenant_id = await repository.tenant_of_email(session, email)
    if tenant_id is not None:
        await set_tenant(session, tenant_id)
        user = await repository.user_by_email(session, email)
    password_ok = await verify_password(
        settings, user.password_hash if user is not None else None, password
    )
    if user is None or not password_ok or not user.is_active:
        logger.info("auth.sign_in_failed", tenant_id=str(tenant_id))
        raise NotAuthenticated(_BAD_CREDENTIALS)
    await repository.touch_last_login(session, user.id, at=datetime.now(UTC))
    await redis.delete(_attempts_key(settings, email))
    pair = await _issue_pair(
        session, settings, user_id=user.id, tenant_id=user.tenant_id, family_id=new_id()
    )
    logger.info("auth.signed_in", tenant_id=str(user.tenant_id), user_id=str(user.id))
    return pair


async def rotate(session: AsyncSession, *, settings: Settings, token: str) -> TokenPair:
    """Trade a refresh token for a new pair. A token used twice revokes its family."""
    claims = decode_token(settings, token, expected_type="refresh")
    await set_tenant(session, claims.tenant_id)
    stored = await repository.refresh_token_for_update(session, claims.token_id)
    if stored is None or stored.revoked_at is not None:
        raise NotAuthenticated("The refresh token has been revoked.")
    now = datetime.now(UTC)
    if stored.used_at is not None:
        await repository.revoke_family(session, stored.family_id, at=now)
        logger.warning(
            "auth.refresh_reused",
            tenant_id=str(claims.tenant_id),
            user_id=str(claims.user_id),
            family_id=str(stored.family_id),
        )
        raise NotAuthenticated(
            "The refresh token was already used; every token of this sign-in is "
            "now revoked.",
            preserve_writes=True,
        )
    stored.used_at = now
    user = await repository.active_user_row(session, claims.user_id, stored.family_id)
    if user is None:
        raise NotAuthenticated(_BAD_CREDENTIALS)
    return await _issue_pair(
        session,
        settings,
        user_id=user.id,
        tenant_id=claims.tenant_id,
        family_id=stored.family_id,
    )


async def sign_out(
    session: AsyncSession, *, family_id: uuid.UUID | None, user_id: uuid.UUID | None
) -> None:
    if family_id is None or user_id is None:
        raise ValidationFailed.single(
            "Authorization", "Sign-out needs a user's access token", location="header"
        )
    await repository.revoke_family(session, family_id, at=datetime.now(UTC))
    logger.info("auth.signed_out", user_id=str(user_id), family_id=str(family_id))
