from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from crm_api.auth.dependencies import Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.custom_attributes import service
from crm_api.custom_attributes.kinds import KEY_PATTERN, Entity
from crm_api.custom_attributes.schemas import (
    CustomAttributeCreate,
    CustomAttributeRead,
    CustomAttributeUpdate,
)
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import Session
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.routing import CrmRoute

router = APIRouter(
    prefix="/custom-attributes", tags=["custom_attributes"], route_class=CrmRoute
)

CanRead = Annotated[Principal, Depends(require("custom_attributes:read"))]
CanWrite = Annotated[Principal, Depends(require("custom_attributes:write"))]
IfMatch = Annotated[int | None, Depends(if_match_header)]
EntityType = Annotated[
    Entity, Path(description="The entity type the attributes belong to.")
]
AttributeKey = Annotated[str, Path(pattern=KEY_PATTERN, max_length=63)]


@router.get("/{entity}", operation_id="custom_attributes_list")
async def list_custom_attributes(
    entity: EntityType,
    session: Session,
    _: CanRead,
    page: Annotated[PageParams, Depends(page_params)],
    include_archived: bool = False,
) -> Page[CustomAttributeRead]:
    """List an entity type's custom attributes in display order (position, key)."""
    rows, next_cursor = await service.list_definitions(
        session, entity, page, include_archived=include_archived
    )
    return Page(
        items=[CustomAttributeRead.model_validate(row) for row in rows],
        next_cursor=next_cursor,
    )


@router.post(
    "/{entity}",
    status_code=status.HTTP_201_CREATED,
    operation_id="custom_attributes_create",
    dependencies=[Idempotent],
)
async def create_custom_attribute(
    entity: EntityType,
    data: CustomAttributeCreate,
    session: Session,
    _: CanWrite,
    response: Response,
) -> CustomAttributeRead:
    """Define a custom attribute on an entity type."""
    row = await service.create_definition(session, entity, data)

    set_etag(response, row.version)
    response.headers["Location"] = f"/api/v1/custom-attributes/{entity}/{row.key}"
    return CustomAttributeRead.model_validate(row)


@router.get("/{entity}/{key}", operation_id="custom_attributes_get")
async def get_custom_attribute(
    entity: EntityType,
    key: AttributeKey,
    session: Session,
    _: CanRead,
    response: Response,
) -> CustomAttributeRead:
    """Read one custom attribute."""
    row = await service.get_definition(session, entity, key)

    set_etag(response, row.version)
    return CustomAttributeRead.model_validate(row)


@router.patch("/{entity}/{key}", operation_id="custom_attributes_update")
async def update_custom_attribute(
    entity: EntityType,
    key: AttributeKey,
    data: CustomAttributeUpdate,
    session: Session,
    _: CanWrite,
    expected_version: IfMatch,
    response: Response,
) -> CustomAttributeRead:
    """Change a custom attribute; stored values that would not survive are a 409
    unless `conversion` says what happens to them."""
    row = await service.update_definition(
        session, entity, key, data, expected_version=expected_version
    )

    set_etag(response, row.version)
    return CustomAttributeRead.model_validate(row)


@router.delete(
    "/{entity}/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="custom_attributes_delete",
)
async def delete_custom_attribute(
    entity: EntityType,
    key: AttributeKey,
    session: Session,
    _: CanWrite,
    expected_version: IfMatch,
) -> None:
    """Delete a custom attribute no record holds a value for (else archive it)."""
    await service.delete_definition(
        session, entity, key, expected_version=expected_version
    )
