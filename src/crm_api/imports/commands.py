"""Command-line import: the same checks, storage and processing as the API's job.

There is no HTTP caller, so the import acts as a user of the tenant: the one named
with ``--as``, or else the tenant's first active admin.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.grants import principal_for_user
from crm_api.auth.principal import Principal
from crm_api.auth.repository import tenant_of_email, user_by_email, user_row
from crm_api.imports import repository, runner, service
from crm_api.imports.schemas import ImportRowErrorRead
from crm_api.kernel.db import create_engine, create_sessionmaker, set_tenant
from crm_api.kernel.errors import NotFound, PermissionDenied
from crm_api.kernel.pagination import PageParams
from crm_api.settings import get_settings
from crm_api.tenants.models import Tenant
from crm_api.users.models import User

SHOWN_ERRORS = 20


async def _tenant_id(session: AsyncSession, slug: str | None) -> uuid.UUID:
    ids = list(await session.scalars(text("SELECT crm_tenant_ids()")))
    if slug is None:
        if len(ids) != 1:
            raise NotFound(
                f"There are {len(ids)} tenants; name one with --tenant SLUG."
            )
        return uuid.UUID(str(ids[0]))
    for tenant_id in ids:
        await set_tenant(session, tenant_id)
        tenant = await session.get(Tenant, tenant_id)
        if tenant is not None and tenant.slug == slug:
            return tenant.id
    raise NotFound(f"No tenant has the slug '{slug}'.")


async def _actor(
    session: AsyncSession, *, slug: str | None, email: str | None
) -> Principal:
    """Set the session's tenant and name the user the import acts as."""
    if email is not None:
        tenant_id = await tenant_of_email(session, email)
        if tenant_id is None:
            raise NotFound(f"No user has the email '{email}'.")
        await set_tenant(session, tenant_id)
        user = await user_by_email(session, email)
        tenant = await session.get(Tenant, tenant_id)
        if slug is not None and (tenant is None or tenant.slug != slug):
            raise NotFound(f"'{email}' is not a user of the tenant '{slug}'.")
    else:
        tenant_id = await _tenant_id(session, slug)
        await set_tenant(session, tenant_id)
        user = await session.scalar(
            select(User)
            .where(User.roles.contains(["admin"]), User.is_active)
            .order_by(User.created_at, User.id)
            .limit(1)
        )
    if user is None or not user.is_active:
        raise NotFound("No active user to act as; name one with --as EMAIL.")
    row = await user_row(session, user.id)
    assert row is not None
    principal = await principal_for_user(session, row, tenant_id=tenant_id)
    if not principal.can("customers:write"):
        raise PermissionDenied(f"{user.email} may not write customers.")
    return principal


async def import_customers_now(
    path: Path,
    *,
    mapping_text: str,
    tenant_slug: str | None,
    as_email: str | None,
    encoding: str | None,
    dry_run: bool,
    on_progress: runner.Progress | None = None,
    on_created: Any = None,
) -> dict[str, Any]:
    """Create the import from ``path`` and process it here; the final record."""
    settings = get_settings()
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set")
    engine = create_engine(settings.database_url, app_role=settings.database_app_role)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            actor = await _actor(session, slug=tenant_slug, email=as_email)
            with path.open("rb") as source:
                record = await service.create_import(
                    session,
                    source,
                    file_name=path.name,
                    mapping_text=mapping_text,
                    encoding=encoding,
                    dry_run=dry_run,
                    actor=actor,
                )
            import_id, total_bytes = record.id, record.total_bytes
        if on_created is not None:
            on_created(total_bytes)
        await runner.run_import(
            sessionmaker,
            tenant_id=actor.tenant_id,
            import_id=import_id,
            on_progress=on_progress,
        )
        async with sessionmaker() as session, session.begin():
            await set_tenant(session, actor.tenant_id)
            result = service.to_read(
                await service.get_import(session, actor, import_id)
            )
            errors = await repository.errors_page(
                session, import_id, PageParams(limit=SHOWN_ERRORS, cursor=None)
            )
    finally:
        await engine.dispose()
    return {
        **result.model_dump(mode="json"),
        "first_errors": [
            ImportRowErrorRead.model_validate(e).model_dump(mode="json")
            for e in errors[:SHOWN_ERRORS]
        ],
    }
