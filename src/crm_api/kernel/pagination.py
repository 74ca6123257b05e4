"""Cursor pagination: opaque cursors over a stable sort key (sort values plus id)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, false, or_, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from crm_api.kernel.errors import ValidationFailed
from crm_api.kernel.sqlvalues import bind

T = TypeVar("T")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to read the next page; null on the last page."
    )


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class SortKey:
    """One non-null column of an ordering; ``descending`` flips ORDER BY and the seek.

    ``parse`` turns the JSON form kept in a cursor back into the column's type.
    """

    column: ColumnElement[Any] | InstrumentedAttribute[Any]
    descending: bool = False
    parse: Callable[[Any], Any] = _same
    # Nullable keys sort NULLs last in either direction.
    nullable: bool = False


def _encode_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != width:
        raise ValidationFailed.single(
            "cursor", "Invalid cursor", code="invalid_cursor", location="query"
        )
    return values


def _equal(key: SortKey, value: Any) -> ColumnElement[bool]:
    column: Any = key.column
    return column.is_(None) if value is None else column == bind(value)  # type: ignore[no-any-return]


def _beyond(key: SortKey, value: Any) -> ColumnElement[bool]:
    column: Any = key.column
    if value is None:
        return false()  # NULLs come last: nothing lies beyond them
    after = column < bind(value) if key.descending else column > bind(value)
    return or_(after, column.is_(None)) if key.nullable else after


def _seek(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the ordering given by ``keys``."""
    if all(not k.nullable and k.descending == keys[0].descending for k in keys) and (
        None not in values
    ):
        # One row comparison: PostgreSQL starts an index scan at it, where the
        # expanded OR form below is only a filter over every row before the cursor.
        columns = tuple_(*(key.column for key in keys))
        bound = tuple_(*(bind(value) for value in values))
        return columns < bound if keys[0].descending else columns > bound
    clauses = []
    for index, key in enumerate(keys):
        equal_prefix = [_equal(keys[i], values[i]) for i in range(index)]
        clauses.append(and_(*equal_prefix, _beyond(key, values[index])))
    return or_(*clauses)


def paginate(
    statement: Select[Any], keys: Sequence[SortKey], params: PageParams
) -> Select[Any]:
    """Order ``statement`` by ``keys``, start after the cursor, and fetch one extra row."""
    if params.cursor is not None:
        raw = decode_cursor(params.cursor, len(keys))
        try:
            values = [key.parse(v) for key, v in zip(keys, raw, strict=True)]
        except (AttributeError, TypeError, ValueError):
            raise ValidationFailed.single(
                "cursor", "Invalid cursor", code="invalid_cursor", location="query"
            ) from None
        statement = statement.where(_seek(keys, values))
    return statement.order_by(*order_by(keys)).limit(params.limit + 1)


def order_by(keys: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``keys`` (NULLs last on nullable keys)."""
    order: list[ColumnElement[Any]] = []
    for key in keys:
        direction = key.column.desc() if key.descending else key.column.asc()
        order.append(direction.nulls_last() if key.nullable else direction)
    return order


def page_of(
    rows: Sequence[T], keys_of: Callable[[T], Sequence[Any]], params: PageParams
) -> tuple[list[T], str | None]:
    """Cut the extra row off and build the next cursor from the last row kept."""
    if len(rows) <= params.limit:
        return list(rows), None
    kept = list(rows[: params.limit])
    return kept, encode_cursor(keys_of(kept[-1]))
