"""Processing an import: every row all-or-nothing, bad input reported, never a 500."""

from __future__ import annotations

import codecs
import random
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from crm_api.imports import repository
from tests.customers.conftest import define
from tests.fixtures.api import TenantContext
from tests.imports.conftest import count, import_file, row_errors

MAPPING = {"columns": {"code": "code", "name": "name", "city": "address.city"}}
CUSTOMERS = "/api/v1/customers"


async def _customer(
    client: httpx.AsyncClient, ctx: TenantContext, code: str
) -> dict[str, Any] | None:
    response = await client.get(CUSTOMERS, params={"code": code}, headers=ctx.headers)
    items = response.json()["items"]
    return items[0] if items else None


async def _contacts(
    client: httpx.AsyncClient, ctx: TenantContext, customer_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"{CUSTOMERS}/{customer_id}/contacts", headers=ctx.headers
    )
    return response.json()["items"]  # type: ignore[no-any-return]


class TestEncodings:
    async def test_a_bom_before_the_first_header_is_not_part_of_it(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        content = codecs.BOM_UTF8 + "code,name,city\nA1,Ägypten Handel,Köln\n".encode()

        done = await import_file(client, tenant_a, job_ctx, content, MAPPING)

        assert done["encoding"] == "utf-8-sig"
        assert done["rows_created"] == 1
        customer = await _customer(client, tenant_a, "A1")
        assert customer is not None
        assert customer["name"] == "Ägypten Handel"
        assert customer["address"]["city"] == "Köln"

    async def test_a_gbk_file_is_read_as_gb18030(
        self,
        client: httpx.AsyncClient,
        tenant_b: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        content = "编号,姓名,电话\nC001,张伟,13800138000\n".encode("gbk")
        mapping = {"columns": {"编号": "code", "姓名": "name", "电话": "phone"}}

        done = await import_file(client, tenant_b, job_ctx, content, mapping)

        assert done["encoding"] == "gb18030"
        assert (done["rows_created"], done["rows_failed"]) == (1, 0)
        customer = await _customer(client, tenant_b, "C001")
        assert customer is not None
        assert (customer["name"], customer["phone"]) == ("张伟", "13800138000")

    async def test_the_encoding_field_overrides_detection(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        content = "code,name,city\nA1,Straße,Zürich\n".encode("cp1252")

        done = await import_file(
            client, tenant_a, job_ctx, content, MAPPING, encoding="latin-1"
        )

        assert done["encoding"] == "iso8859-1"
        customer = await _customer(client, tenant_a, "A1")
        assert customer is not None
        assert customer["name"] == "Straße"


class TestBadInput:
    async def test_junk_after_the_last_line_fails_only_junk_rows(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        good = "code,name,city\nA1,Müller,Köln\nA2,Beta,Paris\n".encode()
        content = good + random.Random(20251203).randbytes(1 << 20)

        done = await import_file(client, tenant_a, job_ctx, content, MAPPING)

        assert done["status"] == "succeeded"
        assert done["rows_created"] == 2
        assert done["rows_failed"] > 100
        assert done["rows_total"] == done["rows_created"] + done["rows_failed"]
        assert done["errors_kept"] == min(done["rows_failed"], 1000)
        assert done["processed_bytes"] == done["total_bytes"] == len(content)
        assert await count(client, tenant_a) == 2
        assert (await _customer(client, tenant_a, "A1") or {})["name"] == "Müller"
        assert await owner.fetchval("SELECT count(*) FROM import_chunks") == 0

    async def test_a_row_with_too_many_columns_fails_alone(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        content = (
            b"code,name,city\nA1,Alpha,Berlin\nA2,Beta,Paris,extra\nA3,Gamma,Rome\n"
        )

        done = await import_file(client, tenant_a, job_ctx, content, MAPPING)

        assert (done["rows_created"], done["rows_failed"]) == (2, 1)
        [error] = await row_errors(client, tenant_a, done["id"])
        assert error["row_number"] == 3
        assert error["code"] == "too_many_fields"
        assert await _customer(client, tenant_a, "A2") is None

    @pytest.mark.parametrize(
        ("definition", "cell", "message"),
        [
            ({"type": "integer"}, "twelve", "whole number"),
            ({"type": "date"}, "2025-02-30", "not a calendar date"),
            ({"type": "select", "options": ["smb", "enterprise"]}, "huge", "one of"),
        ],
    )
    async def test_a_bad_custom_value_fails_its_whole_row(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
        owner: asyncpg.Connection,
        definition: dict[str, Any],
        cell: str,
        message: str,
    ) -> None:
        await define(client, tenant_a, key="extra", label="Extra", **definition)
        mapping = {
            "columns": {
                "code": "code",
                "name": "name",
                "extra": "custom.extra",
                "contact": "contact.name",
            }
        }
        content = f"code,name,extra,contact\nA1,Alpha,,Ann\nA2,Beta,{cell},Bob\n"

        done = await import_file(client, tenant_a, job_ctx, content.encode(), mapping)

        assert (done["rows_created"], done["rows_failed"]) == (1, 1)
        [error] = await row_errors(client, tenant_a, done["id"])
        assert (error["row_number"], error["column"]) == (3, "extra")
        assert error["field"] == "custom.extra"
        assert message in error["message"]
        assert await _customer(client, tenant_a, "A2") is None
        assert await owner.fetchval("SELECT count(*) FROM contacts") == 1

    async def test_schema_rules_apply_to_standard_and_contact_fields(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        mapping = {
            "columns": {
                "code": "code",
                "name": "name",
                "email": "email",
                "status": "status",
                "contact_email": "contact.email",
            }
        }
        content = (
            b"code,name,email,status,contact_email\n"
            b"A1,Alpha,not-an-email,active,\n"
            b"A2,Beta,,sleeping,\n"
            b"A3,Gamma,,,ann@example.com\n"
            b",Delta,,,\n"
            b"A5,Epsilon,INFO@Example.COM,lost,\n"
        )

        done = await import_file(client, tenant_a, job_ctx, content, mapping)

        errors = await row_errors(client, tenant_a, done["id"])
        assert [(e["row_number"], e["field"]) for e in errors] == [
            (2, "email"),
            (3, "status"),
            (4, "contact.name"),
            (5, "code"),
        ]
        assert (done["rows_created"], done["rows_failed"]) == (1, 4)
        created = await _customer(client, tenant_a, "A5")
        assert created is not None
        assert (created["email"], created["status"]) == ("info@example.com", "lost")

    async def test_more_than_a_thousand_errors_keep_the_first_and_count_all(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        content = b"code,name,city\n" + b"X,,Nowhere\n" * 1200 + b"A1,Alpha,Berlin\n"

        done = await import_file(client, tenant_a, job_ctx, content, MAPPING)

        assert (done["rows_failed"], done["errors_kept"]) == (1200, 1000)
        assert done["rows_created"] == 1


class TestWrites:
    async def test_quoted_commas_quotes_and_line_breaks_arrive_intact(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        mapping = {
            "columns": {"code": "code", "name": "name", "street": "address.street"}
        }
        content = (
            b'code,name,street\r\nA1,"Smith, ""Jr."" & Sons","Line 1\r\nLine 2"\r\n'
        )

        done = await import_file(client, tenant_a, job_ctx, content, mapping)

        assert done["rows_created"] == 1, await row_errors(client, tenant_a, done["id"])
        customer = await _customer(client, tenant_a, "A1")
        assert customer is not None
        assert customer["name"] == 'Smith, "Jr." & Sons'
        assert customer["address"]["street"] == "Line 1\r\nLine 2"

    async def test_dry_run_reports_and_writes_nothing(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        content = b"code,name,city\nA1,Alpha,Berlin\nA2,,Paris\n"

        done = await import_file(
            client, tenant_a, job_ctx, content, MAPPING, dry_run="true"
        )

        assert done["status"] == "succeeded"
        assert (done["rows_created"], done["rows_failed"]) == (1, 1)
        assert len(await row_errors(client, tenant_a, done["id"])) == 1
        assert await owner.fetchval("SELECT count(*) FROM customers") == 0
        events = await owner.fetch(
            "SELECT type FROM outbox_events WHERE type LIKE 'c%'"
        )
        assert sorted({e["type"] for e in events}) == [
            "customer_import.created",
            "customer_import.finished",
        ]

    async def test_a_changed_row_updates_by_code_and_an_equal_one_is_left_alone(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        mapping = {
            "columns": {**MAPPING["columns"], "contact": "contact.name", "tags": "tags"}
        }
        first = b"code,name,city,contact,tags\nA1,Alpha,Berlin,Ann,a;b\nA2,Beta,Paris,Bob,\n"
        second = (
            b"code,name,city,contact,tags\nA1,Alpha,Berlin,Ann,a;b\nA2,Beta,Rome,Bea,\n"
        )
        await import_file(client, tenant_a, job_ctx, first, mapping)
        before = await _customer(client, tenant_a, "A1")

        done = await import_file(client, tenant_a, job_ctx, second, mapping)

        assert (done["rows_created"], done["rows_updated"]) == (0, 1)
        assert done["rows_unchanged"] == 1
        assert await _customer(client, tenant_a, "A1") == before
        changed = await _customer(client, tenant_a, "A2")
        assert changed is not None
        assert changed["address"]["city"] == "Rome"
        [contact] = await _contacts(client, tenant_a, changed["id"])
        assert (contact["name"], contact["is_primary"]) == ("Bea", True)
        updates = await owner.fetchval(
            "SELECT count(*) FROM outbox_events WHERE type = 'customer.updated'"
        )
        assert updates == 1

    async def test_an_existing_customer_is_updated_not_duplicated(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        response = await client.post(
            CUSTOMERS,
            json={"code": "ALFKI", "name": "Alfreds", "tags": ["vip"]},
            headers=tenant_a.headers,
        )
        existing = response.json()

        done = await import_file(
            client,
            tenant_a,
            job_ctx,
            b"code,name,city\nALFKI,Alfreds,Berlin\n",
            MAPPING,
        )

        assert done["rows_updated"] == 1
        updated = await _customer(client, tenant_a, "ALFKI")
        assert updated is not None
        assert updated["id"] == existing["id"]
        assert updated["tags"] == ["vip"]  # not mapped: left as it was
        assert updated["address"]["city"] == "Berlin"
        assert await count(client, tenant_a) == 1

    async def test_a_code_twice_in_one_file_creates_then_updates(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        content = b"code,name,city\nA1,Alpha,Berlin\nA1,Alpha,Bonn\n"

        done = await import_file(client, tenant_a, job_ctx, content, MAPPING)

        assert (done["rows_created"], done["rows_updated"]) == (1, 1)
        customer = await _customer(client, tenant_a, "A1")
        assert customer is not None
        assert customer["address"]["city"] == "Bonn"

    async def test_required_and_default_custom_attributes_follow_the_api_rules(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
    ) -> None:
        await define(
            client, tenant_a, key="tier", label="Tier", type="text", default="basic"
        )
        await define(
            client, tenant_a, key="region_code", label="R", type="text", required=True
        )
        mapping = {"columns": {**MAPPING["columns"], "rc": "custom.region_code"}}
        content = b"code,name,city,rc\nA1,Alpha,Berlin,EU\nA2,Beta,Paris,\n"

        done = await import_file(client, tenant_a, job_ctx, content, mapping)

        assert (done["rows_created"], done["rows_failed"]) == (1, 1)
        [error] = await row_errors(client, tenant_a, done["id"])
        assert (error["field"], error["code"]) == ("custom.region_code", "required")
        customer = await _customer(client, tenant_a, "A1")
        assert customer is not None
        assert customer["custom"] == {"tier": "basic", "region_code": "EU"}


@dataclass
class Blind:
    """How often the batch look-up misses customer A1, and the look-ups made."""

    misses: int = 1
    calls: list[int] = field(default_factory=list)


class TestWritesThatRaceOtherWriters:
    """A code written by someone else between reading and inserting a batch."""

    @pytest.fixture
    def blind(self, monkeypatch: pytest.MonkeyPatch) -> Blind:
        """Make the look-up miss customer A1, as if it was created just then."""
        state = Blind()
        original = repository.customers_by_code

        async def lookup(session: Any, codes: Any, visible: Any) -> dict[str, Any]:
            state.calls.append(len(codes))
            found = await original(session, codes, visible)
            if len(state.calls) <= state.misses:
                found.pop("A1", None)
            return found

        monkeypatch.setattr(repository, "customers_by_code", lookup)
        return state

    async def _import_with_a1_taken(
        self, client: httpx.AsyncClient, ctx: TenantContext, job_ctx: dict[str, Any]
    ) -> dict[str, Any]:
        response = await client.post(
            CUSTOMERS, json={"code": "A1", "name": "Alpha"}, headers=ctx.headers
        )
        assert response.status_code == 201
        content = b"code,name,city\nA0,Zero,Bonn\nA1,Alpha,Berlin\nA2,Beta,Paris\n"
        return await import_file(client, ctx, job_ctx, content, MAPPING)

    async def test_the_batch_is_redone_row_by_row_and_every_row_lands(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
        blind: Blind,
    ) -> None:
        done = await self._import_with_a1_taken(client, tenant_a, job_ctx)

        assert blind.calls == [3, 1, 1, 1]  # the batch, then each row on its own
        assert (done["rows_created"], done["rows_updated"]) == (2, 1)
        assert await count(client, tenant_a) == 3

    async def test_a_row_that_still_clashes_fails_alone(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        job_ctx: dict[str, Any],
        blind: Blind,
        owner: asyncpg.Connection,
    ) -> None:
        blind.misses = 99

        done = await self._import_with_a1_taken(client, tenant_a, job_ctx)

        assert (done["rows_created"], done["rows_failed"]) == (2, 1)
        [error] = await row_errors(client, tenant_a, done["id"])
        assert (error["row_number"], error["code"]) == (3, "conflict")
        created = await owner.fetchval(
            "SELECT count(*) FROM outbox_events WHERE type = 'customer.created'"
        )
        assert created == 3  # A1 by the API, A0 and A2 by the import
