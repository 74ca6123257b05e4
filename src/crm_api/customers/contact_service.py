"""Contacts: the people at a customer, at most one of them primary."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.custom_attributes.values import load_definitions
from crm_api.customers import repository
from crm_api.customers.models import Contact
from crm_api.customers.schemas import ContactCreate, ContactUpdate
from crm_api.customers.service import get_visible_customer
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import NotFound, refuse_nulls
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of


async def list_contacts(
    session: AsyncSession,
    actor: Principal,
    customer_id: uuid.UUID,
    params: PageParams,
) -> tuple[list[Contact], str | None]:
    await get_visible_customer(session, actor, customer_id)
    rows = await repository.contacts_of(session, customer_id, params)
    return page_of(rows, lambda contact: (contact.id,), params)


async def get_contact(
    session: AsyncSession,
    actor: Principal,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    *,
    lock: bool = False,
    lock_customer: bool = False,
) -> Contact:
    """A contact of a customer the caller reaches (with write scope when locking);
    ``lock_customer`` also holds the customer (its contacts change primary in turn)."""
    permission = "customers:write" if lock else "customers:read"
    await get_visible_customer(
        session, actor, customer_id, permission=permission, lock=lock_customer
    )
    contact = await repository.contact(session, customer_id, contact_id, lock=lock)
    if contact is None:
        raise NotFound("No such contact at this customer.")
    return contact


async def create_contact(
    session: AsyncSession, actor: Principal, customer_id: uuid.UUID, data: ContactCreate
) -> Contact:
    # Locked: contacts of one customer change primary one writer at a time.
    customer = await get_visible_customer(
        session, actor, customer_id, permission="customers:write", lock=data.is_primary
    )
    definitions = await load_definitions(session, "contact")
    if data.is_primary:
        await repository.clear_primary(session, customer.id)
    contact = Contact(
        tenant_id=current_tenant(session),
        customer_id=customer.id,
        custom=definitions.validate_create(data.custom),
        **data.model_dump(exclude={"custom"}),
    )
    session.add(contact)
    await session.flush()
    record_event(
        session,
        "contact.created",
        subject_id=contact.id,
        payload={"customer_id": str(customer.id)},
    )
    return contact


async def update_contact(
    session: AsyncSession,
    actor: Principal,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    data: ContactUpdate,
    *,
    expected_version: int | None,
) -> Contact:
    contact = await get_contact(
        session,
        actor,
        customer_id,
        contact_id,
        lock=True,
        lock_customer=bool(data.is_primary),
    )
    check_version(expected_version, contact.version)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("name",))
    if changes.get("is_primary") and not contact.is_primary:
        await repository.clear_primary(session, customer_id)
    if "is_primary" in changes and changes["is_primary"] is None:
        changes["is_primary"] = False
    if "custom" in changes:
        definitions = await load_definitions(session, "contact")
        contact.custom = definitions.validate_update(
            contact.custom, changes.pop("custom") or {}
        )
    for field, value in changes.items():
        setattr(contact, field, value)
    await session.flush()
    record_event(
        session,
        "contact.updated",
        subject_id=contact.id,
        payload={"fields": sorted(data.model_fields_set)},
    )
    return contact


async def delete_contact(
    session: AsyncSession,
    actor: Principal,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    *,
    expected_version: int | None,
) -> None:
    contact = await get_contact(session, actor, customer_id, contact_id, lock=True)
    check_version(expected_version, contact.version)
    await session.delete(contact)
    await session.flush()
    record_event(
        session,
        "contact.deleted",
        subject_id=contact_id,
        payload={"customer_id": str(customer_id)},
    )
