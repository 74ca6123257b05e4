"""The reminder and dunning sweep: an arq job, run every 15 minutes on every worker.

Per tenant, in one transaction with the tenant set (row-level security), it judges
"today" in the tenant's time zone and inserts, in one set-based statement, a notice
for every open money step of an order in execution that

- falls due within the policy's lead days (``reminder``, level 0): today <= due_on
  <= today + lead days; and, for collection steps (direction ``in``) only,
- is overdue by a dunning level's days (``dunning``, level n): due_on + days[n-1]
  <= today; every level reached gets its notice, so a step first seen 15 days late
  gets levels 1, 2 and 3 at once.

Exactly once per step, kind and level is the database's guarantee, not the job's:
``payment_notices`` has a unique constraint on (step_id, kind, level) and the insert is
``ON CONFLICT DO NOTHING ... RETURNING``, so a second run, or a second worker racing
the first, inserts nothing for a notice that exists (a racing insert waits for the
first transaction and then skips). The outbox events (``payment.due_soon``,
``payment.overdue``) are inserted in the same statement from the rows actually
returned, so an event exists exactly when its notice does, and both commit or roll
back together. Rows are inserted in (step, kind, level) order, so two racing
sweeps wait on each other in the same order and cannot deadlock.

On top of that, a tenant being swept by one worker is skipped by the others
(``pg_try_advisory_xact_lock``): three workers then share the tenants instead of
repeating each other's work. That is an economy only; correctness never depends on it
(``exclusive=False`` turns it off, as the tests do to race the constraint itself).

NOTE: the sweep reads steps without locking them (locking every due step each run
would write to thousands of rows every 15 minutes), so a receipt committed in the
same instant as a sweep can still leave that sweep's notice for the step, showing
what was outstanding in the sweep's snapshot. Taking the steps FOR SHARE SKIP LOCKED
would close that at the cost of those writes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_api.kernel.db import set_tenant
from crm_api.plans import policy
from crm_api.tenants.calendar import today_in
from crm_api.tenants.models import Tenant

logger = structlog.get_logger(__name__)

# "swep": the kind half of the per-tenant advisory lock (see organisation's locks).
_SWEEP_LOCK = 0x73776570

# The statement the sweep runs per tenant. Parameters: tenant_id, today, horizon
# (today + lead days), lead_days, dunning_days (an array: days after due per level).
SWEEP_SQL = """
WITH open_steps AS (
    SELECT s.id, s.tenant_id, s.order_id, s.direction, s.due_on,
           s.amount - s.received AS outstanding, s.assignee_id, o.currency
    FROM plan_steps s
    JOIN orders o ON o.tenant_id = s.tenant_id AND o.id = s.order_id
    WHERE s.tenant_id = CAST(:tenant_id AS uuid)
      AND s.status = 'pending'
      AND s.direction <> 'none'
      AND s.due_on <= CAST(:horizon AS date)
      AND o.status = 'in_execution'
),
due AS (
    SELECT s.*, 'reminder' AS kind, 0 AS level, CAST(:lead_days AS integer) AS days
    FROM open_steps s
    WHERE s.due_on >= CAST(:today AS date)
    UNION ALL
    SELECT s.*, 'dunning', CAST(l.level AS integer), l.days
    FROM open_steps s
    CROSS JOIN unnest(CAST(:dunning_days AS integer[])) WITH ORDINALITY AS l(days, level)
    WHERE s.direction = 'in' AND s.due_on + l.days <= CAST(:today AS date)
),
inserted AS (
    INSERT INTO payment_notices (id, tenant_id, order_id, step_id, kind, level, days,
                                 due_on, amount, currency, assignee_id, notice_on)
    SELECT crm_uuid7(), d.tenant_id, d.order_id, d.id, d.kind, d.level, d.days,
           d.due_on, d.outstanding, d.currency, d.assignee_id, CAST(:today AS date)
    FROM due d
    ORDER BY d.id, d.kind, d.level
    ON CONFLICT (step_id, kind, level) DO NOTHING
    RETURNING id, tenant_id, order_id, step_id, kind, level, days, due_on, amount,
              currency, assignee_id, notice_on
),
events AS (
    INSERT INTO outbox_events (id, tenant_id, type, subject_id, payload)
    SELECT crm_uuid7(), n.tenant_id,
           CASE n.kind WHEN 'reminder' THEN 'payment.due_soon'
                ELSE 'payment.overdue' END,
           n.order_id,
           jsonb_build_object(
               'notice_id', n.id, 'step_id', n.step_id, 'kind', n.kind,
               'level', n.level, 'days', n.days, 'due_on', n.due_on,
               'amount', CAST(n.amount AS text), 'currency', n.currency,
               'assignee_id', n.assignee_id, 'notice_on', n.notice_on)
    FROM inserted n
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted WHERE kind = 'reminder') AS reminders,
       (SELECT count(*) FROM inserted WHERE kind = 'dunning') AS dunning,
       (SELECT count(*) FROM events) AS events
"""


@dataclass
class TenantSweep:
    tenant_id: uuid.UUID
    today: date | None = None
    reminders: int = 0
    dunning: int = 0
    # Another worker held the tenant's sweep lock, so this one left it to them.
    busy: bool = False


@dataclass
class SweepResult:
    tenants: int = 0
    reminders: int = 0
    dunning: int = 0
    busy: int = 0
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenants": self.tenants,
            "reminders": self.reminders,
            "dunning": self.dunning,
            "busy": self.busy,
            "failed": len(self.failed),
        }


async def _claim(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    tenant_key = int.from_bytes(tenant_id.bytes[-4:], signed=True)
    claimed = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:kind, :tenant_key)"),
        {"kind": _SWEEP_LOCK, "tenant_key": tenant_key},
    )
    return bool(claimed)


async def sweep_tenant(
    session: AsyncSession, tenant_id: uuid.UUID, *, exclusive: bool = True
) -> TenantSweep:
    """Make the tenant's due notices, in the session's current transaction (the
    caller commits)."""
    await set_tenant(session, tenant_id)
    outcome = TenantSweep(tenant_id)
    if exclusive and not await _claim(session, tenant_id):
        outcome.busy = True
        return outcome
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:  # deleted since the list of tenants was read
        return outcome
    rules = await policy.current(session, tenant_id)
    today = today_in(tenant.time_zone)
    row = (
        await session.execute(
            text(SWEEP_SQL),
            {
                "tenant_id": str(tenant_id),
                "today": today,
                "horizon": today + timedelta(days=rules.reminder_lead_days),
                "lead_days": rules.reminder_lead_days,
                "dunning_days": list(rules.dunning_days),
            },
        )
    ).one()
    if row.events != row.reminders + row.dunning:
        raise RuntimeError("the sweep's events do not match its notices")
    outcome.today = today
    outcome.reminders, outcome.dunning = int(row.reminders), int(row.dunning)
    return outcome


async def tenant_ids(sessionmaker: async_sessionmaker[AsyncSession]) -> list[uuid.UUID]:
    async with sessionmaker() as session:
        rows = await session.scalars(text("SELECT crm_tenant_ids()"))
        return list(rows)


async def sweep(ctx: dict[str, Any], *, exclusive: bool = True) -> dict[str, Any]:
    """The arq job: every tenant in its own transaction. A tenant that fails is
    logged and left for the next run; the others go on."""
    sessionmaker: async_sessionmaker[AsyncSession] = ctx["sessionmaker"]
    result = SweepResult()
    for tenant_id in await tenant_ids(sessionmaker):
        try:
            async with sessionmaker() as session, session.begin():
                outcome = await sweep_tenant(session, tenant_id, exclusive=exclusive)
        except SQLAlchemyError as error:
            logger.error(
                "payment.sweep_failed", tenant_id=str(tenant_id), error=repr(error)
            )
            result.failed.append(str(tenant_id))
            continue
        result.tenants += 1
        result.busy += outcome.busy
        result.reminders += outcome.reminders
        result.dunning += outcome.dunning
        if outcome.reminders or outcome.dunning:
            logger.info(
                "payment.notices_made",
                tenant_id=str(tenant_id),
                today=str(outcome.today),
                reminders=outcome.reminders,
                dunning=outcome.dunning,
            )
    logger.info("payment.swept", **result.as_dict())
    return result.as_dict()
