"""Binding Python values into SQL comparisons without driver surprises.

asyncpg sends ``date.max`` / ``datetime.max`` as +infinity (and the minima as
-infinity), so 9999-12-31 - a common "never" - would compare wrongly. Dates and
date-times therefore travel as ISO text and are cast in SQL. Booleans are wrapped
so ordering comparisons (used by cursors) are allowed on them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, String, cast, literal

# PostgreSQL's numeric takes far more, but nothing a CRM stores needs more than this,
# and huge exponents are expensive to handle anywhere.
MAX_DECIMAL_EXPONENT = 1000
MAX_DECIMAL_DIGITS = 1000


def bind(value: Any) -> Any:
    """``value`` ready for a comparison with a column of its type."""
    if isinstance(value, datetime):
        return cast(literal(value.isoformat(), String), DateTime(timezone=True))
    if isinstance(value, date):
        return cast(literal(value.isoformat(), String), Date)
    if isinstance(value, bool):
        return literal(value, Boolean)
    return value
