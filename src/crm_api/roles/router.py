from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from crm_api.auth.dependencies import Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import Session
from crm_api.kernel.routing import CrmRoute
from crm_api.roles import service
from crm_api.roles.models import Role
from crm_api.roles.schemas import RoleCreate, RoleList, RoleRead, RoleUpdate

router = APIRouter(prefix="/roles", tags=["roles"], route_class=CrmRoute)

CanRead = Annotated[Principal, Depends(require("roles:read"))]
CanWrite = Annotated[Principal, Depends(require("roles:write"))]
IfMatch = Annotated[int | None, Depends(if_match_header)]
Key = Annotated[str, Path(max_length=40, description="The role's key.")]


@router.get("", operation_id="roles_list")
async def list_roles(session: Session, _: CanRead) -> RoleList:
    """Every role: the built-in ones first, then the tenant's own (never paged)."""
    return RoleList(items=await service.list_roles(session))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="roles_create",
    dependencies=[Idempotent],
)
async def create_role(
    data: RoleCreate, session: Session, actor: CanWrite, response: Response
) -> RoleRead:
    """Create a role of the tenant's own: permissions and a visibility scope."""
    role = await service.create_role(session, data, actor=actor)

    set_etag(response, role.version)
    response.headers["Location"] = f"/api/v1/roles/{role.key}"
    return service.to_read(role)


@router.get("/{key}", operation_id="roles_get")
async def get_role(
    key: Key, session: Session, _: CanRead, response: Response
) -> RoleRead:
    """Read one role, built-in or the tenant's own."""
    role = await service.get_role(session, key)
    if isinstance(role, Role):
        set_etag(response, role.version)
        return service.to_read(role)
    return role


@router.patch("/{key}", operation_id="roles_update")
async def update_role(
    key: Key,
    data: RoleUpdate,
    session: Session,
    actor: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> RoleRead:
    """Change a tenant role; its holders have the new rights from their next call."""
    role = await service.update_role(
        session, key, data, actor=actor, expected_version=expected_version
    )

    set_etag(response, role.version)
    return service.to_read(role)


@router.delete(
    "/{key}", status_code=status.HTTP_204_NO_CONTENT, operation_id="roles_delete"
)
async def delete_role(
    key: Key, session: Session, actor: CanWrite, expected_version: IfMatch
) -> None:
    """Delete a tenant role nobody holds."""
    await service.delete_role(
        session, key, actor=actor, expected_version=expected_version
    )
