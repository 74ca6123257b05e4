"""Annotated field types shared by every domain's schemas."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Annotated

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StringConstraints


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_currency(code: str) -> str:
    code = code.upper()
    if code not in list_currencies():
        raise ValueError(f"'{code}' is not an ISO 4217 currency code")
    return code


def _check_time_zone(name: str) -> str:
    if name not in _time_zones():
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. 'Asia/Shanghai')")
    return name


def _check_locale(tag: str) -> str:
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(
            f"'{tag}' is not a known locale (e.g. 'en-US', 'zh-CN')"
        ) from None
    return "-".join(
        part for part in (locale.language, locale.script, locale.territory) if part
    )


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
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
