"""Typed list filters and sorts from query parameters.

``country=Germany``, ``custom.employees[gte]=10``, ``created_at[lt]=2025-01-01T00:00:00Z``,
``tags[contains]=vip``, ``sort=-custom.revenue,name``. Values are converted to the
field's type before they reach SQL, so numbers compare as numbers and dates as dates;
a value that does not convert is a 422 naming the parameter.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, func, not_, or_
from sqlalchemy.orm import InstrumentedAttribute

from crm_api.kernel.errors import FieldError, ValidationFailed
from crm_api.kernel.pagination import SortKey
from crm_api.kernel.sqlvalues import MAX_DECIMAL_DIGITS, MAX_DECIMAL_EXPONENT, bind

Kind = Literal[
    "text",
    "number",
    "integer",
    "date",
    "datetime",
    "boolean",
    "uuid",
    "array",
    "jsonb_array",
]
Column = ColumnElement[Any] | InstrumentedAttribute[Any]

_PARAM = re.compile(
    r"^(?P<field>[a-z_][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)(?:\[(?P<op>[a-z]+)\])?$"
)
_ORDERABLE = {"text", "number", "integer", "date", "datetime", "boolean", "uuid"}
_OPERATORS: dict[str, set[str]] = {
    "text": {"eq", "ne", "in", "like", "exists"},
    "number": {"eq", "ne", "lt", "lte", "gt", "gte", "in", "exists"},
    "integer": {"eq", "ne", "lt", "lte", "gt", "gte", "in", "exists"},
    "date": {"eq", "ne", "lt", "lte", "gt", "gte", "exists"},
    "datetime": {"eq", "ne", "lt", "lte", "gt", "gte", "exists"},
    "boolean": {"eq", "ne", "exists"},
    "uuid": {"eq", "ne", "in", "exists"},
    "array": {"contains", "exists"},
    "jsonb_array": {"contains", "exists"},
}


@dataclass(frozen=True)
class FilterField:
    """A filterable, sortable value: a column or a typed SQL expression.

    ``join`` is an outer join (target, on-clause) the list must add when it uses the
    field, e.g. the typed index of a custom attribute.
    """

    expression: Column
    kind: Kind
    choices: frozenset[str] | None = None
    join: tuple[Any, ColumnElement[bool]] | None = None


def _error(param: str, message: str, code: str = "invalid_filter") -> ValidationFailed:
    return ValidationFailed(
        message,
        errors=[FieldError(field=param, location="query", code=code, message=message)],
    )


def aware_datetime(raw: str) -> datetime:
    """An ISO 8601 date-time with an offset, within years 1 to 9999 in UTC."""
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("a date-time needs an offset, e.g. 2025-01-31T09:00:00+08:00")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date-time lies outside the years 1 to 9999") from None
    return value


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValueError("expected true or false")


def _number(raw: str) -> Decimal:
    if len(raw) > MAX_DECIMAL_DIGITS:
        raise ValueError("the number is too long")
    value = Decimal(raw)
    if not value.is_finite() or abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise ValueError("expected a finite number of sensible size")
    return value


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "text": str,
    "number": _number,
    "integer": int,
    "date": date.fromisoformat,
    "datetime": aware_datetime,
    "boolean": _boolean,
    "uuid": uuid.UUID,
    "array": str,
    "jsonb_array": str,
}


def convert(field: FilterField, raw: str) -> Any:
    """The query-string value as the field's Python type (ValueError if it is not one)."""
    try:
        value = _CONVERTERS[field.kind](raw)
    except InvalidOperation:
        raise ValueError(f"not a valid {field.kind}") from None
    except (ValueError, ArithmeticError) as exc:
        raise ValueError(str(exc) or f"not a valid {field.kind}") from None
    if field.choices is not None and value not in field.choices:
        raise ValueError(f"expected one of {', '.join(sorted(field.choices))}")
    return value


def _condition(field: FilterField, op: str, raw: str) -> ColumnElement[bool]:
    column: Any = field.expression
    if op == "exists":
        wanted = _boolean(raw)
        present: ColumnElement[bool] = column.is_not(None)
        if field.kind == "array":
            # An empty list holds no value either.
            present = func.coalesce(func.cardinality(column), 0) > 0
        return present if wanted else not_(present)
    if op == "in":
        values = [bind(convert(field, part)) for part in raw.split(",") if part != ""]
        return column.in_(values) if values else false()
    if op == "contains":
        value = convert(field, raw)
        if field.kind == "jsonb_array":
            return column.op("?")(value)  # type: ignore[no-any-return]
        return column.contains([value])  # type: ignore[no-any-return]
    if op == "like":
        escaped = raw.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.ilike(f"%{escaped}%", escape="\\")  # type: ignore[no-any-return]
    value = bind(convert(field, raw))
    comparisons: dict[str, Callable[[Any], ColumnElement[bool]]] = {
        "eq": lambda v: column == v,
        "ne": lambda v: or_(column != v, column.is_(None)),
        "lt": lambda v: column < v,
        "lte": lambda v: column <= v,
        "gt": lambda v: column > v,
        "gte": lambda v: column >= v,
    }
    return comparisons[op](value)


FieldResolver = Callable[[str], FilterField | None]


def build_filters(
    params: Sequence[tuple[str, str]],
    resolve: FieldResolver,
    *,
    reserved: frozenset[str],
    non_null: set[str] | None = None,
) -> list[ColumnElement[bool]]:
    """Turn query parameters into SQL conditions (all must hold).

    ``non_null`` collects the fields a condition already limits to non-null values, so
    sorting on them needs no NULL handling (and can walk an index).
    """
    conditions: list[ColumnElement[bool]] = []
    for name, raw in params:
        if name in reserved:
            continue
        match = _PARAM.match(name)
        field = resolve(match["field"]) if match else None
        if match is None or field is None:
            raise _error(name, f"Unknown filter '{name}'.", code="unknown_filter")
        op = match["op"] or (
            "contains" if field.kind in {"array", "jsonb_array"} else "eq"
        )
        if op not in _OPERATORS[field.kind]:
            allowed = ", ".join(sorted(_OPERATORS[field.kind]))
            raise _error(
                name, f"Operator '{op}' does not apply here; use one of: {allowed}."
            )
        try:
            conditions.append(_condition(field, op, raw))
        except ValueError as exc:
            raise _error(name, f"Invalid value for '{name}': {exc}.") from None
        if non_null is not None and (
            op not in ("ne", "exists") or (op == "exists" and _boolean(raw))
        ):
            non_null.add(match["field"])
    return conditions


def build_sort(
    sort: str | None,
    resolve: FieldResolver,
    *,
    id_column: Column,
    default: Sequence[SortKey] = (),
    non_null: frozenset[str] | set[str] = frozenset(),
) -> list[SortKey]:
    """``-custom.revenue,name`` -> sort keys, always ending in the id as tie-breaker.

    The id runs in the first key's direction, so one index on (value, id) serves the
    whole ordering in either direction.
    """
    keys: list[SortKey] = []
    for part in (sort or "").split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("-+")
        field = resolve(name)
        if field is None or field.kind not in _ORDERABLE:
            raise _error("sort", f"Cannot sort by '{name}'.", code="invalid_sort")
        keys.append(
            SortKey(
                field.expression,
                descending=descending,
                parse=_cursor_parser(field),
                nullable=name not in non_null and _may_be_null(field),
            )
        )
    if not keys:
        keys = list(default)
    descending = keys[0].descending if keys else False
    keys.append(SortKey(id_column, descending=descending, parse=uuid.UUID))
    return keys


def _may_be_null(field: FilterField) -> bool:
    """False only for a NOT NULL column of the listed table itself: a NULLS LAST
    ordering on it would keep PostgreSQL from reading its index backwards."""
    if field.join is not None:
        return True  # an outer-joined value is NULL where the join finds nothing
    column = getattr(field.expression, "expression", field.expression)
    return bool(getattr(column, "nullable", True))


_CURSOR_TYPES: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "boolean": bool,
    "number": (str, int),
    "integer": int,
}


def _cursor_parser(field: FilterField) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if value is None:
            return None
        expected = _CURSOR_TYPES.get(field.kind, str)
        if not isinstance(value, expected) or (
            isinstance(value, bool) and field.kind != "boolean"
        ):
            raise ValueError("a cursor value of the wrong type")
        if field.kind in {"text", "boolean"}:
            return value
        return convert(field, str(value))

    return parse


def resolver(
    standard: Mapping[str, FilterField],
    custom: Callable[[str], FilterField | None] | None = None,
) -> FieldResolver:
    def resolve(name: str) -> FilterField | None:
        if name.startswith("custom."):
            return custom(name.removeprefix("custom.")) if custom else None
        return standard.get(name)

    return resolve
