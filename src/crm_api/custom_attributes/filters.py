"""``custom.<key>`` list filters and sorts for any entity with a JSONB ``custom``
column: numbers and dates through the typed value index, the rest from the JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_
from sqlalchemy.orm import aliased

from crm_api.custom_attributes.value_index import CustomValueIndex, indexed_column
from crm_api.custom_attributes.values import Definitions
from crm_api.kernel.filtering import FilterField, Kind

_KINDS: dict[str, Kind] = {
    "integer": "number",
    "decimal": "number",
    "money": "number",
    "date": "date",
    "datetime": "datetime",
    "boolean": "boolean",
    "multiselect": "jsonb_array",
}


def custom_fields(
    definitions: Definitions, *, model: Any, entity: str
) -> Callable[[str], FilterField | None]:
    """Resolve ``custom.<key>``; numbers and dates go through the typed value index."""
    resolved: dict[str, FilterField] = {}

    def resolve(key: str) -> FilterField | None:
        if key in resolved:
            return resolved[key]
        kind = definitions.type_of(key)
        if kind is None:
            return None
        typed_column = indexed_column(kind)
        if typed_column is None:
            field = FilterField(
                definitions.sql_value(model.custom, key), _KINDS.get(kind, "text")
            )
        else:
            value = aliased(CustomValueIndex, name=f"custom_{key}")
            field = FilterField(
                getattr(value, typed_column),
                _KINDS[kind],
                join=(
                    value,
                    and_(
                        value.record_id == model.id,
                        value.entity == entity,
                        value.key == key,
                    ),
                ),
            )
        resolved[key] = field
        return field

    return resolve


def lister(
    standard: dict[str, FilterField],
    definitions: Definitions,
    *,
    model: Any,
    entity: str,
) -> tuple[Callable[[str], FilterField | None], dict[str, FilterField]]:
    """A field resolver, and the fields it has resolved so far (to collect joins)."""
    custom = custom_fields(definitions, model=model, entity=entity)
    used: dict[str, FilterField] = {}

    def resolve(name: str) -> FilterField | None:
        if name.startswith("custom."):
            field = custom(name.removeprefix("custom."))
        else:
            field = standard.get(name)
        if field is not None:
            used[name] = field
        return field

    return resolve, used
