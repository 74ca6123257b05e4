"""Fixed-window rate limits counted in Redis (shared by every API process)."""

from __future__ import annotations

from redis.asyncio import Redis

from crm_api.kernel.errors import RateLimited


async def count_hit(
    redis: Redis, key: str, *, limit: int, window_s: int, detail: str
) -> None:
    """Count one hit on ``key``; past ``limit`` in the window, answer 429."""
    async with redis.pipeline(transaction=True) as pipe:
        # SET NX starts the window; INCR counts within it (Redis 6.2 has no
        # EXPIRE NX, and the embedded server is 6.2).
        pipe.set(key, 0, ex=window_s, nx=True)
        pipe.incr(key)
        _, hits = await pipe.execute()
    if hits > limit:
        ttl_s = await redis.ttl(key)
        raise RateLimited(detail, headers={"Retry-After": str(max(int(ttl_s), 1))})
