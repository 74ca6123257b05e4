"""The tenant's approval rules: which orders need approval, and by whom."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import BUILTIN_ROLES
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.errors import FieldError, NotFound, ValidationFailed
from crm_api.kernel.money import fits_currency, minor_units, round_money
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of
from crm_api.orders import repository
from crm_api.orders.content import plain, tenant_of
from crm_api.orders.models import ApprovalRule
from crm_api.orders.schemas import (
    ApprovalLevel,
    ApprovalLevelRead,
    ApprovalRuleCreate,
    ApprovalRuleRead,
    ApprovalRuleUpdate,
    RuleConditions,
    RuleConditionsRead,
)

logger = structlog.get_logger(__name__)


async def list_rules(
    session: AsyncSession, params: PageParams, *, active: bool | None
) -> tuple[list[ApprovalRule], str | None]:
    conditions: list[ColumnElement[bool]] = []
    if active is not None:
        conditions.append(ApprovalRule.active.is_(active))
    rows = await repository.rules_page(session, conditions, params)
    return page_of(rows, lambda rule: (rule.id,), params)


async def get_rule(
    session: AsyncSession, rule_id: uuid.UUID, *, lock: bool = False
) -> ApprovalRule:
    rule = await repository.rule(session, rule_id, lock=lock)
    if rule is None:
        raise NotFound("No such approval rule.")
    return rule


async def _levels(
    session: AsyncSession, levels: Sequence[ApprovalLevel]
) -> list[list[str]]:
    """Each level's roles, de-duplicated; every key must name a role of the tenant."""
    keys = sorted({key for level in levels for key in level.roles})
    known = set(BUILTIN_ROLES) | await repository.tenant_role_keys(
        session, [key for key in keys if key not in BUILTIN_ROLES]
    )
    errors = [
        FieldError(
            field=f"levels.{index}.roles.{position}",
            location="body",
            code="unknown_role",
            message=f"No role '{key}' in this tenant.",
        )
        for index, level in enumerate(levels)
        for position, key in enumerate(level.roles)
        if key not in known
    ]
    if errors:
        raise ValidationFailed("Approval levels name unknown roles.", errors=errors)
    return [sorted(set(level.roles)) for level in levels]


def _apply_conditions(
    rule: ApprovalRule, conditions: RuleConditions, currency: str
) -> None:
    amount = conditions.min_total_gross
    if amount is not None:
        if not fits_currency(amount, currency):
            raise ValidationFailed.single(
                "conditions.min_total_gross",
                f"{currency} amounts have at most {minor_units(currency)} decimal "
                "places.",
                code="too_many_decimals",
            )
        amount = round_money(amount, currency)
    rule.min_total_gross = amount
    discount = conditions.min_line_discount_percent
    rule.min_line_discount_percent = None if discount is None else plain(discount)
    rule.customer_levels = (
        None
        if conditions.customer_levels is None
        else sorted(set(conditions.customer_levels))
    )


async def create_rule(session: AsyncSession, data: ApprovalRuleCreate) -> ApprovalRule:
    tenant = await tenant_of(session)
    rule = ApprovalRule(
        tenant_id=tenant.id,
        name=data.name,
        active=data.active,
        currency=tenant.default_currency,
        levels=await _levels(session, data.levels),
    )
    _apply_conditions(rule, data.conditions, rule.currency)
    session.add(rule)
    await session.flush()
    record_event(
        session,
        "approval_rule.created",
        subject_id=rule.id,
        payload={"name": rule.name},
    )
    logger.info("approval_rule.created", rule_id=str(rule.id))
    return rule


async def update_rule(
    session: AsyncSession,
    rule_id: uuid.UUID,
    data: ApprovalRuleUpdate,
    *,
    expected_version: int | None,
) -> ApprovalRule:
    rule = await get_rule(session, rule_id, lock=True)
    check_version(expected_version, rule.version)
    changes = data.model_fields_set
    for required in ("name", "active", "conditions", "levels"):
        if required in changes and getattr(data, required) is None:
            raise ValidationFailed.single(required, f"'{required}' cannot be null.")
    if data.name is not None:
        rule.name = data.name
    if data.active is not None:
        rule.active = data.active
    if data.conditions is not None:
        _apply_conditions(rule, data.conditions, rule.currency)
    if data.levels is not None:
        rule.levels = await _levels(session, data.levels)
    await session.flush()
    record_event(
        session,
        "approval_rule.updated",
        subject_id=rule.id,
        payload={"fields": sorted(changes)},
    )
    return rule


async def delete_rule(
    session: AsyncSession, rule_id: uuid.UUID, *, expected_version: int | None
) -> None:
    """Orders already awaiting approval keep the levels they were submitted with."""
    rule = await get_rule(session, rule_id, lock=True)
    check_version(expected_version, rule.version)
    await session.delete(rule)
    await session.flush()
    record_event(
        session,
        "approval_rule.deleted",
        subject_id=rule_id,
        payload={"name": rule.name},
    )


def to_read(rule: ApprovalRule) -> ApprovalRuleRead:
    return ApprovalRuleRead(
        id=rule.id,
        name=rule.name,
        active=rule.active,
        currency=rule.currency,
        conditions=RuleConditionsRead(
            min_total_gross=rule.min_total_gross,
            min_line_discount_percent=rule.min_line_discount_percent,
            customer_levels=rule.customer_levels,
        ),
        levels=[ApprovalLevelRead(roles=list(roles)) for roles in rule.levels],
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )
