"""What a definition change does to stored values, as SQL over the entity's table.

For a change of type or options, :func:`plan` gives expressions over one record: does
it hold a value, does that value survive (as it is, or converted losslessly to the new
type), and what the converted value is. The service counts with them and rewrites with
them in set-based UPDATEs; no record is loaded into Python.

Survival is judged on the value's text (``custom ->> key``) with the same rules the
Python checks apply, so a converted value is always in the new type's storage form:
``"12"`` becomes the integer 12, ``"12.50"`` money keeps two places, a select value
becomes a one-element multiselect. A conversion that would drop information (a
date-time to a date, several choices to one, text to a number that is not one) does
not survive and needs the caller's say.

NOTE: text becoming an email, url or phone attribute is judged by patterns here, not by
the Python checks (email_validator, phonenumbers), which SQL cannot run: a value the
pattern lets through is kept as it is (an email lower-cased). Checking those exactly
would mean streaming the distinct values through Python in batches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Numeric,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by

from crm_api.custom_attributes.values import (
    BIGINT_MAX,
    BIGINT_MIN,
    MAX_DECIMAL_PLACES,
    MAX_EMAIL_CHARS,
    MAX_INTEGER_DIGITS,
    MAX_URL_CHARS,
    Definition,
)

# Types whose storage form is a JSON string; the others are number, boolean, array.
STRING_FORMS = frozenset(
    {"text", "decimal", "money", "date", "datetime", "select", "email", "url", "phone"}
)
# What the API reads as a whole number (a sign, leading zeros, "7.00"); at most 19
# significant digits, so the cast before the bigint range check is cheap.
_INTEGER_RE = r"^[+-]?0*[0-9]{1,19}(\.0+)?$"
_DECIMAL_RE = (
    rf"^-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,{MAX_DECIMAL_PLACES}}})?$"
)
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# Offsets within PostgreSQL's +-15:59, seconds without leap seconds.
_DATETIME_RE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-5]):[0-5][0-9])$"
)
_EMAIL_RE = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_URL_RE = r"^[hH][tT][tT][pP][sS]?://[^\s/?#]+([/?#]\S*)?$"
_PHONE_RE = r"^\+[1-9][0-9]{6,14}$"
_TRUE_WORDS = ("true", "yes", "1")
_BOOLEAN_WORDS = ("true", "yes", "1", "false", "no", "0")


@dataclass(frozen=True)
class Plan:
    """SQL over one record for one attribute change.

    ``survives`` and ``converted`` matter only where ``holds``; ``converted`` is None
    when surviving values stay as they are. ``first`` (multiselect to select) is the
    first chosen option that is still an option, NULL when there is none. ``pruned``
    (multiselect options removed) is the list without the removed options, NULL when
    nothing is left.
    """

    holds: ColumnElement[bool]
    survives: ColumnElement[bool]
    converted: ColumnElement[Any] | None
    first: ColumnElement[Any] | None = None
    pruned: ColumnElement[Any] | None = None


def jsonb(value: Any) -> ColumnElement[Any]:
    """A Python value (already in storage form) as a jsonb literal."""
    return cast(literal(json.dumps(value), Text), JSONB)


def _key(key: str) -> ColumnElement[str]:
    return cast(literal(key, Text), Text)


def holds_value(column: Any, key: str) -> ColumnElement[bool]:
    """The record has a value for ``key`` (storage forms are never JSON null)."""
    return column[_key(key)].astext.is_not(None)  # type: ignore[no-any-return]


def set_key(document: Any, key: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
    """``document`` with ``key`` set to ``value`` (jsonb)."""
    return document.op("||", return_type=JSONB)(  # type: ignore[no-any-return]
        func.jsonb_build_object(_key(key), value)
    )


def drop_key(document: Any, key: str) -> ColumnElement[Any]:
    return document.op("-", return_type=JSONB)(_key(key))  # type: ignore[no-any-return]


def _regex(text: Any, pattern: str) -> ColumnElement[bool]:
    return text.regexp_match(pattern)  # type: ignore[no-any-return]


def _calendar_date(text: Any) -> ColumnElement[bool]:
    """``YYYY-MM-DD`` text (already matched) names a real day, without casting errors."""
    year = cast(func.substr(text, 1, 4), Integer)
    month = cast(func.substr(text, 6, 2), Integer)
    day = cast(func.substr(text, 9, 2), Integer)
    first = func.make_date(year, month, 1)
    return case(
        (
            and_(year >= 1, month.between(1, 12), day.between(1, 31)),
            func.to_char(first + (day - 1), "YYYY-MM-DD") == func.substr(text, 1, 10),
        ),
        else_=false(),
    )


def _guarded(text: Any, pattern: str, then: ColumnElement[bool]) -> ColumnElement[bool]:
    """``then`` evaluated only where ``text`` matches ``pattern`` (CASE keeps order)."""
    return case((_regex(text, pattern), then), else_=false())


def _in_bigint_range(text: Any) -> ColumnElement[bool]:
    """An integer text (already matched) lies in PostgreSQL's bigint range."""
    return cast(text, Numeric).between(
        literal(BIGINT_MIN, Numeric), literal(BIGINT_MAX, Numeric)
    )


def _in_datetime_range(text: Any) -> ColumnElement[bool]:
    """A real date-time text (already checked) lies in the years 1 to 9999 in UTC.

    Its own date may lie in them while UTC does not (0001-01-01T00:00+14:00 is in
    1 BC): the API refuses such values, so a conversion must not keep them.
    """
    moment = cast(text, DateTime(timezone=True))
    return moment.between(
        cast(literal("0001-01-01T00:00:00Z", Text), DateTime(timezone=True)),
        cast(literal("9999-12-31T23:59:59.999999Z", Text), DateTime(timezone=True)),
    )


def _utc_text(text: Any) -> ColumnElement[Any]:
    """An ISO date-time text in the storage form: UTC, ``Z``, microseconds if any."""
    utc = func.timezone("UTC", cast(text, DateTime(timezone=True)))
    micro = func.to_char(utc, "US")
    return (
        func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
        + case((micro == "000000", ""), else_="." + micro)
        + "Z"
    )


def _scalar_target(
    target: Definition, text: Any, minor_units: int
) -> tuple[ColumnElement[bool], ColumnElement[Any] | None]:
    """(survives, new text or jsonb) for a scalar value turning into ``target``."""
    kind = target.type
    if kind == "text":
        return true(), None
    if kind == "integer":
        return _guarded(text, _INTEGER_RE, _in_bigint_range(text)), func.to_jsonb(
            cast(cast(text, Numeric), BigInteger)
        )
    if kind == "decimal":
        return _regex(text, _DECIMAL_RE), cast(cast(text, Numeric), Text)
    if kind == "money":
        number = cast(text, Numeric)
        return (
            _guarded(text, _DECIMAL_RE, number == func.round(number, minor_units)),
            cast(func.round(number, minor_units), Text),
        )
    if kind == "boolean":
        lowered = func.lower(text)
        return lowered.in_(_BOOLEAN_WORDS), func.to_jsonb(lowered.in_(_TRUE_WORDS))
    if kind == "date":
        return _guarded(text, _DATE_RE, _calendar_date(text)), None
    if kind == "datetime":
        real = case((_calendar_date(text), _in_datetime_range(text)), else_=false())
        return _guarded(text, _DATETIME_RE, real), _utc_text(text)
    if kind == "select":
        return text.in_(target.options), None
    if kind == "email":
        return (
            and_(func.length(text) <= MAX_EMAIL_CHARS, _regex(text, _EMAIL_RE)),
            func.lower(text),
        )
    if kind == "url":
        return and_(func.length(text) <= MAX_URL_CHARS, _regex(text, _URL_RE)), None
    if kind == "phone":
        return _regex(text, _PHONE_RE), None
    return false(), None


def _elements(value: Any) -> Any:
    return func.jsonb_array_elements_text(value).table_valued(
        "value", with_ordinality="ordinality"
    )


def plan(
    column: Any, key: str, before: Definition, after: Definition, *, minor_units: int
) -> Plan:
    """How records' values of ``key`` fare when ``before`` becomes ``after``."""
    value = column[_key(key)]
    text = value.astext
    holds = holds_value(column, key)
    options = list(after.options)

    if before.type == after.type:
        removed = set(before.options) - set(after.options)
        if after.type == "select" and removed:
            return Plan(holds, text.in_(options), None)
        if after.type == "multiselect" and removed:
            kept = _elements(value)
            pruned = (
                select(
                    func.jsonb_agg(aggregate_order_by(kept.c.value, kept.c.ordinality))
                )
                .where(kept.c.value.in_(options))
                .scalar_subquery()
            )
            return Plan(holds, value.contained_by(jsonb(options)), None, pruned=pruned)
        return Plan(holds, true(), None)

    if before.type == "multiselect":
        chosen = _elements(value)
        if after.type == "select":
            first = (
                select(chosen.c.value)
                .where(chosen.c.value.in_(options))
                .order_by(chosen.c.ordinality)
                .limit(1)
                .scalar_subquery()
            )
            return Plan(
                holds,
                and_(
                    func.jsonb_array_length(value) == 1,
                    value.op("->>", return_type=Text)(0).in_(options),
                ),
                func.to_jsonb(value.op("->>", return_type=Text)(0)),
                first=first,
            )
        if after.type == "text":
            joined = (
                select(
                    func.string_agg(
                        chosen.c.value,
                        aggregate_order_by(literal("; ", Text), chosen.c.ordinality),
                    )
                )
                .select_from(chosen)
                .scalar_subquery()
            )
            return Plan(holds, true(), func.to_jsonb(joined))
        return Plan(holds, false(), None)

    if after.type == "multiselect":
        return Plan(holds, text.in_(options), func.jsonb_build_array(text))

    survives, new_text = _scalar_target(after, text, minor_units)
    if new_text is not None and after.type not in ("integer", "boolean"):
        converted: ColumnElement[Any] | None = func.to_jsonb(new_text)
    elif new_text is not None:
        converted = new_text
    elif before.type not in STRING_FORMS:
        converted = func.to_jsonb(text)
    else:
        converted = None
    return Plan(holds, survives, converted)
