"""What a running process holds: settings, the database engine, the Redis pool."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_api.kernel.db import create_engine, create_sessionmaker
from crm_api.settings import Settings


@dataclass(frozen=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: ArqRedis

    @classmethod
    async def open(cls, settings: Settings) -> Resources:
        if settings.database_url is None or settings.redis_url is None:
            raise RuntimeError("DATABASE_URL and REDIS_URL must be set")
        engine = create_engine(
            settings.database_url,
            app_role=settings.database_app_role,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            redis=redis,
        )

    async def close(self) -> None:
        await self.redis.aclose()
        await self.engine.dispose()
