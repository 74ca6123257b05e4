"""Dependencies every router uses: the request's session and the process resources."""

from __future__ import annotations

from typing import Annotated

from arq.connections import ArqRedis
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kernel.resources import Resources
from crm_api.kernel.routing import request_session
from crm_api.settings import Settings


async def get_resources(request: Request) -> Resources:
    return request.app.state.resources  # type: ignore[no-any-return]


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.resources.settings  # type: ignore[no-any-return]


async def get_redis(request: Request) -> ArqRedis:
    return request.app.state.resources.redis  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncSession:
    return request_session(request)


# Dependencies are coroutines on purpose: FastAPI runs plain functions in a thread.
Session = Annotated[AsyncSession, Depends(get_session)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]
Redis = Annotated[ArqRedis, Depends(get_redis)]
