"""Turning unique-constraint violations into 409s, by constraint name (never by text)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kernel.errors import Conflict, FieldError


def _constraint_name(error: IntegrityError) -> str | None:
    original = getattr(error.orig, "__cause__", None) or error.orig
    return getattr(original, "constraint_name", None)


async def flush_or_conflict(
    session: AsyncSession, fields_by_constraint: Mapping[str, tuple[str, str]]
) -> None:
    """Flush; a known unique violation becomes a 409 naming the field.

    ``fields_by_constraint`` maps a constraint name to (field, message).
    """
    try:
        await session.flush()
    except IntegrityError as error:
        known = fields_by_constraint.get(_constraint_name(error) or "")
        if known is None:
            raise
        field, message = known
        raise Conflict(
            message,
            errors=[
                FieldError(
                    field=field, location="body", code="duplicate", message=message
                )
            ],
        ) from None
