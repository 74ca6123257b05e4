"""Today on the tenant's own calendar: due dates are judged where the tenant lives.

``utc_now`` is the one clock plans, receipts and the reminder sweep read, so tests
move time by replacing it rather than by waiting.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kernel.db import current_tenant
from crm_api.tenants.models import Tenant


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_today(time_zone: str) -> date:
    """The calendar date in ``time_zone`` at this instant (as ``utc_now`` tells it)."""
    return utc_now().astimezone(ZoneInfo(time_zone)).date()


async def tenant_today(session: AsyncSession) -> date:
    tenant = await session.get(Tenant, current_tenant(session))
    if tenant is None:
        raise RuntimeError("the session's tenant does not exist")
    return local_today(tenant.time_zone)
