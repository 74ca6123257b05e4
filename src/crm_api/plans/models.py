"""Execution plans: the tenant's action types, an order's plan and its steps, receipts
against collection steps, payment notices and the tenant's reminder policy.

Children point at their parents with composite ``(tenant_id, ...)`` foreign keys, as
orders' children do: a step, receipt or notice can only ever belong to its own
tenant's order, whatever a query forgets.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.kernel.db import Base, IdMixin, TimestampMixin, VersionedMixin
from crm_api.organisation.repository import register_employee_reference

DIRECTIONS = ("none", "in", "out")
STEP_STATUSES = ("pending", "done", "skipped")
NOTICE_KINDS = ("reminder", "dunning")


def _fk(
    name: str,
    columns: list[str],
    table: str,
    targets: list[str],
    *,
    ondelete: str | None = None,
) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", *columns],
        [f"{table}.tenant_id", *(f"{table}.{column}" for column in targets)],
        name=name,
        ondelete=ondelete,
    )


class ActionType(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A kind of step the tenant plans orders with (collect payment, ship, install)."""

    __tablename__ = "action_types"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_action_types_tenant_id_id"),
        Index(
            "uq_action_types_tenant_name", "tenant_id", text("lower(name)"), unique=True
        ),
        CheckConstraint("direction IN ('none', 'in', 'out')", name="direction"),
        CheckConstraint(
            "default_offset_days BETWEEN 0 AND 3650", name="default_offset"
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    # none: moves no money; in: collected from the customer; out: paid out.
    direction: Mapped[str] = mapped_column(String(4))
    # Days after the order's approval date that a generated step falls due.
    default_offset_days: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(Text)


class Plan(IdMixin, TimestampMixin, VersionedMixin, Base):
    """An order's execution plan: one per order, its steps keyed by the order."""

    __tablename__ = "plans"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id", name="uq_plans_tenant_order"),
        _fk("fk_plans_order", ["order_id"], "orders", ["id"], ondelete="CASCADE"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID]
    # The order's currency (fixed once the order is approved).
    currency: Mapped[str] = mapped_column(String(3))
    # When true, collection steps may add up to less than the order's gross total.
    allow_partial_collection: Mapped[bool] = mapped_column(default=False)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class PlanStep(IdMixin, Base):
    """One step of a plan: what (a copy of the action type's name and direction, as
    it was when planned), when, how much for money steps, who, and how far it got."""

    __tablename__ = "plan_steps"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_plan_steps_tenant_id_id"),
        UniqueConstraint("order_id", "position", name="uq_plan_steps_position"),
        _fk(
            "fk_plan_steps_plan",
            ["order_id"],
            "plans",
            ["order_id"],
            ondelete="CASCADE",
        ),
        _fk("fk_plan_steps_action_type", ["action_type_id"], "action_types", ["id"]),
        _fk("fk_plan_steps_assignee", ["assignee_id"], "employees", ["id"]),
        # What the reminder sweep reads: open money steps by due date.
        Index(
            "ix_plan_steps_open_money_due",
            "tenant_id",
            "due_on",
            postgresql_where=text("status = 'pending' AND direction <> 'none'"),
        ),
        Index("ix_plan_steps_action_type", "tenant_id", "action_type_id"),
        Index("ix_plan_steps_assignee", "tenant_id", "assignee_id"),
        CheckConstraint("direction IN ('none', 'in', 'out')", name="direction"),
        CheckConstraint("status IN ('pending', 'done', 'skipped')", name="status"),
        CheckConstraint(
            "(direction = 'none') = (amount IS NULL) AND (amount IS NULL OR amount > 0)",
            name="amount",
        ),
        # The database itself refuses a step collecting more than its amount.
        CheckConstraint(
            "received >= 0 AND received <= coalesce(amount, 0)", name="received"
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID]
    position: Mapped[int]
    action_type_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(4))
    due_on: Mapped[date]
    amount: Mapped[Decimal | None] = mapped_column(Numeric)
    # The sum of the step's receipts, kept under the step's row lock.
    received: Mapped[Decimal] = mapped_column(Numeric, default=Decimal(0))
    assignee_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    note: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]
    done_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    skipped_at: Mapped[datetime | None]
    skipped_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    skip_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def outstanding(self) -> Decimal:
        """What is still to be collected (collection steps only; zero once closed)."""
        if self.direction != "in" or self.status != "pending" or self.amount is None:
            return Decimal(0)
        return self.amount - self.received


class Receipt(IdMixin, Base):
    """Money received against a collection step."""

    __tablename__ = "receipts"
    __table_args__ = (
        _fk("fk_receipts_step", ["step_id"], "plan_steps", ["id"], ondelete="CASCADE"),
        Index("ix_receipts_step_id", "step_id", "id"),
        Index("ix_receipts_order_id", "order_id"),
        CheckConstraint("amount > 0", name="amount"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID]
    step_id: Mapped[uuid.UUID]
    amount: Mapped[Decimal] = mapped_column(Numeric)
    received_on: Mapped[date]
    reference: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PaymentNotice(IdMixin, Base):
    """A reminder before a money step falls due, or a dunning notice of one level
    after it is overdue. The sweep inserts these (sweep.py); at most one exists per
    step, kind and level, which the unique constraint guarantees."""

    __tablename__ = "payment_notices"
    __table_args__ = (
        UniqueConstraint(
            "step_id", "kind", "level", name="uq_payment_notices_step_kind_level"
        ),
        _fk(
            "fk_payment_notices_step",
            ["step_id"],
            "plan_steps",
            ["id"],
            ondelete="CASCADE",
        ),
        _fk("fk_payment_notices_assignee", ["assignee_id"], "employees", ["id"]),
        Index("ix_payment_notices_tenant", "tenant_id", "id"),
        Index("ix_payment_notices_assignee", "tenant_id", "assignee_id", "id"),
        Index("ix_payment_notices_order_id", "order_id"),
        CheckConstraint(
            "(kind = 'reminder' AND level = 0) OR (kind = 'dunning' AND level >= 1)",
            name="kind_level",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID]
    step_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(10))
    # 0 for a reminder; 1, 2, ... for the dunning levels of the policy.
    level: Mapped[int]
    # The policy's days that applied: lead days before, or days after the due date.
    days: Mapped[int]
    due_on: Mapped[date]
    # What was outstanding on the step when the notice was made.
    amount: Mapped[Decimal] = mapped_column(Numeric)
    currency: Mapped[str] = mapped_column(String(3))
    assignee_id: Mapped[uuid.UUID]
    # The tenant's local date the notice was made on.
    notice_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class PaymentReminderPolicy(TimestampMixin, VersionedMixin, Base):
    """When the sweep reminds and duns, per tenant; defaults apply without a row."""

    __tablename__ = "payment_reminder_policies"
    __table_args__ = (
        CheckConstraint("reminder_lead_days BETWEEN 0 AND 365", name="lead_days"),
        CheckConstraint("cardinality(dunning_days) <= 10", name="levels"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    reminder_lead_days: Mapped[int]
    dunning_days: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


# A leaver's pending steps and unacknowledged notices go to the colleague taking over;
# done steps and acknowledged notices keep who they were for.
register_employee_reference(
    PlanStep.assignee_id, open_records=lambda: PlanStep.status == "pending"
)
register_employee_reference(
    PaymentNotice.assignee_id,
    open_records=lambda: PaymentNotice.acknowledged_at.is_(None),
)
