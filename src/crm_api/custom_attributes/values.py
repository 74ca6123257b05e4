"""Custom-attribute values: checked against the tenant's definitions, kept in one form.

A record keeps its values in one JSONB object (``customers.custom`` ...), key by key, in
a storage form chosen so that the SQL casts in :meth:`Definitions.sql_value` always
succeed:

========== ===============================================================
integer    JSON integer (PostgreSQL bigint range)
decimal    decimal string as given, no exponent: ``"0.10"``; at most 30 digits
           before the point and 15 after
money      decimal string with exactly the tenant currency's minor units; at most
           30 digits before the point
boolean    JSON boolean
date       ``"YYYY-MM-DD"``
datetime   UTC, ``"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"``
select     one of the options
multiselect list of distinct options, in the order given
email      lower-cased address
url        http(s) URL, at most 2,048 characters
phone      E.164 (``"+493012345678"``)
text       the string, at most 10,000 characters
========== ===============================================================

An empty string, a blank string or an empty list counts as no value at all.

Numbers arrive as ``Decimal`` (the API never reads floats), and a JSON number may carry
any exponent: ``1e5000000`` is a short text but a five-million-digit number. Their size
is therefore judged on the exponent (``Decimal.adjusted()``) before anything turns them
into an ``int`` or rounds them, which would take minutes for such a value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any, NoReturn
from urllib.parse import urlsplit

import phonenumbers
from babel.numbers import get_currency_precision
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Boolean, ColumnElement, Date, DateTime, Numeric, cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from crm_api.custom_attributes import repository
from crm_api.custom_attributes.kinds import AttributeType, Entity
from crm_api.custom_attributes.models import CustomAttribute
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import FieldError, ValidationFailed
from crm_api.tenants.models import Tenant

MAX_TEXT_CHARS = 10_000
MAX_URL_CHARS = 2_048
MAX_EMAIL_CHARS = 254
# Decimal limits, mirrored by the SQL in conversions.py.
MAX_INTEGER_DIGITS = 30
MAX_DECIMAL_PLACES = 15
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# 2**63 has 19 digits: a number with more before the point is out of range.
_BIGINT_DIGITS = 19

_DECIMAL_TEXT = re.compile(r"^[+-]?[0-9]+(?:\.[0-9]+)?$")
_INTEGER_TEXT = re.compile(r"^[+-]?[0-9]+$")
_DATE_TEXT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DATETIME_TEXT = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_SPLIT_OPTIONS = re.compile(r"[;|]")
_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0"})
_EXACT = Context(prec=80)
_CACHE = "custom_attribute_definitions"


class InvalidValue(ValueError):
    """A value that does not fit its attribute; ``code`` is stable, the text readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ValueFormat:
    """What a tenant's settings add to checking values: money precision, phone region."""

    currency: str = "EUR"
    minor_units: int = 2
    region: str | None = None

    @classmethod
    def of_tenant(cls, tenant: Tenant) -> ValueFormat:
        return cls(
            currency=tenant.default_currency,
            minor_units=get_currency_precision(tenant.default_currency),
            region=region_of_locale(tenant.locale),
        )


def region_of_locale(locale: str) -> str | None:
    """``de-DE`` -> ``DE``; None when the locale names no country (``en``, ``es-419``)."""
    last = locale.replace("_", "-").split("-")[-1]
    if "-" in locale.replace("_", "-") and len(last) == 2 and last.isalpha():
        return last.upper()
    return None


@dataclass(frozen=True)
class Definition:
    """One attribute as the value checks see it (a snapshot, not the ORM row)."""

    key: str
    type: AttributeType
    required: bool = False
    options: tuple[str, ...] = ()
    default: Any = None
    archived: bool = False

    @classmethod
    def of(cls, row: CustomAttribute) -> Definition:
        return cls(
            key=row.key,
            type=row.type,  # type: ignore[arg-type]
            required=row.required,
            options=tuple(row.options),
            default=row.default,
            archived=row.archived,
        )

    @property
    def enforced_required(self) -> bool:
        """Archived attributes cannot be written, so they cannot be required either."""
        return self.required and not self.archived


def is_blank(value: Any) -> bool:
    """No value: null, an empty or blank string, an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    return isinstance(value, list) and not value


# --- one checker per type: value in (JSON as parsed by this API), storage form out ---


def _fail(code: str, message: str) -> NoReturn:
    raise InvalidValue(code, message)


def _string(value: Any, what: str = "a string") -> str:
    if not isinstance(value, str):
        _fail("type", f"Must be {what}.")
    return value


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        _fail("type", 'Must be a number or a decimal string such as "12.50".')
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
        number = Decimal(value.strip())
    else:
        _fail("type", 'Must be a number or a decimal string such as "12.50".')
    if not number.is_finite():
        _fail("type", "Must be a finite number.")
    if number != 0 and number.adjusted() >= MAX_INTEGER_DIGITS:
        _fail("too_large", f"Must have at most {MAX_INTEGER_DIGITS} integer digits.")
    if -number.as_tuple().exponent > MAX_DECIMAL_PLACES:  # type: ignore[operator]
        _fail("too_precise", f"Must have at most {MAX_DECIMAL_PLACES} decimal places.")
    return number


def _plain(number: Decimal) -> str:
    if number == 0:
        number = number.copy_abs()  # no "-0"
    return format(number, "f")


def _check_text(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    text = _string(value)
    if len(text) > MAX_TEXT_CHARS:
        _fail("too_long", f"Must be at most {MAX_TEXT_CHARS} characters long.")
    return text


def _check_integer(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        _fail("type", "Must be a whole number.")
    if isinstance(value, Decimal):
        if not value.is_finite():
            _fail("type", "Must be a whole number.")
        # Before int(): see the module docstring.
        if value and value.adjusted() >= _BIGINT_DIGITS:
            _fail("too_large", "Must lie between -2^63 and 2^63-1.")
        if value != value.to_integral_value():
            _fail("type", "Must be a whole number.")
        value = int(value)
    if not BIGINT_MIN <= value <= BIGINT_MAX:
        _fail("too_large", "Must lie between -2^63 and 2^63-1.")
    return value


def _check_decimal(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    return _plain(_decimal(value))


def _check_money(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    number = _decimal(value)
    quantum = Decimal(1).scaleb(-fmt.minor_units)
    rounded = number.quantize(quantum, context=_EXACT)
    if rounded != number:
        _fail(
            "too_precise",
            f"{fmt.currency} amounts have at most {fmt.minor_units} decimal places.",
        )
    return _plain(rounded)


def _check_boolean(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    if not isinstance(value, bool):
        _fail("type", "Must be true or false.")
    return value


def _check_date(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    text = _string(value, "a date (YYYY-MM-DD)").strip()
    if not _DATE_TEXT.match(text):
        _fail("invalid_date", "Must be a date written YYYY-MM-DD.")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        _fail("invalid_date", f"{text} is not a calendar date.")


def utc_text(moment: datetime) -> str:
    """The storage form of an aware datetime: UTC with a ``Z``, microseconds if any."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.isoformat(timespec=spec) + "Z"


def _check_datetime(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    if isinstance(value, datetime):
        moment = value
    else:
        text = _string(value, "an ISO 8601 date-time").strip()
        if not _DATETIME_TEXT.match(text):
            _fail(
                "invalid_datetime",
                "Must be an ISO 8601 date-time, e.g. 2025-01-31T09:00:00+08:00.",
            )
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            _fail("invalid_datetime", f"{text} is not a valid date-time.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        _fail(
            "naive_datetime",
            "Must carry a UTC offset, e.g. 2025-01-31T09:00:00+08:00 or ...Z.",
        )
    try:
        return utc_text(moment)
    except OverflowError:
        _fail("invalid_datetime", "Lies outside the years 1 to 9999 in UTC.")


def _option_text(definition: Definition) -> str:
    shown = ", ".join(definition.options[:20])
    return shown + (", ..." if len(definition.options) > 20 else "")


def _check_select(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    text = _string(value).strip()
    if text not in definition.options:
        _fail("not_an_option", f"Must be one of: {_option_text(definition)}.")
    return text


def _check_multiselect(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    if not isinstance(value, list):
        _fail("type", "Must be a list of options.")
    chosen: list[str] = []
    for item in value:
        text = _string(item, "a list of strings").strip()
        if text not in definition.options:
            _fail(
                "not_an_option",
                f"'{text[:200]}' is not an option; use: {_option_text(definition)}.",
            )
        if text not in chosen:
            chosen.append(text)
    return chosen


def _check_email(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    text = _string(value).strip()
    if len(text) > MAX_EMAIL_CHARS:
        _fail("invalid_email", f"Must be at most {MAX_EMAIL_CHARS} characters long.")
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        _fail("invalid_email", str(exc))
    return checked.normalized.lower()


def _check_url(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    text = _string(value).strip()
    if len(text) > MAX_URL_CHARS:
        _fail("invalid_url", f"Must be at most {MAX_URL_CHARS} characters long.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        _fail("invalid_url", "Must not contain spaces or control characters.")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        _fail("invalid_url", "Is not a valid URL.")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        _fail("invalid_url", "Must be an http:// or https:// URL with a host.")
    return text


def _check_phone(value: Any, definition: Definition, fmt: ValueFormat) -> Any:
    text = _string(value).strip()
    if len(text) > 64:
        _fail("invalid_phone", "Is too long for a phone number.")
    try:
        number = phonenumbers.parse(text, fmt.region)
    except phonenumbers.NumberParseException:
        _fail(
            "invalid_phone",
            "Not a phone number; write it with its country code, e.g. +49 30 1234567.",
        )
    if not phonenumbers.is_valid_number(number):
        _fail(
            "invalid_phone",
            "Not a valid phone number; check the digits and the country code.",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_CHECKS: dict[str, Callable[[Any, Definition, ValueFormat], Any]] = {
    "text": _check_text,
    "integer": _check_integer,
    "decimal": _check_decimal,
    "money": _check_money,
    "boolean": _check_boolean,
    "date": _check_date,
    "datetime": _check_datetime,
    "select": _check_select,
    "multiselect": _check_multiselect,
    "email": _check_email,
    "url": _check_url,
    "phone": _check_phone,
}


def normalise(definition: Definition, value: Any, fmt: ValueFormat) -> Any:
    """``value`` in its storage form, or :class:`InvalidValue`. Blank is not a value."""
    if is_blank(value):
        _fail("required", "A value is needed here; null removes it.")
    return _CHECKS[definition.type](value, definition, fmt)


def _parse_boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE_WORDS:
        return True
    if lowered in _FALSE_WORDS:
        return False
    _fail("type", f"'{text}' is not a yes/no value (true/false, yes/no, 1/0).")


# --- the definitions of one entity type, as a request sees them ---


class Definitions:
    """A tenant's custom attributes of one entity type, with the value checks."""

    def __init__(
        self,
        entity: str,
        definitions: Iterable[Definition],
        *,
        value_format: ValueFormat | None = None,
    ) -> None:
        self.entity = entity
        self.value_format = value_format or ValueFormat()
        self._by_key = {d.key: d for d in definitions}

    def __iter__(self) -> Iterator[Definition]:
        return iter(self._by_key.values())

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def keys(self) -> list[str]:
        """Every attribute key, archived ones too, in display order."""
        return list(self._by_key)

    def get(self, key: str) -> Definition | None:
        return self._by_key.get(key)

    def type_of(self, key: str) -> AttributeType | None:
        """The attribute's type; None when the entity has no attribute ``key``."""
        definition = self._by_key.get(key)
        return definition.type if definition is not None else None

    def _error(self, key: str, code: str, message: str) -> FieldError:
        return FieldError(
            field=f"custom.{key}", location="body", code=code, message=message
        )

    def _raise(self, errors: list[FieldError]) -> None:
        if errors:
            raise ValidationFailed(
                "One or more custom attribute values are invalid.", errors=errors
            )

    def validate_create(self, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """A new record's values: checked, in storage form, defaults filled in."""
        result: dict[str, Any] = {}
        errors: list[FieldError] = []
        values = values or {}
        for key, value in values.items():
            definition = self._by_key.get(key)
            if definition is None:
                errors.append(
                    self._error(key, "unknown_attribute", "Unknown custom attribute.")
                )
            elif definition.archived:
                errors.append(self._error(key, "archived", "archived: not writable"))
            elif not is_blank(value):
                try:
                    result[key] = normalise(definition, value, self.value_format)
                except InvalidValue as exc:
                    errors.append(self._error(key, exc.code, exc.message))
        for definition in self:
            if definition.archived or not is_blank(values.get(definition.key)):
                continue  # written above, or refused above
            if definition.default is not None:
                result[definition.key] = definition.default
            elif definition.required:
                errors.append(self._error(definition.key, "required", "Required."))
        self._raise(errors)
        return result

    def validate_update(
        self, current: Mapping[str, Any] | None, patch: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """A JSON merge patch over ``current``; returns a new dict, never mutates.

        Null (or a blank value) removes a key. Archived keys keep their stored value: a
        patch may repeat it unchanged but not change or remove it.
        """
        current = current or {}
        result = dict(current)
        errors: list[FieldError] = []
        for key, value in (patch or {}).items():
            definition = self._by_key.get(key)
            if definition is None:
                errors.append(
                    self._error(key, "unknown_attribute", "Unknown custom attribute.")
                )
            elif definition.archived:
                if not self._unchanged(definition, current, value):
                    errors.append(
                        self._error(key, "archived", "archived: not writable")
                    )
            elif is_blank(value):
                if definition.required:
                    errors.append(
                        self._error(key, "required", "Required; cannot be removed.")
                    )
                else:
                    result.pop(key, None)
            else:
                try:
                    result[key] = normalise(definition, value, self.value_format)
                except InvalidValue as exc:
                    errors.append(self._error(key, exc.code, exc.message))
        self._raise(errors)
        return result

    def _unchanged(
        self, definition: Definition, current: Mapping[str, Any], value: Any
    ) -> bool:
        if is_blank(value):
            return definition.key not in current
        if definition.key not in current:
            return False
        try:
            return bool(
                normalise(definition, value, self.value_format)
                == current[definition.key]
            )
        except InvalidValue:
            return False

    def parse_text(self, key: str, text: str) -> Any:
        """A CSV cell as the attribute's value in storage form; None when empty.

        Strict: integers ``12``, decimals ``12.50``, yes/no as true/false, yes/no or
        1/0, dates ``YYYY-MM-DD``, multiselect options split on ``;`` or ``|``.
        Raises ValueError with a readable message.
        """
        definition = self._by_key.get(key)
        if definition is None:
            raise ValueError(f"'{key}' is not a custom attribute of {self.entity}")
        stripped = text.strip()
        if not stripped:
            return None
        raw: Any = stripped
        try:
            if definition.type == "text":
                raw = text
            elif definition.type == "integer":
                if not _INTEGER_TEXT.match(stripped):
                    _fail("type", f"'{stripped}' is not a whole number.")
                raw = Decimal(stripped)  # its size is checked before int()
            elif definition.type in ("decimal", "money"):
                if not _DECIMAL_TEXT.match(stripped):
                    _fail("type", f"'{stripped}' is not a decimal number like 12.50.")
                raw = Decimal(stripped)
            elif definition.type == "boolean":
                raw = _parse_boolean(stripped)
            elif definition.type == "multiselect":
                raw = [p.strip() for p in _SPLIT_OPTIONS.split(stripped) if p.strip()]
            return normalise(definition, raw, self.value_format)
        except (InvalidValue, InvalidOperation) as exc:
            raise ValueError(f"{key}: {exc}") from None

    def sql_value(
        self, column: ColumnElement[Any] | InstrumentedAttribute[Any], key: str
    ) -> ColumnElement[Any]:
        """A typed SQL expression over the JSONB ``column`` for filtering and sorting.

        Numbers compare as ``numeric``, dates as ``date``, date-times as
        ``timestamptz``, booleans as ``boolean``; multiselect stays ``jsonb`` (an
        array); everything else is text. Raises KeyError for an unknown key.
        """
        definition = self._by_key.get(key)
        if definition is None:
            raise KeyError(f"'{key}' is not a custom attribute of {self.entity}")
        element: Any = column
        value = element[key]
        if definition.type == "multiselect":
            return value  # type: ignore[no-any-return]
        text = value.astext
        if definition.type in ("integer", "decimal", "money"):
            return cast(text, Numeric)
        if definition.type == "date":
            return cast(text, Date)
        if definition.type == "datetime":
            return cast(text, DateTime(timezone=True))
        if definition.type == "boolean":
            return cast(text, Boolean)
        return text  # type: ignore[no-any-return]


async def load_value_format(session: AsyncSession) -> ValueFormat:
    tenant = await session.get(Tenant, current_tenant(session))
    if tenant is None:
        raise RuntimeError("the session's tenant does not exist")
    return ValueFormat.of_tenant(tenant)


def _cache(
    session: AsyncSession,
) -> dict[tuple[uuid.UUID, str, bool], tuple[object, Definitions]]:
    return session.info.setdefault(_CACHE, {})  # type: ignore[no-any-return]


async def load_definitions(
    session: AsyncSession, entity: Entity, *, for_write: bool = True
) -> Definitions:
    """The tenant's definitions for ``entity``, loaded once per transaction.

    For writing, loading takes a shared lock on the entity's definitions until the
    transaction ends, so a definition change (which takes the lock exclusively) waits
    for the records being written under the old definitions, and is then counted and
    converted with them; writes that start later see the new definitions. Lists and
    exports (``for_write=False``) only filter and sort: they take no lock and skip the
    tenant's money format, which only value checks need.
    """
    cache = _cache(session)
    cache_key = (current_tenant(session), entity, for_write)
    cached = cache.get(cache_key)
    if cached is not None and cached[0] is session.sync_session.get_transaction():
        return cached[1]
    if for_write:
        await repository.lock_entity(session, entity, exclusive=False)
    rows = await repository.all_of_entity(session, entity)
    definitions = Definitions(
        entity,
        [Definition.of(row) for row in rows],
        value_format=await load_value_format(session) if for_write else None,
    )
    # Kept per transaction: the lock (and what it guarantees) ends with it.
    cache[cache_key] = (session.sync_session.get_transaction(), definitions)
    return definitions


def forget_definitions(session: AsyncSession, entity: str) -> None:
    """Drop the cached definitions of ``entity`` after changing them."""
    cache = _cache(session)
    for cache_key in [k for k in cache if k[1] == entity]:
        del cache[cache_key]
