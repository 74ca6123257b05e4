"""Who is calling: a user (by access token) or an API key, always within one tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

RESOURCES = (
    "tenant",
    "users",
    "api_keys",
    "custom_attributes",
    "customers",
    "departments",
    "employees",
)
PERMISSIONS = frozenset(
    f"{resource}:{action}" for resource in RESOURCES for action in ("read", "write")
)

_READ_MOST = frozenset(
    {
        "tenant:read",
        "custom_attributes:read",
        "customers:read",
        "departments:read",
        "employees:read",
    }
)
_WORK_WITH_CUSTOMERS = _READ_MOST | {"customers:write"}

# NOTE: built-in roles map to fixed permission sets until tenant-defined roles and
# per-resource visibility scopes exist; then this table moves into the database.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": PERMISSIONS,
    # Managers look after people (hire, move, hand over when someone leaves); the
    # shape of the organisation (departments:write) stays with admins.
    "manager": _WORK_WITH_CUSTOMERS | {"users:read", "employees:write"},
    "sales": _WORK_WITH_CUSTOMERS,
    "marketing": _WORK_WITH_CUSTOMERS,
    "service": _WORK_WITH_CUSTOMERS,
    "finance": _READ_MOST,
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
    # The user's row as read when authenticating (None for API keys).
    user: Any = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """A stable name for the caller, e.g. to scope idempotency keys."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api_key:{self.api_key_id}"

    def can(self, permission: str) -> bool:
        return permission in self.permissions
