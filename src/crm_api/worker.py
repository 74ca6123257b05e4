"""The arq worker: background and scheduled jobs.

Each job owns its transactions (one per tenant), and is safe to run twice or on several
workers at once: what it does is idempotent, and cron runs are de-duplicated by arq's
job ids on top of that.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from arq import cron, func
from arq.connections import RedisSettings
from sqlalchemy import delete, text

# Every mapped class, so foreign keys between them resolve in this process too (a job
# touching customers needs the users table known, though no job imports users).
import crm_api.models  # noqa: F401
from crm_api.auth.models import RefreshToken
from crm_api.imports.service import IMPORT_JOB
from crm_api.imports.tasks import (
    JOB_TIMEOUT,
    MAX_TRIES,
    import_customers,
    resume_customer_imports,
)
from crm_api.kernel.db import create_engine, create_sessionmaker, set_tenant
from crm_api.kernel.idempotency import IdempotencyKey
from crm_api.kernel.logging import configure_logging
from crm_api.plans.sweep import sweep
from crm_api.settings import get_settings

logger = structlog.get_logger(__name__)

# Refresh tokens are kept a while past expiry so a late reuse is still recognised.
REFRESH_TOKEN_GRACE = timedelta(days=7)


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    configure_logging(json_output=settings.log_json, level=settings.log_level)
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set")
    engine = create_engine(
        settings.database_url, app_role=settings.database_app_role, pool_size=5
    )
    ctx["settings"] = settings
    ctx["engine"] = engine
    ctx["sessionmaker"] = create_sessionmaker(engine)
    logger.info("worker.started")


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()
    logger.info("worker.stopped")


async def tenant_ids(ctx: dict[str, Any]) -> list[uuid.UUID]:
    async with ctx["sessionmaker"]() as session:
        rows = await session.scalars(text("SELECT crm_tenant_ids()"))
        return list(rows)


async def purge_expired(ctx: dict[str, Any]) -> dict[str, int]:
    """Delete idempotency keys past their TTL and long-expired refresh tokens."""
    settings = ctx["settings"]
    now = datetime.now(UTC)
    keys_before = now - timedelta(seconds=settings.idempotency_ttl_s)
    tokens_before = now - REFRESH_TOKEN_GRACE
    totals = {"idempotency_keys": 0, "refresh_tokens": 0}
    for tenant_id in await tenant_ids(ctx):
        async with ctx["sessionmaker"]() as session, session.begin():
            await set_tenant(session, tenant_id)
            keys = await session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.created_at < keys_before)
            )
            tokens = await session.execute(
                delete(RefreshToken).where(RefreshToken.expires_at < tokens_before)
            )
            totals["idempotency_keys"] += keys.rowcount
            totals["refresh_tokens"] += tokens.rowcount
    logger.info("maintenance.purged", **totals)
    return totals


def _redis_settings() -> RedisSettings:
    url = get_settings().redis_url
    if url is None:
        raise RuntimeError("REDIS_URL is not set")
    return RedisSettings.from_dsn(url)


class WorkerSettings:
    functions = [
        purge_expired,
        func(
            import_customers, name=IMPORT_JOB, timeout=JOB_TIMEOUT, max_tries=MAX_TRIES
        ),
        resume_customer_imports,
        func(sweep, name="payment_sweep"),
    ]
    cron_jobs = [
        cron(purge_expired, minute={7, 37}, unique=True, run_at_startup=False),
        cron(
            resume_customer_imports,
            minute=set(range(0, 60, 5)),
            unique=True,
            run_at_startup=False,
        ),
        # Reminders and dunning; exactly once per step and level whatever runs it.
        cron(
            sweep,
            name="payment_sweep",
            minute={0, 15, 30, 45},
            unique=True,
            run_at_startup=False,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = _redis_settings() if get_settings().redis_url else None
    handle_signals = True
