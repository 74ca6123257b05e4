from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.api import TenantContext

DEPARTMENTS = "/api/v1/departments"
EMPLOYEES = "/api/v1/employees"


def tenant_root(ctx: TenantContext) -> dict[str, Any]:
    """The department sign-up creates, named after the tenant and headed by the
    admin's employee record; usable as ``parent`` or ``department`` below."""
    return {"id": ctx.root_department_id, "name": ctx.tenant["name"]}


async def create_department(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    name: str,
    parent: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body = {"name": name, **fields}
    if parent is not None:
        body["parent_id"] = parent["id"]
    response = await client.post(DEPARTMENTS, json=body, headers=ctx.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def create_chain(
    client: httpx.AsyncClient, ctx: TenantContext, *names: str
) -> list[dict[str, Any]]:
    """Departments each under the one before: names[0] is the root."""
    chain: list[dict[str, Any]] = []
    for name in names:
        chain.append(
            await create_department(client, ctx, name, chain[-1] if chain else None)
        )
    return chain


async def create_employee(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    department: dict[str, Any],
    name: str,
    manager: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body = {"department_id": department["id"], "name": name, **fields}
    if manager is not None:
        body["manager_id"] = manager["id"]
    response = await client.post(EMPLOYEES, json=body, headers=ctx.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def read(
    client: httpx.AsyncClient, ctx: TenantContext, path: str
) -> dict[str, Any]:
    response = await client.get(path, headers=ctx.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def patch(
    client: httpx.AsyncClient,
    ctx: TenantContext,
    path: str,
    body: dict[str, Any],
) -> httpx.Response:
    return await client.patch(path, json=body, headers=ctx.headers)


def names_of(nodes: list[dict[str, Any]]) -> list[Any]:
    """A nested tree as [name, [children...]] pairs, easy to compare."""
    return [[node["name"], names_of(node["children"])] for node in nodes]
