"""The tenant's action types: the kinds of step its plans are made of."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import Conflict, NotFound, ValidationFailed
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of
from crm_api.plans import repository
from crm_api.plans.models import ActionType
from crm_api.plans.schemas import (
    ActionTypeCreate,
    ActionTypeRead,
    ActionTypeUpdate,
    Direction,
)

logger = structlog.get_logger(__name__)

NAME_TAKEN = {
    "uq_action_types_tenant_name": ("name", "Another action type has this name.")
}


async def list_action_types(
    session: AsyncSession,
    params: PageParams,
    *,
    active: bool | None,
    direction: Direction | None,
) -> tuple[list[ActionType], str | None]:
    conditions: list[ColumnElement[bool]] = []
    if active is not None:
        conditions.append(ActionType.active.is_(active))
    if direction is not None:
        conditions.append(ActionType.direction == direction)
    rows = await repository.action_types_page(session, conditions, params)
    return page_of(rows, lambda row: (row.id,), params)


async def get_action_type(
    session: AsyncSession, action_type_id: uuid.UUID, *, lock: bool = False
) -> ActionType:
    found = await repository.action_type(session, action_type_id, lock=lock)
    if found is None:
        raise NotFound("No such action type.")
    return found


async def create_action_type(
    session: AsyncSession, data: ActionTypeCreate
) -> ActionType:
    action_type = ActionType(
        tenant_id=current_tenant(session),
        name=data.name,
        direction=data.direction,
        default_offset_days=data.default_offset_days,
        active=data.active,
        description=data.description,
    )
    session.add(action_type)
    await flush_or_conflict(session, NAME_TAKEN)

    record_event(
        session,
        "action_type.created",
        subject_id=action_type.id,
        payload={"name": action_type.name, "direction": action_type.direction},
    )
    logger.info("action_type.created", action_type_id=str(action_type.id))
    return action_type


async def update_action_type(
    session: AsyncSession,
    action_type_id: uuid.UUID,
    data: ActionTypeUpdate,
    *,
    expected_version: int | None,
) -> ActionType:
    """Steps already planned keep the name and direction they were planned with."""
    action_type = await get_action_type(session, action_type_id, lock=True)
    check_version(expected_version, action_type.version)
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "direction", "default_offset_days", "active"):
        if required in changes and changes[required] is None:
            raise ValidationFailed.single(
                required, f"'{required}' cannot be null.", code="required"
            )
    for field, value in changes.items():
        setattr(action_type, field, value)
    await flush_or_conflict(session, NAME_TAKEN)

    record_event(
        session,
        "action_type.updated",
        subject_id=action_type.id,
        payload={"fields": sorted(changes)},
    )
    return action_type


async def delete_action_type(
    session: AsyncSession, action_type_id: uuid.UUID, *, expected_version: int | None
) -> None:
    """Delete a type no plan uses; a type in use is a 409 (deactivate it instead)."""
    action_type = await get_action_type(session, action_type_id, lock=True)
    check_version(expected_version, action_type.version)
    in_use = await repository.count_steps_of_type(session, action_type_id)
    if in_use:
        raise Conflict(
            f"{in_use} plan step(s) use this action type; deactivate it instead "
            "(PATCH with active: false).",
            extra={"plan_steps": in_use, "suggestion": "deactivate"},
        )
    await session.delete(action_type)
    # A step planned meanwhile is caught by the foreign key (answered as a 409).
    await session.flush()

    record_event(
        session,
        "action_type.deleted",
        subject_id=action_type_id,
        payload={"name": action_type.name},
    )
    logger.info("action_type.deleted", action_type_id=str(action_type_id))


def to_read(action_type: ActionType) -> ActionTypeRead:
    return ActionTypeRead.model_validate(action_type)
