from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, status

from crm_api.auth import service
from crm_api.auth.dependencies import CurrentPrincipal
from crm_api.auth.schemas import TokenPair, TokenRequest
from crm_api.kernel.deps import AppSettings, Redis, Session
from crm_api.kernel.errors import FieldError, ValidationFailed
from crm_api.kernel.routing import CrmRoute
from crm_api.kernel.types import normalize_email

router = APIRouter(prefix="/auth", tags=["auth"], route_class=CrmRoute)


def _missing(*fields: str) -> ValidationFailed:
    return ValidationFailed(
        "Required for this grant type.",
        errors=[
            FieldError(
                field=f, location="body", code="missing", message="Field required"
            )
            for f in fields
        ],
    )


@router.post("/token", operation_id="auth_token")
async def issue_tokens(
    form: Annotated[TokenRequest, Form()],
    session: Session,
    settings: AppSettings,
    redis: Redis,
) -> TokenPair:
    """OAuth2 token endpoint: `password` grant (email + password) or `refresh_token`."""
    if form.grant_type == "refresh_token":
        if not form.refresh_token:
            raise _missing("refresh_token")
        return await service.rotate(
            session, settings=settings, token=form.refresh_token
        )
    if not form.username or not form.password:
        raise _missing(*(f for f in ("username", "password") if not getattr(form, f)))
    return await service.sign_in(
        session,
        redis=redis,
        settings=settings,
        email=normalize_email(form.username),
        password=form.password,
    )


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, operation_id="auth_logout"
)
async def sign_out(session: Session, principal: CurrentPrincipal) -> None:
    """End this sign-in: its refresh tokens and access tokens stop working."""
    await service.sign_out(
        session, family_id=principal.session_id, user_id=principal.user_id
    )
