"""Load the Northwind sample's customers, sales staff, products and orders into a
running crm-api, through the API.

The sample (``../shared/data/northwind``) is a trading company's books: 91 customers,
9 employees, 77 products in 8 categories and 830 orders with 2,155 lines, all in US
dollars. This builds, as the tenant's admin:

- the customers, by the customer CSV import with ``northwind-customers-mapping.json``
  (a ``fax`` text attribute is defined first), waiting for the import's job;
- the departments the employees imply: an office of the vice president of sales under
  the tenant's root department, with a ``Sales`` department below it; the vice
  president works in the office and heads it, everyone else works in Sales (headed by
  the sales manager), and ``reports_to`` is the manager. Each employee carries their
  Northwind id in the ``northwind_id`` attribute;
- one product per Northwind product: sku ``NW-<product_id>``, the category's name as
  category, ``quantity_per_unit`` as unit, its list price, inactive when discontinued;
- every order through ``POST /api/v1/orders/historical`` in batches, as a completed
  order owned by its employee, for its customer by code, dated ``order_date``, each
  line at the unit price and discount charged then (a fraction such as 0.15 becomes
  ``discount_percent`` 15; no tax). Freight is not part of an order's totals (the
  money rule adds up lines); it is kept in the order attribute ``freight`` (money).

Everything is looked up before it is created, so running the loader again creates
nothing new: the import reports the customers unchanged and the orders as existing.
The tenant's default currency must be USD, the sample's currency (``freight`` is a
money attribute, which is kept in the tenant's currency).

Usage (the API running, e.g. ``python3 dev.py serve``, and a tenant signed up)::

    .venv/bin/python examples/load_northwind.py \\
        --api http://127.0.0.1:8000 --email nancy@northwind.example.com
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "northwind"
MAPPING_FILE = Path(__file__).with_name("northwind-customers-mapping.json")
CURRENCY = "USD"
# The historical endpoint takes at most 500 orders per request.
BATCH_SIZE = 500
SKU_PREFIX = "NW-"
SALES = "Sales"

# Given an import's id, returns once its job has finished. Against a server the
# loader polls the import; a test runs the job itself instead.
WaitForImport = Callable[[str], Awaitable[None]]
Headers = dict[str, str]


class LoadFailed(Exception):
    """The API refused a step of the load."""


@dataclass
class Loaded:
    """What the load did, and the ids of what it made, by Northwind's own keys."""

    customer_import: dict[str, Any] = field(default_factory=dict)
    office_department: str = ""
    sales_department: str = ""
    employees: dict[str, str] = field(default_factory=dict)
    products: dict[str, str] = field(default_factory=dict)
    orders_created: int = 0
    orders_existing: int = 0


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


async def _call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: Headers,
    *,
    expect: tuple[int, ...] = (200, 201),
    **kwargs: Any,
) -> httpx.Response:
    response = await client.request(method, path, headers=headers, **kwargs)
    if response.status_code not in expect:
        raise LoadFailed(
            f"{method} {path} -> {response.status_code}: {response.text[:2000]}"
        )
    return response


async def _json(
    client: httpx.AsyncClient, method: str, path: str, headers: Headers, **kwargs: Any
) -> Any:
    return (await _call(client, method, path, headers, **kwargs)).json()


async def list_all(
    client: httpx.AsyncClient,
    path: str,
    headers: Headers,
    params: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every item of a list endpoint, page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page_params = {**(params or {}), "limit": "200"}
        if cursor is not None:
            page_params["cursor"] = cursor
        page = await _json(client, "GET", path, headers, params=page_params)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def define_attribute(
    client: httpx.AsyncClient, headers: Headers, entity: str, key: str, kind: str
) -> None:
    """Define a custom attribute unless it is there already (with this type)."""
    body = {"key": key, "label": key.replace("_", " ").capitalize(), "type": kind}
    path = f"/api/v1/custom-attributes/{entity}"
    response = await _call(client, "POST", path, headers, json=body, expect=(201, 409))
    if response.status_code == 409:
        existing = await _json(client, "GET", f"{path}/{key}", headers)
        if existing["type"] != kind:
            raise LoadFailed(f"{entity} attribute {key!r} exists as {existing['type']}")


# --- customers ---


def poll_import(
    client: httpx.AsyncClient,
    headers: Headers,
    *,
    interval_s: float = 0.5,
    timeout_s: float = 600,
) -> WaitForImport:
    """Wait by asking the API until the import is no longer queued or running."""

    async def wait(import_id: str) -> None:
        deadline = time.monotonic() + timeout_s
        path = f"/api/v1/customers/imports/{import_id}"
        while (await _json(client, "GET", path, headers))["status"] in (
            "queued",
            "running",
        ):
            if time.monotonic() > deadline:
                raise LoadFailed(f"import {import_id} still running after {timeout_s}s")
            await asyncio.sleep(interval_s)

    return wait


async def import_customers(
    client: httpx.AsyncClient,
    headers: Headers,
    data: Path = DEFAULT_DATA,
    *,
    wait: WaitForImport | None = None,
) -> dict[str, Any]:
    """Import ``customers.csv`` by the CSV import; the finished import, all rows in."""
    await define_attribute(client, headers, "customer", "fax", "text")
    created = await _json(
        client,
        "POST",
        "/api/v1/customers/imports",
        headers,
        data={"mapping": MAPPING_FILE.read_text(encoding="utf-8")},
        files={
            "file": (
                "customers.csv",
                (data / "customers.csv").read_bytes(),
                "text/csv",
            )
        },
        expect=(202,),
    )
    await (wait or poll_import(client, headers))(created["id"])

    path = f"/api/v1/customers/imports/{created['id']}"
    finished: dict[str, Any] = await _json(client, "GET", path, headers)
    if finished["status"] != "succeeded" or finished["rows_failed"]:
        raise LoadFailed(f"the customer import did not go through: {finished}")
    return finished


# --- organisation ---


async def _child_named(
    client: httpx.AsyncClient,
    headers: Headers,
    parent_id: str,
    name: str,
) -> str:
    """The department ``name`` directly under ``parent_id``, created if missing."""
    subtree = await _json(
        client, "GET", f"/api/v1/departments/{parent_id}/subtree", headers
    )
    for child in subtree["children"]:
        if child["name"] == name:
            return str(child["id"])
    created = await _json(
        client,
        "POST",
        "/api/v1/departments",
        headers,
        json={"name": name, "parent_id": parent_id},
    )
    return str(created["id"])


async def load_employees(
    client: httpx.AsyncClient,
    headers: Headers,
    data: Path = DEFAULT_DATA,
    *,
    loaded: Loaded,
) -> None:
    """Departments and employees from ``employees.csv`` (see the module's text)."""
    rows = read_rows(data / "employees.csv")
    await define_attribute(client, headers, "employee", "northwind_id", "integer")
    me = await _json(client, "GET", "/api/v1/me", headers)
    if me["department_id"] is None:
        raise LoadFailed("The admin is not linked to an employee.")

    [vice_president] = [row for row in rows if not row["reports_to"]]
    loaded.office_department = await _child_named(
        client, headers, me["department_id"], f"Office of the {vice_president['title']}"
    )
    loaded.sales_department = await _child_named(
        client, headers, loaded.office_department, SALES
    )

    loaded.employees = {
        str(e["custom"]["northwind_id"]): e["id"]
        for e in await list_all(client, "/api/v1/employees", headers)
        if "northwind_id" in e["custom"]
    }
    pending = list(rows)
    while pending:  # managers before their reports, whatever the file order
        row = next(r for r in pending if r["reports_to"] in ("", *loaded.employees))
        pending.remove(row)
        if row["employee_id"] in loaded.employees:
            continue
        employee = await _json(
            client,
            "POST",
            "/api/v1/employees",
            headers,
            json={
                "department_id": (
                    loaded.office_department
                    if row is vice_president
                    else loaded.sales_department
                ),
                "name": f"{row['first_name']} {row['last_name']}",
                "title": row["title"],
                "manager_id": loaded.employees.get(row["reports_to"]),
                "hire_date": row["hire_date"],
                "custom": {"northwind_id": int(row["employee_id"])},
            },
        )
        loaded.employees[row["employee_id"]] = employee["id"]

    [sales_manager] = [row for row in rows if row["title"] == "Sales Manager"]
    for department, head in (
        (loaded.office_department, vice_president),
        (loaded.sales_department, sales_manager),
    ):
        await _call(
            client,
            "PATCH",
            f"/api/v1/departments/{department}",
            headers,
            json={"head_employee_id": loaded.employees[head["employee_id"]]},
        )


# --- products ---


async def load_products(
    client: httpx.AsyncClient,
    headers: Headers,
    data: Path = DEFAULT_DATA,
    *,
    loaded: Loaded,
) -> None:
    """One product per row of ``products.csv``, its category named from
    ``categories.csv``; products already there (by sku) are kept as they are."""
    categories = {
        row["category_id"]: row["category_name"]
        for row in read_rows(data / "categories.csv")
    }
    existing = {
        product["sku"]: product["id"]
        for product in await list_all(client, "/api/v1/products", headers)
    }
    for row in read_rows(data / "products.csv"):
        sku = f"{SKU_PREFIX}{row['product_id']}"
        if sku not in existing:
            product = await _json(
                client,
                "POST",
                "/api/v1/products",
                headers,
                json={
                    "sku": sku,
                    "name": row["product_name"],
                    "category": categories[row["category_id"]],
                    "unit": row["quantity_per_unit"],
                    "list_price": row["unit_price"],
                    "currency": CURRENCY,
                    "active": row["discontinued"] == "0",
                },
            )
            existing[sku] = product["id"]
        loaded.products[row["product_id"]] = existing[sku]


# --- orders ---


def percent(fraction: str) -> str:
    """Northwind's discount fraction as a percentage: "0.15" -> "15"."""
    return format((Decimal(fraction) * 100).normalize(), "f")


def historical_orders(data: Path, loaded: Loaded) -> list[dict[str, Any]]:
    """The body of every order for the historical endpoint, in the file's order."""
    details: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_rows(data / "order_details.csv"):
        details[row["order_id"]].append(row)
    return [
        {
            "number": row["order_id"],
            "customer_code": row["customer_id"],
            "owner_id": loaded.employees[row["employee_id"]],
            "ordered_on": row["order_date"],
            "currency": CURRENCY,
            "lines": [
                {
                    "product_id": loaded.products[line["product_id"]],
                    "quantity": line["quantity"],
                    "unit_price": line["unit_price"],
                    "discount_percent": percent(line["discount"]),
                    "tax_rate_percent": "0",
                }
                for line in details[row["order_id"]]
            ],
            "custom": {"freight": row["freight"]},
        }
        for row in read_rows(data / "orders.csv")
    ]


async def import_orders(
    client: httpx.AsyncClient,
    headers: Headers,
    data: Path = DEFAULT_DATA,
    *,
    loaded: Loaded,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Send every order to the historical endpoint, ``batch_size`` at a time."""
    await define_attribute(client, headers, "order", "freight", "money")
    orders = historical_orders(data, loaded)
    for start in range(0, len(orders), batch_size):
        report = await _json(
            client,
            "POST",
            "/api/v1/orders/historical",
            headers,
            json={"orders": orders[start : start + batch_size]},
            expect=(200,),
        )
        loaded.orders_created += report["created"]
        loaded.orders_existing += report["existing"]


async def load(
    client: httpx.AsyncClient,
    headers: Headers,
    data: Path = DEFAULT_DATA,
    *,
    wait: WaitForImport | None = None,
) -> Loaded:
    """Customers, organisation, products and orders; ``headers`` are an admin's."""
    me = await _json(client, "GET", "/api/v1/me", headers)
    if me["tenant"]["default_currency"] != CURRENCY:
        raise LoadFailed(
            f"Northwind's money is in {CURRENCY}; load it into a tenant whose default "
            f"currency is {CURRENCY} (this one's is {me['tenant']['default_currency']})."
        )
    loaded = Loaded()
    loaded.customer_import = await import_customers(client, headers, data, wait=wait)
    await load_employees(client, headers, data, loaded=loaded)
    await load_products(client, headers, data, loaded=loaded)
    await import_orders(client, headers, data, loaded=loaded)
    return loaded


async def orders_by_number(
    client: httpx.AsyncClient, headers: Headers, numbers: set[str]
) -> dict[str, dict[str, Any]]:
    """The completed orders with these numbers, as the API shows them."""
    orders = await list_all(client, "/api/v1/orders", headers, {"status": "completed"})
    return {order["number"]: order for order in orders if order["number"] in numbers}


async def _main(args: argparse.Namespace) -> None:
    password = args.password or getpass.getpass(f"Password for {args.email}: ")
    data = Path(args.data)
    async with httpx.AsyncClient(base_url=args.api, timeout=120) as client:
        token = await client.post(
            "/api/v1/auth/token", data={"username": args.email, "password": password}
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        loaded = await load(client, headers, data)

        imported = loaded.customer_import
        numbers = {row["order_id"] for row in read_rows(data / "orders.csv")}
        orders = (await orders_by_number(client, headers, numbers)).values()
        zero = Decimal("0.00")
        net = sum((Decimal(order["total_net"]) for order in orders), zero)
        freight = sum((Decimal(order["custom"]["freight"]) for order in orders), zero)
        summary = {
            "customers": {
                key: imported[f"rows_{key}"]
                for key in ("created", "updated", "unchanged", "failed")
            },
            "employees": len(loaded.employees),
            "products": len(loaded.products),
            "orders": {
                "created": loaded.orders_created,
                "existing": loaded.orders_existing,
                "lines": sum(len(order["lines"]) for order in orders),
            },
            "net_total": f"{net} {CURRENCY}",
            "freight_outside_the_totals": f"{freight} {CURRENCY}",
        }
        print(json.dumps(summary, indent=2))  # noqa: T201 - a command-line example


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--email", required=True, help="An admin of the tenant.")
    parser.add_argument("--password", help="Asked for when omitted.")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
