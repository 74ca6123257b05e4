from __future__ import annotations

from fastapi import APIRouter

from crm_api.auth.dependencies import CurrentPrincipal
from crm_api.kernel.deps import Session
from crm_api.kernel.routing import CrmRoute
from crm_api.me import service
from crm_api.me.schemas import Me

router = APIRouter(tags=["me"], route_class=CrmRoute)


@router.get("/me", operation_id="me_get")
async def get_me(session: Session, principal: CurrentPrincipal) -> Me:
    """Who the caller is: user or API key, tenant, and effective permissions."""
    return await service.describe(session, principal)
