"""Checking custom-attribute values: every type, storage forms, merge patches, CSV."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from crm_api.custom_attributes.values import (
    Definition,
    Definitions,
    ValueFormat,
    load_definitions,
    region_of_locale,
)
from crm_api.kernel.db import set_tenant
from crm_api.kernel.errors import ValidationFailed
from tests.custom_attributes.conftest import Record, Records
from tests.fixtures.api import TenantContext, sign_up

EUR_DE = ValueFormat(currency="EUR", minor_units=2, region="DE")
JPY_JP = ValueFormat(currency="JPY", minor_units=0, region="JP")
OPTIONS = ("red", "green", "blue")


def _definitions(*items: Definition, fmt: ValueFormat = EUR_DE) -> Definitions:
    return Definitions("customer", items, value_format=fmt)


def _one(kind: str, fmt: ValueFormat = EUR_DE) -> Definitions:
    options = OPTIONS if kind in ("select", "multiselect") else ()
    return _definitions(Definition("x", kind, options=options), fmt=fmt)  # type: ignore[arg-type]


def _errors(excinfo: pytest.ExceptionInfo[ValidationFailed]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in excinfo.value.errors or []]


VALID: list[tuple[str, Any, Any]] = [
    ("text", "Hello, 世界", "Hello, 世界"),
    ("integer", 12, 12),
    ("integer", Decimal("12.0"), 12),
    ("integer", -(2**63), -(2**63)),
    ("integer", Decimal("9223372036854775807"), 2**63 - 1),
    ("integer", Decimal("0E+5000000"), 0),
    ("decimal", Decimal("0.10"), "0.10"),
    ("decimal", "12.50", "12.50"),
    ("decimal", 3, "3"),
    ("decimal", Decimal("1E+3"), "1000"),
    ("decimal", Decimal("-0.00"), "0.00"),
    ("money", Decimal("12.5"), "12.50"),
    ("money", "12.500", "12.50"),
    ("money", 7, "7.00"),
    ("boolean", True, True),
    ("boolean", False, False),
    ("date", "2024-02-29", "2024-02-29"),
    ("datetime", "2025-01-31T09:00:00+08:00", "2025-01-31T01:00:00Z"),
    ("datetime", "2025-01-31T09:00:00.250Z", "2025-01-31T09:00:00.250000Z"),
    ("select", "green", "green"),
    ("multiselect", ["blue", "red", "blue"], ["blue", "red"]),
    ("email", "Ada@Example.COM", "ada@example.com"),
    ("url", "https://example.com/a?b=c", "https://example.com/a?b=c"),
    ("phone", "030 12345678", "+493012345678"),
    ("phone", "+1 650 253 0000", "+16502530000"),
]

INVALID: list[tuple[str, Any, str]] = [
    ("text", 12, "type"),
    ("text", "x" * 10_001, "too_long"),
    ("integer", Decimal("1.5"), "type"),
    ("integer", "12", "type"),
    ("integer", True, "type"),
    ("integer", 2**63, "too_large"),
    ("integer", Decimal("9223372036854775808"), "too_large"),
    ("integer", Decimal("1e19"), "too_large"),
    ("integer", Decimal("1e-5000000"), "type"),
    ("decimal", "1e5", "type"),
    ("decimal", "12,50", "type"),
    ("decimal", True, "type"),
    ("decimal", Decimal("NaN"), "type"),
    ("money", Decimal("12.505"), "too_precise"),
    ("boolean", "true", "type"),
    ("boolean", 1, "type"),
    ("date", "2025-02-30", "invalid_date"),
    ("date", "2025-2-3", "invalid_date"),
    ("date", "20250203", "invalid_date"),
    ("datetime", "2025-01-31T09:00:00", "naive_datetime"),
    ("datetime", "2025-01-31", "invalid_datetime"),
    ("datetime", "2025-02-30T09:00:00Z", "invalid_datetime"),
    ("select", "purple", "not_an_option"),
    ("select", ["red"], "type"),
    ("multiselect", "red", "type"),
    ("multiselect", ["red", "purple"], "not_an_option"),
    ("email", "not-an-email", "invalid_email"),
    ("url", "ftp://example.com/file", "invalid_url"),
    ("url", "javascript:alert(1)", "invalid_url"),
    ("url", "https://" + "a" * 2050 + ".com", "invalid_url"),
    ("url", "https://exa mple.com", "invalid_url"),
    ("phone", "12", "invalid_phone"),
    ("phone", "call me", "invalid_phone"),
]


class TestTypes:
    @pytest.mark.parametrize(("kind", "value", "stored"), VALID)
    def test_valid_value_is_stored_in_its_storage_form(
        self, kind: str, value: Any, stored: Any
    ) -> None:
        assert _one(kind).validate_create({"x": value}) == {"x": stored}

    @pytest.mark.parametrize(("kind", "value", "code"), INVALID)
    def test_invalid_value_is_a_field_error(
        self, kind: str, value: Any, code: str
    ) -> None:
        with pytest.raises(ValidationFailed) as excinfo:
            _one(kind).validate_create({"x": value})

        assert _errors(excinfo) == [("custom.x", code)]
        assert excinfo.value.errors is not None
        assert excinfo.value.errors[0].location == "body"

    def test_decimal_arriving_as_decimal_keeps_its_exact_digits(self) -> None:
        stored = _one("decimal").validate_create({"x": Decimal("0.10")})

        assert stored == {"x": "0.10"}
        assert isinstance(stored["x"], str)

    def test_money_with_more_places_than_jpy_allows_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as excinfo:
            _one("money", JPY_JP).validate_create({"x": Decimal("100.5")})

        assert _errors(excinfo) == [("custom.x", "too_precise")]
        assert "JPY" in (excinfo.value.errors or [])[0].message

    def test_money_in_jpy_has_no_decimal_places(self) -> None:
        assert _one("money", JPY_JP).validate_create({"x": "100.00"}) == {"x": "100"}

    def test_unparseable_phone_says_how_to_write_one(self) -> None:
        with pytest.raises(ValidationFailed) as excinfo:
            _one("phone", EUR_DE).validate_create({"x": "call me"})

        assert [e.message for e in excinfo.value.errors or []] == [
            "Not a phone number; write it with its country code, e.g. +49 30 1234567."
        ]

    @pytest.mark.parametrize(
        "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-12:00"]
    )
    def test_datetime_outside_the_utc_years_is_refused(self, moment: str) -> None:
        with pytest.raises(ValidationFailed) as excinfo:
            _one("datetime").validate_create({"x": moment})

        assert _errors(excinfo) == [("custom.x", "invalid_datetime")]

    def test_phone_without_country_code_needs_a_tenant_region(self) -> None:
        no_region = ValueFormat(currency="EUR", minor_units=2, region=None)

        with pytest.raises(ValidationFailed):
            _one("phone", no_region).validate_create({"x": "030 12345678"})

    @pytest.mark.parametrize(
        ("locale", "region"),
        [("de-DE", "DE"), ("zh-Hans-CN", "CN"), ("en", None), ("es-419", None)],
    )
    def test_region_comes_from_the_locale(
        self, locale: str, region: str | None
    ) -> None:
        assert region_of_locale(locale) == region

    @pytest.mark.parametrize("blank", ["", "   ", [], None])
    def test_blank_value_counts_as_no_value(self, blank: Any) -> None:
        assert _one("text").validate_create({"x": blank}) == {}


class TestHugeNumbers:
    """A JSON number is short text but may be a huge number: sizes are judged first."""

    @pytest.mark.timeout(5)
    @pytest.mark.parametrize("kind", ["integer", "decimal", "money"])
    @pytest.mark.parametrize("number", ["1e5000000", "-1e5000000", "1e999"])
    def test_huge_exponent_is_too_large_at_once(self, kind: str, number: str) -> None:
        with pytest.raises(ValidationFailed) as excinfo:
            _one(kind).validate_create({"x": Decimal(number)})

        assert _errors(excinfo) == [("custom.x", "too_large")]

    @pytest.mark.timeout(5)
    def test_integer_cell_of_thousands_of_digits_is_a_readable_error(self) -> None:
        definitions = _definitions(Definition("size", "integer"))

        with pytest.raises(ValueError, match="size: Must lie between"):
            definitions.parse_text("size", "9" * 5000)


class TestValidateCreate:
    def test_unknown_and_archived_keys_and_bad_values_are_reported_together(
        self,
    ) -> None:
        definitions = _definitions(
            Definition("size", "integer"),
            Definition("old", "text", archived=True),
            Definition("tier", "select", required=True, options=("a", "b")),
        )

        with pytest.raises(ValidationFailed) as excinfo:
            definitions.validate_create({"size": "big", "old": "x", "nope": 1})

        assert _errors(excinfo) == [
            ("custom.size", "type"),
            ("custom.old", "archived"),
            ("custom.nope", "unknown_attribute"),
            ("custom.tier", "required"),
        ]
        messages = {e.field: e.message for e in excinfo.value.errors or []}
        assert messages["custom.old"] == "archived: not writable"

    def test_defaults_fill_missing_keys_but_not_given_ones(self) -> None:
        definitions = _definitions(
            Definition("tier", "select", options=("a", "b"), default="a"),
            Definition("vip", "boolean", required=True, default=False),
            Definition("note", "text"),
        )

        assert definitions.validate_create({}) == {"tier": "a", "vip": False}
        assert definitions.validate_create({"tier": "b", "vip": None}) == {
            "tier": "b",
            "vip": False,
        }

    def test_required_key_is_enforced(self) -> None:
        definitions = _definitions(Definition("size", "integer", required=True))

        with pytest.raises(ValidationFailed) as excinfo:
            definitions.validate_create({"size": ""})

        assert _errors(excinfo) == [("custom.size", "required")]

    def test_archived_required_attribute_is_not_enforced(self) -> None:
        definitions = _definitions(
            Definition("size", "integer", required=True, archived=True)
        )

        assert definitions.validate_create(None) == {}


class TestValidateUpdate:
    DEFINITIONS = _definitions(
        Definition("size", "integer"),
        Definition("tier", "select", required=True, options=("a", "b")),
        Definition("old", "decimal", archived=True),
    )

    def test_merge_patch_sets_and_removes_and_returns_a_new_dict(self) -> None:
        current = {"size": 3, "tier": "a", "old": "1.50"}

        updated = self.DEFINITIONS.validate_update(current, {"size": None, "tier": "b"})

        assert updated == {"tier": "b", "old": "1.50"}
        assert updated is not current
        assert current == {"size": 3, "tier": "a", "old": "1.50"}

    def test_null_on_a_required_key_is_an_error(self) -> None:
        with pytest.raises(ValidationFailed) as excinfo:
            self.DEFINITIONS.validate_update({"tier": "a"}, {"tier": None})

        assert _errors(excinfo) == [("custom.tier", "required")]

    def test_archived_value_is_kept_and_cannot_change(self) -> None:
        current = {"tier": "a", "old": "1.50"}

        for patch in ({"old": "2"}, {"old": None}):
            with pytest.raises(ValidationFailed) as excinfo:
                self.DEFINITIONS.validate_update(current, patch)
            assert _errors(excinfo) == [("custom.old", "archived")]

        kept = self.DEFINITIONS.validate_update(current, {"size": 1})
        assert kept["old"] == "1.50"

    def test_archived_value_sent_back_unchanged_is_accepted(self) -> None:
        current = {"tier": "a", "old": "1.50"}

        assert self.DEFINITIONS.validate_update(current, {"old": "1.50"}) == current
        assert self.DEFINITIONS.validate_update({"tier": "a"}, {"old": None}) == {
            "tier": "a"
        }

    def test_unknown_key_is_an_error(self) -> None:
        with pytest.raises(ValidationFailed) as excinfo:
            self.DEFINITIONS.validate_update({}, {"colour": "red"})

        assert _errors(excinfo) == [("custom.colour", "unknown_attribute")]


class TestParseText:
    DEFINITIONS = _definitions(
        Definition("size", "integer"),
        Definition("rate", "decimal"),
        Definition("price", "money"),
        Definition("vip", "boolean"),
        Definition("since", "date"),
        Definition("seen", "datetime"),
        Definition("tags", "multiselect", options=OPTIONS),
        Definition("note", "text"),
        Definition("phone", "phone"),
    )

    @pytest.mark.parametrize(
        ("key", "text", "value"),
        [
            ("size", " 12 ", 12),
            ("rate", "0.10", "0.10"),
            ("price", "12.5", "12.50"),
            ("vip", "YES", True),
            ("vip", "0", False),
            ("since", "2025-02-28", "2025-02-28"),
            ("seen", "2025-02-28T10:00:00+01:00", "2025-02-28T09:00:00Z"),
            ("tags", "red; blue|green", ["red", "blue", "green"]),
            ("note", " as is ", " as is "),
            ("phone", "0151 23456789", "+4915123456789"),
            ("size", "", None),
            ("tags", "  ", None),
        ],
    )
    def test_cell_becomes_the_typed_value(
        self, key: str, text: str, value: Any
    ) -> None:
        assert self.DEFINITIONS.parse_text(key, text) == value

    @pytest.mark.parametrize(
        ("key", "text"),
        [
            ("size", "1,234"),
            ("size", "12.5"),
            ("rate", "1e3"),
            ("price", "12.345"),
            ("vip", "maybe"),
            ("since", "28.02.2025"),
            ("since", "2025-02-30"),
            ("tags", "red;purple"),
            ("unknown", "x"),
        ],
    )
    def test_bad_cell_is_a_readable_value_error(self, key: str, text: str) -> None:
        with pytest.raises(ValueError, match=r"\w+"):
            self.DEFINITIONS.parse_text(key, text)


class TestSqlValue:
    async def test_numbers_compare_and_sort_as_numbers(
        self, app: FastAPI, tenant_a: TenantContext, records: Records
    ) -> None:
        tenant_id = tenant_a.tenant["id"]
        for number in (9, 10, 100):
            await records.add(tenant_id, {"size": number, "since": "2025-01-01"})
        definitions = _definitions(
            Definition("size", "integer"), Definition("since", "date")
        )
        size = definitions.sql_value(Record.custom, "size")

        async with app.state.resources.sessionmaker() as session:
            await set_tenant(session, uuid.UUID(tenant_id))
            ordered = (
                await session.scalars(select(size).where(size > 9).order_by(size))
            ).all()
            since = definitions.sql_value(Record.custom, "since")
            dates = (await session.scalars(select(since))).all()

        assert ordered == [Decimal(10), Decimal(100)]
        assert {str(d) for d in dates} == {"2025-01-01"}

    def test_type_of_unknown_key_is_none_and_sql_value_refuses_it(self) -> None:
        definitions = _definitions(Definition("size", "integer"))

        assert definitions.type_of("size") == "integer"
        assert definitions.type_of("nope") is None
        with pytest.raises(KeyError):
            definitions.sql_value(Record.custom, "nope")


class TestLoadDefinitions:
    async def test_loaded_once_per_transaction_with_the_tenant_currency(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        tenant = await sign_up(client, default_currency="JPY", locale="ja-JP")
        response = await client.post(
            "/api/v1/custom-attributes/customer",
            json={"key": "budget", "label": "Budget", "type": "money"},
            headers=tenant.headers,
        )
        assert response.status_code == 201, response.text

        async with app.state.resources.sessionmaker() as session:
            await set_tenant(session, uuid.UUID(tenant.tenant["id"]))
            first = await load_definitions(session, "customer")
            second = await load_definitions(session, "customer")
            contacts = await load_definitions(session, "contact")
            await session.commit()
            await set_tenant(session, uuid.UUID(tenant.tenant["id"]))
            next_transaction = await load_definitions(session, "customer")

        assert first is second
        assert next_transaction is not first
        assert first.keys() == ["budget"]
        assert contacts.keys() == []
        assert first.value_format == ValueFormat("JPY", 0, "JP")
        with pytest.raises(ValidationFailed):
            first.validate_create({"budget": "10.5"})
