"""Engine, sessions and the per-transaction tenant setting that row-level security reads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import DateTime, MetaData, func, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from crm_api.kernel.ids import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TENANT_SETTING = "app.tenant_id"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}
    # Server-made values (timestamps) come back with RETURNING; a lazy refresh would
    # need I/O at attribute access, which async sessions cannot do.
    __mapper_args__: dict[str, Any] = {"eager_defaults": True}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now()
    )


class VersionedMixin:
    """Optimistic concurrency: the version is the ETag, bumped on every UPDATE."""

    version: Mapped[int] = mapped_column()

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {
            "version_id_col": cls.__table__.c.version,  # type: ignore[attr-defined]
            "eager_defaults": True,
        }


def to_asyncpg_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]}")


def create_engine(
    url: str, *, app_role: str | None, pool_size: int = 10, max_overflow: int = 10
) -> AsyncEngine:
    """An engine whose every connection runs as ``app_role`` (no owner rights, no RLS bypass)."""
    server_settings = {"application_name": "crm-api"}
    if app_role is not None:
        server_settings["role"] = app_role
    return create_async_engine(
        to_asyncpg_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        connect_args={"server_settings": server_settings},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def set_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Scope the current transaction to one tenant; the setting ends with the transaction."""
    await session.execute(
        text("SELECT set_config(:name, :value, true)"),
        {"name": TENANT_SETTING, "value": str(tenant_id)},
    )
    session.info["tenant_id"] = tenant_id
    structlog.contextvars.bind_contextvars(tenant_id=str(tenant_id))


def current_tenant(session: AsyncSession) -> uuid.UUID:
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise RuntimeError("no tenant is set on this session")
    return tenant_id  # type: ignore[no-any-return]
