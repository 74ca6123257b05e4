from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from crm_api.api_keys import service
from crm_api.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from crm_api.auth.dependencies import idempotent, require
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import Session
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.routing import CrmRoute

router = APIRouter(prefix="/api-keys", tags=["api_keys"], route_class=CrmRoute)

CanRead = Annotated[Principal, Depends(require("api_keys:read"))]
CanWrite = Annotated[Principal, Depends(require("api_keys:write"))]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="api_keys_create",
    # The key itself is never stored, not even for replays: a replay shows it as null.
    dependencies=[Depends(idempotent(redact=("key",)))],
)
async def create_api_key(
    data: ApiKeyCreate, session: Session, actor: CanWrite, response: Response
) -> ApiKeyCreated:
    """Create an API key; the response is the only time the key itself is shown."""
    key, plain = await service.create_key(session, data, actor=actor)

    set_etag(response, key.version)
    response.headers["Location"] = f"/api/v1/api-keys/{key.id}"
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=plain)


@router.get("", operation_id="api_keys_list")
async def list_api_keys(
    session: Session,
    reader: CanRead,
    page: Annotated[PageParams, Depends(page_params)],
    include_revoked: bool = False,
) -> Page[ApiKeyRead]:
    """List API keys (never the secrets): every key of the tenant with an `all`
    scope on api_keys:read, otherwise the caller's own."""
    keys, next_cursor = await service.list_keys(
        session, reader, page, include_revoked=include_revoked
    )
    return Page(
        items=[ApiKeyRead.model_validate(k) for k in keys], next_cursor=next_cursor
    )


@router.get("/{api_key_id}", operation_id="api_keys_get")
async def get_api_key(
    api_key_id: uuid.UUID, session: Session, reader: CanRead, response: Response
) -> ApiKeyRead:
    """Read one API key (never the secret)."""
    key = await service.get_key(session, reader, api_key_id)

    set_etag(response, key.version)
    return ApiKeyRead.model_validate(key)


@router.delete(
    "/{api_key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="api_keys_revoke",
)
async def revoke_api_key(
    api_key_id: uuid.UUID,
    session: Session,
    actor: CanWrite,
    expected_version: Annotated[int | None, Depends(if_match_header)],
) -> None:
    """Revoke an API key; it stops working at once."""
    await service.revoke_key(
        session, actor, api_key_id, expected_version=expected_version
    )
