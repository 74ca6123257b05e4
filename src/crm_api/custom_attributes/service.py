"""Custom-attribute definitions, one mechanism for every entity type.

A change to a definition never loses stored values silently. A change of type, a
removed option or a newly required attribute is checked against the records of the
entity: values that would not survive (and records that would lack a now required
value) are counted, and unless the caller sent a ``conversion`` saying what happens to
them the change is a 409 naming that count. Conversions run as set-based UPDATEs in
the same transaction.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, get_args

import structlog
from sqlalchemy import ColumnElement, and_, case, false, func, not_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.custom_attributes import repository
from crm_api.custom_attributes.conversions import (
    drop_key,
    holds_value,
    jsonb,
    plan,
    set_key,
)
from crm_api.custom_attributes.kinds import NO_DEFAULT_TYPES, OPTION_TYPES, Entity
from crm_api.custom_attributes.models import CustomAttribute
from crm_api.custom_attributes.registry import EntityTable, entity_table
from crm_api.custom_attributes.schemas import (
    ClearIncompatible,
    CustomAttributeCreate,
    CustomAttributeUpdate,
    FirstIncompatible,
    SetIncompatible,
)
from crm_api.custom_attributes.value_index import reindex
from crm_api.custom_attributes.values import (
    Definition,
    InvalidValue,
    ValueFormat,
    forget_definitions,
    is_blank,
    load_value_format,
    normalise,
)
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import Conflict, NotFound, ValidationFailed
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of

logger = structlog.get_logger(__name__)

KEY_TAKEN = {
    "uq_custom_attributes_tenant_id_entity_key": (
        "key",
        "This entity type already has an attribute with this key.",
    )
}
Conversion = ClearIncompatible | SetIncompatible | FirstIncompatible


async def list_definitions(
    session: AsyncSession,
    entity: Entity,
    params: PageParams,
    *,
    include_archived: bool,
) -> tuple[list[CustomAttribute], str | None]:
    rows = await repository.list_page(
        session, entity, params, include_archived=include_archived
    )
    return page_of(rows, lambda row: (row.position, row.key), params)


async def get_definition(
    session: AsyncSession, entity: Entity, key: str
) -> CustomAttribute:
    row = await repository.get(session, entity, key)
    if row is None:
        raise NotFound(f"The {entity} entity has no custom attribute '{key}'.")
    return row


def _check_options(definition: Definition) -> None:
    if definition.type in OPTION_TYPES and not definition.options:
        raise ValidationFailed.single(
            "options", f"A {definition.type} attribute needs at least one option."
        )
    if definition.type not in OPTION_TYPES and definition.options:
        raise ValidationFailed.single(
            "options", f"A {definition.type} attribute takes no options."
        )


def _checked_default(
    definition: Definition, value: Any, fmt: ValueFormat, *, carried_over: bool
) -> Any:
    """The default in storage form (None for none), or a 422 on ``default``."""
    if is_blank(value):
        return None
    if definition.type in NO_DEFAULT_TYPES:
        raise ValidationFailed.single(
            "default", f"A {definition.type} attribute takes no default."
        )
    try:
        return normalise(definition, value, fmt)
    except InvalidValue as exc:
        if carried_over:
            raise ValidationFailed.single(
                "default",
                "The current default does not fit the changed attribute "
                f"({exc.message}); send a new default, or null for none.",
                code="default_incompatible",
            ) from None
        raise ValidationFailed.single("default", exc.message, code=exc.code) from None


async def create_definition(
    session: AsyncSession, entity: Entity, data: CustomAttributeCreate
) -> CustomAttribute:
    await repository.lock_entity(session, entity, exclusive=True)
    fmt = await load_value_format(session)
    definition = Definition(
        key=data.key,
        type=data.type,
        required=data.required,
        options=tuple(data.options or ()),
        archived=data.archived,
    )
    _check_options(definition)
    definition = replace(
        definition,
        default=_checked_default(definition, data.default, fmt, carried_over=False),
    )
    row = CustomAttribute(
        tenant_id=current_tenant(session),
        entity=entity,
        key=definition.key,
        label=data.label,
        type=definition.type,
        required=definition.required,
        options=list(definition.options),
        default=definition.default,
        archived=definition.archived,
        position=data.position,
        description=data.description,
    )
    session.add(row)
    await flush_or_conflict(session, KEY_TAKEN)
    filled = await _fill_new_required(session, entity, definition)
    forget_definitions(session, entity)
    record_event(
        session,
        "custom_attribute.created",
        subject_id=row.id,
        payload={
            "entity": entity,
            "key": row.key,
            "type": row.type,
            "required": row.required,
            "filled_records": filled,
        },
    )
    logger.info(
        "custom_attribute.created", entity=entity, key=row.key, filled_records=filled
    )
    return row


async def _fill_new_required(
    session: AsyncSession, entity: str, definition: Definition
) -> int:
    """Existing records get a new required attribute's default; without one, a 409."""
    records = entity_table(entity)
    if records is None or not definition.enforced_required:
        return 0
    missing = not_(holds_value(records.column, definition.key))
    if definition.default is None:
        lacking = await repository.count_records(session, records, missing)
        if lacking:
            raise Conflict(
                f"{lacking} {entity} records exist and would lack this required "
                "attribute. Give it a default (filled into them), or create it "
                "optional, fill in the values, then make it required.",
                extra={"affected_records": lacking},
            )
        return 0
    return await repository.rewrite_values(
        session,
        records,
        missing,
        set_key(records.column, definition.key, jsonb(definition.default)),
    )


def _changed_definition(
    before: Definition, changes: dict[str, Any], fmt: ValueFormat
) -> Definition:
    kind = changes.get("type", before.type)
    if "options" in changes:
        options = tuple(changes["options"] or ())
    elif kind in OPTION_TYPES and before.type in OPTION_TYPES:
        options = before.options
    else:
        options = ()
    after = Definition(
        key=before.key,
        type=kind,
        required=changes.get("required", before.required),
        options=options,
        archived=changes.get("archived", before.archived),
    )
    _check_options(after)
    if "default" in changes:
        default = _checked_default(after, changes["default"], fmt, carried_over=False)
    elif kind != before.type or options != before.options:
        default = _checked_default(after, before.default, fmt, carried_over=True)
    else:
        default = before.default
    return replace(after, default=default)


async def update_definition(
    session: AsyncSession,
    entity: Entity,
    key: str,
    data: CustomAttributeUpdate,
    *,
    expected_version: int | None,
) -> CustomAttribute:
    await repository.lock_entity(session, entity, exclusive=True)
    row = await get_definition(session, entity, key)
    check_version(expected_version, row.version)
    changes = data.model_dump(exclude_unset=True, exclude={"conversion"})
    fmt = await load_value_format(session)
    before = Definition.of(row)
    after = _changed_definition(before, changes, fmt)

    converted = await _migrate_values(
        session, entity, before, after, data.conversion, fmt
    )

    for name in ("label", "position", "description"):
        if name in changes and getattr(row, name) != changes[name]:
            setattr(row, name, changes[name])
    if after != before:
        row.type = after.type
        row.required = after.required
        row.options = list(after.options)
        row.default = after.default
        row.archived = after.archived
    await session.flush()
    forget_definitions(session, entity)
    if after.type != before.type or converted:
        await reindex(session, entity, key)

    if "default" in changes:
        changes["default"] = after.default
    archived_now = after.archived and not before.archived
    event = "custom_attribute.archived" if archived_now else "custom_attribute.updated"
    record_event(
        session,
        event,
        subject_id=row.id,
        payload={
            "entity": entity,
            "key": key,
            "changes": changes,
            "converted_records": converted,
        },
    )
    logger.info(event, entity=entity, key=key, converted_records=converted)
    return row


def _checked_conversion(
    conversion: Conversion | None,
    before: Definition,
    after: Definition,
    fmt: ValueFormat,
) -> Any:
    """422 for a conversion that cannot apply; the value of a ``set`` in storage form."""
    if isinstance(conversion, FirstIncompatible) and not (
        before.type == "multiselect" and after.type == "select"
    ):
        raise ValidationFailed.single(
            "conversion.on_incompatible",
            "'first' applies only when a multiselect becomes a select.",
        )
    if isinstance(conversion, SetIncompatible):
        if is_blank(conversion.value):
            raise ValidationFailed.single(
                "conversion.value",
                "A value is needed; use on_incompatible 'clear' to remove values.",
            )
        try:
            return normalise(after, conversion.value, fmt)
        except InvalidValue as exc:
            raise ValidationFailed.single(
                "conversion.value", exc.message, code=exc.code
            ) from None
    return None


async def _migrate_values(
    session: AsyncSession,
    entity: str,
    before: Definition,
    after: Definition,
    conversion: Conversion | None,
    fmt: ValueFormat,
) -> int:
    """Check stored values against the change and convert them; returns rows rewritten."""
    # Checked even when nothing needs converting: a conversion that could never
    # apply is a mistake in the request, whatever the records hold.
    set_value = _checked_conversion(conversion, before, after, fmt)
    removed = before.type == after.type and bool(
        set(before.options) - set(after.options)
    )
    newly_required = after.enforced_required and not before.enforced_required
    if not (before.type != after.type or removed or newly_required):
        return 0
    records = entity_table(entity)
    if records is None:
        return 0

    key = after.key
    column = records.column
    steps = plan(column, key, before, after, minor_units=fmt.minor_units)
    survives = func.coalesce(steps.survives, false())
    incompatible = and_(steps.holds, not_(survives))
    lacking = not_(steps.holds) if newly_required else false()

    unresolved: ColumnElement[bool]
    if conversion is None:
        unresolved = or_(incompatible, lacking)
    elif isinstance(conversion, ClearIncompatible):
        emptied = (
            and_(incompatible, steps.pruned.is_(None))
            if steps.pruned is not None
            else incompatible
        )
        unresolved = or_(emptied, lacking) if after.enforced_required else false()
    elif isinstance(conversion, FirstIncompatible):
        assert steps.first is not None  # plan() gives it for multiselect -> select
        unresolved = or_(and_(incompatible, steps.first.is_(None)), lacking)
    else:
        unresolved = false()
    await _refuse_unresolved(session, records, unresolved, entity, key, conversion)

    rewrites: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = []
    if steps.converted is not None:
        rewrites.append(
            (and_(steps.holds, survives), set_key(column, key, steps.converted))
        )
    if isinstance(conversion, ClearIncompatible):
        cleared = drop_key(column, key)
        if steps.pruned is not None:
            cleared = case(
                (steps.pruned.is_(None), cleared),
                else_=set_key(column, key, steps.pruned),
            )
        rewrites.append((incompatible, cleared))
    elif isinstance(conversion, FirstIncompatible) and steps.first is not None:
        rewrites.append(
            (incompatible, set_key(column, key, func.to_jsonb(steps.first)))
        )
    elif isinstance(conversion, SetIncompatible):
        rewrites.append((incompatible, set_key(column, key, jsonb(set_value))))
        if newly_required:
            rewrites.append((not_(steps.holds), set_key(column, key, jsonb(set_value))))
    if not rewrites:
        return 0
    return await repository.rewrite_values(
        session,
        records,
        or_(*(condition for condition, _ in rewrites)),
        case(*rewrites, else_=column),
    )


async def _refuse_unresolved(
    session: AsyncSession,
    records: EntityTable,
    unresolved: ColumnElement[bool],
    entity: str,
    key: str,
    conversion: Conversion | None,
) -> None:
    affected = await repository.count_records(session, records, unresolved)
    if not affected:
        return
    if conversion is None:
        detail = (
            f"{affected} {entity} records hold a value of '{key}' that would not "
            "survive this change, or lack a value it would require. Send a "
            '`conversion` saying what happens to them: {"on_incompatible": '
            '"clear"}, {"on_incompatible": "set", "value": ...}, or for a '
            'multiselect becoming a select {"on_incompatible": "first"}.'
        )
    else:
        detail = (
            f"{affected} {entity} records would still not fit after "
            f"'{conversion.on_incompatible}' (a required attribute cannot be left "
            "empty, and 'first' needs a remaining option); use 'set' with a value."
        )
    raise Conflict(detail, extra={"affected_records": affected})


async def delete_definition(
    session: AsyncSession,
    entity: Entity,
    key: str,
    *,
    expected_version: int | None,
) -> None:
    """Delete an attribute no record holds a value for; otherwise a 409."""
    await repository.lock_entity(session, entity, exclusive=True)
    row = await get_definition(session, entity, key)
    check_version(expected_version, row.version)
    records = entity_table(entity)
    if records is not None:
        holding = await repository.count_records(
            session, records, holds_value(records.column, key)
        )
        if holding:
            raise Conflict(
                f"{holding} {entity} records hold a value for '{key}'. Archive the "
                "attribute instead (PATCH with archived: true): it disappears from "
                "forms and cannot be written, and the values are kept.",
                extra={"affected_records": holding},
            )
    await session.delete(row)
    await session.flush()
    forget_definitions(session, entity)
    record_event(
        session,
        "custom_attribute.deleted",
        subject_id=row.id,
        payload={"entity": entity, "key": key},
    )
    logger.info("custom_attribute.deleted", entity=entity, key=key)


async def lock_all_definitions(session: AsyncSession) -> None:
    """Hold every entity's definitions lock exclusively until the transaction ends.

    Record writes hold their entity's lock shared while they check values, so once
    this returns they have committed, and later ones wait and then see what this
    transaction changed (the tenant's currency). Taken in the order of ``Entity``,
    the order in which writes that load several entities load them (customer, then
    contact).
    """
    for entity in get_args(Entity):
        await repository.lock_entity(session, entity, exclusive=True)


async def money_in_use(session: AsyncSession) -> tuple[int, list[str]]:
    """Records holding a money value, over every entity; money attributes with a default.

    Money values are stored in the tenant's currency without naming it, so these are
    what a change of currency would silently reinterpret. Defaults are named
    ``entity.key``.
    """
    rows = await repository.of_type(session, "money")
    keys: dict[str, list[str]] = {}
    for row in rows:
        keys.setdefault(row.entity, []).append(row.key)
    holding = 0
    for entity, entity_keys in keys.items():
        records = entity_table(entity)
        if records is not None:
            holding += await repository.count_records(
                session,
                records,
                or_(*(holds_value(records.column, key) for key in entity_keys)),
            )
    defaults = [f"{row.entity}.{row.key}" for row in rows if row.default is not None]
    return holding, defaults
