from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from crm_api.auth.dependencies import Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import Session
from crm_api.kernel.money import MONEY_RULE_TEXT
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.routing import CrmRoute
from crm_api.quotes import service
from crm_api.quotes.schemas import (
    QuoteCount,
    QuoteCreate,
    QuoteRead,
    QuoteUpdate,
    RevisionRead,
    RevisionUpdate,
    TransitionRequest,
)

router = APIRouter(prefix="/quotes", tags=["quotes"], route_class=CrmRoute)

CanRead = Annotated[Principal, Depends(require("quotes:read"))]
CanWrite = Annotated[Principal, Depends(require("quotes:write"))]
IfMatch = Annotated[int | None, Depends(if_match_header)]
Paging = Annotated[PageParams, Depends(page_params)]
RevisionNumber = Annotated[int, Path(ge=1, le=1_000_000)]
SortParam = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Comma-separated fields, `-` for descending, e.g. `-gross_total`.",
    ),
]
FILTER_HELP = (
    "Filters are further query parameters: `field=value` or `field[op]=value` with op "
    "in eq, ne, lt, lte, gt, gte, in, like, exists; fields are customer_id, owner_id, "
    "department_id, currency, title, state, valid_until, net_total, gross_total, "
    "latest_revision, created_at, updated_at and `custom.<key>`. State, validity and "
    "totals are the latest revision's; a sent revision past its validity on the "
    "tenant's calendar is `expired`."
)
ETAG_NOTE = (
    " The ETag is the quote's: it changes with any change to the quote or a "
    "revision, and every write takes it as If-Match."
)


def _filters(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


@router.get("", operation_id="quotes_list", description=FILTER_HELP)
async def list_quotes(
    request: Request,
    session: Session,
    principal: CanRead,
    page: Paging,
    sort: SortParam = None,
) -> Page[QuoteRead]:
    """List the quotes the caller may see, each with its latest revision."""
    views, next_cursor = await service.list_quotes(
        session, principal, _filters(request), page, sort=sort
    )
    return Page(items=[service.quote_read(v) for v in views], next_cursor=next_cursor)


@router.get("/count", operation_id="quotes_count", description=FILTER_HELP)
async def count_quotes(
    request: Request, session: Session, principal: CanRead
) -> QuoteCount:
    """Count the quotes a list with the same filters would return."""
    total = await service.count_quotes(session, principal, _filters(request))
    return QuoteCount(count=total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="quotes_create",
    dependencies=[Idempotent],
    description=MONEY_RULE_TEXT,
)
async def create_quote(
    data: QuoteCreate, session: Session, actor: CanWrite, response: Response
) -> QuoteRead:
    """Create a quote for a customer the caller can see; revision 1 is a draft."""
    view = await service.create_quote(session, data, actor=actor)

    set_etag(response, view.quote.version)
    response.headers["Location"] = f"/api/v1/quotes/{view.quote.id}"
    return service.quote_read(view)


@router.get("/{quote_id}", operation_id="quotes_get")
async def get_quote(
    quote_id: uuid.UUID, session: Session, principal: CanRead, response: Response
) -> QuoteRead:
    """Read one quote with its latest revision."""
    view = await service.get_quote(session, principal, quote_id)

    set_etag(response, view.quote.version)
    return service.quote_read(view)


@router.patch(
    "/{quote_id}", operation_id="quotes_update", description=ETAG_NOTE.strip()
)
async def update_quote(
    quote_id: uuid.UUID,
    data: QuoteUpdate,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> QuoteRead:
    """Change a quote's title, owner, department or custom attributes."""
    view = await service.update_quote(
        session, principal, quote_id, data, expected_version=expected_version
    )

    set_etag(response, view.quote.version)
    return service.quote_read(view)


@router.delete(
    "/{quote_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="quotes_delete",
)
async def delete_quote(
    quote_id: uuid.UUID,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
) -> None:
    """Delete a quote that was never sent; a sent one is a 409."""
    await service.delete_quote(
        session, principal, quote_id, expected_version=expected_version
    )


@router.get("/{quote_id}/revisions", operation_id="quote_revisions_list")
async def list_revisions(
    quote_id: uuid.UUID, session: Session, principal: CanRead, page: Paging
) -> Page[RevisionRead]:
    """A quote's revisions, oldest first, with their lines."""
    views, next_cursor = await service.list_revisions(
        session, principal, quote_id, page
    )
    return Page(
        items=[service.revision_read(v) for v in views], next_cursor=next_cursor
    )


@router.post(
    "/{quote_id}/revisions",
    status_code=status.HTTP_201_CREATED,
    operation_id="quote_revisions_create",
    dependencies=[Idempotent],
    description="The copy keeps the lines and their figures; edit it while it is a "
    "draft." + ETAG_NOTE,
)
async def start_revision(
    quote_id: uuid.UUID,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> RevisionRead:
    """Start a new draft revision as a copy of the latest."""
    view = await service.start_revision(
        session, principal, quote_id, expected_version=expected_version
    )

    set_etag(response, view.quote.version)
    response.headers["Location"] = (
        f"/api/v1/quotes/{quote_id}/revisions/{view.revision.number}"
    )
    return service.revision_read(view)


@router.get("/{quote_id}/revisions/{number}", operation_id="quote_revisions_get")
async def get_revision(
    quote_id: uuid.UUID,
    number: RevisionNumber,
    session: Session,
    principal: CanRead,
    response: Response,
) -> RevisionRead:
    """Read one revision with its lines."""
    view = await service.get_revision(session, principal, quote_id, number)

    set_etag(response, view.quote.version)
    return service.revision_read(view)


@router.patch(
    "/{quote_id}/revisions/{number}",
    operation_id="quote_revisions_update",
    description=MONEY_RULE_TEXT + ETAG_NOTE,
)
async def update_revision(
    quote_id: uuid.UUID,
    number: RevisionNumber,
    data: RevisionUpdate,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> RevisionRead:
    """Change a draft revision; `lines` replace all its lines. Sent ones are frozen."""
    view = await service.update_revision(
        session, principal, quote_id, number, data, expected_version=expected_version
    )

    set_etag(response, view.quote.version)
    return service.revision_read(view)


@router.post(
    "/{quote_id}/revisions/{number}/send",
    operation_id="quotes_send",
    dependencies=[Idempotent],
    description="The revision freezes; an older sent revision becomes superseded "
    "(or expired, if its validity had run out). Only a draft with lines whose "
    "valid_until has not passed can be sent." + ETAG_NOTE,
)
async def send_revision(
    quote_id: uuid.UUID,
    number: RevisionNumber,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
    data: TransitionRequest | None = None,
) -> RevisionRead:
    """Send a draft revision to the customer."""
    view = await service.send(
        session, principal, quote_id, number, data, expected_version=expected_version
    )

    set_etag(response, view.quote.version)
    return service.revision_read(view)


@router.post(
    "/{quote_id}/revisions/{number}/accept",
    operation_id="quotes_accept",
    dependencies=[Idempotent],
    description="Only a sent revision still valid on the tenant's calendar; an "
    "expired one is a 409. An unsent newer draft is discarded." + ETAG_NOTE,
)
async def accept_revision(
    quote_id: uuid.UUID,
    number: RevisionNumber,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
    data: TransitionRequest | None = None,
) -> RevisionRead:
    """Record that the customer accepted a sent revision."""
    view = await service.accept(
        session, principal, quote_id, number, data, expected_version=expected_version
    )

    set_etag(response, view.quote.version)
    return service.revision_read(view)


@router.post(
    "/{quote_id}/revisions/{number}/reject",
    operation_id="quotes_reject",
    dependencies=[Idempotent],
    description="Only a sent revision; a new revision may follow." + ETAG_NOTE,
)
async def reject_revision(
    quote_id: uuid.UUID,
    number: RevisionNumber,
    session: Session,
    principal: CanWrite,
    expected_version: IfMatch,
    response: Response,
    data: TransitionRequest | None = None,
) -> RevisionRead:
    """Record that the customer declined a sent revision."""
    view = await service.reject(
        session, principal, quote_id, number, data, expected_version=expected_version
    )

    set_etag(response, view.quote.version)
    return service.revision_read(view)
