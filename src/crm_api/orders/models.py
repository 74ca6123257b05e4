"""Orders with their lines, the record of every transition and approval decision,
and the tenant's approval rules.

Orders carry a unique ``(tenant_id, id)`` so their lines, transitions and decisions
point at them with composite foreign keys: a child row can only ever belong to an
order of its own tenant, whatever a query forgets.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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

ORDER_STATUSES = (
    "draft",
    "pending_approval",
    "approved",
    "rejected",
    "in_execution",
    "completed",
    "cancelled",
)
# A handover moves only the records still in progress; a finished order keeps the
# owner it was finished under.
CLOSED_STATUSES = ("completed", "cancelled")


class Order(IdMixin, TimestampMixin, VersionedMixin, Base):
    """An order for a customer, entered directly or generated from a quote."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_orders_tenant_id_id"),
        ForeignKeyConstraint(
            ["tenant_id", "owner_id"],
            ["employees.tenant_id", "employees.id"],
            name="fk_orders_owner",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "department_id"],
            ["departments.tenant_id", "departments.id"],
            name="fk_orders_department",
        ),
        Index("uq_orders_tenant_number", "tenant_id", "number", unique=True),
        Index("ix_orders_tenant_status", "tenant_id", "status"),
        Index("ix_orders_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_orders_tenant_department", "tenant_id", "department_id"),
        Index("ix_orders_customer_id", "customer_id"),
        Index("ix_orders_tenant_ordered_on", "tenant_id", "ordered_on"),
        # One live order per quote: a second one is refused while the first stands.
        Index(
            "uq_orders_live_source_quote",
            "tenant_id",
            "source_quote_id",
            unique=True,
            postgresql_where=text(
                "source_quote_id IS NOT NULL AND status <> 'cancelled'"
            ),
        ),
        Index("ix_orders_awaiting_roles", "awaiting_roles", postgresql_using="gin"),
        Index("ix_orders_custom", "custom", postgresql_using="gin"),
        CheckConstraint(
            "status IN ('draft', 'pending_approval', 'approved', 'rejected', "
            "'in_execution', 'completed', 'cancelled')",
            name="status",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    # RESTRICT: an order is a business record; its customer cannot vanish under it.
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT")
    )
    currency: Mapped[str] = mapped_column(String(3))
    # The day the order was placed, on the tenant's calendar: the day it was entered,
    # or for an imported historical order the day the other system recorded.
    ordered_on: Mapped[date]
    owner_id: Mapped[uuid.UUID]
    department_id: Mapped[uuid.UUID]
    total_net: Mapped[Decimal] = mapped_column(Numeric)
    total_tax: Mapped[Decimal] = mapped_column(Numeric)
    total_gross: Mapped[Decimal] = mapped_column(Numeric)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The quote (and its revision number) the order was generated from.
    source_quote_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("quotes.id", ondelete="SET NULL")
    )
    source_quote_revision: Mapped[int | None]
    # The approval in progress: which round (one per submit), the levels it needs
    # (fixed at submit, so editing a rule never changes a running approval), the
    # level now deciding, and that level's roles (indexed, for approvers' inboxes).
    approval_round: Mapped[int] = mapped_column(default=0)
    approval_levels: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    current_level: Mapped[int | None]
    awaiting_roles: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        order_by="OrderLine.position",
        lazy="selectin",
        passive_deletes=True,
    )


class OrderLine(IdMixin, Base):
    """One line of an order: its own copy of what was sold, and its rounded figures."""

    __tablename__ = "order_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name="fk_order_lines_order",
            ondelete="CASCADE",
        ),
        # No cascade: a product on an order line cannot be deleted (deactivate it).
        ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["products.tenant_id", "products.id"],
            name="fk_order_lines_product",
        ),
        Index("ix_order_lines_order_id", "order_id", "position"),
        Index("ix_order_lines_tenant_product", "tenant_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price >= 0", name="unit_price"),
        CheckConstraint("discount_percent BETWEEN 0 AND 100", name="discount"),
        CheckConstraint("tax_rate_percent >= 0", name="tax_rate"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID]
    position: Mapped[int]
    product_id: Mapped[uuid.UUID | None]
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric)
    unit_price: Mapped[Decimal] = mapped_column(Numeric)
    discount_percent: Mapped[Decimal] = mapped_column(Numeric)
    tax_rate_percent: Mapped[Decimal] = mapped_column(Numeric)
    net_amount: Mapped[Decimal] = mapped_column(Numeric)
    tax_amount: Mapped[Decimal] = mapped_column(Numeric)

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderTransition(IdMixin, Base):
    """One step through the state machine: who, when, from, to and why."""

    __tablename__ = "order_transitions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name="fk_order_transitions_order",
            ondelete="CASCADE",
        ),
        # Numbered per order: the history reads in the order it happened, even for
        # two steps taken in one transaction (submit, then approved automatically).
        UniqueConstraint("order_id", "position", name="uq_order_transitions_position"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID]
    position: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    # True when the system took the step (approved on submit: no rule applied).
    automatic: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())


class OrderApproval(IdMixin, Base):
    """One approver's decision on one level of one approval round."""

    __tablename__ = "order_approvals"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["orders.tenant_id", "orders.id"],
            name="fk_order_approvals_order",
            ondelete="CASCADE",
        ),
        # Exactly one decision per level and round, whoever races for it ...
        UniqueConstraint("order_id", "round", "level", name="uq_order_approvals_level"),
        # ... and one level per person per round: several levels mean several people.
        UniqueConstraint(
            "order_id", "round", "user_id", name="uq_order_approvals_user"
        ),
        Index("ix_order_approvals_user_id", "user_id"),
        CheckConstraint("decision IN ('approved', 'rejected')", name="decision"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID]
    round: Mapped[int]
    level: Mapped[int]
    decision: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # The roles the approver held that made them eligible, as they were then.
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    comment: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ApprovalRule(IdMixin, TimestampMixin, VersionedMixin, Base):
    """When an order needs approval (all set conditions hold) and by whom, in levels."""

    __tablename__ = "approval_rules"
    __table_args__ = (Index("ix_approval_rules_tenant_id", "tenant_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # The threshold's currency: the tenant's default currency when the rule was made.
    currency: Mapped[str] = mapped_column(String(3))
    min_total_gross: Mapped[Decimal | None] = mapped_column(Numeric)
    min_line_discount_percent: Mapped[Decimal | None] = mapped_column(Numeric)
    customer_levels: Mapped[list[str] | None] = mapped_column(ARRAY(String(40)))
    # [["manager"], ["finance", "admin"]]: level 1 first; any role of a level decides.
    levels: Mapped[list[list[str]]] = mapped_column(JSONB)


register_entity("order", Order)
register_employee_reference(
    Order.owner_id, open_records=lambda: Order.status.not_in(CLOSED_STATUSES)
)
register_department_reference(Order.department_id)
register_customer_reference(Order.customer_id)
