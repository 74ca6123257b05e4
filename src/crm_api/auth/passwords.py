"""Password hashing with argon2id; the cost comes from settings (lower only in tests)."""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from crm_api.settings import Settings


@cache
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


@cache
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    # Verified when the email is unknown, so a miss costs as much time as a hit.
    return _hasher(time_cost, memory_kib).hash("crm-api: no such user")


def _params(settings: Settings) -> tuple[int, int]:
    return settings.password_hash_time_cost, settings.password_hash_memory_kib


async def hash_password(settings: Settings, password: str) -> str:
    return await asyncio.to_thread(_hasher(*_params(settings)).hash, password)


async def verify_password(
    settings: Settings, password_hash: str | None, password: str
) -> bool:
    params = _params(settings)

    def check() -> bool:
        try:
            return _hasher(*params).verify(
                password_hash or _dummy_hash(*params), password
            )
        except (VerificationError, InvalidHashError):
            return False

    matched = await asyncio.to_thread(check)
    return matched and password_hash is not None
