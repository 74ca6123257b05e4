"""The import job on several workers: every row processed once, crashes resumed."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from arq import Retry
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker

from crm_api.imports import runner
from crm_api.imports.tasks import (
    MAX_TRIES,
    import_customers,
    resume_customer_imports,
)
from crm_api.worker import WorkerSettings
from tests.fixtures.api import TenantContext
from tests.imports.conftest import get_import, upload

MAPPING = {"columns": {"code": "code", "name": "name"}}
ROWS = 1200


def _file(rows: int = ROWS) -> bytes:
    return b"code,name\n" + b"".join(
        b"C%05d,Customer %d\n" % (i, i) for i in range(rows)
    )


async def _uploaded(client: httpx.AsyncClient, ctx: TenantContext) -> str:
    response = await upload(client, ctx, _file(), MAPPING)
    assert response.status_code == 202, response.text
    return response.json()["id"]  # type: ignore[no-any-return]


async def _written_once(owner: asyncpg.Connection) -> None:
    assert await owner.fetchval("SELECT count(*) FROM customers") == ROWS
    created = await owner.fetchval(
        "SELECT count(*) FROM outbox_events WHERE type = 'customer.created'"
    )
    assert created == ROWS


async def test_two_workers_at_once_process_every_row_once(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    job_ctx: dict[str, Any],
    owner: asyncpg.Connection,
) -> None:
    import_id = await _uploaded(client, tenant_a)
    tenant_id = tenant_a.tenant["id"]

    results = await asyncio.gather(
        import_customers(dict(job_ctx), tenant_id, import_id),
        import_customers(dict(job_ctx), tenant_id, import_id),
    )

    assert sorted(r["status"] for r in results) == ["skipped", "succeeded"]
    done = await get_import(client, tenant_a, import_id)
    assert (done["status"], done["rows_created"], done["rows_total"]) == (
        "succeeded",
        ROWS,
        ROWS,
    )
    await _written_once(owner)


async def test_a_worker_whose_lease_expired_stops_and_the_next_one_finishes(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    job_ctx: dict[str, Any],
    owner: asyncpg.Connection,
) -> None:
    import_id = uuid.UUID(await _uploaded(client, tenant_a))
    tenant_id = uuid.UUID(tenant_a.tenant["id"])
    first_batch_done = asyncio.Event()
    taken_over = asyncio.Event()

    async def slow(processed: int, total: int) -> None:
        # The first worker stalls after its first batch, past its (short) lease.
        first_batch_done.set()
        await taken_over.wait()

    async def first() -> dict[str, Any]:
        return await runner.run_import(
            job_ctx["sessionmaker"],
            tenant_id=tenant_id,
            import_id=import_id,
            batch_rows=100,
            lease_s=0.05,
            on_progress=slow,
        )

    async def second() -> dict[str, Any]:
        await first_batch_done.wait()
        await asyncio.sleep(0.1)
        try:
            return await runner.run_import(
                job_ctx["sessionmaker"], tenant_id=tenant_id, import_id=import_id
            )
        finally:
            taken_over.set()

    stalled, finished = await asyncio.gather(first(), second(), return_exceptions=True)

    assert isinstance(stalled, runner.LeaseLost)
    assert isinstance(finished, dict)
    assert finished["status"] == "succeeded"
    assert finished["rows_created"] == ROWS
    await _written_once(owner)


async def test_a_crashed_run_resumes_where_its_last_batch_committed(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    job_ctx: dict[str, Any],
    owner: asyncpg.Connection,
) -> None:
    import_id = uuid.UUID(await _uploaded(client, tenant_a))
    tenant_id = uuid.UUID(tenant_a.tenant["id"])

    def crash(processed: int, total: int) -> None:
        raise ConnectionResetError("worker lost")

    with pytest.raises(ConnectionResetError):
        await runner.run_import(
            job_ctx["sessionmaker"],
            tenant_id=tenant_id,
            import_id=import_id,
            batch_rows=500,
            on_progress=crash,
        )
    halfway = await get_import(client, tenant_a, str(import_id))
    result = await import_customers(job_ctx, str(tenant_id), str(import_id))

    assert (halfway["status"], halfway["rows_created"]) == ("running", 500)
    assert 0 < halfway["processed_bytes"] < halfway["total_bytes"]
    assert result["rows_created"] == ROWS
    await _written_once(owner)


async def test_running_a_finished_import_again_does_nothing(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    job_ctx: dict[str, Any],
    owner: asyncpg.Connection,
) -> None:
    import_id = await _uploaded(client, tenant_a)
    await import_customers(job_ctx, tenant_a.tenant["id"], import_id)

    again = await import_customers(job_ctx, tenant_a.tenant["id"], import_id)

    assert again == {"status": "skipped"}
    await _written_once(owner)


async def test_an_import_whose_file_is_gone_fails_with_the_reason(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    job_ctx: dict[str, Any],
    owner: asyncpg.Connection,
) -> None:
    import_id = await _uploaded(client, tenant_a)
    await owner.execute("DELETE FROM import_chunks")

    result = await import_customers(job_ctx, tenant_a.tenant["id"], import_id)

    done = await get_import(client, tenant_a, import_id)
    assert result == {"status": "failed"}
    assert done["status"] == "failed"
    assert "empty" in done["error"]


async def test_an_unexpected_error_is_retried_then_fails_the_import(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    job_ctx: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import_id = await _uploaded(client, tenant_a)

    async def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(runner, "run_import", broken)

    with pytest.raises(Retry):
        await import_customers(
            {**job_ctx, "job_try": 1}, tenant_a.tenant["id"], import_id
        )
    queued = await get_import(client, tenant_a, import_id)
    result = await import_customers(
        {**job_ctx, "job_try": MAX_TRIES}, tenant_a.tenant["id"], import_id
    )

    assert queued["status"] == "queued"
    assert result == {"status": "failed"}
    failed = await get_import(client, tenant_a, import_id)
    assert failed["status"] == "failed"
    assert "unexpectedly" in failed["error"]


async def test_the_sweep_queues_imports_nobody_works_on(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    job_ctx: dict[str, Any],
    owner: asyncpg.Connection,
    redis_dsn: str,
) -> None:
    stale = await _uploaded(client, tenant_a)
    fresh = await _uploaded(client, tenant_a)
    await owner.execute(
        "UPDATE customer_imports SET created_at = now() - interval '1 hour' "
        "WHERE id = $1",
        stale,
    )
    redis = await create_pool(RedisSettings.from_dsn(redis_dsn))
    try:
        queued = await resume_customer_imports({**job_ctx, "redis": redis})
        assert queued == 1
        assert await redis.exists(f"arq:job:import:{stale}:resume:2")
        assert not await redis.exists(f"arq:job:import:{fresh}:resume:2")
    finally:
        await redis.delete(f"arq:job:import:{stale}:resume:2")
        await redis.zrem("arq:queue", f"import:{stale}:resume:2")
        await redis.aclose()


async def test_a_real_arq_worker_runs_the_queued_job(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    job_ctx: dict[str, Any],
    redis_dsn: str,
    owner: asyncpg.Connection,
) -> None:
    import_id = await _uploaded(client, tenant_a)
    queue = f"crm-test-imports-{secrets.token_hex(4)}"
    redis: ArqRedis = await create_pool(
        RedisSettings.from_dsn(redis_dsn), default_queue_name=queue
    )
    worker = Worker(
        functions=WorkerSettings.functions,
        redis_pool=redis,
        queue_name=queue,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        ctx={k: v for k, v in job_ctx.items() if k != "job_try"},
    )
    # The upload queued the job for the default queue; move it to this test's own.
    await redis.delete(f"arq:job:import:{import_id}")
    await redis.zrem("arq:queue", f"import:{import_id}")
    try:
        job = await redis.enqueue_job(
            "import_customers",
            tenant_a.tenant["id"],
            import_id,
            _job_id=f"import:{import_id}",
        )
        duplicate = await redis.enqueue_job(
            "import_customers",
            tenant_a.tenant["id"],
            import_id,
            _job_id=f"import:{import_id}",
        )
        await worker.main()
        assert job is not None
        result = await job.result(timeout=5)
    finally:
        await redis.delete(f"arq:result:import:{import_id}")
        await redis.aclose()

    assert duplicate is None
    assert result["status"] == "succeeded"
    assert (await get_import(client, tenant_a, import_id))["rows_created"] == ROWS
    await _written_once(owner)
