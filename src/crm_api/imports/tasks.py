"""The import job, and the sweep that resumes imports nobody works on."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog
from arq import Retry

from crm_api.imports import repository, runner
from crm_api.imports.service import IMPORT_JOB

logger = structlog.get_logger(__name__)

# A 512 MiB file runs for a while; arq's default timeout (5 minutes) would cut it.
JOB_TIMEOUT = timedelta(hours=12)
MAX_TRIES = 5


async def import_customers(
    ctx: dict[str, Any], tenant_id: str, import_id: str
) -> dict[str, Any]:
    """Process an uploaded customer CSV; safe to run twice or on several workers."""
    tenant, record = uuid.UUID(tenant_id), uuid.UUID(import_id)
    try:
        return await runner.run_import(
            ctx["sessionmaker"], tenant_id=tenant, import_id=record
        )
    except runner.LeaseLost:
        return {"status": "lease_lost"}
    except Exception as error:
        job_try = int(ctx.get("job_try") or 1)
        if job_try < MAX_TRIES:
            logger.warning(
                "customer_import.retrying",
                import_id=import_id,
                job_try=job_try,
                error=repr(error),
            )
            raise Retry(defer=timedelta(seconds=10 * job_try)) from error
        logger.exception("customer_import.crashed", import_id=import_id)
        await runner.fail_import(
            ctx["sessionmaker"],
            tenant_id=tenant,
            import_id=record,
            reason="The import failed unexpectedly; the error has been logged.",
        )
        return {"status": "failed"}


async def resume_customer_imports(ctx: dict[str, Any]) -> int:
    """Queue imports that are not done although nobody holds them.

    That is an import whose worker died (its lease expired) or whose job never reached
    Redis. The job id carries the resume point, so a sweep repeated before the job
    ran queues nothing new; the lease keeps two runs from writing the same rows.
    """
    # NOTE: arq keeps a finished job's result (an hour by default) and refuses a job
    # id it still holds, so an import that stopped twice at the same row waits that
    # long for its next try; a try counter in the job id would lift that.
    async with ctx["sessionmaker"]() as session:
        pending = await repository.pending(session)
    for tenant_id, import_id, next_row in pending:
        await ctx["redis"].enqueue_job(
            IMPORT_JOB,
            str(tenant_id),
            str(import_id),
            _job_id=f"import:{import_id}:resume:{next_row}",
        )
    if pending:
        logger.info("customer_import.resumed", count=len(pending))
    return len(pending)
