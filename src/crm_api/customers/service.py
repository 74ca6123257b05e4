"""Customers: the shared record everyone reads, with duplicates caught and merged."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.custom_attributes.filters import custom_fields
from crm_api.custom_attributes.values import (
    load_definitions,
    region_of_locale,
)
from crm_api.customers import repository
from crm_api.customers.keys import email_key, name_key, phone_key
from crm_api.customers.models import Customer, CustomerMerge
from crm_api.customers.schemas import (
    AddressRead,
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    DuplicateCandidate,
)
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import (
    BusinessRuleViolated,
    Conflict,
    NotFound,
    refuse_nulls,
)
from crm_api.kernel.filtering import FilterField, build_filters, build_sort, resolver
from crm_api.kernel.ids import new_id
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, SortKey, page_of
from crm_api.organisation.visibility import assign
from crm_api.tenants.models import Tenant

logger = structlog.get_logger(__name__)

CODE_TAKEN = {"uq_customers_tenant_code": ("code", "Another customer has this code.")}
RESERVED_PARAMS = frozenset({"limit", "cursor", "sort", "q"})
_ADDRESS_FIELDS = ("street", "city", "region", "postal_code", "country")


async def _region(session: AsyncSession) -> str | None:
    tenant = await session.get(Tenant, current_tenant(session))
    return region_of_locale(tenant.locale) if tenant is not None else None


@dataclass(frozen=True)
class ListQuery:
    """What a customer list selects: conditions, ordering and the joins they need."""

    conditions: list[ColumnElement[bool]]
    keys: list[SortKey]
    joins: list[tuple[Any, ColumnElement[bool]]]


async def list_query(
    session: AsyncSession,
    principal: Principal,
    params: list[tuple[str, str]],
    *,
    q: str | None,
    sort: str | None,
) -> ListQuery:
    """Conditions, ordering and joins for a customer list from its query parameters,
    within what ``principal`` may read."""
    definitions = await load_definitions(session, "customer", for_write=False)
    used: dict[str, FilterField] = {}
    base = resolver(
        repository.STANDARD_FIELDS,
        custom_fields(definitions, model=Customer, entity="customer"),
    )

    def resolve(name: str) -> FilterField | None:
        field = base(name)
        if field is not None:
            used[name] = field
        return field

    non_null: set[str] = set()
    conditions = build_filters(
        params, resolve, reserved=RESERVED_PARAMS, non_null=non_null
    )
    if q:
        conditions.append(repository.name_search(q))
    conditions.append(repository.customer_visibility(principal, "customers:read"))
    keys = build_sort(sort, resolve, id_column=Customer.id, non_null=non_null)
    joins = {name: f.join for name, f in used.items() if f.join is not None}
    return ListQuery(conditions, keys, list(joins.values()))


async def list_customers(
    session: AsyncSession,
    principal: Principal,
    params: list[tuple[str, str]],
    page: PageParams,
    *,
    q: str | None,
    sort: str | None,
) -> tuple[list[Customer], str | None]:
    query = await list_query(session, principal, params, q=q, sort=sort)
    rows = await repository.page(
        session, query.conditions, query.keys, query.joins, page
    )
    kept, next_cursor = page_of(rows, lambda row: tuple(row[1:]), page)
    return [row[0] for row in kept], next_cursor


async def count_customers(
    session: AsyncSession,
    principal: Principal,
    params: list[tuple[str, str]],
    *,
    q: str | None,
) -> int:
    query = await list_query(session, principal, params, q=q, sort=None)
    return await repository.count(session, query.conditions, query.joins)


async def get_visible_customer(
    session: AsyncSession,
    principal: Principal,
    customer_id: uuid.UUID,
    *,
    permission: str = "customers:read",
    lock: bool = False,
) -> Customer:
    """The customer if ``principal`` reaches it with ``permission``; a customer outside
    the caller's scope is a 404 exactly like one that does not exist."""
    visible = repository.customer_visibility(principal, permission)
    customer = await repository.get(session, customer_id, visible, lock=lock)
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def _candidates(
    rows: list[Customer], keys: dict[str, str | None]
) -> list[dict[str, Any]]:
    found = []
    for row in rows:
        matched = [
            field
            for field, value in (
                ("name", keys["name"]),
                ("phone", keys["phone"]),
                ("email", keys["email"]),
            )
            if value and getattr(row, f"{field}_key") == value
        ]
        found.append(
            DuplicateCandidate(
                id=row.id, code=row.code, name=row.name, matched_on=matched
            ).model_dump(mode="json")
        )
    return found


def _apply_keys(customer: Customer, region: str | None) -> dict[str, str | None]:
    customer.name_key = name_key(customer.name)
    customer.phone_key = phone_key(customer.phone, region=region)
    customer.email_key = email_key(customer.email)
    return {
        "name": customer.name_key,
        "phone": customer.phone_key,
        "email": customer.email_key,
    }


async def create_customer(
    session: AsyncSession,
    data: CustomerCreate,
    *,
    actor: Principal,
    allow_duplicate: bool = False,
) -> Customer:
    definitions = await load_definitions(session, "customer")
    custom = definitions.validate_create(data.custom)
    fields = data.model_dump(exclude={"address", "custom", "code"})
    customer = Customer(
        id=new_id(),
        tenant_id=current_tenant(session),
        code=data.code or "",
        custom=custom,
        **fields,
        **data.address.model_dump(),
    )
    if not customer.code:
        customer.code = f"C-{customer.id.hex[-10:].upper()}"
    customer.owner_id, customer.department_id = await assign(
        session,
        actor,
        "customers:write",
        owner_id=data.owner_id,
        department_id=data.department_id,
    )
    keys = _apply_keys(customer, await _region(session))
    if not allow_duplicate:
        # Two requests creating the same customer at once would both see no match.
        await repository.lock_duplicate_keys(
            session, (keys["name"], keys["phone"], keys["email"])
        )
        matches, hidden = await repository.duplicates(
            session,
            name_key=keys["name"] or "",
            phone_key=keys["phone"],
            email_key=keys["email"],
            visible=repository.customer_visibility(actor, "customers:read"),
        )
        if matches or hidden:
            raise Conflict(
                "A customer with the same name, phone or email exists; resend with "
                "allow_duplicate=true to create it anyway, or merge.",
                # Customers outside the caller's scope are counted, never shown.
                extra={
                    "duplicates": _candidates(matches, keys),
                    "hidden_duplicates": hidden,
                },
            )
    session.add(customer)
    await flush_or_conflict(session, CODE_TAKEN)
    record_event(
        session,
        "customer.created",
        subject_id=customer.id,
        payload={"code": customer.code, "name": customer.name},
    )
    logger.info("customer.created", customer_id=str(customer.id))
    return customer


async def update_customer(
    session: AsyncSession,
    actor: Principal,
    customer_id: uuid.UUID,
    data: CustomerUpdate,
    *,
    expected_version: int | None,
) -> Customer:
    customer = await get_visible_customer(
        session, actor, customer_id, permission="customers:write", lock=True
    )
    check_version(expected_version, customer.version)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(
        changes, ("code", "kind", "name", "status", "owner_id", "department_id")
    )
    if "custom" in changes:
        definitions = await load_definitions(session, "customer")
        customer.custom = definitions.validate_update(
            customer.custom, changes.pop("custom") or {}
        )
    address = changes.pop("address", None)
    if address is not None:
        for field in _ADDRESS_FIELDS:
            if field in address:
                setattr(customer, field, address[field])
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    if "owner_id" in changes or "department_id" in changes:
        # A new owner brings their department unless one is named.
        changes["owner_id"], changes["department_id"] = await assign(
            session,
            actor,
            "customers:write",
            owner_id=changes.get("owner_id", customer.owner_id),
            department_id=changes.get("department_id"),
        )
    for field, value in changes.items():
        setattr(customer, field, value)
    _apply_keys(customer, await _region(session))
    await flush_or_conflict(session, CODE_TAKEN)
    record_event(
        session,
        "customer.updated",
        subject_id=customer.id,
        payload={"fields": sorted(data.model_fields_set)},
    )
    return customer


async def delete_customer(
    session: AsyncSession,
    actor: Principal,
    customer_id: uuid.UUID,
    *,
    expected_version: int | None,
) -> None:
    customer = await get_visible_customer(
        session, actor, customer_id, permission="customers:write", lock=True
    )
    check_version(expected_version, customer.version)
    await session.delete(customer)
    await session.flush()
    record_event(
        session,
        "customer.deleted",
        subject_id=customer_id,
        payload={"code": customer.code},
    )


async def merge(
    session: AsyncSession,
    survivor_id: uuid.UUID,
    duplicate_id: uuid.UUID,
    *,
    actor: Principal,
    expected_version: int | None,
) -> CustomerMerge:
    """Fold ``duplicate_id`` into ``survivor_id`` in one transaction and record it."""
    if survivor_id == duplicate_id:
        raise BusinessRuleViolated("A customer cannot be merged into itself.")
    # Lock both rows in a fixed order so two opposite merges cannot deadlock.
    first, second = sorted((survivor_id, duplicate_id))
    writable = repository.customer_visibility(actor, "customers:write")
    locked = {first: await repository.get(session, first, writable, lock=True)}
    locked[second] = await repository.get(session, second, writable, lock=True)
    survivor, duplicate = locked[survivor_id], locked[duplicate_id]
    if survivor is None or duplicate is None:
        raise NotFound("No such customer.")
    check_version(expected_version, survivor.version)

    snapshot = to_read(duplicate).model_dump(mode="json")
    survivor_primary = await repository.primary_contact(session, survivor.id)
    if survivor_primary is not None:
        await repository.clear_primary(session, duplicate.id)
    moved = await repository.move_references(
        session, from_id=duplicate.id, to_id=survivor.id
    )

    for field in ("level", "industry", "source", "phone", "email", "website",
                  *_ADDRESS_FIELDS):  # fmt: skip
        if getattr(survivor, field) is None and getattr(duplicate, field) is not None:
            setattr(survivor, field, getattr(duplicate, field))
    survivor.tags = sorted(set(survivor.tags) | set(duplicate.tags))
    survivor.custom = {**duplicate.custom, **survivor.custom}
    _apply_keys(survivor, await _region(session))

    record = CustomerMerge(
        tenant_id=current_tenant(session),
        survivor_id=survivor.id,
        merged_id=duplicate.id,
        merged_snapshot=snapshot,
        moved=moved,
        merged_by=actor.user_id,
    )
    session.add(record)
    await session.delete(duplicate)
    await session.flush()
    record_event(
        session,
        "customer.merged",
        subject_id=survivor.id,
        payload={"merged_id": str(duplicate.id), "moved": moved},
    )
    logger.info(
        "customer.merged", survivor_id=str(survivor.id), merged_id=str(duplicate.id)
    )
    return record


def to_read(customer: Customer) -> CustomerRead:
    return CustomerRead(
        id=customer.id,
        code=customer.code,
        kind=customer.kind,
        name=customer.name,
        level=customer.level,
        industry=customer.industry,
        source=customer.source,
        status=customer.status,
        owner_id=customer.owner_id,
        department_id=customer.department_id,
        phone=customer.phone,
        email=customer.email,
        website=customer.website,
        address=AddressRead(
            street=customer.street,
            city=customer.city,
            region=customer.region,
            postal_code=customer.postal_code,
            country=customer.country,
        ),
        tags=list(customer.tags),
        custom=dict(customer.custom),
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )
