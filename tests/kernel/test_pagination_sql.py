"""The SQL a cursor page turns into: what decides whether an index serves it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from crm_api.customers.models import Customer
from crm_api.customers.repository import STANDARD_FIELDS
from crm_api.kernel.filtering import build_sort, resolver
from crm_api.kernel.pagination import PageParams, encode_cursor, paginate


def _sql(sort: str, cursor_values: list[object]) -> str:
    keys = build_sort(
        sort, resolver(STANDARD_FIELDS), id_column=Customer.__table__.c.id
    )
    params = PageParams(limit=50, cursor=encode_cursor(cursor_values))
    statement = paginate(select(Customer.id), keys, params)
    return str(statement.compile(dialect=postgresql.dialect()))


class TestSortOnNotNullColumns:
    def test_descending_created_at_has_no_nulls_last_and_seeks_by_row_comparison(
        self,
    ) -> None:
        # The input that read the whole table: sort=-created_at over 1M customers.
        sql = _sql("-created_at", [datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()])

        assert "NULLS LAST" not in sql
        assert "(customers.created_at, customers.id) < (" in sql

    def test_a_nullable_column_keeps_nulls_last_and_the_expanded_seek(self) -> None:
        sql = _sql("city", ["Berlin", uuid.uuid4()])

        assert "customers.city ASC NULLS LAST" in sql
        assert "customers.city IS NULL" in sql
