"""Inputs found by trying to break the customer API, each pinned as it was sent."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import time
from typing import Any

import httpx
import pytest

from tests.customers.conftest import create_customer, define
from tests.fixtures.api import TenantContext

BASE = "/api/v1/customers"


def _cursor(*values: Any) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")
    )


async def _walk(
    client: httpx.AsyncClient, ctx: TenantContext, **params: str
) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(BASE, params=query, headers=ctx.headers)
        assert response.status_code == 200, response.text
        seen += [c["name"] for c in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


async def test_a_number_with_a_huge_exponent_is_refused_at_once(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="f_integer", label="I", type="integer")
    started = time.perf_counter()

    response = await client.post(
        BASE,
        content=b'{"name":"big","custom":{"f_integer":1e5000000}}',
        headers={**tenant_a.headers, "content-type": "application/json"},
    )

    assert response.status_code == 422
    assert time.perf_counter() - started < 2


class TestCalendarExtremes:
    @pytest.fixture
    async def dated(self, client: httpx.AsyncClient, tenant_a: TenantContext) -> None:
        await define(client, tenant_a, key="until", label="Until", type="date")
        for name, until in [("never", "9999-12-31"), ("first", "0001-01-01"),
                            ("mid", "2025-06-30"), ("also never", "9999-12-31")]:  # fmt: skip
            await create_customer(client, tenant_a, name=name, custom={"until": until})
        await create_customer(client, tenant_a, name="open")

    async def test_the_last_and_first_dates_compare_as_dates(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, dated: None
    ) -> None:
        async def count(**params: str) -> int:
            response = await client.get(
                f"{BASE}/count", params=params, headers=tenant_a.headers
            )
            return int(response.json()["count"])

        assert await count(**{"custom.until": "9999-12-31"}) == 2
        assert await count(**{"custom.until[lt]": "9999-12-31"}) == 2
        assert await count(**{"custom.until[gte]": "9999-12-31"}) == 2
        assert await count(**{"custom.until": "0001-01-01"}) == 1
        assert await count(**{"custom.until[ne]": "0001-01-01"}) == 4

    @pytest.mark.parametrize("sort", ["custom.until", "-custom.until"])
    async def test_sorted_pages_end_and_hold_every_row_once(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, dated: None, sort: str
    ) -> None:
        seen = await _walk(client, tenant_a, sort=sort, limit="1")

        assert sorted(seen) == sorted(["never", "first", "mid", "also never", "open"])
        assert seen[-1] == "open"


async def test_sorting_by_a_boolean_pages_past_the_first_page(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="vip", label="VIP", type="boolean")
    for name, vip in [("a", True), ("b", False), ("c", True)]:
        await create_customer(client, tenant_a, name=name, custom={"vip": vip})

    seen = await _walk(client, tenant_a, sort="-custom.vip", limit="1")

    assert sorted(seen[:2]) == ["a", "c"]
    assert seen[2] == "b"


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ("name", 5),
        ("name", {"a": 1}),
        ("custom.vip", "notabool"),
        ("custom.vip", 1),
        ("created_at", "0001-01-01T00:00:00+14:00"),
    ],
)
async def test_forged_cursors_are_422(
    client: httpx.AsyncClient, tenant_a: TenantContext, sort: str, first: Any
) -> None:
    await define(client, tenant_a, key="vip", label="VIP", type="boolean")
    customer = await create_customer(client, tenant_a)

    response = await client.get(
        BASE,
        params={"sort": sort, "cursor": _cursor(first, customer["id"])},
        headers=tenant_a.headers,
    )

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("created_at[gt]", "0001-01-01T00:00:00+14:00"),
        ("created_at[lt]", "9999-12-31T23:59:59-12:00"),
        ("custom.amount[gt]", "1e999999"),
        ("custom.amount[gt]", "1e-999999"),
        ("custom.amount[gt]", "abc"),
    ],
)
async def test_filter_values_outside_what_can_be_stored_are_422(
    client: httpx.AsyncClient, tenant_a: TenantContext, param: str, value: str
) -> None:
    await define(client, tenant_a, key="amount", label="Amount", type="decimal")

    listed = await client.get(BASE, params={param: value}, headers=tenant_a.headers)
    exported = await client.get(
        f"{BASE}/export", params={param: value}, headers=tenant_a.headers
    )

    assert listed.status_code == exported.status_code == 422
    assert "class" not in listed.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-12:00"]
)
async def test_interactions_at_the_ends_of_time_are_422(
    client: httpx.AsyncClient, tenant_a: TenantContext, when: str
) -> None:
    customer = await create_customer(client, tenant_a)

    response = await client.post(
        f"{BASE}/{customer['id']}/interactions",
        json={"kind": "call", "occurred_at": when, "summary": "x"},
        headers=tenant_a.headers,
    )

    assert response.status_code == 422


async def test_concurrent_primary_contacts_leave_exactly_one_primary(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    customer = await create_customer(client, tenant_a)
    path = f"{BASE}/{customer['id']}/contacts"

    responses = await asyncio.gather(
        *(client.post(path, json={"name": f"P{n}", "is_primary": True},
                      headers=tenant_a.headers) for n in range(4))
    )  # fmt: skip

    assert [r.status_code for r in responses] == [201] * 4
    contacts = (await client.get(path, headers=tenant_a.headers)).json()["items"]
    assert sum(c["is_primary"] for c in contacts) == 1


async def test_unpaired_surrogate_in_a_custom_text_is_422(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await define(client, tenant_a, key="f_text", label="T", type="text")

    response = await client.post(
        BASE,
        content=b'{"name":"sur","custom":{"f_text":"\\udfff"}}',
        headers={**tenant_a.headers, "content-type": "application/json"},
    )

    assert response.status_code == 422


async def test_thousands_of_unknown_custom_keys_get_fifty_errors(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    custom = {f"k{n}": n for n in range(2000)}

    response = await client.post(
        BASE, json={"name": "X", "custom": custom}, headers=tenant_a.headers
    )

    assert response.status_code == 422
    assert len(response.json()["errors"]) == 50


async def test_customers_without_tags_do_not_exist_in_tags(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await create_customer(client, tenant_a, name="tagged", tags=["vip"])
    await create_customer(client, tenant_a, name="untagged")

    without = await client.get(
        f"{BASE}/count", params={"tags[exists]": "false"}, headers=tenant_a.headers
    )
    with_tags = await client.get(
        f"{BASE}/count", params={"tags[exists]": "true"}, headers=tenant_a.headers
    )

    assert (without.json()["count"], with_tags.json()["count"]) == (1, 1)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Acme\u0001Corp"},
        {"name": "Acme\u202eCorp"},
        {"name": "\u200b"},
        {"name": "X", "code": "A\u0001B"},
        {"name": "X", "tags": ["\u0001"]},
        {"name": "X", "phone": "\u0001\u0002\u0003"},
        {"name": "X", "website": "javascript:alert(1)"},
    ],
)
async def test_control_characters_and_script_links_are_422(
    client: httpx.AsyncClient, tenant_a: TenantContext, body: dict[str, Any]
) -> None:
    response = await client.post(BASE, json=body, params={"allow_duplicate": "true"},
                                 headers=tenant_a.headers)  # fmt: skip

    assert response.status_code == 422


async def test_names_without_letters_are_not_duplicates_of_each_other(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    await client.post(BASE, json={"name": "!!!"}, headers=tenant_a.headers)

    response = await client.post(BASE, json={"name": "???"}, headers=tenant_a.headers)

    assert response.status_code == 201


async def test_concurrent_creates_of_one_name_make_one_customer(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    responses = await asyncio.gather(
        *(client.post(BASE, json={"name": "Race Dup Name"}, headers=tenant_a.headers)
          for _ in range(4))
    )  # fmt: skip

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]


async def test_export_neutralises_formulas_and_carries_ids(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    created = await create_customer(client, tenant_a, name='=HYPERLINK("http://evil")')

    response = await client.get(f"{BASE}/export", headers=tenant_a.headers)

    [row] = list(csv.DictReader(io.StringIO(response.text)))
    assert row["id"] == created["id"]
    assert row["name"] == '\'=HYPERLINK("http://evil")'


async def test_contacts_moved_by_a_merge_get_a_new_etag(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    survivor = await create_customer(client, tenant_a, name="S")
    duplicate = await create_customer(client, tenant_a, name="D")
    contact = (
        await client.post(f"{BASE}/{duplicate['id']}/contacts", json={"name": "M"},
                          headers=tenant_a.headers)
    ).json()  # fmt: skip

    await client.post(f"{BASE}/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]},
                      headers=tenant_a.headers)  # fmt: skip
    moved = await client.get(f"{BASE}/{survivor['id']}/contacts/{contact['id']}",
                             headers=tenant_a.headers)  # fmt: skip

    assert moved.headers["etag"] == '"2"'
