from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from crm_api.auth.dependencies import Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.customers import contact_service, export, interaction_service, service
from crm_api.customers.schemas import (
    ContactCreate,
    ContactRead,
    ContactUpdate,
    CustomerCount,
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    InteractionCreate,
    InteractionRead,
    MergeRead,
    MergeRequest,
)
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import Session, get_resources
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.resources import Resources
from crm_api.kernel.routing import CrmRoute

router = APIRouter(prefix="/customers", tags=["customers"], route_class=CrmRoute)

CanRead = Annotated[Principal, Depends(require("customers:read"))]
CanWrite = Annotated[Principal, Depends(require("customers:write"))]
IfMatch = Annotated[int | None, Depends(if_match_header)]
Paging = Annotated[PageParams, Depends(page_params)]
SearchText = Annotated[
    str | None,
    Query(max_length=200, description="Case-insensitive substring of the name."),
]
SortParam = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Comma-separated fields, `-` for descending, e.g. `-custom.revenue,name`.",
    ),
]
FILTER_HELP = (
    "Filters are further query parameters: `field=value` or `field[op]=value` with op "
    "in eq, ne, lt, lte, gt, gte, in, contains, like, exists; standard fields and "
    "`custom.<key>` alike, compared by type."
)


def _filters(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


@router.get("", operation_id="customers_list", description=FILTER_HELP)
async def list_customers(
    request: Request,
    session: Session,
    actor: CanRead,
    page: Paging,
    q: SearchText = None,
    sort: SortParam = None,
) -> Page[CustomerRead]:
    """List the customers within the caller's scope, filtered and sorted."""
    customers, next_cursor = await service.list_customers(
        session, actor, _filters(request), page, q=q, sort=sort
    )
    return Page(items=[service.to_read(c) for c in customers], next_cursor=next_cursor)


@router.get("/count", operation_id="customers_count", description=FILTER_HELP)
async def count_customers(
    request: Request, session: Session, actor: CanRead, q: SearchText = None
) -> CustomerCount:
    """Count the customers a list with the same filters would return."""
    total = await service.count_customers(session, actor, _filters(request), q=q)
    return CustomerCount(count=total)


@router.get(
    "/export",
    operation_id="customers_export",
    description=FILTER_HELP,
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "CSV, one customer a row."}
    },
)
async def export_customers(
    request: Request,
    session: Session,
    principal: CanRead,
    resources: Annotated[Resources, Depends(get_resources)],
    q: SearchText = None,
    sort: SortParam = None,
    bom: Annotated[
        bool, Query(description="Start with a UTF-8 BOM (for Excel).")
    ] = False,
) -> StreamingResponse:
    """Stream the filtered customer list as CSV (UTF-8)."""
    params = [(k, v) for k, v in _filters(request) if k != "bom"]
    # Validate filters now, so a bad one is a 422 rather than a broken download.
    await service.list_query(session, principal, params, q=q, sort=sort)

    rows = export.stream_csv(
        resources, principal=principal, params=params, q=q, sort=sort, bom=bom
    )
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="customers_create",
    dependencies=[Idempotent],
)
async def create_customer(
    data: CustomerCreate,
    session: Session,
    actor: CanWrite,
    response: Response,
    allow_duplicate: Annotated[
        bool, Query(description="Create even if a likely duplicate exists.")
    ] = False,
) -> CustomerRead:
    """Create a customer; a likely duplicate is a 409 listing the candidates."""
    customer = await service.create_customer(
        session, data, actor=actor, allow_duplicate=allow_duplicate
    )

    set_etag(response, customer.version)
    response.headers["Location"] = f"/api/v1/customers/{customer.id}"
    return service.to_read(customer)


@router.get("/{customer_id}", operation_id="customers_get")
async def get_customer(
    customer_id: uuid.UUID, session: Session, actor: CanRead, response: Response
) -> CustomerRead:
    """Read one customer (404 when outside the caller's scope)."""
    customer = await service.get_visible_customer(session, actor, customer_id)

    set_etag(response, customer.version)
    return service.to_read(customer)


@router.patch("/{customer_id}", operation_id="customers_update")
async def update_customer(
    customer_id: uuid.UUID,
    data: CustomerUpdate,
    session: Session,
    actor: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> CustomerRead:
    """Change a customer; `custom` merges key by key and null removes a key."""
    customer = await service.update_customer(
        session, actor, customer_id, data, expected_version=expected_version
    )

    set_etag(response, customer.version)
    return service.to_read(customer)


@router.delete(
    "/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="customers_delete",
)
async def delete_customer(
    customer_id: uuid.UUID,
    session: Session,
    actor: CanWrite,
    expected_version: IfMatch,
) -> None:
    """Delete a customer with its contacts and history."""
    await service.delete_customer(
        session, actor, customer_id, expected_version=expected_version
    )


@router.post(
    "/{customer_id}/merge", operation_id="customers_merge", dependencies=[Idempotent]
)
async def merge_customers(
    customer_id: uuid.UUID,
    data: MergeRequest,
    session: Session,
    actor: CanWrite,
    expected_version: IfMatch,
) -> MergeRead:
    """Merge a duplicate into this customer: everything it had moves here."""
    record = await service.merge(
        session,
        customer_id,
        data.duplicate_id,
        actor=actor,
        expected_version=expected_version,
    )
    return MergeRead.model_validate(record)


@router.get("/{customer_id}/contacts", operation_id="contacts_list")
async def list_contacts(
    customer_id: uuid.UUID, session: Session, actor: CanRead, page: Paging
) -> Page[ContactRead]:
    """List a customer's contacts."""
    contacts, next_cursor = await contact_service.list_contacts(
        session, actor, customer_id, page
    )
    return Page(
        items=[ContactRead.model_validate(c) for c in contacts], next_cursor=next_cursor
    )


@router.post(
    "/{customer_id}/contacts",
    status_code=status.HTTP_201_CREATED,
    operation_id="contacts_create",
    dependencies=[Idempotent],
)
async def create_contact(
    customer_id: uuid.UUID,
    data: ContactCreate,
    session: Session,
    actor: CanWrite,
    response: Response,
) -> ContactRead:
    """Add a contact; making it primary demotes the previous primary."""
    contact = await contact_service.create_contact(session, actor, customer_id, data)

    set_etag(response, contact.version)
    response.headers["Location"] = (
        f"/api/v1/customers/{customer_id}/contacts/{contact.id}"
    )
    return ContactRead.model_validate(contact)


@router.get("/{customer_id}/contacts/{contact_id}", operation_id="contacts_get")
async def get_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    session: Session,
    actor: CanRead,
    response: Response,
) -> ContactRead:
    """Read one contact."""
    contact = await contact_service.get_contact(session, actor, customer_id, contact_id)

    set_etag(response, contact.version)
    return ContactRead.model_validate(contact)


@router.patch("/{customer_id}/contacts/{contact_id}", operation_id="contacts_update")
async def update_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    data: ContactUpdate,
    session: Session,
    actor: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> ContactRead:
    """Change a contact."""
    contact = await contact_service.update_contact(
        session,
        actor,
        customer_id,
        contact_id,
        data,
        expected_version=expected_version,
    )

    set_etag(response, contact.version)
    return ContactRead.model_validate(contact)


@router.delete(
    "/{customer_id}/contacts/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="contacts_delete",
)
async def delete_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    session: Session,
    actor: CanWrite,
    expected_version: IfMatch,
) -> None:
    """Remove a contact."""
    await contact_service.delete_contact(
        session, actor, customer_id, contact_id, expected_version=expected_version
    )


@router.get("/{customer_id}/interactions", operation_id="interactions_list")
async def list_interactions(
    customer_id: uuid.UUID, session: Session, actor: CanRead, page: Paging
) -> Page[InteractionRead]:
    """The customer's history, newest first."""
    items, next_cursor = await interaction_service.timeline(
        session, actor, customer_id, page
    )
    return Page(
        items=[InteractionRead.model_validate(i) for i in items],
        next_cursor=next_cursor,
    )


@router.post(
    "/{customer_id}/interactions",
    status_code=status.HTTP_201_CREATED,
    operation_id="interactions_create",
    dependencies=[Idempotent],
)
async def record_interaction(
    customer_id: uuid.UUID,
    data: InteractionCreate,
    session: Session,
    actor: CanWrite,
) -> InteractionRead:
    """Record a call, visit, email, meeting or note with the customer."""
    item = await interaction_service.record_interaction(
        session, customer_id, data, actor=actor
    )
    return InteractionRead.model_validate(item)


@router.get(
    "/{customer_id}/interactions/{interaction_id}", operation_id="interactions_get"
)
async def get_interaction(
    customer_id: uuid.UUID,
    interaction_id: uuid.UUID,
    session: Session,
    actor: CanRead,
) -> InteractionRead:
    """Read one interaction."""
    item = await interaction_service.get_interaction(
        session, actor, customer_id, interaction_id
    )
    return InteractionRead.model_validate(item)
