"""Customer imports: the uploaded file (kept in PostgreSQL), progress and row errors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kernel.db import Base, IdMixin, VersionedMixin

# Spreadsheet numbering: the header is row 1, so the first data row is row 2.
FIRST_DATA_ROW = 2


class CustomerImport(IdMixin, VersionedMixin, Base):
    """One upload of a customer CSV and how far its processing has come.

    ``next_row`` is the resume point: every row before it has been processed and its
    outcome committed together with the counts, in the same transaction.
    """

    __tablename__ = "customer_imports"
    __table_args__ = (Index("ix_customer_imports_tenant_id_id", "tenant_id", "id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default="queued")
    dry_run: Mapped[bool] = mapped_column(default=False)
    file_name: Mapped[str] = mapped_column(String(255))
    encoding: Mapped[str] = mapped_column(String(40))
    delimiter: Mapped[str] = mapped_column(String(1))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    unmapped_columns: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    processed_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_created: Mapped[int] = mapped_column(default=0)
    rows_updated: Mapped[int] = mapped_column(default=0)
    rows_unchanged: Mapped[int] = mapped_column(default=0)
    rows_failed: Mapped[int] = mapped_column(default=0)
    errors_kept: Mapped[int] = mapped_column(default=0)
    next_row: Mapped[int] = mapped_column(default=FIRST_DATA_ROW)
    # The lease of the worker processing the import (see tasks.py).
    claimed_by: Mapped[uuid.UUID | None]
    claimed_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class ImportChunk(Base):
    """A piece (about 1 MiB) of an uploaded file, so any worker machine can read it."""

    __tablename__ = "import_chunks"

    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customer_imports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRowError(IdMixin, Base):
    """Why one row (or one value in it) was not imported."""

    __tablename__ = "import_row_errors"
    __table_args__ = (
        Index("ix_import_row_errors_import_row", "import_id", "row_number", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customer_imports.id", ondelete="CASCADE")
    )
    row_number: Mapped[int]
    column: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
