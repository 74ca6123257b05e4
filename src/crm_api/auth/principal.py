"""Who is calling: a user (by access token) or an API key, always within one tenant.

Rights come from roles. A role grants permissions (``resource:action``) and a record
visibility scope: its holder sees the records they own (``own``), those of their
department's subtree (``department``) or every record (``all``). A user holding
several roles gets the union: every permission of any role, and per permission the
widest scope among the roles that grant it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RESOURCES = (
    "tenant",
    "users",
    "roles",
    "api_keys",
    "custom_attributes",
    "customers",
    "departments",
    "employees",
    "products",
    "quotes",
    "orders",
    "approval_rules",
    "action_types",
)
ACTIONS = ("read", "write")
PERMISSIONS = frozenset(
    f"{resource}:{action}" for resource in RESOURCES for action in ACTIONS
)

Scope = Literal["own", "department", "all"]
SCOPES: tuple[Scope, ...] = ("own", "department", "all")  # narrowest first


@dataclass(frozen=True)
class Grant:
    """What one role gives: permissions, and how far its holder sees."""

    permissions: frozenset[str]
    scope: Scope


def _rw(*resources: str) -> frozenset[str]:
    return frozenset(f"{r}:{a}" for r in resources for a in ACTIONS)


def _read(*resources: str) -> frozenset[str]:
    return frozenset(f"{r}:read" for r in resources)


_READ_MOST = _read(
    "tenant",
    "custom_attributes",
    "customers",
    "departments",
    "employees",
    "products",
    "approval_rules",
    "action_types",
)
_SELLING = _READ_MOST | _rw("customers", "quotes", "orders")

# Built-in roles: every tenant has them, they cannot be changed or deleted, and a
# tenant adds its own beside them (the ``roles`` table).
BUILTIN_ROLES: dict[str, Grant] = {
    "admin": Grant(PERMISSIONS, "all"),
    # Managers look after people and their team's business; the shape of the
    # organisation (departments:write) and the catalogue stay with admins.
    "manager": Grant(_SELLING | _read("users") | _rw("employees"), "department"),
    "sales": Grant(_SELLING, "own"),
    "marketing": Grant(_READ_MOST | _rw("customers") | _read("quotes"), "department"),
    # Service cases can come from any customer, so service sees them all.
    "service": Grant(_READ_MOST | _rw("customers") | _read("orders"), "all"),
    "finance": Grant(
        _READ_MOST | _read("quotes") | _rw("orders", "products", "action_types"), "all"
    ),
}
ROLE_DESCRIPTIONS: dict[str, str] = {
    "admin": "Everything, on every record.",
    "manager": "Sells and manages people; sees their department's subtree.",
    "sales": "Works with customers, quotes and orders; sees their own records.",
    "marketing": "Works with customers; sees their department's subtree.",
    "service": "Serves customers; sees every customer and order.",
    "finance": "Orders, products and payment steps; sees every record.",
}


def combine(grants: Iterable[Grant]) -> tuple[frozenset[str], dict[str, Scope]]:
    """The union of several roles: all permissions, the widest scope per permission."""
    permissions: set[str] = set()
    scopes: dict[str, Scope] = {}
    for grant in grants:
        permissions |= grant.permissions
        for permission in grant.permissions:
            current = scopes.get(permission)
            if current is None or SCOPES.index(grant.scope) > SCOPES.index(current):
                scopes[permission] = grant.scope
    return frozenset(permissions), scopes


@dataclass(frozen=True)
class Principal:
    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    permissions: frozenset[str]
    session_id: uuid.UUID | None = None
    # The user's row as read when authenticating (None for API keys).
    user: Any = field(default=None, compare=False, repr=False)
    # Per permission, how far the caller sees (absent: not granted).
    scopes: Mapping[str, Scope] = field(default_factory=dict, compare=False)
    # The caller's own employee record (None when the user is not linked to an
    # active employee: "own" and "department" scopes then see nothing).
    employee_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    # The user whose rights the caller carries: the user, or an API key's creator.
    on_behalf_of: uuid.UUID | None = None

    @property
    def key(self) -> str:
        """A stable name for the caller, e.g. to scope idempotency keys."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api_key:{self.api_key_id}"

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def scope(self, permission: str) -> Scope | None:
        """How far ``permission`` reaches for this caller; None if not granted."""
        if permission not in self.permissions:
            return None
        return self.scopes.get(permission, "own")
