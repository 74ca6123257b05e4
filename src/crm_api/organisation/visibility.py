"""Who sees which records: the caller's scope turned into SQL, and who may own what.

Every record type with an owner employee and a department (customers, quotes, orders,
...) is filtered with :func:`visible` in the query itself, so lists, single reads,
counts and exports all see the same rows and a record outside the caller's scope reads
exactly like one that does not exist.

- ``all``: every record of the tenant.
- ``department``: records the caller owns, and records of the caller's department and
  every department below it, as the tree stands when the query runs (moving the
  caller or a department takes effect with the next request).
- ``own``: records the caller owns.

A caller without an active employee record owns nothing and belongs nowhere, so only
``all`` shows them anything.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.kernel.errors import ValidationFailed
from crm_api.organisation import repository
from crm_api.organisation.models import Department, Employee


def visible(
    principal: Principal, permission: str, *, owner: Any, department: Any
) -> ColumnElement[bool]:
    """The SQL condition for records ``principal`` reaches with ``permission``."""
    scope = principal.scope(permission)
    if scope == "all":
        return true()
    if scope is None or principal.employee_id is None:
        return false()
    mine: ColumnElement[bool] = owner == principal.employee_id
    if scope == "own" or principal.department_id is None:
        return mine
    return or_(mine, department.in_(repository.subtree_ids(principal.department_id)))


def employees_within(principal: Principal, permission: str) -> ColumnElement[bool]:
    """Employees ``principal`` may act on with ``permission``: themselves, and with a
    department scope everyone in their department's subtree."""
    return visible(
        principal, permission, owner=Employee.id, department=Employee.department_id
    )


def departments_within(principal: Principal, permission: str) -> ColumnElement[bool]:
    """Departments ``principal`` may act on: with a department scope, their own
    department and every one below it; nothing with ``own``."""
    scope = principal.scope(permission)
    if scope == "all":
        return true()
    if scope != "department" or principal.department_id is None:
        return false()
    return Department.id.in_(repository.subtree_ids(principal.department_id))


async def ensure_department_within(
    session: AsyncSession,
    principal: Principal,
    permission: str,
    department_id: uuid.UUID | None,
    *,
    field: str,
    location: str = "body",
) -> None:
    """422 unless ``department_id`` lies within the caller's scope (None, the top of
    the tree, only for an ``all`` scope)."""
    scope = principal.scope(permission)
    if scope == "all":
        return
    root = principal.department_id
    if (
        scope == "department"
        and root is not None
        and department_id is not None
        and await _in_subtree(session, root, department_id)
    ):
        return
    raise ValidationFailed.single(
        field,
        "That department is outside your department's subtree.",
        code="outside_scope",
        location=location,
    )


async def ensure_employee_within(
    session: AsyncSession,
    principal: Principal,
    permission: str,
    employee: Employee,
    *,
    field: str,
    location: str = "body",
) -> None:
    """422 unless ``employee`` is the caller or (department scope) works in the
    caller's subtree."""
    scope = principal.scope(permission)
    if scope == "all" or employee.id == principal.employee_id:
        return
    root = principal.department_id
    if (
        scope == "department"
        and root is not None
        and await _in_subtree(session, root, employee.department_id)
    ):
        return
    raise ValidationFailed.single(
        field,
        f"{employee.name} works outside your department's subtree.",
        code="outside_scope",
        location=location,
    )


def _refused(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed.single(field, message, code=code)


async def _in_subtree(
    session: AsyncSession, root_id: uuid.UUID, department_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        repository.subtree_ids(root_id).where(Department.id == department_id)
    )
    return found is not None


async def assign(
    session: AsyncSession,
    principal: Principal,
    permission: str,
    *,
    owner_id: uuid.UUID | None,
    department_id: uuid.UUID | None,
) -> tuple[uuid.UUID, uuid.UUID]:
    """The owner and department a new or re-assigned record gets.

    The owner defaults to the caller's employee and the department to the owner's.
    The owner must be an active employee, and both must lie within the caller's own
    ``permission`` scope: nobody hands a record to someone they could not see it with.
    Raises 422 naming the field otherwise.
    """
    if owner_id is None:
        if principal.employee_id is None:
            raise _refused(
                "owner_id",
                "Your account is not linked to an employee; name the owner.",
                "required",
            )
        owner_id = principal.employee_id
    # Shared lock: the owner cannot leave (and miss the handover) before commit.
    owner: Employee | None = await repository.employee(session, owner_id, share=True)
    if owner is None:
        raise _refused("owner_id", "No such employee.", "not_found")
    if owner.status != "active":
        raise _refused("owner_id", f"{owner.name} has left.", "employee_left")
    if department_id is None:
        department_id = owner.department_id
    elif await repository.department(session, department_id, share=True) is None:
        raise _refused("department_id", "No such department.", "not_found")

    scope = principal.scope(permission)
    if scope == "all":
        return owner_id, department_id
    mine = owner_id == principal.employee_id
    if scope == "own":
        if not mine:
            raise _refused(
                "owner_id", "You can only own records yourself.", "outside_scope"
            )
        if department_id not in (owner.department_id, principal.department_id):
            raise _refused(
                "department_id",
                "You can only file records in your own department.",
                "outside_scope",
            )
        return owner_id, department_id
    root = principal.department_id
    if root is None or not (
        mine or await _in_subtree(session, root, owner.department_id)
    ):
        raise _refused(
            "owner_id",
            "The owner works outside your department.",
            "outside_scope",
        )
    # The owner's own department has just been let through (or the owner is the
    # caller): only another department needs looking up.
    if department_id != owner.department_id and not await _in_subtree(
        session, root, department_id
    ):
        raise _refused(
            "department_id",
            "That department is outside your department's subtree.",
            "outside_scope",
        )
    return owner_id, department_id
