"""Load the Maven CRM sales organisation and its accounts into a running crm-api.

The sample (``../shared/data/maven-crm``) has 35 sales agents under 6 managers in 3
regional offices, 85 accounts and 8,800 deals. Through the API this builds:

- a ``Sales`` department under the admin's department (the tenant's root), headed by
  a vice president of sales (an employee made up for the example: the data names
  none);
- one department per regional office under ``Sales``, headed by the office's first
  manager (by name); every manager and agent sits in their office, agents report to
  their manager, managers to the vice president;
- one customer per account, owned by the agent with the most deals on it (ties go to
  the agent first by name) and filed in that agent's office; accounts nobody has a
  deal with stay with the vice president.

With ``--logins`` it also gives one agent, one manager and the vice president a user
account (roles sales, manager and manager), so that signing in as each shows what
their visibility scope lets them see.

It loads a tenant once: a tenant that already has a ``Sales`` department under the
admin's department is left alone (exit code 1). Any refusal by the API ends the run
with a one-line message and exit code 1, not a traceback.

Usage (the API running, e.g. ``python3 dev.py serve``; the password is asked for
unless ``--password`` is given, and ``--api`` defaults to http://127.0.0.1:8000)::

    .venv/bin/python examples/load_maven_sales_org.py \\
        --api http://127.0.0.1:8000 --email ada@acme.example.com --logins
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "maven-crm"
VICE_PRESIDENT = "Vera Vice"
LOGIN_PASSWORD = "maven sample password"  # noqa: S105 - the documented sample sign-in
SALES = "Sales"


class LoadError(Exception):
    """Why the load stopped, in one line for the command line."""


class AlreadyLoaded(LoadError):
    """The tenant already has the sample's ``Sales`` department."""


class ApiRefused(LoadError):
    """The API answered a request with an error."""

    @classmethod
    def of(cls, method: str, path: str, response: httpx.Response) -> ApiRefused:
        return cls(f"{method} {path} -> {response.status_code}: {_reason(response)}")


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _reason(response: httpx.Response) -> str:
    """The problem's detail and first field error, or the start of the body."""
    try:
        problem = response.json()
    except ValueError:
        return _one_line(response.text or response.reason_phrase)
    if not isinstance(problem, dict):
        return _one_line(response.text)
    reason = str(problem.get("detail") or problem.get("title") or response.text)
    errors = problem.get("errors") or []
    if errors and isinstance(errors[0], dict):
        reason += f" ({errors[0].get('field')}: {errors[0].get('message')})"
    return _one_line(reason)


@dataclass
class Loaded:
    """Ids of what was created, by the names the data uses."""

    sales_department: str
    offices: dict[str, str] = field(default_factory=dict)
    employees: dict[str, str] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)
    owner_of: dict[str, str] = field(default_factory=dict)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def owners_of_accounts(deals: list[dict[str, str]]) -> dict[str, str]:
    """Each account's agent: the one with most deals on it, ties by name."""
    per_account: dict[str, Counter[str]] = defaultdict(Counter)
    for deal in deals:
        if deal["account"]:
            per_account[deal["account"]][deal["sales_agent"]] += 1
    return {
        account: min(counts, key=lambda agent: (-counts[agent], agent))
        for account, counts in per_account.items()
    }


async def _post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=headers)
    if response.status_code != 201:
        raise ApiRefused.of("POST", path, response)
    return response.json()  # type: ignore[no-any-return]


async def _get(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=headers)
    if response.status_code != 200:
        raise ApiRefused.of("GET", path, response)
    return response.json()  # type: ignore[no-any-return]


async def _callers_department(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> str:
    """The admin's own department: the tenant's root right after sign-up."""
    department = (await _get(client, "/api/v1/me", headers))["department_id"]
    if department is None:
        raise LoadError(
            "The admin is not linked to an employee; sign in as the admin who "
            "signed the tenant up."
        )
    return str(department)


async def _refuse_if_loaded(
    client: httpx.AsyncClient, headers: dict[str, str], root: str
) -> None:
    """Stop before writing anything if ``Sales`` already sits under ``root``."""
    params: dict[str, Any] = {"parent_id": root, "limit": 200}
    while True:
        page = await _get(client, "/api/v1/departments", headers, params)
        for department in page["items"]:
            if department["name"].casefold() == SALES.casefold():
                raise AlreadyLoaded(
                    f"This tenant already has a '{department['name']}' department "
                    f"({department['id']}) under the admin's department: the Maven "
                    "sample is loaded once per tenant; load it into a new tenant."
                )
        if page["next_cursor"] is None:
            return
        params["cursor"] = page["next_cursor"]


async def load(
    client: httpx.AsyncClient, headers: dict[str, str], data: Path = DEFAULT_DATA
) -> Loaded:
    """Build the organisation and the customers; ``headers`` are an admin's."""
    teams = read_rows(data / "sales_teams.csv")
    accounts = read_rows(data / "accounts.csv")
    owners = owners_of_accounts(read_rows(data / "sales_pipeline.csv"))

    root = await _callers_department(client, headers)
    await _refuse_if_loaded(client, headers, root)
    sales = await _post(
        client, "/api/v1/departments", {"name": SALES, "parent_id": root}, headers
    )
    loaded = Loaded(sales_department=sales["id"])
    vice_president = await _post(
        client,
        "/api/v1/employees",
        {
            "department_id": sales["id"],
            "name": VICE_PRESIDENT,
            "title": "Vice President, Sales",
        },
        headers,
    )
    loaded.employees[VICE_PRESIDENT] = vice_president["id"]
    await _patch(
        client,
        f"/api/v1/departments/{sales['id']}",
        {"head_employee_id": vice_president["id"]},
        headers,
    )

    managers: dict[str, str] = {}
    for row in sorted(teams, key=lambda r: (r["regional_office"], r["manager"])):
        office, manager = row["regional_office"], row["manager"]
        if office not in loaded.offices:
            department = await _post(
                client,
                "/api/v1/departments",
                {"name": office, "parent_id": sales["id"]},
                headers,
            )
            loaded.offices[office] = department["id"]
        if manager not in loaded.employees:
            employee = await _post(
                client,
                "/api/v1/employees",
                {
                    "department_id": loaded.offices[office],
                    "name": manager,
                    "title": "Sales Manager",
                    "manager_id": vice_president["id"],
                },
                headers,
            )
            loaded.employees[manager] = employee["id"]
            managers.setdefault(office, employee["id"])
    for office, head in managers.items():
        await _patch(
            client,
            f"/api/v1/departments/{loaded.offices[office]}",
            {"head_employee_id": head},
            headers,
        )
    for row in teams:
        employee = await _post(
            client,
            "/api/v1/employees",
            {
                "department_id": loaded.offices[row["regional_office"]],
                "name": row["sales_agent"],
                "title": "Sales Agent",
                "manager_id": loaded.employees[row["manager"]],
            },
            headers,
        )
        loaded.employees[row["sales_agent"]] = employee["id"]

    for account in accounts:
        name = account["account"]
        owner = owners.get(name, VICE_PRESIDENT)
        customer = await _post(
            client,
            "/api/v1/customers?allow_duplicate=true",
            {
                "name": name,
                "industry": account["sector"] or None,
                "address": {"country": account["office_location"] or None},
                "status": "active",
                "owner_id": loaded.employees[owner],
            },
            headers,
        )
        loaded.customers[name] = customer["id"]
        loaded.owner_of[name] = owner
    return loaded


async def _patch(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    response = await client.patch(path, json=body, headers=headers)
    if response.status_code != 200:
        raise ApiRefused.of("PATCH", path, response)


async def add_login(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    loaded: Loaded,
    name: str,
    *,
    email: str,
    roles: list[str],
) -> dict[str, Any]:
    """Give the employee ``name`` a user account with ``roles``, linked to them."""
    user = await _post(
        client,
        "/api/v1/users",
        {
            "email": email,
            "full_name": name,
            "password": LOGIN_PASSWORD,
            "roles": roles,
        },
        headers,
    )
    await _patch(
        client,
        f"/api/v1/employees/{loaded.employees[name]}",
        {"user_id": user["id"]},
        headers,
    )
    return user


async def _load_all(
    args: argparse.Namespace, transport: httpx.AsyncBaseTransport | None
) -> None:
    password = args.password or getpass.getpass(f"Password for {args.email}: ")
    async with httpx.AsyncClient(
        base_url=args.api, timeout=60, transport=transport
    ) as client:
        path = "/api/v1/auth/token"
        token = await client.post(
            path, data={"username": args.email, "password": password}
        )
        if token.status_code != 200:
            raise ApiRefused.of("POST", path, token)
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        loaded = await load(client, headers, Path(args.data))
        print(  # noqa: T201 - a command-line example
            f"{len(loaded.offices)} offices, {len(loaded.employees)} employees, "
            f"{len(loaded.customers)} customers"
        )
        if args.logins:
            domain = args.email.split("@", 1)[1]
            for name, roles in (
                ("Anna Snelling", ["sales"]),
                ("Dustin Brinkmann", ["manager"]),
                (VICE_PRESIDENT, ["manager"]),
            ):
                email = name.lower().replace(" ", ".") + "@" + domain
                await add_login(client, headers, loaded, name, email=email, roles=roles)
                print(f"sign in as {email} / {LOGIN_PASSWORD!r}")  # noqa: T201


async def run(
    args: argparse.Namespace, *, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """Load as ``args`` say; the exit code (1 with a one-line message on stderr)."""
    try:
        await _load_all(args, transport)
    except LoadError as error:
        message = str(error)
    except httpx.HTTPError as error:
        message = f"Cannot talk to the API at {args.api}: {error!r}"
    except OSError as error:  # the data files
        message = str(error)
    else:
        return 0
    print(f"load_maven_sales_org: {_one_line(message, 500)}", file=sys.stderr)  # noqa: T201
    return 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--api",
        default="http://127.0.0.1:8000",
        help="The API's base URL (default: %(default)s).",
    )
    parser.add_argument("--email", required=True, help="An admin of the tenant.")
    parser.add_argument("--password", help="Asked for when omitted.")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument(
        "--logins",
        action="store_true",
        help="Sign-ins for an agent, a manager, the VP.",
    )
    return parser.parse_args(argv)


def main() -> None:
    sys.exit(asyncio.run(run(parse_args())))


if __name__ == "__main__":
    main()
