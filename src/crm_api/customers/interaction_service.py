"""Interactions: the customer's history, newest first, growing with every touch."""

from __future__ import annotations

import uuid
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.customers import repository
from crm_api.customers.models import Interaction
from crm_api.customers.schemas import InteractionCreate
from crm_api.customers.service import get_visible_customer
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import FieldError, NotFound, ValidationFailed
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of


async def timeline(
    session: AsyncSession, actor: Principal, customer_id: uuid.UUID, params: PageParams
) -> tuple[list[Interaction], str | None]:
    await get_visible_customer(session, actor, customer_id)
    rows = await repository.timeline(session, customer_id, params)
    return page_of(rows, lambda item: (item.occurred_at, item.id), params)


async def record_interaction(
    session: AsyncSession,
    customer_id: uuid.UUID,
    data: InteractionCreate,
    *,
    actor: Principal,
) -> Interaction:
    customer = await get_visible_customer(
        session, actor, customer_id, permission="customers:write"
    )
    if data.contact_id is not None:
        contact = await repository.contact(session, customer.id, data.contact_id)
        if contact is None:
            raise ValidationFailed(
                "The contact does not belong to this customer.",
                errors=[
                    FieldError(
                        field="contact_id",
                        location="body",
                        code="not_found",
                        message="No such contact at this customer",
                    )
                ],
            )
    interaction = Interaction(
        tenant_id=current_tenant(session),
        customer_id=customer.id,
        contact_id=data.contact_id,
        user_id=actor.user_id,
        kind=data.kind,
        occurred_at=data.occurred_at.astimezone(UTC),
        summary=data.summary,
    )
    session.add(interaction)
    await session.flush()
    record_event(
        session,
        "interaction.recorded",
        subject_id=interaction.id,
        payload={"customer_id": str(customer.id), "kind": data.kind},
    )
    return interaction


async def get_interaction(
    session: AsyncSession,
    actor: Principal,
    customer_id: uuid.UUID,
    interaction_id: uuid.UUID,
) -> Interaction:
    await get_visible_customer(session, actor, customer_id)
    item = await session.get(Interaction, interaction_id)
    if item is None or item.customer_id != customer_id:
        raise NotFound("No such interaction at this customer.")
    return item
