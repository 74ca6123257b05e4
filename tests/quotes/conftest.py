from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crm_api.tenants import calendar
from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext

QUOTES = "/api/v1/quotes"
FAR_AHEAD = "2099-12-31"


def line(**fields: Any) -> dict[str, Any]:
    """A free-text line: one unit at 10.00 unless told otherwise."""
    return {
        "description": "Consulting",
        "quantity": "1",
        "unit_price": "10.00",
        **fields,
    }


async def create_quote(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    *,
    customer: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    customer = customer or await create_customer(client, ctx)
    body = {
        "customer_id": customer["id"],
        "valid_until": FAR_AHEAD,
        "lines": [line()],
        **fields,
    }
    response = await client.post(QUOTES, json=body, headers=headers or ctx.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def revision_path(quote: dict[str, Any], number: int = 1) -> str:
    return f"{QUOTES}/{quote['id']}/revisions/{number}"


async def transition(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    quote: dict[str, Any],
    action: str,
    number: int = 1,
    *,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    return await client.post(
        f"{revision_path(quote, number)}/{action}",
        json=body or None,
        headers=headers or ctx.headers,
    )


async def sent_quote(
    client: httpx.AsyncClient, ctx: TenantContext, **fields: Any
) -> dict[str, Any]:
    quote = await create_quote(client, ctx, **fields)
    response = await transition(client, ctx, quote, "send")
    assert response.status_code == 200, response.text
    return quote


async def read_revision(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    quote: dict[str, Any],
    number: int = 1,
) -> dict[str, Any]:
    response = await client.get(revision_path(quote, number), headers=ctx.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Set the instant the quote rules see: ``clock("2026-03-10T23:30:00Z")``."""

    def set_to(instant: str) -> None:
        moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
        monkeypatch.setattr(calendar, "utc_now", lambda: moment.astimezone(UTC))

    return set_to
