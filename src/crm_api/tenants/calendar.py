"""Today on the tenant's own calendar: validity, due dates and order dates are judged
where the tenant lives.

``utc_now`` is the one clock these rules read, so tests move time by replacing it
rather than by waiting.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kernel.db import current_tenant
from crm_api.tenants.models import Tenant


def utc_now() -> datetime:
    return datetime.now(UTC)


def today_in(time_zone: str, *, now: datetime | None = None) -> date:
    """The calendar date in ``time_zone`` at ``now`` (default: this instant)."""
    return (now or utc_now()).astimezone(ZoneInfo(time_zone)).date()


async def tenant_today(session: AsyncSession) -> date:
    tenant = await session.get(Tenant, current_tenant(session))
    if tenant is None:
        raise RuntimeError("the session's tenant does not exist")
    return today_in(tenant.time_zone)
