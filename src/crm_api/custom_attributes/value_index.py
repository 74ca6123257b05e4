"""A typed index of custom values, so range filters and sorts use B-tree indexes.

JSONB holds the values; a GIN index answers equality and containment, but not "more
than 10" or "sorted by revenue". For numbers, dates and date-times a trigger keeps one
row per (record, key) here with the value in a typed column, indexed by tenant, entity
and key. Lists join it when they filter or sort on such an attribute.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Index, Numeric, String, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.custom_attributes.registry import entity_table
from crm_api.custom_attributes.values import MAX_DECIMAL_PLACES, MAX_INTEGER_DIGITS
from crm_api.kernel.db import Base

NUMBER_TYPES = ("integer", "decimal", "money")


class CustomValueIndex(Base):
    __tablename__ = "custom_value_index"
    __table_args__ = tuple(
        Index(
            f"ix_custom_value_index_{column}",
            "tenant_id",
            "entity",
            "key",
            column,
            "record_id",
            postgresql_where=text(f"{column} IS NOT NULL"),
        )
        for column in ("num", "dt", "ts")
    )

    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    entity: Mapped[str] = mapped_column(String(20))
    num: Mapped[Decimal | None] = mapped_column(Numeric)
    dt: Mapped[date | None] = mapped_column(Date)
    ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def indexed_column(attribute_type: str) -> str | None:
    """Which typed column holds values of ``attribute_type`` (None: not indexed)."""
    if attribute_type in NUMBER_TYPES:
        return "num"
    return {"date": "dt", "datetime": "ts"}.get(attribute_type)


# The storage forms (values.py) as PostgreSQL patterns. A value is cast only when it
# has its type's form, so the casts below cannot fail: while a type change rewrites
# values, the trigger sees them in the new type's form under the old definition
# (those rows come out NULL, and reindex() puts the attribute right afterwards).
_YEAR = "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_DAY = f"{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
NUMBER_FORM = (
    rf"^-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,{MAX_DECIMAL_PLACES}}})?$"
)
DATE_FORM = f"^{_DAY}$"
DATETIME_FORM = rf"^{_DAY}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{{1,6}})?Z$"
# The pattern lets 2025-02-30 through; this is false for it. Once the pattern has
# matched (year 1..9999, month 1..12) neither make_date nor adding days can fail.
_CALENDAR_DAY = """
    to_char(make_date(substr(v.raw, 1, 4)::int, substr(v.raw, 6, 2)::int, 1)
            + (substr(v.raw, 9, 2)::int - 1), 'YYYY-MM-DD') = substr(v.raw, 1, 10)
"""
# CASE evaluates a branch only when its condition holds (AND promises no order), so
# every cast sits behind the pattern that makes it safe.
_TYPED_VALUES = f"""
    CASE WHEN d.type IN ('integer', 'decimal', 'money') AND v.raw ~ '{NUMBER_FORM}'
         THEN v.raw::numeric END,
    CASE WHEN d.type = 'date' AND v.raw ~ '{DATE_FORM}'
         THEN CASE WHEN {_CALENDAR_DAY} THEN v.raw::date END END,
    CASE WHEN d.type = 'datetime' AND v.raw ~ '{DATETIME_FORM}'
         THEN CASE WHEN {_CALENDAR_DAY} THEN v.raw::timestamptz END END
"""
# The indexed attributes of the records ``r`` with each value's text as ``v.raw``;
# ends in a WHERE clause.
_INDEXED_VALUES = """
    JOIN custom_attributes AS d
      ON d.tenant_id = r.tenant_id AND d.entity = {entity}
     AND d.type IN ('integer', 'decimal', 'money', 'date', 'datetime')
    CROSS JOIN LATERAL (SELECT r.custom ->> d.key AS raw) AS v
    WHERE jsonb_typeof(r.custom -> d.key) IN ('number', 'string')
"""

TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION crm_index_custom_values() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM custom_value_index WHERE record_id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO custom_value_index (tenant_id, entity, record_id, key, num, dt, ts)
    SELECT r.tenant_id, TG_ARGV[0], r.id, d.key, {_TYPED_VALUES}
    FROM (SELECT NEW.*) AS r
    {_INDEXED_VALUES.format(entity="TG_ARGV[0]")};
  END IF;
  RETURN NULL;
END $$
"""  # noqa: S608 - a constant: no input reaches this text


def index_triggers(table: str, entity: str) -> list[str]:
    """Triggers that keep ``table``'s custom values indexed (for a migration)."""
    return [
        f"""CREATE TRIGGER {table}_custom_index_insert AFTER INSERT ON {table}
            FOR EACH ROW EXECUTE FUNCTION crm_index_custom_values('{entity}')""",
        f"""CREATE TRIGGER {table}_custom_index_update AFTER UPDATE OF custom ON {table}
            FOR EACH ROW WHEN (OLD.custom IS DISTINCT FROM NEW.custom)
            EXECUTE FUNCTION crm_index_custom_values('{entity}')""",
        f"""CREATE TRIGGER {table}_custom_index_delete AFTER DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION crm_index_custom_values('{entity}')""",
    ]


async def reindex(session: AsyncSession, entity: str, key: str) -> None:
    """Rebuild the index rows of one attribute (after its type or values changed)."""
    await session.execute(
        text("DELETE FROM custom_value_index WHERE entity = :entity AND key = :key"),
        {"entity": entity, "key": key},
    )
    records = entity_table(entity)
    if records is None:
        return
    table = records.table.name
    column = records.column_name
    params: dict[str, Any] = {"entity": entity, "key": key}
    await session.execute(
        text(
            f"""INSERT INTO custom_value_index
                (tenant_id, entity, record_id, key, num, dt, ts)
            SELECT r.tenant_id, :entity, r.id, d.key, {_TYPED_VALUES}
            FROM (SELECT tenant_id, id, {column} AS custom FROM {table}) AS r
            {_INDEXED_VALUES.format(entity=":entity")} AND d.key = :key"""  # noqa: S608 - names come from the model registry
        ),
        params,
    )
