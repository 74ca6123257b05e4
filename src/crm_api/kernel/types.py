"""Annotated field types shared by every domain's schemas."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from datetime import UTC, datetime
from functools import cache
from typing import Annotated

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

# Names zoneinfo knows that depend on the host or mean nothing.
_NOT_TIME_ZONES = frozenset({"localtime", "Factory"})
# ISO 4217 codes that are not money: testing and "no currency".
_NOT_CURRENCIES = frozenset({"XXX", "XTS"})
_LOCALE_TAG = re.compile(
    r"^[a-zA-Z]{2,3}(?:[-_][a-zA-Z]{4})?(?:[-_](?:[a-zA-Z]{2}|\d{3}))?$"
)
# Bidirectional overrides and isolates: they make text display other than it reads.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_TIME_ZONES


def _check_currency(code: str) -> str:
    code = code.upper()
    if code not in list_currencies() or code in _NOT_CURRENCIES:
        raise ValueError(f"'{code}' is not an ISO 4217 currency code")
    return code


def _check_time_zone(name: str) -> str:
    if name not in _time_zones():
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. 'Asia/Shanghai')")
    return name


def _check_locale(tag: str) -> str:
    if not _LOCALE_TAG.match(tag):
        raise ValueError(f"'{tag}' is not a locale tag like 'en-US' or 'zh-Hans-CN'")
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(
            f"'{tag}' is not a known locale (e.g. 'en-US', 'zh-CN')"
        ) from None
    # Keep what the caller wrote (canonical case), not babel's likely-subtag expansion.
    parts = tag.replace("_", "-").split("-")
    canonical = [parts[0].lower()]
    for part in parts[1:]:
        canonical.append(part.title() if len(part) == 4 else part.upper())
    if locale.language != canonical[0]:
        raise ValueError(f"'{tag}' is not a known locale")
    return "-".join(canonical)


def _check_plain_text(value: str) -> str:
    """No control characters (line breaks excepted) and no bidi overrides."""
    for char in value:
        if char in _BIDI_CONTROLS or (
            unicodedata.category(char) == "Cc" and char not in "\n\r\t"
        ):
            raise ValueError("control characters are not allowed")
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date-time is out of range") from None


CurrencyCode = Annotated[
    str,
    Field(min_length=3, max_length=3, examples=["EUR"]),
    AfterValidator(_check_currency),
]
TimeZoneName = Annotated[
    str,
    Field(max_length=64, examples=["Europe/Berlin"]),
    AfterValidator(_check_time_zone),
]
LocaleTag = Annotated[
    str, Field(max_length=35, examples=["de-DE"]), AfterValidator(_check_locale)
]


def normalize_email(value: str) -> str:
    """The stored form of an email, or the lower-cased input if it is not one."""
    try:
        return _check_email(value)
    except ValueError:
        return value.strip().lower()


def _check_email(value: str) -> str:
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.normalized.lower()


Email = Annotated[
    str,
    StringConstraints(max_length=254),
    Field(json_schema_extra={"format": "email"}, examples=["ada@example.com"]),
    AfterValidator(_check_email),
]
Password = Annotated[str, StringConstraints(min_length=10, max_length=256)]
Slug = Annotated[
    str,
    StringConstraints(
        min_length=2, max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"
    ),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_check_plain_text),
]
PlainText = AfterValidator(_check_plain_text)
UtcDatetime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    Field(description="ISO 8601 with an offset; stored and returned in UTC."),
]
