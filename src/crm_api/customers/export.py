"""CSV export of a filtered customer list, streamed row by row.

The rows are read in a transaction of the export's own, opened when the response
starts streaming: the request's transaction has committed by then.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from crm_api.auth.principal import Principal
from crm_api.custom_attributes.values import load_definitions
from crm_api.customers.models import Customer
from crm_api.customers.repository import joined
from crm_api.customers.service import list_query
from crm_api.kernel.db import set_tenant
from crm_api.kernel.pagination import order_by
from crm_api.kernel.resources import Resources

STANDARD_COLUMNS = (
    "id",
    "code", "kind", "name", "level", "industry", "source", "status", "owner_id",
    "department_id",
    "phone", "email", "website", "street", "city", "region", "postal_code", "country",
    "tags", "created_at", "updated_at",
)  # fmt: skip
_BATCH_ROWS = 1000


# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutral(text: str) -> str:
    """Text a spreadsheet shows as text: a leading formula sign gets a quote."""
    if text.startswith(_FORMULA_STARTS):
        try:
            Decimal(text)
        except InvalidOperation:
            return "'" + text
    return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _neutral(value)
    if isinstance(value, list):
        # NOTE: a list item holding ";" reads back as two; quoting list items would
        # break the simple "a;b" form importers and people expect.
        return _neutral(";".join(str(item) for item in value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _line(values: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return buffer.getvalue().encode("utf-8")


async def stream_csv(
    resources: Resources,
    *,
    principal: Principal,
    params: list[tuple[str, str]],
    q: str | None,
    sort: str | None,
    bom: bool,
) -> AsyncIterator[bytes]:
    async with resources.sessionmaker() as session, session.begin():
        await set_tenant(session, principal.tenant_id)
        # The scope as it was when the request was authenticated.
        query = await list_query(session, principal, params, q=q, sort=sort)
        definitions = await load_definitions(session, "customer", for_write=False)
        custom_keys = definitions.keys()
        if bom:
            yield "\ufeff".encode()
        yield _line([*STANDARD_COLUMNS, *(f"custom.{key}" for key in custom_keys)])

        statement = (
            joined(select(Customer), query.joins)
            .where(*query.conditions)
            .order_by(*order_by(query.keys))
            .execution_options(yield_per=_BATCH_ROWS)
        )
        rows = await session.stream_scalars(statement)
        chunk: list[bytes] = []
        async for customer in rows:
            chunk.append(
                _line(
                    [
                        *(getattr(customer, column) for column in STANDARD_COLUMNS),
                        *(customer.custom.get(key) for key in custom_keys),
                    ]
                )
            )
            if len(chunk) >= 200:
                yield b"".join(chunk)
                chunk.clear()
        if chunk:
            yield b"".join(chunk)
