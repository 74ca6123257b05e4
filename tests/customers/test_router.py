from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.customers.conftest import create_customer, define
from tests.fixtures.api import TenantContext, add_user

BASE = "/api/v1/customers"


async def _names(
    client: httpx.AsyncClient, ctx: TenantContext, **params: Any
) -> list[str]:
    response = await client.get(BASE, params=params, headers=ctx.headers)
    assert response.status_code == 200, response.text
    return [c["name"] for c in response.json()["items"]]


def _names_the_null(response: httpx.Response, field: str) -> None:
    """The 422 a null for a required field answers: a validation problem at it."""
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:crm-api:problem:validation-error"
    assert response.json()["errors"] == [
        {
            "field": field,
            "location": "body",
            "code": "required",
            "message": f"'{field}' cannot be null.",
        }
    ]


class TestCreate:
    async def test_creates_with_address_tags_and_generated_code(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await create_customer(
            client,
            tenant_a,
            address={"city": "Berlin", "country": "Germany"},
            tags=["vip"],
            phone="030-0074321",
        )

        assert created["code"].startswith("C-")
        assert created["address"]["country"] == "Germany"
        assert created["tags"] == ["vip"]
        assert created["status"] == "prospect"
        assert created["owner_id"] == tenant_a.admin_employee_id
        assert created["department_id"] == tenant_a.root_department_id

    async def test_duplicate_code_is_409(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_customer(client, tenant_a, code="ALFKI")

        response = await client.post(
            BASE,
            json={"code": "ALFKI", "name": "Another"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "code"

    async def test_same_code_in_two_tenants_is_fine(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        await create_customer(client, tenant_a, code="ALFKI")

        await create_customer(client, tenant_b, code="ALFKI")

    @pytest.mark.parametrize(
        ("existing", "candidate", "matched"),
        [
            (
                {"name": "Alfreds Futterkiste GmbH"},
                {"name": "ALFREDS  futterkiste"},
                "name",
            ),
            (
                {"name": "A", "phone": "+49 30 0074321"},
                {"name": "B", "phone": "030 0074321"},
                "phone",
            ),
            (
                {"name": "C", "email": "Info@Alfreds.example"},
                {"name": "D", "email": "info@alfreds.example"},
                "email",
            ),
            ({"name": "北京贸易有限公司"}, {"name": "北京贸易"}, "name"),
        ],
    )
    async def test_likely_duplicate_is_409_with_candidates(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        existing: dict[str, str],
        candidate: dict[str, str],
        matched: str,
    ) -> None:
        first = await create_customer(client, tenant_a, **existing)

        response = await client.post(BASE, json=candidate, headers=tenant_a.headers)

        assert response.status_code == 409
        [found] = response.json()["extra"]["duplicates"]
        assert found["id"] == first["id"]
        assert matched in found["matched_on"]

    async def test_insisting_creates_the_duplicate(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_customer(client, tenant_a, name="Same")

        response = await client.post(
            BASE,
            json={"name": "Same"},
            params={"allow_duplicate": "true"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 201

    async def test_unknown_field_and_bad_custom_are_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        unknown = await client.post(
            BASE, json={"name": "X", "nmae": "x"}, headers=tenant_a.headers
        )
        custom = await client.post(
            BASE, json={"name": "X", "custom": {"nope": 1}}, headers=tenant_a.headers
        )

        assert unknown.status_code == 422
        assert custom.status_code == 422
        assert custom.json()["errors"][0]["field"] == "custom.nope"


class TestCustomAttributes:
    async def test_typed_values_are_validated_and_stored(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(client, tenant_a, key="founded", label="Founded", type="date")
        await define(
            client,
            tenant_a,
            key="segment",
            label="Segment",
            type="select",
            options=["smb", "enterprise"],
        )

        bad_date = await client.post(
            BASE,
            json={"name": "X", "custom": {"founded": "2025-02-30"}},
            headers=tenant_a.headers,
        )
        bad_option = await client.post(
            BASE,
            json={"name": "Y", "custom": {"segment": "huge"}},
            headers=tenant_a.headers,
        )
        good = await create_customer(
            client, tenant_a, custom={"founded": "1990-05-01", "segment": "smb"}
        )

        assert bad_date.json()["errors"][0]["field"] == "custom.founded"
        assert bad_option.json()["errors"][0]["field"] == "custom.segment"
        assert good["custom"] == {"founded": "1990-05-01", "segment": "smb"}

    async def test_patch_merges_custom_and_saves_nested_change(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(
            client, tenant_a, key="employees", label="Employees", type="integer"
        )
        await define(client, tenant_a, key="notes", label="Notes", type="text")
        customer = await create_customer(
            client, tenant_a, custom={"employees": 5, "notes": "x"}
        )

        patched = await client.patch(
            f"{BASE}/{customer['id']}",
            json={"custom": {"employees": 6, "notes": None}},
            headers=tenant_a.headers,
        )
        again = await client.get(f"{BASE}/{customer['id']}", headers=tenant_a.headers)

        assert patched.status_code == 200, patched.text
        assert again.json()["custom"] == {"employees": 6}


class TestFiltering:
    @pytest.fixture
    async def numbered(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await define(
            client, tenant_a, key="employees", label="Employees", type="integer"
        )
        await define(client, tenant_a, key="vip", label="VIP", type="boolean")
        await define(
            client,
            tenant_a,
            key="labels",
            label="Labels",
            type="multiselect",
            options=["vip", "partner", "press"],
        )
        for name, employees, vip, labels, country in [
            ("Nine", 9, True, ["vip"], "Germany"),
            ("Ten", 10, False, ["partner"], "USA"),
            ("Hundred", 100, True, ["vip", "press"], "Germany"),
        ]:
            await create_customer(
                client,
                tenant_a,
                name=name,
                address={"country": country},
                custom={"employees": employees, "vip": vip, "labels": labels},
            )
        await create_customer(client, tenant_a, name="Unknown size")

    async def test_numbers_compare_as_numbers(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, numbered: None
    ) -> None:
        assert sorted(
            await _names(client, tenant_a, **{"custom.employees[gte]": "10"})
        ) == [
            "Hundred",
            "Ten",
        ]
        assert await _names(client, tenant_a, sort="custom.employees") == [
            "Nine",
            "Ten",
            "Hundred",
            "Unknown size",
        ]
        assert await _names(client, tenant_a, sort="-custom.employees") == [
            "Hundred",
            "Ten",
            "Nine",
            "Unknown size",
        ]

    async def test_boolean_filters_partition_the_set(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, numbered: None
    ) -> None:
        yes = await _names(client, tenant_a, **{"custom.vip": "true"})
        no = await _names(client, tenant_a, **{"custom.vip": "false"})

        assert sorted(yes) == ["Hundred", "Nine"]
        assert no == ["Ten"]

    async def test_contains_standard_fields_and_exists(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, numbered: None
    ) -> None:
        assert sorted(
            await _names(client, tenant_a, **{"custom.labels[contains]": "vip"})
        ) == [
            "Hundred",
            "Nine",
        ]
        assert sorted(await _names(client, tenant_a, country="Germany")) == [
            "Hundred",
            "Nine",
        ]
        assert await _names(
            client, tenant_a, **{"custom.employees[exists]": "false"}
        ) == ["Unknown size"]
        count = await client.get(
            f"{BASE}/count", params={"country": "Germany"}, headers=tenant_a.headers
        )
        assert count.json() == {"count": 2}

    async def test_sorted_pages_walk_every_row_once(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, numbered: None
    ) -> None:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"sort": "-custom.employees", "limit": "1"}
            if cursor:
                params["cursor"] = cursor
            body = (
                await client.get(BASE, params=params, headers=tenant_a.headers)
            ).json()
            seen += [c["name"] for c in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break

        assert seen == ["Hundred", "Ten", "Nine", "Unknown size"]

    async def test_q_finds_any_substring_case_insensitively(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        await create_customer(client, tenant_a, name="Alfreds Futterkiste")
        await create_customer(client, tenant_a, name="北京贸易有限公司")
        await create_customer(client, tenant_a, name="100% Natural_Foods")

        assert await _names(client, tenant_a, q="FUTTER") == ["Alfreds Futterkiste"]
        assert await _names(client, tenant_a, q="贸易") == ["北京贸易有限公司"]
        assert await _names(client, tenant_a, q="0%") == ["100% Natural_Foods"]
        assert await _names(client, tenant_a, q="l_f") == ["100% Natural_Foods"]

    @pytest.mark.parametrize(
        ("param", "value"),
        [
            ("custom.employees[gte]", "ten"),
            ("nope", "1"),
            ("country[gte]", "A"),
            ("created_at[lt]", "2025-01-01T00:00:00"),
            ("status", "archived"),
        ],
    )
    async def test_bad_filters_are_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        numbered: None,
        param: str,
        value: str,
    ) -> None:
        response = await client.get(
            BASE, params={param: value}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == param

    async def test_bad_sort_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await client.get(
            BASE, params={"sort": "-password"}, headers=tenant_a.headers
        )

        assert response.status_code == 422


class TestUpdate:
    async def test_two_patches_with_one_etag_one_gets_412(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)
        etag = (
            await client.get(f"{BASE}/{customer['id']}", headers=tenant_a.headers)
        ).headers["etag"]

        responses = await asyncio.gather(
            *(
                client.patch(
                    f"{BASE}/{customer['id']}",
                    json={"industry": f"Food {n}"},
                    headers={**tenant_a.headers, "If-Match": etag},
                )
                for n in range(2)
            )
        )

        assert sorted(r.status_code for r in responses) == [200, 412]

    async def test_unknown_field_in_patch_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)

        response = await client.patch(
            f"{BASE}/{customer['id']}", json={"nmae": "x"}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "unknown_field"

    @pytest.mark.parametrize(
        "field", ["owner_id", "department_id", "name", "code", "kind", "status"]
    )
    async def test_null_for_a_required_field_is_422_naming_it(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, field: str
    ) -> None:
        customer = await create_customer(client, tenant_a)

        response = await client.patch(
            f"{BASE}/{customer['id']}", json={field: None}, headers=tenant_a.headers
        )

        _names_the_null(response, field)
        again = await client.get(f"{BASE}/{customer['id']}", headers=tenant_a.headers)
        assert again.json()[field] == customer[field]

    async def test_every_null_required_field_is_named(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)

        response = await client.patch(
            f"{BASE}/{customer['id']}",
            json={"owner_id": None, "name": None},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["name", "owner_id"]


class TestContactsAndInteractions:
    async def test_null_for_a_contacts_name_is_422_naming_it(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)
        path = f"{BASE}/{customer['id']}/contacts"
        contact = await client.post(
            path, json={"name": "Maria"}, headers=tenant_a.headers
        )

        response = await client.patch(
            f"{path}/{contact.json()['id']}",
            json={"name": None},
            headers=tenant_a.headers,
        )

        _names_the_null(response, "name")

    async def test_only_one_primary_contact(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)
        path = f"{BASE}/{customer['id']}/contacts"

        first = await client.post(
            path, json={"name": "Maria", "is_primary": True}, headers=tenant_a.headers
        )
        second = await client.post(
            path, json={"name": "Ana", "is_primary": True}, headers=tenant_a.headers
        )
        listed = (await client.get(path, headers=tenant_a.headers)).json()["items"]

        assert first.status_code == second.status_code == 201
        assert {c["name"]: c["is_primary"] for c in listed} == {
            "Maria": False,
            "Ana": True,
        }

    async def test_history_is_newest_first_and_checks_the_contact(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)
        other = await create_customer(client, tenant_a, name="Other")
        stranger = (
            await client.post(
                f"{BASE}/{other['id']}/contacts",
                json={"name": "Stranger"},
                headers=tenant_a.headers,
            )
        ).json()
        path = f"{BASE}/{customer['id']}/interactions"
        for when, kind in [
            ("2025-01-01T09:00:00+08:00", "call"),
            ("2025-03-01T09:00:00-03:00", "visit"),
            ("2025-02-01T09:00:00Z", "note"),
        ]:
            created = await client.post(
                path,
                json={"kind": kind, "occurred_at": when, "summary": "…"},
                headers=tenant_a.headers,
            )
            assert created.status_code == 201

        history = (await client.get(path, headers=tenant_a.headers)).json()["items"]
        wrong_contact = await client.post(
            path,
            json={
                "kind": "call",
                "occurred_at": "2025-01-01T00:00:00Z",
                "summary": "x",
                "contact_id": stranger["id"],
            },
            headers=tenant_a.headers,
        )
        naive = await client.post(
            path,
            json={"kind": "call", "occurred_at": "2025-01-01T00:00:00", "summary": "x"},
            headers=tenant_a.headers,
        )

        assert [i["kind"] for i in history] == ["visit", "note", "call"]
        assert history[0]["occurred_at"] == "2025-03-01T12:00:00Z"
        assert wrong_contact.status_code == 422
        assert naive.status_code == 422


class TestMerge:
    async def test_merge_moves_everything_and_records_it(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, owner: Any
    ) -> None:
        survivor = await create_customer(client, tenant_a, name="Alfreds", tags=["a"])
        duplicate = await create_customer(
            client, tenant_a, name="Alfreds GmbH", tags=["b"], phone="030-0074321"
        )
        for target, name in ((survivor, "Keep"), (duplicate, "Moved")):
            await client.post(
                f"{BASE}/{target['id']}/contacts",
                json={"name": name, "is_primary": True},
                headers=tenant_a.headers,
            )
        await client.post(
            f"{BASE}/{duplicate['id']}/interactions",
            json={
                "kind": "call",
                "occurred_at": "2025-01-01T00:00:00Z",
                "summary": "hi",
            },
            headers=tenant_a.headers,
        )

        merged = await client.post(
            f"{BASE}/{survivor['id']}/merge",
            json={"duplicate_id": duplicate["id"]},
            headers=tenant_a.headers,
        )

        assert merged.status_code == 200, merged.text
        moved = merged.json()["moved"]
        # Every registered reference is reported; those of other domains are empty.
        assert moved["contacts"] == 1
        assert moved["interactions"] == 1
        assert sum(moved.values()) == 2
        gone = await client.get(f"{BASE}/{duplicate['id']}", headers=tenant_a.headers)
        kept = (
            await client.get(f"{BASE}/{survivor['id']}", headers=tenant_a.headers)
        ).json()
        contacts = (
            await client.get(
                f"{BASE}/{survivor['id']}/contacts", headers=tenant_a.headers
            )
        ).json()["items"]
        assert gone.status_code == 404
        assert kept["tags"] == ["a", "b"]
        assert kept["phone"] == "030-0074321"
        assert {c["name"]: c["is_primary"] for c in contacts} == {
            "Keep": True,
            "Moved": False,
        }
        assert await owner.fetchval("SELECT count(*) FROM customer_merges") == 1

    async def test_merge_into_itself_is_refused(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)

        response = await client.post(
            f"{BASE}/{customer['id']}/merge",
            json={"duplicate_id": customer["id"]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422


class TestPermissions:
    async def test_finance_reads_but_cannot_write(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        customer = await create_customer(client, tenant_a)
        _, headers = await add_user(client, tenant_a, roles=["finance"])

        read = await client.get(f"{BASE}/{customer['id']}", headers=headers)
        write = await client.patch(
            f"{BASE}/{customer['id']}", json={"industry": "x"}, headers=headers
        )

        assert (read.status_code, write.status_code) == (200, 403)


class TestOwner:
    async def test_owner_from_another_tenant_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        created = await client.post(
            BASE,
            json={"name": "X", "owner_id": tenant_b.admin_employee_id},
            headers=tenant_a.headers,
        )
        mine = await create_customer(client, tenant_a)
        patched = await client.patch(
            f"{BASE}/{mine['id']}",
            json={"owner_id": tenant_b.admin_employee_id},
            headers=tenant_a.headers,
        )

        assert created.status_code == 422
        assert patched.status_code == 422
        assert patched.json()["errors"][0]["field"] == "owner_id"


class TestTenantIsolation:
    async def test_other_tenant_can_neither_read_nor_write_any_of_it(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        tenant_b: TenantContext,
    ) -> None:
        customer = await create_customer(client, tenant_a, name="Secret Co")
        contact = (
            await client.post(
                f"{BASE}/{customer['id']}/contacts",
                json={"name": "Maria"},
                headers=tenant_a.headers,
            )
        ).json()
        interaction = (
            await client.post(
                f"{BASE}/{customer['id']}/interactions",
                json={
                    "kind": "call",
                    "occurred_at": "2025-01-01T00:00:00Z",
                    "summary": "x",
                },
                headers=tenant_a.headers,
            )
        ).json()
        mine = await create_customer(client, tenant_b, name="Mine")
        c = f"{BASE}/{customer['id']}"
        b = tenant_b.headers

        statuses = [
            (await client.get(c, headers=b)).status_code,
            (await client.patch(c, json={"name": "x"}, headers=b)).status_code,
            (await client.delete(c, headers=b)).status_code,
            (await client.get(f"{c}/contacts", headers=b)).status_code,
            (
                await client.post(f"{c}/contacts", json={"name": "x"}, headers=b)
            ).status_code,
            (await client.get(f"{c}/contacts/{contact['id']}", headers=b)).status_code,
            (
                await client.patch(
                    f"{c}/contacts/{contact['id']}", json={"name": "x"}, headers=b
                )
            ).status_code,
            (
                await client.delete(f"{c}/contacts/{contact['id']}", headers=b)
            ).status_code,
            (await client.get(f"{c}/interactions", headers=b)).status_code,
            (
                await client.get(f"{c}/interactions/{interaction['id']}", headers=b)
            ).status_code,
            (
                await client.post(
                    f"{c}/interactions",
                    json={
                        "kind": "call",
                        "occurred_at": "2025-01-01T00:00:00Z",
                        "summary": "x",
                    },
                    headers=b,
                )
            ).status_code,
            (
                await client.post(
                    f"{c}/merge", json={"duplicate_id": mine["id"]}, headers=b
                )
            ).status_code,
            (
                await client.post(
                    f"{BASE}/{mine['id']}/merge",
                    json={"duplicate_id": customer["id"]},
                    headers=b,
                )
            ).status_code,
        ]

        assert statuses == [404] * len(statuses)
        assert await _names(client, tenant_b) == ["Mine"]
        assert (await client.get(f"{BASE}/count", headers=b)).json() == {"count": 1}
        still = await client.get(c, headers=tenant_a.headers)
        assert still.json()["name"] == "Secret Co"
