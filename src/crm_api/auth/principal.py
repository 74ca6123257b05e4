"""Who is calling: a user (by access token) or an API key, always within one tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

BUILT_IN_ROLES = ("admin", "manager", "sales", "marketing", "service", "finance")

PERMISSIONS = frozenset(
    {
        "tenant:read",
        "tenant:write",
        "users:read",
        "users:write",
        "api_keys:read",
        "api_keys:write",
    }
)

# NOTE: built-in roles map to fixed permission sets until tenant-defined roles and
# per-resource visibility scopes exist; then this table moves into the database.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": PERMISSIONS,
    "manager": frozenset({"tenant:read", "users:read"}),
    "sales": frozenset({"tenant:read"}),
    "marketing": frozenset({"tenant:read"}),
    "service": frozenset({"tenant:read"}),
    "finance": frozenset({"tenant:read"}),
}


def permissions_of_roles(roles: list[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


@dataclass(frozen=True)
class Principal:
    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    permissions: frozenset[str]
    session_id: uuid.UUID | None = None

    @property
    def key(self) -> str:
        """A stable name for the caller, e.g. to scope idempotency keys."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api_key:{self.api_key_id}"

    def can(self, permission: str) -> bool:
        return permission in self.permissions
