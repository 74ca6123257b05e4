from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from crm_api.custom_attributes import registry
from crm_api.custom_attributes.values import load_definitions
from crm_api.kernel.db import set_tenant
from tests.custom_attributes.conftest import ENTITY, Record, Records
from tests.fixtures.api import TenantContext, add_user

BASE = f"/api/v1/custom-attributes/{ENTITY}"


async def define(
    client: httpx.AsyncClient, ctx: TenantContext, key: str, kind: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        BASE,
        json={"key": key, "label": key.title(), "type": kind, **body},
        headers=ctx.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def patch(
    client: httpx.AsyncClient, ctx: TenantContext, key: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"{BASE}/{key}", json=body, headers=ctx.headers)


async def event_types(owner: asyncpg.Connection) -> list[str]:
    rows = await owner.fetch(
        "SELECT type FROM outbox_events WHERE type LIKE 'custom_attribute.%' "
        "ORDER BY occurred_at, id"
    )
    return [row["type"] for row in rows]


class TestCreate:
    async def test_admin_defines_an_attribute_and_reads_it_with_an_etag(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            BASE,
            json={
                "key": "deal_size",
                "label": "Deal size",
                "type": "money",
                "default": "100.5",
                "position": 3,
                "description": "Expected value",
            },
            headers=tenant_a.headers,
        )
        read = await client.get(f"{BASE}/deal_size", headers=tenant_a.headers)

        assert response.status_code == 201
        assert response.headers["location"] == f"{BASE}/deal_size"
        body = read.json()
        assert read.headers["etag"] == '"1"'
        assert body["default"] == "100.50"
        assert (body["entity"], body["type"], body["required"]) == (
            ENTITY,
            "money",
            False,
        )
        assert body["options"] == []

    async def test_key_taken_on_the_same_entity_is_conflict(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, "tier", "text")

        again = await client.post(
            BASE,
            json={"key": "tier", "label": "Other", "type": "integer"},
            headers=tenant_a.headers,
        )
        elsewhere = await client.post(
            "/api/v1/custom-attributes/product",
            json={"key": "tier", "label": "Tier", "type": "text"},
            headers=tenant_a.headers,
        )

        assert again.status_code == 409
        assert again.json()["errors"][0]["field"] == "key"
        assert elsewhere.status_code == 201

    async def test_unknown_field_in_body_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.post(
            BASE,
            json={"key": "tier", "label": "Tier", "type": "text", "colour": "red"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "unknown_field"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"key": "Tier", "label": "T", "type": "text"}, "key"),
            ({"key": "9lives", "label": "T", "type": "text"}, "key"),
            ({"key": "tier", "label": "", "type": "text"}, "label"),
            ({"key": "tier", "label": "T", "type": "colour"}, "type"),
            ({"key": "tier", "label": "T", "type": "select"}, "options"),
            ({"key": "tier", "label": "T", "type": "select", "options": []}, "options"),
            (
                {"key": "tier", "label": "T", "type": "text", "options": ["a"]},
                "options",
            ),
            (
                {"key": "t", "label": "T", "type": "select", "options": ["a", "a"]},
                "options",
            ),
            (
                {"key": "t", "label": "T", "type": "select", "options": ["a", " "]},
                "options.1",
            ),
            (
                {
                    "key": "t",
                    "label": "T",
                    "type": "select",
                    "options": ["a"],
                    "default": "b",
                },
                "default",
            ),
            (
                {"key": "t", "label": "T", "type": "date", "default": "2025-02-30"},
                "default",
            ),
            (
                {"key": "t", "label": "T", "type": "phone", "default": "+16502530000"},
                "default",
            ),
            ({"key": "t", "label": "\u0001", "type": "text"}, "label"),
            ({"key": "t", "label": "Ti\u0085er", "type": "text"}, "label"),
            ({"key": "t", "label": "\u202eTier", "type": "text"}, "label"),
            ({"key": "t", "label": "Deal\nsize", "type": "text"}, "label"),
            (
                {"key": "t", "label": "T", "type": "text", "description": "a\u0007"},
                "description",
            ),
        ],
    )
    async def test_invalid_definition_is_422_on_its_field(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.post(BASE, json=body, headers=tenant_a.headers)

        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]

    async def test_unknown_entity_type_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            "/api/v1/custom-attributes/spaceship", headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["location"] == "path"

    async def test_other_roles_may_read_but_not_write(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, "tier", "text")
        _, sales = await add_user(client, tenant_a, roles=["sales"])

        read = await client.get(BASE, headers=sales)
        write = await client.post(
            BASE, json={"key": "x", "label": "X", "type": "text"}, headers=sales
        )
        delete = await client.delete(f"{BASE}/tier", headers=sales)

        assert read.status_code == 200
        assert [write.status_code, delete.status_code] == [403, 403]

    async def test_same_idempotency_key_replays_the_first_response(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        headers = {**tenant_a.headers, "Idempotency-Key": "define-tier"}
        body = {"key": "tier", "label": "Tier", "type": "text"}

        first = await client.post(BASE, json=body, headers=headers)
        second = await client.post(BASE, json=body, headers=headers)

        assert (first.status_code, second.status_code) == (201, 201)
        assert second.headers["idempotent-replayed"] == "true"
        assert second.json() == first.json()

    async def test_required_attribute_on_existing_records_needs_a_default(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        tenant_id = tenant_a.tenant["id"]
        first = await records.add(tenant_id, {})
        second = await records.add(tenant_id, {"other": 1})
        body = {"key": "tier", "label": "Tier", "type": "integer", "required": True}

        refused = await client.post(BASE, json=body, headers=tenant_a.headers)
        filled = await client.post(
            BASE, json={**body, "default": 1}, headers=tenant_a.headers
        )

        assert refused.status_code == 409
        assert refused.json()["extra"] == {"affected_records": 2}
        assert filled.status_code == 201
        assert await records.custom(first) == {"tier": 1}
        assert await records.custom(second) == {"other": 1, "tier": 1}


class TestList:
    async def test_ordered_by_position_then_key_without_archived(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, "zeta", "text", position=1)
        await define(client, tenant_a, "alpha", "text", position=2)
        await define(client, tenant_a, "beta", "text", position=1)
        await define(client, tenant_a, "gone", "text", archived=True)

        listed = await client.get(BASE, headers=tenant_a.headers)
        everything = await client.get(
            BASE, params={"include_archived": "true"}, headers=tenant_a.headers
        )

        assert [a["key"] for a in listed.json()["items"]] == ["beta", "zeta", "alpha"]
        assert [a["key"] for a in everything.json()["items"]] == [
            "gone",
            "beta",
            "zeta",
            "alpha",
        ]

    async def test_pages_with_a_cursor(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        for n in range(5):
            await define(client, tenant_a, f"field_{n}", "text", position=n % 2)

        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {
                "limit": 2,
                **({"cursor": cursor} if cursor else {}),
            }
            page = (
                await client.get(BASE, params=params, headers=tenant_a.headers)
            ).json()
            seen += [a["key"] for a in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert seen == ["field_0", "field_2", "field_4", "field_1", "field_3"]


class TestUpdate:
    async def test_patch_with_current_etag_changes_and_returns_a_new_etag(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, "tier", "text")

        response = await client.patch(
            f"{BASE}/tier",
            json={"label": "Customer tier", "position": 7, "description": None},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'
        assert (response.json()["label"], response.json()["position"]) == (
            "Customer tier",
            7,
        )

    async def test_stale_if_match_is_412(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, "tier", "text")
        await patch(client, tenant_a, "tier", {"label": "First"})

        response = await client.patch(
            f"{BASE}/tier",
            json={"label": "Second"},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 412
        assert response.json()["extra"] == {"current_etag": '"2"'}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"key": "renamed"}, "key"),
            ({"label": None}, "label"),
            ({"type": None}, "type"),
            ({"colour": "red"}, "colour"),
            ({"conversion": {"on_incompatible": "drop"}}, "conversion"),
        ],
    )
    async def test_immutable_null_or_unknown_field_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        body: dict[str, Any],
        field: str,
    ) -> None:
        await define(client, tenant_a, "tier", "text")

        response = await patch(client, tenant_a, "tier", body)

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"].startswith(field)

    @pytest.mark.parametrize(
        "body",
        [
            {"label": "\u0001"},
            {"label": "Tier\u2066"},
            {"description": "line\u0000"},
            {"description": "x\u009b"},
        ],
    )
    async def test_control_characters_in_label_or_description_are_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, body: dict[str, Any]
    ) -> None:
        await define(client, tenant_a, "tier", "text")

        response = await patch(client, tenant_a, "tier", body)

        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == list(body)

    async def test_multi_line_description_is_accepted(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, "tier", "text")

        response = await patch(
            client, tenant_a, "tier", {"description": "Gold, silver\nor bronze"}
        )

        assert response.status_code == 200, response.text

    async def test_archiving_hides_it_and_records_an_event(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        await define(client, tenant_a, "tier", "text")

        response = await patch(client, tenant_a, "tier", {"archived": True})
        await patch(client, tenant_a, "tier", {"label": "Old tier"})
        listed = await client.get(BASE, headers=tenant_a.headers)

        assert response.json()["archived"] is True
        assert listed.json()["items"] == []
        assert await event_types(owner) == [
            "custom_attribute.created",
            "custom_attribute.archived",
            "custom_attribute.updated",
        ]

    async def test_type_change_without_a_registered_table_is_always_compatible(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.delitem(registry._REGISTRY, "case", raising=False)
        await client.post(
            "/api/v1/custom-attributes/case",
            json={"key": "code", "label": "Code", "type": "text"},
            headers=tenant_a.headers,
        )

        response = await client.patch(
            "/api/v1/custom-attributes/case/code",
            json={"type": "integer", "required": True},
            headers=tenant_a.headers,
        )

        assert response.status_code == 200
        assert response.json()["type"] == "integer"

    async def test_current_default_that_does_not_fit_the_new_type_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, "tier", "text", default="gold")

        refused = await patch(client, tenant_a, "tier", {"type": "integer"})
        accepted = await patch(
            client, tenant_a, "tier", {"type": "integer", "default": 3}
        )

        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "default"
        assert accepted.json()["default"] == 3


class TestIncompatibleChanges:
    """Each change that would lose data is a 409 with the count, unless converted."""

    async def test_text_to_integer_counts_non_integers_and_clear_removes_them(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        tenant_id = tenant_a.tenant["id"]
        await define(client, tenant_a, "size", "text")
        whole = await records.add(tenant_id, {"size": "12", "keep": "me"})
        padded = await records.add(tenant_id, {"size": "7.00"})
        words = await records.add(tenant_id, {"size": "twelve"})
        fraction = await records.add(tenant_id, {"size": "1.5"})
        empty = await records.add(tenant_id, {})

        refused = await patch(client, tenant_a, "size", {"type": "integer"})
        cleared = await patch(
            client,
            tenant_a,
            "size",
            {"type": "integer", "conversion": {"on_incompatible": "clear"}},
        )

        assert refused.status_code == 409
        assert refused.json()["extra"] == {"affected_records": 2}
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["type"] == "integer"
        assert await records.custom(whole) == {"size": 12, "keep": "me"}
        assert await records.custom(padded) == {"size": 7}
        assert await records.custom(words) == {}
        assert await records.custom(fraction) == {}
        assert await records.custom(empty) == {}

    async def test_refused_change_changes_nothing(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "size", "text")
        words = await records.add(tenant_a.tenant["id"], {"size": "twelve"})

        await patch(client, tenant_a, "size", {"type": "integer", "label": "Size"})
        read = await client.get(f"{BASE}/size", headers=tenant_a.headers)

        assert (read.json()["type"], read.json()["label"]) == ("text", "Size")
        assert read.headers["etag"] == '"1"'
        assert await records.custom(words) == {"size": "twelve"}

    async def test_set_replaces_incompatible_values_with_a_typed_value(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "size", "text")
        words = await records.add(tenant_a.tenant["id"], {"size": "twelve"})
        whole = await records.add(tenant_a.tenant["id"], {"size": "3"})

        response = await patch(
            client,
            tenant_a,
            "size",
            {"type": "integer", "conversion": {"on_incompatible": "set", "value": 0}},
        )

        assert response.status_code == 200
        assert await records.custom(words) == {"size": 0}
        assert await records.custom(whole) == {"size": 3}

    async def test_set_value_must_fit_the_changed_attribute(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "size", "text")
        await records.add(tenant_a.tenant["id"], {"size": "twelve"})

        response = await patch(
            client,
            tenant_a,
            "size",
            {"type": "integer", "conversion": {"on_incompatible": "set", "value": "x"}},
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "conversion.value"

    async def test_conversion_is_checked_even_when_nothing_needs_converting(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "score", "integer")
        await records.add(tenant_a.tenant["id"], {"score": 1})

        bad_set = await patch(
            client,
            tenant_a,
            "score",
            {
                "type": "integer",
                "conversion": {"on_incompatible": "set", "value": "abc"},
            },
        )
        bad_first = await patch(
            client,
            tenant_a,
            "score",
            {"label": "Score", "conversion": {"on_incompatible": "first"}},
        )

        assert bad_set.status_code == 422, bad_set.text
        assert bad_set.json()["errors"][0]["field"] == "conversion.value"
        assert bad_first.status_code == 422, bad_first.text
        assert bad_first.json()["errors"][0]["field"] == "conversion.on_incompatible"

    async def test_bigint_extremes_survive_a_round_trip_through_text(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        tenant_id = tenant_a.tenant["id"]
        await define(client, tenant_a, "size", "integer")
        largest = await records.add(tenant_id, {"size": 9223372036854775807})
        smallest = await records.add(tenant_id, {"size": -9223372036854775808})

        to_text = await patch(client, tenant_a, "size", {"type": "text"})
        back = await patch(client, tenant_a, "size", {"type": "integer"})

        assert to_text.status_code == 200, to_text.text
        assert back.status_code == 200, back.text
        assert await records.custom(largest) == {"size": 9223372036854775807}
        assert await records.custom(smallest) == {"size": -9223372036854775808}

    async def test_text_to_integer_keeps_what_the_api_reads_as_an_integer(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        tenant_id = tenant_a.tenant["id"]
        await define(client, tenant_a, "size", "text")
        signed = await records.add(tenant_id, {"size": "+12"})
        padded = await records.add(tenant_id, {"size": "000000000000000000000042"})
        over = await records.add(tenant_id, {"size": "9223372036854775808"})
        under = await records.add(tenant_id, {"size": "-9223372036854775809"})
        long = await records.add(tenant_id, {"size": "1" * 40})

        refused = await patch(client, tenant_a, "size", {"type": "integer"})
        cleared = await patch(
            client,
            tenant_a,
            "size",
            {"type": "integer", "conversion": {"on_incompatible": "clear"}},
        )

        assert refused.json()["extra"] == {"affected_records": 3}
        assert cleared.status_code == 200, cleared.text
        assert await records.custom(signed) == {"size": 12}
        assert await records.custom(padded) == {"size": 42}
        for record in (over, under, long):
            assert await records.custom(record) == {}

    async def test_multiselect_to_select_counts_records_with_several_choices(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        tenant_id = tenant_a.tenant["id"]
        await define(client, tenant_a, "tags", "multiselect", options=["a", "b", "c"])
        single = await records.add(tenant_id, {"tags": ["b"]})
        double = await records.add(tenant_id, {"tags": ["b", "a"]})
        dropped_first = await records.add(tenant_id, {"tags": ["c", "a"]})
        body: dict[str, Any] = {"type": "select", "options": ["a", "b"]}

        refused = await patch(client, tenant_a, "tags", body)
        first = await patch(
            client,
            tenant_a,
            "tags",
            {**body, "conversion": {"on_incompatible": "first"}},
        )

        assert refused.status_code == 409
        assert refused.json()["extra"] == {"affected_records": 2}
        assert first.status_code == 200, first.text
        assert await records.custom(single) == {"tags": "b"}
        assert await records.custom(double) == {"tags": "b"}
        assert await records.custom(dropped_first) == {"tags": "a"}

    async def test_first_without_a_remaining_option_is_still_conflict(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "tags", "multiselect", options=["a", "b", "c"])
        await records.add(tenant_a.tenant["id"], {"tags": ["c", "b"]})
        await records.add(tenant_a.tenant["id"], {"tags": ["c"]})

        response = await patch(
            client,
            tenant_a,
            "tags",
            {
                "type": "select",
                "options": ["a", "b"],
                "conversion": {"on_incompatible": "first"},
            },
        )

        assert response.status_code == 409
        assert response.json()["extra"] == {"affected_records": 1}

    async def test_first_only_applies_to_multiselect_becoming_select(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "size", "text")

        response = await patch(
            client,
            tenant_a,
            "size",
            {"type": "integer", "conversion": {"on_incompatible": "first"}},
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "conversion.on_incompatible"

    async def test_removing_a_select_option_in_use_is_conflict_and_clear_removes_it(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "tier", "select", options=["gold", "silver"])
        gold = await records.add(tenant_a.tenant["id"], {"tier": "gold"})
        silver = await records.add(tenant_a.tenant["id"], {"tier": "silver"})

        refused = await patch(client, tenant_a, "tier", {"options": ["gold"]})
        added = await patch(
            client, tenant_a, "tier", {"options": ["gold", "silver", "bronze"]}
        )
        cleared = await patch(
            client,
            tenant_a,
            "tier",
            {"options": ["gold"], "conversion": {"on_incompatible": "clear"}},
        )

        assert refused.status_code == 409
        assert refused.json()["extra"] == {"affected_records": 1}
        assert added.status_code == 200
        assert cleared.json()["options"] == ["gold"]
        assert await records.custom(gold) == {"tier": "gold"}
        assert await records.custom(silver) == {}

    async def test_removing_multiselect_options_clear_drops_only_those_options(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "tags", "multiselect", options=["a", "b", "c"])
        mixed = await records.add(tenant_a.tenant["id"], {"tags": ["c", "a", "b"]})
        only_removed = await records.add(tenant_a.tenant["id"], {"tags": ["c", "b"]})
        untouched = await records.add(tenant_a.tenant["id"], {"tags": ["a"]})

        refused = await patch(client, tenant_a, "tags", {"options": ["a"]})
        cleared = await patch(
            client,
            tenant_a,
            "tags",
            {"options": ["a"], "conversion": {"on_incompatible": "clear"}},
        )

        assert refused.json()["extra"] == {"affected_records": 2}
        assert cleared.status_code == 200
        assert await records.custom(mixed) == {"tags": ["a"]}
        assert await records.custom(only_removed) == {}
        assert await records.custom(untouched) == {"tags": ["a"]}

    async def test_becoming_required_counts_records_without_a_value(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        tenant_id = tenant_a.tenant["id"]
        await define(client, tenant_a, "tier", "select", options=["gold", "silver"])
        has = await records.add(tenant_id, {"tier": "gold"})
        lacks = await records.add(tenant_id, {})
        also_lacks = await records.add(tenant_id, {"other": True})

        refused = await patch(client, tenant_a, "tier", {"required": True})
        cleared = await patch(
            client,
            tenant_a,
            "tier",
            {"required": True, "conversion": {"on_incompatible": "clear"}},
        )
        filled = await patch(
            client,
            tenant_a,
            "tier",
            {
                "required": True,
                "conversion": {"on_incompatible": "set", "value": "silver"},
            },
        )

        assert refused.status_code == 409
        assert refused.json()["extra"] == {"affected_records": 2}
        assert cleared.status_code == 409
        assert filled.status_code == 200
        assert filled.json()["required"] is True
        assert await records.custom(has) == {"tier": "gold"}
        assert await records.custom(lacks) == {"tier": "silver"}
        assert await records.custom(also_lacks) == {"other": True, "tier": "silver"}

    async def test_decimal_to_money_refuses_more_places_than_the_currency_has(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "rate", "decimal")
        fits = await records.add(tenant_a.tenant["id"], {"rate": "1.5"})
        padded = await records.add(tenant_a.tenant["id"], {"rate": "2.500"})
        too_fine = await records.add(tenant_a.tenant["id"], {"rate": "1.234"})

        refused = await patch(client, tenant_a, "rate", {"type": "money"})
        cleared = await patch(
            client,
            tenant_a,
            "rate",
            {"type": "money", "conversion": {"on_incompatible": "clear"}},
        )

        assert refused.json()["extra"] == {"affected_records": 1}
        assert cleared.status_code == 200
        assert await records.custom(fits) == {"rate": "1.50"}
        assert await records.custom(padded) == {"rate": "2.50"}
        assert await records.custom(too_fine) == {}

    async def test_text_to_date_and_datetime_keep_only_real_moments(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        tenant_id = tenant_a.tenant["id"]
        await define(client, tenant_a, "since", "text")
        await define(client, tenant_a, "seen", "text")
        good = await records.add(
            tenant_id, {"since": "2024-02-29", "seen": "2025-01-01T10:00:00.5+02:00"}
        )
        bad = await records.add(
            tenant_id, {"since": "2025-02-30", "seen": "2025-01-01T10:00:00"}
        )

        dates = await patch(client, tenant_a, "since", {"type": "date"})
        moments = await patch(client, tenant_a, "seen", {"type": "datetime"})
        clear = {"conversion": {"on_incompatible": "clear"}}
        await patch(client, tenant_a, "since", {"type": "date", **clear})
        await patch(client, tenant_a, "seen", {"type": "datetime", **clear})

        assert dates.json()["extra"] == {"affected_records": 1}
        assert moments.json()["extra"] == {"affected_records": 1}
        assert await records.custom(good) == {
            "since": "2024-02-29",
            "seen": "2025-01-01T08:00:00.500000Z",
        }
        assert await records.custom(bad) == {}

    @pytest.mark.parametrize(
        ("before", "options", "stored", "after", "converted"),
        [
            ("integer", None, 12, "text", "12"),
            ("integer", None, 12, "decimal", "12"),
            ("boolean", None, True, "text", "true"),
            ("text", None, "Yes", "boolean", True),
            ("money", None, "3.10", "decimal", "3.10"),
            ("select", ["a", "b"], "a", "multiselect", ["a"]),
            ("multiselect", ["a", "b"], ["b", "a"], "text", "b; a"),
            ("text", None, "Ada@Example.com", "email", "ada@example.com"),
            ("email", None, "ada@example.com", "text", "ada@example.com"),
            ("datetime", None, "2025-01-01T08:00:00Z", "text", "2025-01-01T08:00:00Z"),
        ],
    )
    async def test_compatible_values_are_converted_to_the_new_storage_form(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        records: Records,
        before: str,
        options: list[str] | None,
        stored: Any,
        after: str,
        converted: Any,
    ) -> None:
        await define(client, tenant_a, "field", before, options=options)
        record = await records.add(tenant_a.tenant["id"], {"field": stored})
        body: dict[str, Any] = {"type": after}
        if after in ("select", "multiselect"):
            body["options"] = options

        response = await patch(client, tenant_a, "field", body)

        assert response.status_code == 200, response.text
        assert await records.custom(record) == {"field": converted}

    async def test_lossy_conversions_are_refused(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "seen", "datetime")
        await records.add(tenant_a.tenant["id"], {"seen": "2025-01-01T08:00:00Z"})

        response = await patch(client, tenant_a, "seen", {"type": "date"})

        assert response.status_code == 409
        assert response.json()["extra"] == {"affected_records": 1}

    async def test_change_waits_for_records_written_under_the_old_definitions(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        records: Records,
    ) -> None:
        await define(client, tenant_a, "size", "text")
        tenant_id = uuid.UUID(tenant_a.tenant["id"])

        async with app.state.resources.sessionmaker() as writer:
            await set_tenant(writer, tenant_id)
            definitions = await load_definitions(writer, ENTITY)
            await writer.execute(
                insert(Record).values(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    custom=definitions.validate_create({"size": "twelve"}),
                    version=1,
                )
            )
            change = asyncio.create_task(
                patch(client, tenant_a, "size", {"type": "integer"})
            )
            await asyncio.sleep(0.3)
            waited = not change.done()
            await writer.commit()
        response = await change

        assert waited
        assert response.status_code == 409
        assert response.json()["extra"] == {"affected_records": 1}

    async def test_conversion_bumps_nothing_else_on_the_records(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "size", "text")
        record = await records.add(tenant_a.tenant["id"], {"size": "5"})
        before = await records.row(record)

        await patch(client, tenant_a, "size", {"type": "integer"})

        after = await records.row(record)
        assert await records.custom(record) == {"size": 5}
        assert (after["version"], after["updated_at"]) == (
            before["version"],
            before["updated_at"],
        )

    async def test_conversion_is_recorded_in_the_update_event(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        records: Records,
        owner: asyncpg.Connection,
    ) -> None:
        await define(client, tenant_a, "size", "text")
        await records.add(tenant_a.tenant["id"], {"size": "5"})
        await records.add(tenant_a.tenant["id"], {"size": "x"})

        await patch(
            client,
            tenant_a,
            "size",
            {"type": "integer", "conversion": {"on_incompatible": "clear"}},
        )

        payload = await owner.fetchval(
            "SELECT payload FROM outbox_events WHERE type = 'custom_attribute.updated'"
        )
        assert '"converted_records": 2' in payload


class TestDelete:
    async def test_unused_attribute_is_deleted(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        records: Records,
        owner: asyncpg.Connection,
    ) -> None:
        await define(client, tenant_a, "tier", "text")
        await records.add(tenant_a.tenant["id"], {"other": "x"})

        response = await client.delete(
            f"{BASE}/tier", headers={**tenant_a.headers, "If-Match": '"1"'}
        )
        gone = await client.get(f"{BASE}/tier", headers=tenant_a.headers)

        assert response.status_code == 204
        assert gone.status_code == 404
        assert await event_types(owner) == [
            "custom_attribute.created",
            "custom_attribute.deleted",
        ]

    async def test_attribute_holding_values_is_conflict_with_advice_to_archive(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, records: Records
    ) -> None:
        await define(client, tenant_a, "tier", "text")
        for _ in range(3):
            await records.add(tenant_a.tenant["id"], {"tier": "gold"})

        response = await client.delete(f"{BASE}/tier", headers=tenant_a.headers)
        still = await client.get(f"{BASE}/tier", headers=tenant_a.headers)

        assert response.status_code == 409
        assert response.json()["extra"] == {"affected_records": 3}
        assert "archive" in response.json()["detail"].lower()
        assert still.status_code == 200

    async def test_stale_if_match_is_412(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, "tier", "text")
        await patch(client, tenant_a, "tier", {"label": "Changed"})

        response = await client.delete(
            f"{BASE}/tier", headers={**tenant_a.headers, "If-Match": '"1"'}
        )

        assert response.status_code == 412


class TestTenantIsolation:
    async def test_other_tenant_cannot_read_change_or_delete_definitions(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        await define(client, tenant_a, "tier", "text")
        path = f"{BASE}/tier"

        read = await client.get(path, headers=tenant_b.headers)
        changed = await client.patch(
            path, json={"label": "Hacked"}, headers=tenant_b.headers
        )
        deleted = await client.delete(path, headers=tenant_b.headers)
        listed = await client.get(
            BASE, params={"include_archived": "true"}, headers=tenant_b.headers
        )

        assert [read.status_code, changed.status_code, deleted.status_code] == [
            404,
            404,
            404,
        ]
        assert listed.json()["items"] == []
        mine = await client.get(path, headers=tenant_a.headers)
        assert mine.json()["label"] == "Tier"
        assert (await define(client, tenant_b, "tier", "integer"))["type"] == "integer"

    async def test_conversions_neither_count_nor_touch_other_tenants_records(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
        records: Records,
    ) -> None:
        await define(client, tenant_a, "size", "text")
        theirs = await records.add(tenant_b.tenant["id"], {"size": "twelve"})
        mine = await records.add(tenant_a.tenant["id"], {"size": "12"})

        response = await patch(client, tenant_a, "size", {"type": "integer"})

        assert response.status_code == 200
        assert await records.custom(mine) == {"size": 12}
        assert await records.custom(theirs) == {"size": "twelve"}
