"""The money rule on quote lines: half-up per line figure, totals as sums, no
amount finer than its currency."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext
from tests.quotes.conftest import FAR_AHEAD, QUOTES, create_quote, line


async def _revision(
    client: httpx.AsyncClient, ctx: TenantContext, *lines: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    quote = await create_quote(client, ctx, lines=list(lines), **fields)
    return quote["revision"]  # type: ignore[no-any-return]


async def _refused(
    client: httpx.AsyncClient, ctx: TenantContext, *lines: dict[str, Any], **fields: Any
) -> list[tuple[str, str]]:
    customer = await create_customer(client, ctx)
    response = await client.post(
        QUOTES,
        json={
            "customer_id": customer["id"],
            "valid_until": FAR_AHEAD,
            "lines": list(lines),
            **fields,
        },
        headers=ctx.headers,
    )
    assert response.status_code == 422, response.text
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


async def test_three_at_ten_cents_is_exactly_thirty_cents(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    revision = await _revision(
        client, tenant_a, line(quantity=3, unit_price="0.10", tax_rate_percent="10")
    )

    [only] = revision["lines"]
    assert (only["net"], only["tax"], only["gross"]) == ("0.30", "0.03", "0.33")
    assert revision["net_total"] == "0.30"
    assert revision["gross_total"] == "0.33"


async def test_json_numbers_are_read_as_exact_decimals(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    customer = await create_customer(client, tenant_a)
    lines = '[{"description": "Tea", "quantity": 3, "unit_price": 0.1}]'
    body = (
        f'{{"customer_id": "{customer["id"]}", "valid_until": "2099-12-31", '
        f'"lines": {lines}}}'
    )

    response = await client.post(
        QUOTES,
        content=body.encode(),
        headers={**tenant_a.headers, "content-type": "application/json"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["revision"]["net_total"] == "0.30"


@pytest.mark.parametrize(
    ("fields", "net"),
    [
        # 0.125 -> 0.13: half-up, not to even (which would give 0.12).
        ({"quantity": "0.5", "unit_price": "0.25"}, "0.13"),
        ({"quantity": "1", "unit_price": "0.25", "discount_percent": "50"}, "0.13"),
        # 0.115 -> 0.12 (half-even would also give 0.12; 0.125 is the telling one).
        ({"quantity": "0.5", "unit_price": "0.23"}, "0.12"),
        ({"quantity": "0.5", "unit_price": "0.29"}, "0.15"),  # 0.145; even: 0.14
        ({"quantity": "1", "unit_price": "10.00", "discount_percent": "100"}, "0.00"),
    ],
)
async def test_line_net_is_rounded_half_up(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    fields: dict[str, str],
    net: str,
) -> None:
    revision = await _revision(client, tenant_a, line(**fields))

    assert revision["lines"][0]["net"] == net


async def test_line_tax_is_rounded_half_up_on_the_rounded_net(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    # net 0.10, tax 5% = 0.005 -> 0.01
    revision = await _revision(
        client, tenant_a, line(unit_price="0.10", tax_rate_percent="5")
    )

    assert revision["lines"][0]["tax"] == "0.01"


async def test_totals_are_sums_of_the_rounded_lines(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    # Each line is 0.005 -> 0.01; summing first would give 0.015 -> 0.02.
    half_cent = line(quantity="0.5", unit_price="0.01", tax_rate_percent="50")
    revision = await _revision(client, tenant_a, half_cent, half_cent, half_cent)

    assert [item["net"] for item in revision["lines"]] == ["0.01"] * 3
    assert revision["net_total"] == "0.03"
    assert revision["tax_total"] == "0.03"  # 0.005 -> 0.01 per line
    assert revision["gross_total"] == "0.06"


async def test_yen_has_no_minor_unit(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    # 3 x 333 x 0.9 = 899.1 -> 899; tax 10% = 89.9 -> 90
    revision = await _revision(
        client,
        tenant_a,
        line(
            quantity="3",
            unit_price="333",
            discount_percent="10",
            tax_rate_percent="10",
        ),
        currency="JPY",
    )

    [only] = revision["lines"]
    assert (only["unit_price"], only["net"], only["tax"]) == ("333", "899", "90")
    assert revision["gross_total"] == "989"


async def test_unit_prices_are_shown_at_the_currency_scale(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    revision = await _revision(
        client, tenant_a, line(quantity="2.500", unit_price="4.5")
    )

    [only] = revision["lines"]
    assert (only["quantity"], only["unit_price"], only["net"]) == (
        "2.5",
        "4.50",
        "11.25",
    )


@pytest.mark.parametrize(
    ("fields", "currency", "error"),
    [
        # More decimals than the currency has: refused, never rounded away.
        ({"unit_price": "0.125"}, "EUR", ("lines.0.unit_price", "too_precise")),
        ({"unit_price": "100.5"}, "JPY", ("lines.0.unit_price", "too_precise")),
        ({"unit_price": "1.0005"}, "BHD", ("lines.0.unit_price", "too_precise")),
        ({"quantity": "-1"}, "EUR", ("lines.0.quantity", "greater_than")),
        ({"quantity": "0"}, "EUR", ("lines.0.quantity", "greater_than")),
        ({"quantity": "1.0000001"}, "EUR", ("lines.0.quantity", "decimal_max_places")),
        (
            {"discount_percent": "100.01"},
            "EUR",
            ("lines.0.discount_percent", "less_than_equal"),
        ),
        (
            {"discount_percent": "-1"},
            "EUR",
            ("lines.0.discount_percent", "greater_than_equal"),
        ),
        (
            {"tax_rate_percent": "-0.5"},
            "EUR",
            ("lines.0.tax_rate_percent", "greater_than_equal"),
        ),
        ({"unit_price": "-5.00"}, "EUR", ("lines.0.unit_price", "greater_than_equal")),
        ({"unit_price": "Infinity"}, "EUR", ("lines.0.unit_price", "finite_number")),
        # Written as an exponent: refused as text before its size is looked at.
        ({"unit_price": "1e400"}, "EUR", ("lines.0.unit_price", "value_error")),
    ],
)
async def test_bad_amounts_are_422_naming_the_line_field(
    client: httpx.AsyncClient,
    tenant_a: TenantContext,
    fields: dict[str, str],
    currency: str,
    error: tuple[str, str],
) -> None:
    errors = await _refused(client, tenant_a, line(**fields), currency=currency)

    assert error in errors


async def test_every_bad_line_is_listed_at_once(
    client: httpx.AsyncClient, tenant_a: TenantContext
) -> None:
    errors = await _refused(
        client,
        tenant_a,
        line(unit_price="1.001"),
        line(),
        line(unit_price="2.002"),
    )

    assert errors == [
        ("lines.0.unit_price", "too_precise"),
        ("lines.2.unit_price", "too_precise"),
    ]


class TestDecimalText:
    @pytest.mark.parametrize("price", ["١٢", " 1.00", "1.00 ", "1e2", "+1.00", "1,00"])
    async def test_a_price_not_written_plainly_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, price: str
    ) -> None:
        # The inputs that were accepted: Arabic-Indic digits read as 12.00, and a
        # leading space.
        customer = await client.post(
            "/api/v1/customers", json={"name": "Plain"}, headers=tenant_a.headers
        )
        response = await client.post(
            "/api/v1/orders",
            json={
                "customer_id": customer.json()["id"],
                "lines": [{"description": "x", "quantity": "1", "unit_price": price}],
            },
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "lines.0.unit_price"
