from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import UploadFile
from pydantic import Field, StringConstraints

from crm_api.kernel.schemas import InputModel, ReadModel

ImportStatus = Literal["queued", "running", "succeeded", "failed"]


class ImportForm(InputModel):
    """The multipart form of ``POST /customers/imports``."""

    file: UploadFile = Field(
        description="The CSV: UTF-8 (with or without BOM), GBK/GB18030 or Windows-1252 "
        "are recognised; a header row first."
    )
    mapping: Annotated[str, StringConstraints(min_length=2, max_length=100_000)] = (
        Field(
            description='JSON: `{"columns": {"<CSV header>": "<target>"}}`. Targets: '
            "`code`, `name` (both required), `kind`, `level`, `industry`, `source`, "
            "`status`, `phone`, `email`, `website`, `tags` (split on `;`), "
            "`address.street|city|region|postal_code|country`, "
            "`contact.name|title|email|phone` (the primary contact) or "
            "`custom.<key>`. Unmapped columns are ignored."
        )
    )
    encoding: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = (
        Field(default=None, description="The file's encoding, if detection is wrong.")
    )
    dry_run: bool = Field(
        default=False, description="Check every row and report; write no customer."
    )


class CustomerImportRead(ReadModel):
    id: uuid.UUID
    status: ImportStatus
    dry_run: bool
    file_name: str
    encoding: str = Field(description="Detected, or as given in the upload.")
    delimiter: str
    mapping: dict[str, Any]
    unmapped_columns: list[str] = Field(description="Columns of the file not imported.")
    total_bytes: int
    processed_bytes: int
    progress: float = Field(description="Share of the file processed, 0 to 1.")
    rows_total: int = Field(description="Non-blank rows read so far.")
    rows_created: int
    rows_updated: int
    rows_unchanged: int
    rows_failed: int = Field(description="Rows not imported; see the errors list.")
    errors_kept: int = Field(
        description="Row errors kept for the errors list (the first 1,000)."
    )
    error: str | None = Field(description="Why the whole import failed, if it did.")
    created_by: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportRowErrorRead(ReadModel):
    row_number: int = Field(
        description="As a spreadsheet numbers it: the header is row 1."
    )
    column: str | None = Field(description="The CSV column, where one is to blame.")
    field: str | None = Field(description="The target, e.g. `custom.fax`.")
    code: str
    message: str
