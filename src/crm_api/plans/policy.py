"""The tenant's payment reminder policy: lead days for reminders, days after the due
date for each dunning level. Without a row of its own a tenant has the defaults."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.plans import repository
from crm_api.plans.models import PaymentReminderPolicy
from crm_api.plans.schemas import ReminderPolicyRead, ReminderPolicyReplace

logger = structlog.get_logger(__name__)

DEFAULT_LEAD_DAYS = 3
DEFAULT_DUNNING_DAYS = (1, 7, 14)
_RACE = (
    "reminder_lead_days",
    "The policy was set by someone else at the same moment; read it again.",
)
# The migration lets PostgreSQL name the primary key; the models' convention differs.
ONE_POLICY = {
    "payment_reminder_policies_pkey": _RACE,
    "pk_payment_reminder_policies": _RACE,
}


@dataclass(frozen=True)
class Policy:
    reminder_lead_days: int
    dunning_days: tuple[int, ...]
    # 0 while the defaults apply: the ETag a first PUT names with If-Match.
    version: int
    updated_at: datetime | None

    @property
    def is_default(self) -> bool:
        return self.version == 0


DEFAULT = Policy(DEFAULT_LEAD_DAYS, DEFAULT_DUNNING_DAYS, 0, None)


def _policy(row: PaymentReminderPolicy | None) -> Policy:
    if row is None:
        return DEFAULT
    return Policy(
        reminder_lead_days=row.reminder_lead_days,
        dunning_days=tuple(row.dunning_days),
        version=row.version,
        updated_at=row.updated_at,
    )


async def current(session: AsyncSession, tenant_id: uuid.UUID) -> Policy:
    return _policy(await repository.policy(session, tenant_id))


async def replace(
    session: AsyncSession,
    principal: Principal,
    data: ReminderPolicyReplace,
    *,
    expected_version: int | None,
) -> Policy:
    """Set the policy. Notices already made stay; a level is its position in the
    list, so a level already produced for a step is not produced again."""
    row = await repository.policy(session, principal.tenant_id, lock=True)
    check_version(expected_version, row.version if row else 0)
    if row is None:
        row = PaymentReminderPolicy(
            tenant_id=principal.tenant_id,
            reminder_lead_days=data.reminder_lead_days,
            dunning_days=list(data.dunning_days),
            updated_by=principal.user_id,
        )
        session.add(row)
    else:
        row.reminder_lead_days = data.reminder_lead_days
        row.dunning_days = list(data.dunning_days)
        row.updated_by = principal.user_id
    await flush_or_conflict(session, ONE_POLICY)

    record_event(
        session,
        "payment_reminder_policy.updated",
        subject_id=None,
        payload={
            "reminder_lead_days": row.reminder_lead_days,
            "dunning_days": list(row.dunning_days),
        },
    )
    logger.info(
        "payment_reminder_policy.updated",
        reminder_lead_days=row.reminder_lead_days,
        dunning_days=list(row.dunning_days),
    )
    return _policy(row)


def to_read(policy: Policy) -> ReminderPolicyRead:
    return ReminderPolicyRead(
        reminder_lead_days=policy.reminder_lead_days,
        dunning_days=list(policy.dunning_days),
        is_default=policy.is_default,
        updated_at=policy.updated_at,
    )
