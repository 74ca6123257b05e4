"""Which table holds the custom-attribute values of each entity type.

Packages that own an entity register it at import time, e.g.
``register_entity("customer", Customer)``. Definition changes use the registration to
count and convert stored values with set-based SQL; an entity nobody registered has no
records, so every change to its definitions is compatible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

from crm_api.custom_attributes.kinds import ENTITIES


@dataclass(frozen=True)
class EntityTable:
    """The table of one entity type, its JSONB value column and its tenant column."""

    entity: str
    model: type[Any]
    column_name: str = "custom"
    tenant_column_name: str = "tenant_id"

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[no-any-return]

    @property
    def column(self) -> Column[Any]:
        return self.table.c[self.column_name]

    @property
    def tenant_column(self) -> Column[Any]:
        return self.table.c[self.tenant_column_name]


_REGISTRY: dict[str, EntityTable] = {}


def register_entity(
    entity: str, model_class: type[Any], column_name: str = "custom"
) -> None:
    """Declare that ``model_class.<column_name>`` (JSONB) holds ``entity``'s values."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown entity type {entity!r}")
    registration = EntityTable(entity, model_class, column_name)
    if column_name not in registration.table.c:
        raise ValueError(f"{model_class.__name__} has no column {column_name!r}")
    existing = _REGISTRY.get(entity)
    if existing is not None and existing != registration:
        raise ValueError(f"entity {entity!r} is already registered to another table")
    _REGISTRY[entity] = registration


def entity_table(entity: str) -> EntityTable | None:
    """The registered table of ``entity``, or None when no package registered one."""
    return _REGISTRY.get(entity)
