"""Orders carry the calendar date they were placed (``ordered_on``).

Orders entered through the API are dated on the tenant's calendar the day they are
created; historical imports bring their own date. Existing orders get the date of
their ``created_at`` in their tenant's time zone.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("ordered_on", sa.Date()))
    # The owner runs migrations and is not subject to row-level security.
    op.execute(
        """
        UPDATE orders SET ordered_on = (orders.created_at AT TIME ZONE t.time_zone)::date
        FROM tenants t WHERE t.id = orders.tenant_id
        """
    )
    op.alter_column("orders", "ordered_on", nullable=False)
    op.create_index(
        "ix_orders_tenant_ordered_on", "orders", ["tenant_id", "ordered_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_orders_tenant_ordered_on", table_name="orders")
    op.drop_column("orders", "ordered_on")
