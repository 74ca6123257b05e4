from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from crm_api.auth.dependencies import Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import AppSettings, Session
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.routing import CrmRoute
from crm_api.users import service
from crm_api.users.schemas import RoleName, UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"], route_class=CrmRoute)

CanRead = Annotated[Principal, Depends(require("users:read"))]
CanWrite = Annotated[Principal, Depends(require("users:write"))]
IfMatch = Annotated[int | None, Depends(if_match_header)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="users_create",
    dependencies=[Idempotent],
)
async def create_user(
    data: UserCreate,
    session: Session,
    settings: AppSettings,
    actor: CanWrite,
    response: Response,
) -> UserRead:
    """Create a user in the caller's tenant."""
    user = await service.create_user(session, data, actor=actor, settings=settings)

    set_etag(response, user.version)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserRead.model_validate(user)


@router.get("", operation_id="users_list")
async def list_users(
    session: Session,
    _: CanRead,
    page: Annotated[PageParams, Depends(page_params)],
    is_active: bool | None = None,
    role: RoleName | None = None,
) -> Page[UserRead]:
    """List the tenant's users, oldest first."""
    users, next_cursor = await service.list_users(
        session, page, is_active=is_active, role=role
    )
    return Page(
        items=[UserRead.model_validate(u) for u in users], next_cursor=next_cursor
    )


@router.get("/{user_id}", operation_id="users_get")
async def get_user(
    user_id: uuid.UUID, session: Session, _: CanRead, response: Response
) -> UserRead:
    """Read one user."""
    user = await service.get_user(session, user_id)

    set_etag(response, user.version)
    return UserRead.model_validate(user)


@router.patch("/{user_id}", operation_id="users_update")
async def update_user(
    user_id: uuid.UUID,
    data: UserUpdate,
    session: Session,
    actor: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> UserRead:
    """Change a user's name or roles."""
    user = await service.update_user(
        session, user_id, data, actor=actor, expected_version=expected_version
    )

    set_etag(response, user.version)
    return UserRead.model_validate(user)


@router.post(
    "/{user_id}/deactivate", operation_id="users_deactivate", dependencies=[Idempotent]
)
async def deactivate_user(
    user_id: uuid.UUID,
    session: Session,
    actor: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> UserRead:
    """Deactivate a user: they can no longer sign in, and their sessions end."""
    user = await service.set_active(
        session, user_id, active=False, actor=actor, expected_version=expected_version
    )

    set_etag(response, user.version)
    return UserRead.model_validate(user)


@router.post(
    "/{user_id}/activate", operation_id="users_activate", dependencies=[Idempotent]
)
async def activate_user(
    user_id: uuid.UUID,
    session: Session,
    actor: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> UserRead:
    """Let a deactivated user sign in again."""
    user = await service.set_active(
        session, user_id, active=True, actor=actor, expected_version=expected_version
    )

    set_etag(response, user.version)
    return UserRead.model_validate(user)
