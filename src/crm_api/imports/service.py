"""Customer imports: accept an upload, and read back its progress and row errors.

The upload is checked up front (mapping, encoding, header) and stored in PostgreSQL in
chunks of about 1 MiB inside the request's transaction; the job that processes it is
enqueued only once that transaction has committed (see runner.py for the job).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, BinaryIO

import structlog
from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, false, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.custom_attributes.values import load_definitions
from crm_api.imports import csvreader, repository
from crm_api.imports.mapping import check_header, check_targets, parse_mapping
from crm_api.imports.models import CustomerImport, ImportRowError
from crm_api.imports.schemas import CustomerImportRead
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import NotFound, ValidationFailed
from crm_api.kernel.ids import new_id
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of
from crm_api.kernel.routing import after_commit
from crm_api.organisation.visibility import assign

logger = structlog.get_logger(__name__)

IMPORT_JOB = "import_customers"
CHUNK_BYTES = 1_048_576


def job_id(import_id: uuid.UUID) -> str:
    """The arq job id of an import's first run: enqueueing it twice runs it once."""
    return f"import:{import_id}"


async def _read(source: BinaryIO) -> bytes:
    # A spooled upload may sit on disk: read it off the event loop.
    return await asyncio.to_thread(source.read, CHUNK_BYTES)


def _encoding(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return csvreader.text_encoding(name.strip())
    except LookupError:
        raise ValidationFailed.single(
            "encoding",
            f"'{name}' is not a text encoding Python knows (e.g. utf-8, gb18030, "
            "cp1252, shift_jis).",
            code="unknown_encoding",
            location="form",
        ) from None


async def create_import(
    session: AsyncSession,
    source: BinaryIO,
    *,
    file_name: str,
    mapping_text: str,
    encoding: str | None,
    dry_run: bool,
    actor: Principal,
    redis: Any = None,
) -> CustomerImport:
    """Check an upload, store it, and (with ``redis``) queue its job after commit."""
    definitions = await load_definitions(session, "customer")
    targets = check_targets(parse_mapping(mapping_text), definitions)
    given_encoding = _encoding(encoding)

    first = await _read(source)
    try:
        layout = csvreader.inspect(first, encoding=given_encoding)
    except csvreader.UnreadableFile as error:
        raise ValidationFailed.single(
            "file", str(error), code="unreadable_file", location="form"
        ) from None
    unmapped = check_header(targets, layout.header)
    # New customers will be the importer's own: they must be able to own records.
    await assign(session, actor, "customers:write", owner_id=None, department_id=None)

    tenant_id = current_tenant(session)
    record = CustomerImport(
        id=new_id(),
        tenant_id=tenant_id,
        created_by=actor.on_behalf_of,
        status="queued",
        dry_run=dry_run,
        file_name=(file_name or "upload.csv")[:255],
        encoding=layout.encoding,
        delimiter=layout.delimiter,
        mapping=targets.as_document(),
        unmapped_columns=unmapped,
    )
    session.add(record)
    await session.flush()
    seq, total, data = 0, 0, first
    while data:
        await repository.add_chunk(
            session, tenant_id=tenant_id, import_id=record.id, seq=seq, data=data
        )
        seq, total = seq + 1, total + len(data)
        data = await _read(source)
    record.total_bytes = total
    await session.flush()

    record_event(
        session,
        "customer_import.created",
        subject_id=record.id,
        payload={"file_name": record.file_name, "dry_run": dry_run},
    )
    if redis is not None:
        _enqueue_after_commit(session, redis, tenant_id, record.id)
    logger.info(
        "customer_import.created",
        import_id=str(record.id),
        total_bytes=total,
        encoding=layout.encoding,
        dry_run=dry_run,
    )
    return record


def _enqueue_after_commit(
    session: AsyncSession, redis: Any, tenant_id: uuid.UUID, import_id: uuid.UUID
) -> None:
    async def enqueue() -> None:
        try:
            await redis.enqueue_job(
                IMPORT_JOB, str(tenant_id), str(import_id), _job_id=job_id(import_id)
            )
        except (RedisError, OSError) as error:
            # The import is committed; the worker's sweep queues it within minutes.
            logger.warning(
                "customer_import.enqueue_failed",
                import_id=str(import_id),
                error=repr(error),
            )

    after_commit(session, enqueue)


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The imports ``principal`` may see: all of the tenant's with an ``all`` scope on
    customers:read, otherwise only those they started (an API key: its creator's).

    An import's rows and errors name customers of any owner, so only the widest scope
    sees other people's imports; an import outside it reads like one that does not
    exist.
    """
    if principal.scope("customers:read") == "all":
        return true()
    if principal.on_behalf_of is None:
        return false()
    return CustomerImport.created_by == principal.on_behalf_of


async def get_import(
    session: AsyncSession, principal: Principal, import_id: uuid.UUID
) -> CustomerImport:
    record = await repository.get(session, import_id, visible=visible_to(principal))
    if record is None:
        raise NotFound("No such import.")
    return record


async def list_imports(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[CustomerImport], str | None]:
    rows = await repository.page(session, params, visible=visible_to(principal))
    return page_of(rows, lambda row: (row.id,), params)


async def list_errors(
    session: AsyncSession,
    principal: Principal,
    import_id: uuid.UUID,
    params: PageParams,
) -> tuple[list[ImportRowError], str | None]:
    await get_import(session, principal, import_id)
    rows = await repository.errors_page(session, import_id, params)
    return page_of(rows, lambda row: (row.row_number, row.id), params)


def to_read(record: CustomerImport) -> CustomerImportRead:
    total = record.total_bytes or 0
    done = record.status in ("succeeded", "failed") and record.error is None
    progress = 1.0 if done or total == 0 else min(record.processed_bytes / total, 1.0)
    return CustomerImportRead(
        id=record.id,
        status=record.status,  # type: ignore[arg-type]
        dry_run=record.dry_run,
        file_name=record.file_name,
        encoding=record.encoding,
        delimiter=record.delimiter,
        mapping=dict(record.mapping),
        unmapped_columns=list(record.unmapped_columns),
        total_bytes=total,
        processed_bytes=record.processed_bytes,
        progress=round(progress, 4),
        rows_total=record.rows_total,
        rows_created=record.rows_created,
        rows_updated=record.rows_updated,
        rows_unchanged=record.rows_unchanged,
        rows_failed=record.rows_failed,
        errors_kept=record.errors_kept,
        error=record.error,
        created_by=record.created_by,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )
