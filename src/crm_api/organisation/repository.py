"""Department and employee queries; locks that serialise changes to the tree and to
reporting lines; the registries through which other domains hand records over."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    Select,
    func,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from crm_api.kernel.db import current_tenant
from crm_api.kernel.pagination import PageParams, SortKey, paginate
from crm_api.organisation.models import Department, Employee

DEPARTMENT_ORDER = (SortKey(Department.id, parse=uuid.UUID),)
EMPLOYEE_ORDER = (SortKey(Employee.id, parse=uuid.UUID),)
# Reporting lines are acyclic, so a chain ends long before this; it only stops a walk
# over corrupt data from running away.
MAX_CHAIN = 10_000

# Transaction-scoped advisory locks, one per tenant and kind of change: the first key
# names the kind ("dept", "mgrs" as 32-bit integers), the second is taken from the
# tenant id's random tail. Two tenants sharing a key only wait for each other.
_TREE_LOCK = 0x64657074
_REPORTING_LOCK = 0x6D677273


async def _advisory_lock(session: AsyncSession, kind: int) -> None:
    tenant_key = int.from_bytes(current_tenant(session).bytes[-4:], signed=True)
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:kind, :tenant_key)"),
        {"kind": kind, "tenant_key": tenant_key},
    )


async def lock_tree(session: AsyncSession) -> None:
    """Serialise changes to the shape of the tenant's department tree."""
    await _advisory_lock(session, _TREE_LOCK)


async def lock_reporting_lines(session: AsyncSession) -> None:
    """Serialise changes to who reports to whom within the tenant."""
    await _advisory_lock(session, _REPORTING_LOCK)


def _uuid_array(values: Sequence[uuid.UUID]) -> Any:
    return literal(list(values), ARRAY(Uuid()))


# --- departments ---


async def department(
    session: AsyncSession,
    department_id: uuid.UUID,
    *,
    lock: bool = False,
    share: bool = False,
    within: ColumnElement[bool] | None = None,
) -> Department | None:
    """One department, fresh from the database.

    ``lock`` holds the row until commit (writers take turns); ``share`` only keeps it
    from being deleted or changed meanwhile. ``within`` (a caller's scope) makes a
    department outside it read as missing.
    """
    statement = select(Department).where(Department.id == department_id)
    if within is not None:
        statement = statement.where(within)
    if lock:
        statement = statement.with_for_update()
    elif share:
        statement = statement.with_for_update(read=True)
    statement = statement.execution_options(populate_existing=True)
    return await session.scalar(statement)


async def departments_page(
    session: AsyncSession, params: PageParams, *, parent_id: uuid.UUID | None
) -> list[Department]:
    statement = select(Department)
    if parent_id is not None:
        statement = statement.where(Department.parent_id == parent_id)
    statement = paginate(statement, DEPARTMENT_ORDER, params)
    return list((await session.scalars(statement)).all())


async def all_departments(session: AsyncSession) -> list[Department]:
    statement = select(Department).order_by(
        Department.position, func.lower(Department.name), Department.id
    )
    return list((await session.scalars(statement)).all())


async def subtree(session: AsyncSession, root_id: uuid.UUID) -> list[Department]:
    """The department and everything below it (one GIN-indexed query)."""
    statement = (
        select(Department)
        .where(Department.path.contains(_uuid_array([root_id])))
        .order_by(Department.position, func.lower(Department.name), Department.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(statement)).all())


def subtree_ids(root_id: uuid.UUID) -> Select[uuid.UUID]:
    """Ids of the department ``root_id`` and all its descendants, as a subquery."""
    return select(Department.id).where(Department.path.contains(_uuid_array([root_id])))


async def names(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(Department.id, Department.name).where(Department.id.in_(ids))
    )
    return {row.id: row.name for row in rows}


async def next_position(session: AsyncSession, parent_id: uuid.UUID | None) -> int:
    """One past the last sibling's position under ``parent_id`` (the roots for None)."""
    parent = (
        Department.parent_id.is_(None)
        if parent_id is None
        else Department.parent_id == parent_id
    )
    last = await session.scalar(select(func.max(Department.position)).where(parent))
    return 0 if last is None else int(last) + 1


async def child_names(
    session: AsyncSession, parent_id: uuid.UUID | None
) -> dict[str, uuid.UUID]:
    """Lower-cased names of the departments directly under ``parent_id``."""
    parent = (
        Department.parent_id.is_(None)
        if parent_id is None
        else Department.parent_id == parent_id
    )
    rows = await session.execute(select(Department.id, Department.name).where(parent))
    return {row.name.lower(): row.id for row in rows}


async def count_children(session: AsyncSession, department_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(Department)
        .where(Department.parent_id == department_id)
    )
    return int(total or 0)


async def rebase_descendants(
    session: AsyncSession,
    root_id: uuid.UUID,
    *,
    old_depth: int,
    new_prefix: Sequence[uuid.UUID],
    reparent_to: uuid.UUID | None = None,
) -> int:
    """Give every department below ``root_id`` its new path, in one UPDATE.

    The first ``old_depth`` ids of each descendant's path (the root's old path) are
    replaced by ``new_prefix``. With ``reparent_to``, the root's direct children move
    under that department (the root is about to be deleted). Returns the row count.
    """
    tail = Department.path[old_depth + 1 : func.cardinality(Department.path)]
    values: dict[str, Any] = {
        "path": func.array_cat(_uuid_array(new_prefix), tail),
        "version": Department.version + 1,
    }
    if reparent_to is not None:
        values["parent_id"] = func.coalesce(
            func.nullif(Department.parent_id, root_id), reparent_to
        )
    result = await session.execute(
        update(Department)
        .where(
            Department.path.contains(_uuid_array([root_id])),
            Department.id != root_id,
        )
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def move_employees(
    session: AsyncSession, *, from_id: uuid.UUID, to_id: uuid.UUID
) -> int:
    result = await session.execute(
        update(Employee)
        .where(Employee.department_id == from_id)
        .values(department_id=to_id, version=Employee.version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- employees ---


async def employee(
    session: AsyncSession,
    employee_id: uuid.UUID,
    *,
    lock: bool = False,
    share: bool = False,
    within: ColumnElement[bool] | None = None,
) -> Employee | None:
    """One employee, fresh from the database; ``lock``/``share``/``within`` as for
    departments."""
    statement = select(Employee).where(Employee.id == employee_id)
    if within is not None:
        statement = statement.where(within)
    if lock:
        statement = statement.with_for_update()
    elif share:
        statement = statement.with_for_update(read=True)
    statement = statement.execution_options(populate_existing=True)
    return await session.scalar(statement)


async def employees_page(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], params: PageParams
) -> list[Employee]:
    statement = paginate(select(Employee).where(*conditions), EMPLOYEE_ORDER, params)
    return list((await session.scalars(statement)).all())


async def employee_names(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(Employee.id, Employee.name).where(Employee.id.in_(ids))
    )
    return {row.id: row.name for row in rows}


async def count_employees(session: AsyncSession, department_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(Employee)
        .where(Employee.department_id == department_id)
    )
    return int(total or 0)


async def manager_chain(session: AsyncSession, start_id: uuid.UUID) -> list[uuid.UUID]:
    """``start_id`` and its managers upward, nearest first (a recursive CTE)."""
    chain = (
        select(
            Employee.id,
            Employee.manager_id,
            literal(1, Integer).label("depth"),
        )
        .where(Employee.id == start_id)
        .cte("chain", recursive=True)
    )
    above = select(
        Employee.id, Employee.manager_id, (chain.c.depth + 1).label("depth")
    ).join(chain, Employee.id == chain.c.manager_id)
    chain = chain.union_all(above.where(chain.c.depth < MAX_CHAIN))
    rows = await session.scalars(select(chain.c.id).order_by(chain.c.depth))
    return list(rows.all())


async def count_reports(session: AsyncSession, employee_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(Employee)
        .where(Employee.manager_id == employee_id)
    )
    return int(total or 0)


async def count_headed(session: AsyncSession, employee_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(Department)
        .where(Department.head_employee_id == employee_id)
    )
    return int(total or 0)


async def reassign_reports(
    session: AsyncSession, *, from_id: uuid.UUID, to_id: uuid.UUID
) -> int:
    """Everyone reporting to ``from_id`` now reports to ``to_id``."""
    result = await session.execute(
        update(Employee)
        .where(Employee.manager_id == from_id, Employee.id != to_id)
        .values(manager_id=to_id, version=Employee.version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def reassign_heads(
    session: AsyncSession, *, from_id: uuid.UUID, to_id: uuid.UUID
) -> int:
    """Departments headed by ``from_id`` are now headed by ``to_id``."""
    result = await session.execute(
        update(Department)
        .where(Department.head_employee_id == from_id)
        .values(head_employee_id=to_id, version=Department.version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- records of other domains that point at employees and departments ---


@dataclass(frozen=True)
class Reference:
    """A column of another domain's table pointing at employees.id or departments.id.

    ``open_records`` narrows a handover to the records still in progress (a completed
    order keeps its historical owner); None hands over every record.
    """

    column: Any
    open_records: Callable[[], ColumnElement[bool]] | None = None
    # A department column of the same table that follows the record's new owner.
    department: Any = None

    @property
    def target(self) -> Column[Any]:
        """The table column itself, whether an ORM attribute or a Core column came in."""
        return self.column.expression  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        return f"{self.target.table.name}.{self.target.name}"


# Customers, orders, tasks ... register their owner and department columns here when
# they gain them; a leaver's open records and a deleted department's records then move
# in the same transaction as the change that frees them.
_EMPLOYEE_REFERENCES: list[Reference] = []
_DEPARTMENT_REFERENCES: list[Reference] = []


def register_employee_reference(
    column: Any,
    *,
    open_records: Callable[[], ColumnElement[bool]] | None = None,
    department: Any = None,
) -> None:
    """Declare a column pointing at employees.id: a leaver's (open) records move to
    the colleague taking over (with ``department``, a department column of the same
    table, set to the colleague's department), and an employee it points at cannot
    be deleted."""
    reference = Reference(column, open_records, department)
    if all(r.target is not reference.target for r in _EMPLOYEE_REFERENCES):
        _EMPLOYEE_REFERENCES.append(reference)


def register_department_reference(column: Any) -> None:
    """Declare a column pointing at departments.id: deleting a department with a
    handover moves its records, and without one a department it points at stays."""
    reference = Reference(column)
    if all(r.target is not reference.target for r in _DEPARTMENT_REFERENCES):
        _DEPARTMENT_REFERENCES.append(reference)


async def _move(
    session: AsyncSession,
    references: Sequence[Reference],
    *,
    from_id: uuid.UUID,
    to_id: uuid.UUID,
) -> dict[str, int]:
    moved: dict[str, int] = {}
    for reference in references:
        column = reference.target
        table = column.table
        values: dict[str, Any] = {column.name: to_id}
        if reference.department is not None:
            values[reference.department.expression.name] = (
                select(Employee.department_id)
                .where(Employee.id == to_id)
                .scalar_subquery()
            )
        if "version" in table.c:
            values["version"] = table.c.version + 1
        still_open = reference.open_records() if reference.open_records else true()
        result = await session.execute(
            update(table)
            .where(column == from_id, still_open)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        moved[reference.name] = int(result.rowcount)  # type: ignore[attr-defined]
    return moved


async def _count(
    session: AsyncSession, references: Sequence[Reference], target_id: uuid.UUID
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reference in references:
        column = reference.target
        total = await session.scalar(
            select(func.count()).select_from(column.table).where(column == target_id)
        )
        if total:
            counts[reference.name] = int(total)
    return counts


async def hand_over_employee_records(
    session: AsyncSession, *, from_id: uuid.UUID, to_id: uuid.UUID
) -> dict[str, int]:
    """Move the open records of every registered reference; counts per column."""
    return await _move(session, _EMPLOYEE_REFERENCES, from_id=from_id, to_id=to_id)


async def hand_over_department_records(
    session: AsyncSession, *, from_id: uuid.UUID, to_id: uuid.UUID
) -> dict[str, int]:
    return await _move(session, _DEPARTMENT_REFERENCES, from_id=from_id, to_id=to_id)


async def employee_records(
    session: AsyncSession, employee_id: uuid.UUID
) -> dict[str, int]:
    """Registered records pointing at the employee, counted per column (non-zero)."""
    return await _count(session, _EMPLOYEE_REFERENCES, employee_id)


async def department_records(
    session: AsyncSession, department_id: uuid.UUID
) -> dict[str, int]:
    return await _count(session, _DEPARTMENT_REFERENCES, department_id)
