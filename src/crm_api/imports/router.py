from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Response, status

from crm_api.auth.dependencies import Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.imports import service
from crm_api.imports.schemas import (
    CustomerImportRead,
    ImportForm,
    ImportRowErrorRead,
)
from crm_api.kernel.concurrency import set_etag
from crm_api.kernel.deps import Redis, Session
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.routing import CrmRoute

router = APIRouter(
    prefix="/customers/imports", tags=["customer_imports"], route_class=CrmRoute
)

CanRead = Annotated[Principal, Depends(require("customers:read"))]
CanWrite = Annotated[Principal, Depends(require("customers:write"))]
Paging = Annotated[PageParams, Depends(page_params)]

CREATE_HELP = """
Upload a CSV (multipart form) to create or update customers by `code`.

The file is checked at once (mapping, encoding, header) and then processed by a job:
poll the import (`Location`) for its status and progress, and read the rows that
failed from its errors. Each row is all-or-nothing; a row whose `code` exists updates
that customer, and a row that would change nothing is counted as unchanged, so
importing the same file again changes nothing. Duplicate detection (same name, phone
or email) does not apply: the code is the key. `dry_run` checks and reports every row
without writing a customer.
"""


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="customer_imports_create",
    dependencies=[Idempotent],
    description=CREATE_HELP,
)
async def create_import(
    form: Annotated[ImportForm, Form(media_type="multipart/form-data")],
    session: Session,
    actor: CanWrite,
    redis: Redis,
    response: Response,
) -> CustomerImportRead:
    """Import customers from a CSV file."""
    record = await service.create_import(
        session,
        form.file.file,
        file_name=form.file.filename or "upload.csv",
        mapping_text=form.mapping,
        encoding=form.encoding,
        dry_run=form.dry_run,
        actor=actor,
        redis=redis,
    )

    response.headers["Location"] = f"/api/v1/customers/imports/{record.id}"
    return service.to_read(record)


@router.get("", operation_id="customer_imports_list")
async def list_imports(
    session: Session, reader: CanRead, page: Paging
) -> Page[CustomerImportRead]:
    """List imports, newest first: all of them with an `all` scope on
    customers:read, otherwise only those the caller started."""
    records, next_cursor = await service.list_imports(session, reader, page)
    return Page(items=[service.to_read(r) for r in records], next_cursor=next_cursor)


@router.get("/{import_id}", operation_id="customer_imports_get")
async def get_import(
    import_id: uuid.UUID, session: Session, reader: CanRead, response: Response
) -> CustomerImportRead:
    """Read an import: its status, progress and counts."""
    record = await service.get_import(session, reader, import_id)

    set_etag(response, record.version)
    return service.to_read(record)


@router.get("/{import_id}/errors", operation_id="customer_imports_errors")
async def list_errors(
    import_id: uuid.UUID, session: Session, reader: CanRead, page: Paging
) -> Page[ImportRowErrorRead]:
    """The rows an import could not take, in file order (the first 1,000 errors)."""
    errors, next_cursor = await service.list_errors(session, reader, import_id, page)
    return Page(
        items=[ImportRowErrorRead.model_validate(e) for e in errors],
        next_cursor=next_cursor,
    )
