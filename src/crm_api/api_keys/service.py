"""API keys: shown once, stored as a hash, revocable.

Anyone with api_keys:write may create one; it acts for its creator, with their rights
and scopes, never more. Who sees and revokes a key follows the caller's scope on
api_keys:read (resp. :write): ``all`` reaches every key of the tenant, a narrower scope
only the keys the caller created. A key out of reach reads like one that does not
exist.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy import ColumnElement, false, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.api_keys import repository
from crm_api.api_keys.models import ApiKey
from crm_api.api_keys.schemas import ApiKeyCreate
from crm_api.auth.dependencies import hash_api_secret
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import BusinessRuleViolated, NotFound, PermissionDenied
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of

logger = structlog.get_logger(__name__)


async def create_key(
    session: AsyncSession, data: ApiKeyCreate, *, actor: Principal
) -> tuple[ApiKey, str]:
    scopes = sorted(set(data.scopes))
    if not set(scopes) <= actor.permissions:
        raise PermissionDenied("An API key cannot hold a permission its creator lacks.")
    if data.expires_at is not None and data.expires_at <= datetime.now(UTC):
        raise BusinessRuleViolated("expires_at must lie in the future.")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=current_tenant(session),
        name=data.name,
        prefix=prefix,
        secret_hash=hash_api_secret(secret),
        scopes=scopes,
        # The user the key will act for: a key created with a key acts for the
        # same user as the key that made it.
        created_by=actor.on_behalf_of,
        expires_at=data.expires_at,
    )
    session.add(key)
    await session.flush()
    record_event(
        session, "api_key.created", subject_id=key.id, payload={"scopes": scopes}
    )
    logger.info("api_key.created", api_key_id=str(key.id))
    return key, f"crm_{prefix}_{secret}"


def reachable(principal: Principal, permission: str) -> ColumnElement[bool]:
    """The keys ``permission`` (api_keys:read or :write) reaches for ``principal``."""
    scope = principal.scope(permission)
    if scope == "all":
        return true()
    if scope is None or principal.on_behalf_of is None:
        return false()
    return ApiKey.created_by == principal.on_behalf_of


async def get_key(
    session: AsyncSession,
    principal: Principal,
    key_id: uuid.UUID,
    *,
    permission: str = "api_keys:read",
    lock: bool = False,
) -> ApiKey:
    key = await repository.get(
        session, key_id, visible=reachable(principal, permission), lock=lock
    )
    if key is None:
        raise NotFound("No such API key.")
    return key


async def list_keys(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    include_revoked: bool,
) -> tuple[list[ApiKey], str | None]:
    rows = await repository.list_page(
        session,
        params,
        visible=reachable(principal, "api_keys:read"),
        include_revoked=include_revoked,
    )
    return page_of(rows, lambda key: (key.id,), params)


async def revoke_key(
    session: AsyncSession,
    principal: Principal,
    key_id: uuid.UUID,
    *,
    expected_version: int | None,
) -> None:
    key = await get_key(
        session, principal, key_id, permission="api_keys:write", lock=True
    )
    check_version(expected_version, key.version)
    if key.revoked_at is not None:
        return
    key.revoked_at = datetime.now(UTC)
    await session.flush()
    record_event(session, "api_key.revoked", subject_id=key.id, payload={})
    logger.info("api_key.revoked", api_key_id=str(key.id))
