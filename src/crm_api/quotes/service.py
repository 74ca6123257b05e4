"""Quotes and their revisions: drafts are edited, sent revisions are frozen.

States of a revision, and the only ways between them::

    draft --send--> sent --accept--> accepted
                         --reject--> rejected
                         (a newer revision is sent) --> superseded
                         (valid_until passes on the tenant's calendar) --> expired

A sent revision whose ``valid_until`` has passed (on the tenant's calendar) reads as
expired at once, in lists and filters too; the stored state becomes ``expired`` when a
newer revision is sent, and accepting or rejecting it is refused.

A new revision (a copy of the latest) can be started while none is a draft and none
is accepted; accepting a revision discards an unsent newer draft. Every change locks
the quote row first, so concurrent transitions take turns and exactly one of two
accepts wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.custom_attributes.filters import lister
from crm_api.custom_attributes.values import load_definitions
from crm_api.customers.service import get_visible_customer
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import (
    BusinessRuleViolated,
    Conflict,
    NotFound,
    ValidationFailed,
    refuse_nulls,
)
from crm_api.kernel.filtering import build_filters, build_sort
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, SortKey, page_of
from crm_api.organisation.visibility import assign
from crm_api.quotes import repository
from crm_api.quotes.lines import apply_totals, build_lines, copy_line
from crm_api.quotes.models import (
    ACCEPTED,
    DRAFT,
    EXPIRED,
    REJECTED,
    SENT,
    SUPERSEDED,
    Quote,
    QuoteLine,
    QuoteRevision,
)
from crm_api.quotes.schemas import (
    LineRead,
    QuoteCreate,
    QuoteRead,
    QuoteUpdate,
    RevisionRead,
    RevisionUpdate,
    TransitionRequest,
)
from crm_api.tenants import calendar
from crm_api.tenants.models import Tenant

logger = structlog.get_logger(__name__)

READ = "quotes:read"
WRITE = "quotes:write"
RESERVED_PARAMS = frozenset({"limit", "cursor", "sort"})


@dataclass(frozen=True)
class QuoteView:
    """A quote with one of its revisions (the latest, for quote reads), as of the
    tenant's ``today``: the day that decides whether a sent revision reads expired."""

    quote: Quote
    revision: QuoteRevision
    today: date


def state_of(revision: QuoteRevision, today: date) -> str:
    """The state a revision reads as: sent but past its validity is expired."""
    if revision.state == SENT and revision.valid_until < today:
        return EXPIRED
    return revision.state


async def _tenant(session: AsyncSession) -> Tenant:
    tenant = await session.get(Tenant, current_tenant(session))
    if tenant is None:
        raise NotFound("No such tenant.")
    return tenant


def _not_found() -> NotFound:
    return NotFound("No such quote.")


# --- reads ---


@dataclass(frozen=True)
class ListQuery:
    conditions: list[ColumnElement[bool]]
    keys: list[SortKey]
    joins: list[tuple[Any, ColumnElement[bool]]]


async def list_query(
    session: AsyncSession,
    principal: Principal,
    params: list[tuple[str, str]],
    *,
    sort: str | None,
    today: date,
) -> ListQuery:
    """Conditions, ordering and joins for a quote list within the caller's sight."""
    definitions = await load_definitions(session, "quote", for_write=False)
    resolve, used = lister(
        repository.standard_fields(today), definitions, model=Quote, entity="quote"
    )
    non_null: set[str] = set()
    conditions = build_filters(
        params, resolve, reserved=RESERVED_PARAMS, non_null=non_null
    )
    conditions.append(repository.quote_visibility(principal, READ))
    keys = build_sort(sort, resolve, id_column=Quote.id, non_null=non_null)
    joins = {name: f.join for name, f in used.items() if f.join is not None}
    return ListQuery(conditions, keys, list(joins.values()))


async def list_quotes(
    session: AsyncSession,
    principal: Principal,
    params: list[tuple[str, str]],
    page: PageParams,
    *,
    sort: str | None,
) -> tuple[list[QuoteView], str | None]:
    today = await calendar.tenant_today(session)
    query = await list_query(session, principal, params, sort=sort, today=today)
    rows = await repository.page(
        session, query.conditions, query.keys, query.joins, page
    )
    kept, next_cursor = page_of(rows, lambda row: tuple(row)[2:], page)
    pairs = [tuple(row)[:2] for row in kept]
    return [QuoteView(quote, revision, today) for quote, revision in pairs], next_cursor


async def count_quotes(
    session: AsyncSession, principal: Principal, params: list[tuple[str, str]]
) -> int:
    today = await calendar.tenant_today(session)
    query = await list_query(session, principal, params, sort=None, today=today)
    return await repository.count(session, query.conditions, query.joins)


async def get_quote(
    session: AsyncSession, principal: Principal, quote_id: uuid.UUID
) -> QuoteView:
    found = await repository.get(
        session, quote_id, repository.quote_visibility(principal, READ)
    )
    if found is None:
        raise _not_found()
    return QuoteView(found[0], found[1], await calendar.tenant_today(session))


async def _visible_quote(
    session: AsyncSession, principal: Principal, quote_id: uuid.UUID
) -> Quote:
    found = await repository.get(
        session, quote_id, repository.quote_visibility(principal, READ)
    )
    if found is None:
        raise _not_found()
    return found[0]


async def list_revisions(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    page: PageParams,
) -> tuple[list[QuoteView], str | None]:
    quote = await _visible_quote(session, principal, quote_id)
    today = await calendar.tenant_today(session)
    rows = await repository.revisions_page(session, quote.id, page)
    kept, next_cursor = page_of(rows, lambda revision: (revision.number,), page)
    return [QuoteView(quote, revision, today) for revision in kept], next_cursor


async def get_revision(
    session: AsyncSession, principal: Principal, quote_id: uuid.UUID, number: int
) -> QuoteView:
    quote = await _visible_quote(session, principal, quote_id)
    revision = await repository.revision(session, quote.id, number)
    if revision is None:
        raise NotFound(f"The quote has no revision {number}.")
    return QuoteView(quote, revision, await calendar.tenant_today(session))


async def accepted_revision(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    *,
    lock: bool = False,
) -> QuoteRevision:
    """The quote's accepted revision, for turning it into an order.

    Its ``lines`` (ordered by position) and its ``quote`` (customer_id, currency,
    owner_id, department_id) are loaded. 404 when the caller cannot see the quote,
    409 naming the state when nothing was accepted. ``lock`` holds the quote row
    until commit, so nothing about it changes meanwhile.
    """
    visible = repository.quote_visibility(principal, READ)
    revision = await repository.accepted(session, quote_id, visible, lock=lock)
    if revision is not None:
        return revision
    found = await repository.get(session, quote_id, visible)
    if found is None:
        raise _not_found()
    state = state_of(found[1], await calendar.tenant_today(session))
    raise Conflict(
        f"The quote has no accepted revision (its latest is {state}).",
        extra={"state": state, "revision": found[1].number},
    )


# --- writes: every one starts by locking the quote ---


@dataclass
class Locked:
    quote: Quote
    revisions: list[QuoteRevision]
    today: date

    @property
    def latest(self) -> QuoteRevision:
        return self.revisions[-1]

    def revision(self, number: int) -> QuoteRevision:
        for revision in self.revisions:
            if revision.number == number:
                return revision
        raise NotFound(f"The quote has no revision {number}.")


async def _lock(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    expected_version: int | None,
) -> Locked:
    quote = await repository.lock(
        session, quote_id, repository.quote_visibility(principal, WRITE)
    )
    if quote is None:
        raise _not_found()
    check_version(expected_version, quote.version)
    revisions = await repository.revisions(session, quote.id)
    return Locked(quote, revisions, await calendar.tenant_today(session))


async def _touch(session: AsyncSession, *rows: Quote | QuoteRevision) -> None:
    """Mark rows changed (the quote's version is the ETag of all its revisions)."""
    for row in rows:
        row.updated_at = func.now()
    await session.flush()
    for row in rows:
        await session.refresh(row, ["updated_at"])


def _illegal(revision: QuoteRevision, state: str, action: str, needed: str) -> Conflict:
    return Conflict(
        f"Revision {revision.number} is {state}: only a {needed} revision can be "
        f"{action}.",
        extra={"state": state, "revision": revision.number},
    )


def _closed(quote: Quote) -> Conflict:
    return Conflict(
        f"The quote was accepted (revision {quote.accepted_revision}); it cannot "
        "change any more.",
        extra={"state": ACCEPTED, "revision": quote.accepted_revision},
    )


async def create_quote(
    session: AsyncSession, data: QuoteCreate, *, actor: Principal
) -> QuoteView:
    try:
        customer = await get_visible_customer(session, actor, data.customer_id)
    except NotFound:
        raise ValidationFailed.single(
            "customer_id", "No such customer.", code="not_found"
        ) from None
    owner_id, department_id = await assign(
        session,
        actor,
        WRITE,
        owner_id=data.owner_id,
        department_id=data.department_id,
    )
    tenant = await _tenant(session)
    currency = data.currency or tenant.default_currency
    definitions = await load_definitions(session, "quote")
    custom = definitions.validate_create(data.custom)
    lines = await build_lines(session, data.lines, currency=currency)

    quote = Quote(
        tenant_id=tenant.id,
        customer_id=customer.id,
        title=data.title,
        currency=currency,
        owner_id=owner_id,
        department_id=department_id,
        latest_revision=1,
        accepted_revision=None,
        custom=custom,
    )
    session.add(quote)
    await session.flush()
    revision = QuoteRevision(
        tenant_id=tenant.id,
        quote_id=quote.id,
        number=1,
        state=DRAFT,
        valid_until=data.valid_until,
        notes=data.notes,
        lines=lines,
    )
    apply_totals(revision, lines, currency)
    session.add(revision)
    await session.flush()

    record_event(
        session,
        "quote.created",
        subject_id=quote.id,
        payload={"customer_id": str(customer.id), "currency": currency},
    )
    logger.info("quote.created", quote_id=str(quote.id))
    return QuoteView(quote, revision, calendar.today_in(tenant.time_zone))


async def update_quote(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    data: QuoteUpdate,
    *,
    expected_version: int | None,
) -> QuoteView:
    locked = await _lock(session, principal, quote_id, expected_version)
    quote = locked.quote
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("owner_id", "department_id"))
    if "custom" in changes:
        definitions = await load_definitions(session, "quote")
        quote.custom = definitions.validate_update(
            quote.custom, changes.pop("custom") or {}
        )
    if "owner_id" in changes or "department_id" in changes:
        # A new owner brings their department unless one is named.
        changes["owner_id"], changes["department_id"] = await assign(
            session,
            principal,
            WRITE,
            owner_id=changes.get("owner_id", quote.owner_id),
            department_id=changes.get("department_id"),
        )
    for field, value in changes.items():
        setattr(quote, field, value)
    await session.flush()

    record_event(
        session,
        "quote.updated",
        subject_id=quote.id,
        payload={"fields": sorted(data.model_fields_set)},
    )
    return QuoteView(quote, locked.latest, locked.today)


async def delete_quote(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    *,
    expected_version: int | None,
) -> None:
    """Delete a quote that was never sent; a sent quote is a record and stays."""
    locked = await _lock(session, principal, quote_id, expected_version)
    if any(revision.state != DRAFT for revision in locked.revisions):
        state = state_of(locked.latest, locked.today)
        raise Conflict(
            "A quote that was sent is kept; reject it or let it expire instead.",
            extra={"state": state, "revision": locked.latest.number},
        )
    await session.delete(locked.quote)
    await session.flush()
    record_event(session, "quote.deleted", subject_id=quote_id, payload={})
    logger.info("quote.deleted", quote_id=str(quote_id))


async def start_revision(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    *,
    expected_version: int | None,
) -> QuoteView:
    """A new draft revision, a copy of the latest (lines and figures included)."""
    locked = await _lock(session, principal, quote_id, expected_version)
    quote, latest = locked.quote, locked.latest
    if quote.accepted_revision is not None:
        raise _closed(quote)
    if latest.state == DRAFT:
        raise Conflict(
            f"Revision {latest.number} is still a draft: change it instead.",
            extra={"state": DRAFT, "revision": latest.number},
        )
    lines = [copy_line(line) for line in latest.lines]
    revision = QuoteRevision(
        tenant_id=quote.tenant_id,
        quote_id=quote.id,
        number=latest.number + 1,
        state=DRAFT,
        valid_until=latest.valid_until,
        notes=latest.notes,
        net_total=latest.net_total,
        tax_total=latest.tax_total,
        gross_total=latest.gross_total,
        lines=lines,
    )
    session.add(revision)
    quote.latest_revision = revision.number
    await _touch(session, quote)

    record_event(
        session,
        "quote.revised",
        subject_id=quote.id,
        payload={"revision": revision.number, "copied_from": latest.number},
    )
    logger.info("quote.revised", quote_id=str(quote.id), revision=revision.number)
    return QuoteView(quote, revision, locked.today)


async def update_revision(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    number: int,
    data: RevisionUpdate,
    *,
    expected_version: int | None,
) -> QuoteView:
    """Change a draft: validity, notes, or all its lines at once."""
    locked = await _lock(session, principal, quote_id, expected_version)
    quote = locked.quote
    revision = locked.revision(number)
    if revision.state != DRAFT:
        raise _illegal(revision, state_of(revision, locked.today), "changed", DRAFT)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("valid_until", "lines"))
    if "valid_until" in changes:
        revision.valid_until = changes["valid_until"]
    if "notes" in changes:
        revision.notes = changes["notes"]
    if data.lines is not None:
        kept = {line.product_id for line in revision.lines if line.product_id}
        lines = await build_lines(
            session, data.lines, currency=quote.currency, keep_products=kept
        )
        # Old lines go first: positions are unique within a revision.
        revision.lines.clear()
        await session.flush()
        revision.lines.extend(lines)
        apply_totals(revision, lines, quote.currency)
    await _touch(session, quote, revision)

    record_event(
        session,
        "quote.revision_updated",
        subject_id=quote.id,
        payload={"revision": number, "fields": sorted(data.model_fields_set)},
    )
    return QuoteView(quote, revision, locked.today)


def _decide(
    revision: QuoteRevision,
    state: str,
    principal: Principal,
    data: TransitionRequest | None,
) -> None:
    revision.state = state
    revision.decided_at = calendar.utc_now()
    revision.decided_by = principal.on_behalf_of
    revision.decision_comment = data.comment if data is not None else None


async def send(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    number: int,
    data: TransitionRequest | None,
    *,
    expected_version: int | None,
) -> QuoteView:
    """Send a draft: it freezes, and an older sent revision is superseded."""
    locked = await _lock(session, principal, quote_id, expected_version)
    quote, today = locked.quote, locked.today
    revision = locked.revision(number)
    if revision.state != DRAFT:
        raise _illegal(revision, state_of(revision, today), "sent", DRAFT)
    if quote.accepted_revision is not None:
        raise _closed(quote)
    if not revision.lines:
        raise BusinessRuleViolated("A revision without lines cannot be sent.")
    if revision.valid_until < today:
        raise BusinessRuleViolated(
            f"valid_until ({revision.valid_until}) has passed on the tenant's "
            f"calendar (today is {today}); change it first.",
            extra={"valid_until": revision.valid_until.isoformat()},
        )

    replaced = _retire_older(locked.revisions, revision, today)
    # The older revision leaves "sent" first: one sent revision per quote.
    await session.flush()
    revision.state = SENT
    revision.sent_at = calendar.utc_now()
    revision.sent_by = principal.on_behalf_of
    await _touch(session, quote, revision)

    for older, state in replaced:
        record_event(
            session,
            f"quote.{state}",
            subject_id=quote.id,
            payload={"revision": older.number, "by_revision": revision.number},
        )
    payload = _figures(quote, revision)
    payload["comment"] = data.comment if data is not None else None
    payload["superseded"] = [older.number for older, _ in replaced]
    record_event(session, "quote.sent", subject_id=quote.id, payload=payload)
    logger.info("quote.sent", quote_id=str(quote.id), revision=number)
    return QuoteView(quote, revision, today)


def _retire_older(
    revisions: Sequence[QuoteRevision], sending: QuoteRevision, today: date
) -> list[tuple[QuoteRevision, str]]:
    """Older revisions still out: superseded, or expired if their time had run out."""
    retired = []
    for older in revisions:
        if older.number < sending.number and older.state == SENT:
            older.state = state_of(older, today)
            if older.state == SENT:
                older.state = SUPERSEDED
            retired.append((older, older.state))
    return retired


def _figures(quote: Quote, revision: QuoteRevision) -> dict[str, Any]:
    return {
        "revision": revision.number,
        "customer_id": str(quote.customer_id),
        "currency": quote.currency,
        "net_total": format(revision.net_total, "f"),
        "tax_total": format(revision.tax_total, "f"),
        "gross_total": format(revision.gross_total, "f"),
    }


async def accept(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    number: int,
    data: TransitionRequest | None,
    *,
    expected_version: int | None,
) -> QuoteView:
    """Record the customer's acceptance of a sent, still valid revision."""
    locked = await _lock(session, principal, quote_id, expected_version)
    quote, today = locked.quote, locked.today
    revision = locked.revision(number)
    state = state_of(revision, today)
    if state == EXPIRED:
        raise Conflict(
            f"Revision {number} expired: it was valid until {revision.valid_until} "
            f"and today is {today} on the tenant's calendar.",
            extra={
                "state": EXPIRED,
                "revision": number,
                "valid_until": revision.valid_until.isoformat(),
            },
        )
    if state != SENT:
        raise _illegal(revision, state, "accepted", SENT)

    # An unsent newer draft has nothing left to offer.
    draft = next((r for r in locked.revisions if r.state == DRAFT), None)
    if draft is not None:
        await session.delete(draft)
        quote.latest_revision = number
    _decide(revision, ACCEPTED, principal, data)
    quote.accepted_revision = number
    await _touch(session, quote, revision)

    payload = _figures(quote, revision)
    payload["discarded_draft"] = draft.number if draft is not None else None
    record_event(session, "quote.accepted", subject_id=quote.id, payload=payload)
    logger.info("quote.accepted", quote_id=str(quote.id), revision=number)
    return QuoteView(quote, revision, today)


async def reject(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    number: int,
    data: TransitionRequest | None,
    *,
    expected_version: int | None,
) -> QuoteView:
    """Record that the customer declined a sent revision; a new one may follow."""
    locked = await _lock(session, principal, quote_id, expected_version)
    quote, today = locked.quote, locked.today
    revision = locked.revision(number)
    state = state_of(revision, today)
    if state != SENT:
        raise _illegal(revision, state, "rejected", SENT)

    _decide(revision, REJECTED, principal, data)
    await _touch(session, quote, revision)

    payload = _figures(quote, revision)
    payload["comment"] = revision.decision_comment
    record_event(session, "quote.rejected", subject_id=quote.id, payload=payload)
    logger.info("quote.rejected", quote_id=str(quote.id), revision=number)
    return QuoteView(quote, revision, today)


# --- responses ---


def _line_read(line: QuoteLine) -> LineRead:
    return LineRead.model_validate(line)


def revision_read(view: QuoteView) -> RevisionRead:
    quote, revision = view.quote, view.revision
    return RevisionRead(
        id=revision.id,
        quote_id=quote.id,
        number=revision.number,
        state=state_of(revision, view.today),  # type: ignore[arg-type]
        valid_until=revision.valid_until,
        notes=revision.notes,
        currency=quote.currency,
        lines=[_line_read(line) for line in revision.lines],
        net_total=revision.net_total,
        tax_total=revision.tax_total,
        gross_total=revision.gross_total,
        sent_at=revision.sent_at,
        sent_by=revision.sent_by,
        decided_at=revision.decided_at,
        decided_by=revision.decided_by,
        decision_comment=revision.decision_comment,
        created_at=revision.created_at,
        updated_at=revision.updated_at,
    )


def quote_read(view: QuoteView) -> QuoteRead:
    quote = view.quote
    revision = revision_read(view)
    return QuoteRead(
        id=quote.id,
        customer_id=quote.customer_id,
        title=quote.title,
        currency=quote.currency,
        owner_id=quote.owner_id,
        department_id=quote.department_id,
        state=revision.state,
        latest_revision=quote.latest_revision,
        accepted_revision=quote.accepted_revision,
        revision=revision,
        custom=dict(quote.custom),
        created_at=quote.created_at,
        updated_at=quote.updated_at,
    )
