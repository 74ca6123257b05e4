"""The entity types that carry custom attributes, and the value types they may have."""

from __future__ import annotations

from typing import Literal, get_args

Entity = Literal[
    "customer",
    "contact",
    "product",
    "order",
    "quote",
    "employee",
    "opportunity",
    "case",
]
AttributeType = Literal[
    "text",
    "integer",
    "decimal",
    "money",
    "boolean",
    "date",
    "datetime",
    "select",
    "multiselect",
    "email",
    "url",
    "phone",
]

ENTITIES: frozenset[str] = frozenset(get_args(Entity))
ATTRIBUTE_TYPES: frozenset[str] = frozenset(get_args(AttributeType))
OPTION_TYPES: frozenset[str] = frozenset({"select", "multiselect"})
# A default copied onto every new record makes no sense for contact details.
NO_DEFAULT_TYPES: frozenset[str] = frozenset({"email", "url", "phone"})
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
