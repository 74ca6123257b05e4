"""Domain events, written to the outbox in the same transaction as the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kernel.db import Base, IdMixin, current_tenant


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index(
            "ix_outbox_events_unpublished",
            "occurred_at",
            postgresql_where=text("published_at IS NULL"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(100))
    subject_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    published_at: Mapped[datetime | None]


def record_event(
    session: AsyncSession,
    event_type: str,
    *,
    subject_id: uuid.UUID | None,
    payload: dict[str, Any],
) -> OutboxEvent:
    """Add an event to the current transaction; it commits or rolls back with the change."""
    event = OutboxEvent(
        tenant_id=current_tenant(session),
        type=event_type,
        subject_id=subject_id,
        payload=payload,
    )
    session.add(event)
    return event
