"""The department tree: create, rename, move with cycle checks, delete with handover.

Every change to the tree's shape (create, move, delete) first takes the tenant's tree
lock, so paths are read and rewritten by one writer at a time: two moves that would
together make a cycle run one after the other, and the second sees the first.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.db import current_tenant
from crm_api.kernel.errors import (
    Conflict,
    FieldError,
    NotFound,
    ValidationFailed,
)
from crm_api.kernel.ids import new_id
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.kernel.pagination import PageParams, page_of
from crm_api.organisation import repository
from crm_api.organisation.models import Department, Employee
from crm_api.organisation.schemas import (
    DepartmentCreate,
    DepartmentNode,
    DepartmentUpdate,
)
from crm_api.organisation.visibility import (
    departments_within,
    ensure_department_within,
    ensure_employee_within,
)

logger = structlog.get_logger(__name__)

WRITE = "departments:write"
NAME_TAKEN = {
    "uq_departments_sibling_name": (
        "name",
        "Another department under the same parent has this name.",
    )
}


def _missing(field: str, message: str, *, location: str = "body") -> ValidationFailed:
    return ValidationFailed.single(field, message, code="not_found", location=location)


async def _referenced(
    session: AsyncSession, department_id: uuid.UUID, *, field: str, location: str
) -> Department:
    department = await repository.department(session, department_id, share=True)
    if department is None:
        raise _missing(field, "No such department.", location=location)
    return department


async def active_head(
    session: AsyncSession, employee_id: uuid.UUID, *, actor: Principal
) -> Employee:
    """An active employee of the tenant within the actor's scope, held until commit
    so they cannot leave meanwhile (leaving hands their departments over)."""
    employee = await repository.employee(session, employee_id, share=True)
    if employee is None:
        raise _missing("head_employee_id", "No such employee.")
    if employee.status != "active":
        raise ValidationFailed.single(
            "head_employee_id",
            "This employee has left and cannot head a department.",
            code="employee_left",
        )
    await ensure_employee_within(
        session, actor, WRITE, employee, field="head_employee_id"
    )
    return employee


async def get_department(session: AsyncSession, department_id: uuid.UUID) -> Department:
    department = await repository.department(session, department_id)
    if department is None:
        raise NotFound("No such department.")
    return department


async def list_departments(
    session: AsyncSession, params: PageParams, *, parent_id: uuid.UUID | None
) -> tuple[list[Department], str | None]:
    rows = await repository.departments_page(session, params, parent_id=parent_id)
    return page_of(rows, lambda department: (department.id,), params)


def _nest(
    rows: Sequence[Department], roots: Sequence[Department]
) -> list[DepartmentNode]:
    children: dict[uuid.UUID, list[Department]] = defaultdict(list)
    for row in rows:
        if row.parent_id is not None:
            children[row.parent_id].append(row)

    def node(department: Department) -> DepartmentNode:
        return DepartmentNode(
            id=department.id,
            parent_id=department.parent_id,
            name=department.name,
            head_employee_id=department.head_employee_id,
            position=department.position,
            children=[node(child) for child in children[department.id]],
        )

    return [node(root) for root in roots]


async def tree(session: AsyncSession) -> list[DepartmentNode]:
    """Every department of the tenant, nested under the roots."""
    # NOTE: the whole tree in one response; tenants with thousands of departments
    # would want a depth limit (or the subtree endpoint per branch).
    rows = await repository.all_departments(session)
    return _nest(rows, [row for row in rows if row.parent_id is None])


async def subtree(session: AsyncSession, department_id: uuid.UUID) -> DepartmentNode:
    rows = await repository.subtree(session, department_id)
    roots = [row for row in rows if row.id == department_id]
    if not roots:
        raise NotFound("No such department.")
    [root] = _nest(rows, roots)
    return root


async def create_department(
    session: AsyncSession, data: DepartmentCreate, *, actor: Principal
) -> Department:
    """Create a department; outside an ``all`` scope only inside one's own subtree."""
    await ensure_department_within(
        session, actor, WRITE, data.parent_id, field="parent_id"
    )
    await repository.lock_tree(session)
    path_above: list[uuid.UUID] = []
    if data.parent_id is not None:
        parent = await _referenced(
            session, data.parent_id, field="parent_id", location="body"
        )
        path_above = list(parent.path)
    if data.head_employee_id is not None:
        await active_head(session, data.head_employee_id, actor=actor)
    position = data.position
    if position is None:
        position = await repository.next_position(session, data.parent_id)

    department = Department(
        id=new_id(),
        tenant_id=current_tenant(session),
        parent_id=data.parent_id,
        name=data.name,
        head_employee_id=data.head_employee_id,
        position=position,
    )
    department.path = [*path_above, department.id]
    session.add(department)
    await flush_or_conflict(session, NAME_TAKEN)
    record_event(
        session,
        "department.created",
        subject_id=department.id,
        payload={"name": department.name, "parent_id": _text(department.parent_id)},
    )
    logger.info("department.created", department_id=str(department.id))
    return department


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


async def _cycle_error(
    session: AsyncSession, department: Department, new_parent: Department
) -> Conflict:
    """A 409 naming the loop a move of ``department`` under ``new_parent`` would close."""
    start = list(new_parent.path).index(department.id)
    loop = [*new_parent.path[start:], department.id]
    labels = await repository.names(session, loop)
    readable = " > ".join(labels.get(i, str(i)) for i in loop)
    return Conflict(
        f"Moving '{department.name}' under '{new_parent.name}' would make a cycle: "
        f"{readable}.",
        errors=[
            FieldError(
                field="parent_id",
                location="body",
                code="cycle",
                message="A department cannot move under itself or its own descendant.",
            )
        ],
        extra={"cycle": [str(i) for i in loop]},
    )


async def _place(
    session: AsyncSession,
    department: Department,
    new_parent_id: uuid.UUID | None,
    *,
    position: int | None,
) -> None:
    """Hang ``department`` under ``new_parent_id`` (its subtree follows on flush)."""
    new_prefix: list[uuid.UUID] = []
    if new_parent_id is not None:
        new_parent = await _referenced(
            session, new_parent_id, field="parent_id", location="body"
        )
        if department.id in new_parent.path:
            raise await _cycle_error(session, department, new_parent)
        new_prefix = list(new_parent.path)
    department.parent_id = new_parent_id
    department.path = [*new_prefix, department.id]
    department.position = (
        position
        if position is not None
        else await repository.next_position(session, new_parent_id)
    )


async def update_department(
    session: AsyncSession,
    department_id: uuid.UUID,
    data: DepartmentUpdate,
    *,
    actor: Principal,
    expected_version: int | None,
) -> Department:
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "position"):
        if required in changes and changes[required] is None:
            raise ValidationFailed.single(
                required, f"'{required}' cannot be null.", code="required"
            )
    if "parent_id" in changes:
        # Before reading the row: the path read below must be the one we rewrite.
        await repository.lock_tree(session)
    department = await repository.department(
        session, department_id, lock=True, within=departments_within(actor, WRITE)
    )
    if department is None:
        raise NotFound("No such department.")
    check_version(expected_version, department.version)

    old_parent_id, old_depth = department.parent_id, len(department.path)
    new_parent_id = changes.pop("parent_id", old_parent_id)
    if changes.get("head_employee_id") is not None:
        await active_head(session, changes["head_employee_id"], actor=actor)
    if new_parent_id != old_parent_id:
        await ensure_department_within(
            session, actor, WRITE, new_parent_id, field="parent_id"
        )
        await _place(
            session, department, new_parent_id, position=changes.pop("position", None)
        )
    for field, value in changes.items():
        setattr(department, field, value)
    await flush_or_conflict(session, NAME_TAKEN)

    record_event(
        session,
        "department.updated",
        subject_id=department.id,
        payload={"fields": sorted(data.model_fields_set)},
    )
    if new_parent_id != old_parent_id:
        descendants = await repository.rebase_descendants(
            session, department.id, old_depth=old_depth, new_prefix=department.path
        )
        record_event(
            session,
            "department.moved",
            subject_id=department.id,
            payload={
                "from_parent_id": _text(old_parent_id),
                "to_parent_id": _text(new_parent_id),
                "descendants": descendants,
            },
        )
        logger.info(
            "department.moved",
            department_id=str(department.id),
            to_parent_id=_text(new_parent_id),
            descendants=descendants,
        )
    return department


async def delete_department(
    session: AsyncSession,
    department_id: uuid.UUID,
    *,
    actor: Principal,
    handover_to: uuid.UUID | None,
    expected_version: int | None,
) -> None:
    """Delete an empty department, or hand its contents over and delete it.

    With ``handover_to``, its child departments move under that department and its
    employees (and registered records) into it, in the same transaction.
    """
    await repository.lock_tree(session)
    department = await repository.department(
        session, department_id, lock=True, within=departments_within(actor, WRITE)
    )
    if department is None:
        raise NotFound("No such department.")
    check_version(expected_version, department.version)
    if handover_to is not None:
        await ensure_department_within(
            session, actor, WRITE, handover_to, field="handover_to", location="query"
        )

    if handover_to is None:
        await _ensure_empty(session, department)
        moved: dict[str, int] = {}
    else:
        moved = await _hand_over(session, department, handover_to)

    await session.delete(department)
    await session.flush()
    record_event(
        session,
        "department.deleted",
        subject_id=department.id,
        payload={
            "name": department.name,
            "handover_to": _text(handover_to),
            "moved": moved,
        },
    )
    logger.info(
        "department.deleted",
        department_id=str(department.id),
        handover_to=_text(handover_to),
        moved=moved,
    )


async def _ensure_empty(session: AsyncSession, department: Department) -> None:
    contents = {
        "departments": await repository.count_children(session, department.id),
        "employees": await repository.count_employees(session, department.id),
        **await repository.department_records(session, department.id),
    }
    contents = {name: count for name, count in contents.items() if count}
    if contents:
        listed = ", ".join(f"{count} {name}" for name, count in contents.items())
        raise Conflict(
            f"The department is not empty ({listed}). Move them first, or delete "
            "with handover_to=<department id> to hand them over.",
            extra={"contents": contents},
        )


async def _hand_over(
    session: AsyncSession, department: Department, handover_to: uuid.UUID
) -> dict[str, int]:
    def refused(message: str, code: str) -> ValidationFailed:
        return ValidationFailed.single(
            "handover_to", message, code=code, location="query"
        )

    if handover_to == department.id:
        raise refused("A department cannot be handed over to itself.", "self")
    target = await _referenced(
        session, handover_to, field="handover_to", location="query"
    )
    if department.id in target.path:
        raise refused(
            "The handover department lies inside the department being deleted.",
            "descendant",
        )
    await _ensure_names_free(session, department, target)

    moved = {
        "departments": await repository.rebase_descendants(
            session,
            department.id,
            old_depth=len(department.path),
            new_prefix=target.path,
            reparent_to=target.id,
        ),
        "employees": await repository.move_employees(
            session, from_id=department.id, to_id=target.id
        ),
    }
    moved.update(
        await repository.hand_over_department_records(
            session, from_id=department.id, to_id=target.id
        )
    )
    return moved


async def _ensure_names_free(
    session: AsyncSession, department: Department, target: Department
) -> None:
    """Children moving under ``target`` must not clash with its own children's names."""
    moving = await repository.child_names(session, department.id)
    present = await repository.child_names(session, target.id)
    clashes = sorted(set(moving) & set(present))
    if clashes:
        raise Conflict(
            f"'{target.name}' already has departments named like these children: "
            + ", ".join(clashes)
            + ". Rename them first.",
            extra={"clashing_names": clashes},
        )
