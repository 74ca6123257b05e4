"""Quotes: an offer to a customer, kept as numbered revisions with their lines.

A revision is edited only while it is a draft; once sent it is frozen, and a change
means a new revision (a copy of the latest). Line figures and revision totals are
stored as computed under the money rule, so reads and analytics never recompute them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_api.custom_attributes.registry import register_entity
from crm_api.customers.repository import (
    register_reference as register_customer_reference,
)
from crm_api.kernel.db import Base, IdMixin, TimestampMixin, VersionedMixin
from crm_api.organisation.repository import (
    register_department_reference,
    register_employee_reference,
)

DRAFT = "draft"
SENT = "sent"
ACCEPTED = "accepted"
REJECTED = "rejected"
EXPIRED = "expired"
SUPERSEDED = "superseded"
REVISION_STATES = (DRAFT, SENT, ACCEPTED, REJECTED, EXPIRED, SUPERSEDED)


class Quote(IdMixin, TimestampMixin, VersionedMixin, Base):
    """An offer to one customer in one currency; its content lives in revisions.

    The version (ETag) covers the quote and all its revisions: every change to a
    revision bumps it, so one If-Match guards the whole document.
    """

    __tablename__ = "quotes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(
            ["tenant_id", "owner_id"],
            ["employees.tenant_id", "employees.id"],
            name="fk_quotes_owner",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "department_id"],
            ["departments.tenant_id", "departments.id"],
            name="fk_quotes_department",
        ),
        Index("ix_quotes_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_quotes_tenant_department", "tenant_id", "department_id"),
        Index("ix_quotes_customer_id", "customer_id"),
        Index("ix_quotes_tenant_created_at", "tenant_id", "created_at"),
        Index("ix_quotes_custom", "custom", postgresql_using="gin"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    # NOTE: a plain key, not (tenant_id, customer_id): customers has no unique
    # (tenant_id, id) to point at. Every write checks the customer through the
    # caller's visibility (and RLS), so no other tenant's customer gets in.
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    title: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    owner_id: Mapped[uuid.UUID]
    department_id: Mapped[uuid.UUID]
    # The highest revision number; the next revision is this plus one.
    latest_revision: Mapped[int]
    accepted_revision: Mapped[int | None]
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class QuoteRevision(IdMixin, TimestampMixin, Base):
    """One numbered version of a quote's content, with its state."""

    __tablename__ = "quote_revisions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("quote_id", "number"),
        ForeignKeyConstraint(
            ["tenant_id", "quote_id"],
            ["quotes.tenant_id", "quotes.id"],
            name="fk_quote_revisions_quote",
            ondelete="CASCADE",
        ),
        # At most one draft, one revision out with the customer, one accepted.
        Index(
            "uq_quote_revisions_one_draft",
            "quote_id",
            unique=True,
            postgresql_where=text("state = 'draft'"),
        ),
        Index(
            "uq_quote_revisions_one_sent",
            "quote_id",
            unique=True,
            postgresql_where=text("state = 'sent'"),
        ),
        Index(
            "uq_quote_revisions_one_accepted",
            "quote_id",
            unique=True,
            postgresql_where=text("state = 'accepted'"),
        ),
        CheckConstraint(
            "state IN ('draft', 'sent', 'accepted', 'rejected', 'expired', "
            "'superseded')",
            name="state",
        ),
        CheckConstraint("number >= 1", name="number"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    quote_id: Mapped[uuid.UUID]
    number: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    valid_until: Mapped[date]
    notes: Mapped[str | None] = mapped_column(Text)
    net_total: Mapped[Decimal]
    tax_total: Mapped[Decimal]
    gross_total: Mapped[Decimal]
    sent_at: Mapped[datetime | None]
    sent_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decision_comment: Mapped[str | None] = mapped_column(Text)

    # Joined on the id alone: the tenant column is set explicitly on every row.
    quote: Mapped[Quote] = relationship(
        lazy="raise", primaryjoin="foreign(QuoteRevision.quote_id) == Quote.id"
    )
    lines: Mapped[list[QuoteLine]] = relationship(
        lazy="raise",
        primaryjoin="QuoteRevision.id == foreign(QuoteLine.revision_id)",
        order_by="QuoteLine.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class QuoteLine(IdMixin, Base):
    """A line of a revision: a product or free text, with its computed figures."""

    __tablename__ = "quote_lines"
    __table_args__ = (
        UniqueConstraint("revision_id", "position"),
        ForeignKeyConstraint(
            ["tenant_id", "revision_id"],
            ["quote_revisions.tenant_id", "quote_revisions.id"],
            name="fk_quote_lines_revision",
            ondelete="CASCADE",
        ),
        # No cascade: a product on a quote line cannot be deleted (deactivate it).
        ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name="fk_quote_lines_product",
        ),
        Index("ix_quote_lines_tenant_product", "tenant_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("discount_percent BETWEEN 0 AND 100", name="discount"),
        CheckConstraint("tax_rate_percent >= 0", name="tax_rate"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    revision_id: Mapped[uuid.UUID]
    position: Mapped[int]
    product_id: Mapped[uuid.UUID | None]
    description: Mapped[str] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(40))
    quantity: Mapped[Decimal]
    unit_price: Mapped[Decimal]
    discount_percent: Mapped[Decimal]
    tax_rate_percent: Mapped[Decimal]
    # Rounded half-up to the currency's minor unit (crm_api.kernel.money).
    net: Mapped[Decimal]
    tax: Mapped[Decimal]

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


def still_open() -> ColumnElement[bool]:
    """Quotes not yet decided: nothing accepted and the latest revision a draft or
    out with the customer. A leaver's open quotes go to their successor; decided ones
    keep their historical owner."""
    latest_open = select(QuoteRevision.id).where(
        QuoteRevision.quote_id == Quote.id,
        QuoteRevision.number == Quote.latest_revision,
        QuoteRevision.state.in_((DRAFT, SENT)),
    )
    return Quote.accepted_revision.is_(None) & latest_open.exists()


register_entity("quote", Quote)
register_employee_reference(
    Quote.owner_id, open_records=still_open, department=Quote.department_id
)
register_department_reference(Quote.department_id)
register_customer_reference(Quote.customer_id)
