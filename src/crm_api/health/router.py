from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from crm_api.kernel.errors import ServiceUnavailable
from crm_api.kernel.resources import Resources

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="health_live")
async def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="health_ready")
async def ready(request: Request) -> dict[str, str]:
    """PostgreSQL and Redis answer; otherwise 503."""
    resources: Resources = request.app.state.resources
    failed = []
    try:
        async with resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        failed.append("postgresql")
    try:
        await resources.redis.ping()
    except Exception:
        failed.append("redis")
    if failed:
        raise ServiceUnavailable(f"Not ready: {', '.join(failed)} unreachable.")
    return {"status": "ok"}


@router.get("/metrics", operation_id="health_metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
