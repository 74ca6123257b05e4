"""accepted_revision: what the orders domain reads to turn a quote into an order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import PERMISSIONS, Principal
from crm_api.kernel.db import set_tenant
from crm_api.kernel.errors import Conflict, NotFound
from crm_api.products.models import Product
from crm_api.quotes import service
from tests.fixtures.api import TenantContext, add_user
from tests.products.conftest import create_product
from tests.quotes.conftest import create_quote, line, sent_quote, transition

SessionFor = Callable[[TenantContext], AbstractAsyncContextManager[AsyncSession]]


@pytest.fixture
def session_for(app: FastAPI) -> SessionFor:
    """A session scoped to the tenant, as a request's would be (rolled back)."""

    @asynccontextmanager
    async def open_session(ctx: TenantContext) -> AsyncIterator[AsyncSession]:
        async with app.state.resources.sessionmaker() as session:
            await set_tenant(session, uuid.UUID(ctx.tenant["id"]))
            yield session
            await session.rollback()

    return open_session


def _principal(
    ctx: TenantContext, *, scope: str = "all", employee_id: str | None = None
) -> Principal:
    return Principal(
        tenant_id=uuid.UUID(ctx.tenant["id"]),
        user_id=uuid.UUID(ctx.admin["id"]),
        api_key_id=None,
        permissions=PERMISSIONS,
        scopes={"quotes:read": scope},  # type: ignore[dict-item]
        employee_id=uuid.UUID(employee_id) if employee_id else None,
    )


async def test_the_accepted_revision_comes_with_lines_and_quote(
    client: httpx.AsyncClient, tenant_a: TenantContext, session_for: SessionFor
) -> None:
    product = await create_product(client, tenant_a, list_price="18.00")
    quote = await sent_quote(
        client,
        tenant_a,
        currency="EUR",
        lines=[
            {"product_id": product["id"], "quantity": "2", "discount_percent": "5"},
            line(description="Freight", unit_price="7.50", tax_rate_percent="19"),
        ],
    )
    await transition(client, tenant_a, quote, "accept")

    async with session_for(tenant_a) as session:
        revision = await service.accepted_revision(
            session, _principal(tenant_a), uuid.UUID(quote["id"])
        )

        assert revision.number == 1
        assert revision.quote.customer_id == uuid.UUID(quote["customer_id"])
        assert revision.quote.currency == "EUR"
        assert revision.quote.owner_id == uuid.UUID(tenant_a.admin_employee_id)
        assert revision.quote.department_id == uuid.UUID(tenant_a.root_department_id)
        first, second = revision.lines
        assert first.product_id == uuid.UUID(product["id"])
        assert (str(first.quantity), str(first.unit_price)) == ("2", "18.00")
        assert (str(first.discount_percent), str(first.net)) == ("5", "34.20")
        assert (second.product_id, second.description) == (None, "Freight")
        assert str(second.tax_rate_percent) == "19"
        assert await session.get(Product, first.product_id) is not None


async def test_a_quote_without_an_accepted_revision_is_409(
    client: httpx.AsyncClient, tenant_a: TenantContext, session_for: SessionFor
) -> None:
    quote = await sent_quote(client, tenant_a)

    async with session_for(tenant_a) as session:
        with pytest.raises(Conflict) as raised:
            await service.accepted_revision(
                session, _principal(tenant_a), uuid.UUID(quote["id"])
            )

    assert raised.value.extra == {"state": "sent", "revision": 1}


async def test_a_quote_the_caller_cannot_see_is_404(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    tenant_b: TenantContext,
    session_for: SessionFor,
) -> None:
    quote = await sent_quote(client, tenant_a)
    await transition(client, tenant_a, quote, "accept")
    seller, _ = await add_user(client, tenant_a, roles=["sales"])

    async with session_for(tenant_a) as session:
        with pytest.raises(NotFound):
            await service.accepted_revision(
                session,
                _principal(tenant_a, scope="own", employee_id=seller["employee_id"]),
                uuid.UUID(quote["id"]),
            )
    async with session_for(tenant_b) as session:
        with pytest.raises(NotFound):
            await service.accepted_revision(
                session, _principal(tenant_b), uuid.UUID(quote["id"])
            )


async def test_a_draft_quote_is_409_too(
    client: httpx.AsyncClient, tenant_a: TenantContext, session_for: SessionFor
) -> None:
    quote = await create_quote(client, tenant_a)

    async with session_for(tenant_a) as session:
        with pytest.raises(Conflict):
            await service.accepted_revision(
                session, _principal(tenant_a), uuid.UUID(quote["id"]), lock=True
            )
