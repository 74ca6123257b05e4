"""Employees: who works where, who reports to whom, and handing work over on leaving.

Changes to reporting lines take the tenant's reporting-lines lock before the cycle
check, so two changes that would together close a loop cannot both pass it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.custom_attributes.values import load_definitions
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
from crm_api.organisation.models import Employee
from crm_api.organisation.schemas import EmployeeCreate, EmployeeUpdate
from crm_api.organisation.visibility import (
    employees_within,
    ensure_department_within,
    ensure_employee_within,
)
from crm_api.users import repository as users

logger = structlog.get_logger(__name__)

WRITE = "employees:write"

USER_LINKED = {
    "uq_employees_user_id": (
        "user_id",
        "This user is already linked to another employee.",
    )
}


def _missing(field: str, message: str, *, location: str = "body") -> ValidationFailed:
    return ValidationFailed.single(field, message, code="not_found", location=location)


async def _department(
    session: AsyncSession, department_id: uuid.UUID, *, actor: Principal
) -> None:
    # Shared lock: a department cannot be deleted while an employee joins it.
    if await repository.department(session, department_id, share=True) is None:
        raise _missing("department_id", "No such department.")
    await ensure_department_within(
        session, actor, WRITE, department_id, field="department_id"
    )


async def _active_colleague(
    session: AsyncSession,
    employee_id: uuid.UUID,
    *,
    actor: Principal,
    field: str,
    location: str = "body",
    lock: bool = False,
) -> Employee:
    """An active employee of the tenant within the actor's scope, held (shared, or
    exclusively with ``lock``) until commit so they cannot leave meanwhile."""
    colleague = await repository.employee(
        session, employee_id, lock=lock, share=not lock
    )
    if colleague is None:
        raise _missing(field, "No such employee.", location=location)
    if colleague.status != "active":
        raise ValidationFailed.single(
            field,
            f"{colleague.name} has left.",
            code="employee_left",
            location=location,
        )
    await ensure_employee_within(
        session, actor, WRITE, colleague, field=field, location=location
    )
    return colleague


def _ensure_links_accounts(actor: Principal) -> None:
    # Linking an account decides whose records its user sees: only for those who
    # manage every employee.
    if actor.scope(WRITE) != "all":
        raise ValidationFailed.single(
            "user_id",
            "Only someone who manages every employee links or unlinks user accounts.",
            code="outside_scope",
        )


async def _user(session: AsyncSession, user_id: uuid.UUID, *, actor: Principal) -> None:
    _ensure_links_accounts(actor)
    # Row-level security hides other tenants' users: they read as missing.
    # NOTE: unlike departments and managers, the database does not pin user_id to the
    # same tenant (that needs a unique (tenant_id, id) on users for a composite key);
    # this check is the guard.
    if await users.get(session, user_id) is None:
        raise _missing("user_id", "No such user.")


async def _cycle_error(
    session: AsyncSession, loop: Sequence[uuid.UUID], field: str
) -> Conflict:
    labels = await repository.employee_names(session, loop)
    readable = " > ".join(labels.get(i, str(i)) for i in loop)
    return Conflict(
        f"That would make a reporting cycle: {readable}.",
        errors=[
            FieldError(
                field=field,
                location="body",
                code="cycle",
                message="Nobody may report to themselves, directly or through others.",
            )
        ],
        extra={"cycle": [str(i) for i in loop]},
    )


async def _check_manager(
    session: AsyncSession, employee: Employee, manager_id: uuid.UUID, actor: Principal
) -> None:
    """``manager_id`` may manage ``employee``: active, and not below them."""
    if manager_id == employee.id:
        raise await _cycle_error(session, [employee.id] * 2, "manager_id")
    await _active_colleague(session, manager_id, actor=actor, field="manager_id")
    chain = await repository.manager_chain(session, manager_id)
    if employee.id in chain:
        loop = [employee.id, *chain[: chain.index(employee.id) + 1]]
        raise await _cycle_error(session, loop, "manager_id")


async def get_employee(session: AsyncSession, employee_id: uuid.UUID) -> Employee:
    employee = await repository.employee(session, employee_id)
    if employee is None:
        raise NotFound("No such employee.")
    return employee


async def list_employees(
    session: AsyncSession,
    params: PageParams,
    *,
    department_id: uuid.UUID | None,
    department_subtree: uuid.UUID | None,
    manager_id: uuid.UUID | None,
    status: str | None,
) -> tuple[list[Employee], str | None]:
    # NOTE: no `custom.<key>` filters or `sort` yet; customers build them from
    # kernel.filtering plus the typed value index (which employees already feed), and
    # the same resolver would serve here once it moves out of the customers package.
    conditions: list[ColumnElement[bool]] = []
    if department_id is not None:
        conditions.append(Employee.department_id == department_id)
    if department_subtree is not None:
        conditions.append(
            Employee.department_id.in_(repository.subtree_ids(department_subtree))
        )
    if manager_id is not None:
        conditions.append(Employee.manager_id == manager_id)
    if status is not None:
        conditions.append(Employee.status == status)
    rows = await repository.employees_page(session, conditions, params)
    return page_of(rows, lambda employee: (employee.id,), params)


async def create_employee(
    session: AsyncSession, data: EmployeeCreate, *, actor: Principal
) -> Employee:
    """Hire someone; outside an ``all`` scope only into one's own subtree."""
    definitions = await load_definitions(session, "employee")
    custom = definitions.validate_create(data.custom)
    await _department(session, data.department_id, actor=actor)
    # A new employee has no reports yet, so no manager can close a cycle through them.
    if data.manager_id is not None:
        await _active_colleague(
            session, data.manager_id, actor=actor, field="manager_id"
        )
    if data.user_id is not None:
        await _user(session, data.user_id, actor=actor)

    employee = Employee(
        id=new_id(),
        tenant_id=current_tenant(session),
        status="active",
        custom=custom,
        **data.model_dump(exclude={"custom"}),
    )
    session.add(employee)
    await flush_or_conflict(session, USER_LINKED)
    record_event(
        session,
        "employee.created",
        subject_id=employee.id,
        payload={"name": employee.name, "department_id": str(employee.department_id)},
    )
    logger.info("employee.created", employee_id=str(employee.id))
    return employee


async def update_employee(
    session: AsyncSession,
    employee_id: uuid.UUID,
    data: EmployeeUpdate,
    *,
    actor: Principal,
    expected_version: int | None,
) -> Employee:
    changes = data.model_dump(exclude_unset=True)
    for required in ("department_id", "name"):
        if required in changes and changes[required] is None:
            raise ValidationFailed.single(
                required, f"'{required}' cannot be null.", code="required"
            )
    if changes.get("manager_id") is not None:
        await repository.lock_reporting_lines(session)
    employee = await repository.employee(
        session, employee_id, lock=True, within=employees_within(actor, WRITE)
    )
    if employee is None:
        raise NotFound("No such employee.")
    check_version(expected_version, employee.version)

    if "custom" in changes:
        definitions = await load_definitions(session, "employee")
        changes["custom"] = definitions.validate_update(
            employee.custom, changes["custom"] or {}
        )
    if changes.get("department_id") not in (None, employee.department_id):
        await _department(session, changes["department_id"], actor=actor)
    if changes.get("manager_id") not in (None, employee.manager_id):
        await _check_manager(session, employee, changes["manager_id"], actor)
    if "user_id" in changes and changes["user_id"] != employee.user_id:
        if changes["user_id"] is None:
            _ensure_links_accounts(actor)
        else:
            await _user(session, changes["user_id"], actor=actor)
    for field, value in changes.items():
        setattr(employee, field, value)
    await flush_or_conflict(session, USER_LINKED)
    record_event(
        session,
        "employee.updated",
        subject_id=employee.id,
        payload={"fields": sorted(data.model_fields_set)},
    )
    return employee


async def leave(
    session: AsyncSession,
    employee_id: uuid.UUID,
    *,
    actor: Principal,
    handover_to: uuid.UUID,
    expected_version: int | None,
) -> tuple[Employee, dict[str, int]]:
    """Mark an employee as left; a colleague takes over their work, all at once.

    The colleague becomes the manager of the leaver's direct reports and the head of
    the departments the leaver headed, and receives the open records of every
    registered reference. A colleague who reported directly to the leaver moves up
    to the leaver's own manager. Returns the leaver and the rows moved per column.
    """
    if handover_to == employee_id:
        raise ValidationFailed.single(
            "handover_to", "An employee cannot hand over to themselves.", code="self"
        )
    await repository.lock_reporting_lines(session)
    # Both rows, in a fixed order, so two opposite handovers cannot deadlock.
    first, second = sorted((employee_id, handover_to))
    locked = {first: await repository.employee(session, first, lock=True)}
    locked[second] = await repository.employee(session, second, lock=True)
    leaver = await repository.employee(
        session, employee_id, within=employees_within(actor, WRITE)
    )
    if leaver is None:
        raise NotFound("No such employee.")
    check_version(expected_version, leaver.version)
    if leaver.status == "left":
        raise Conflict(f"{leaver.name} has already left.")
    colleague = await _active_colleague(
        session, handover_to, actor=actor, field="handover_to", lock=True
    )

    chain = await repository.manager_chain(session, colleague.id)
    if leaver.id in chain[2:]:
        # The colleague sits below one of the leaver's reports, who would then
        # report to someone below themselves.
        loop = chain[1 : chain.index(leaver.id)]
        raise await _cycle_error(
            session, [colleague.id, *loop, colleague.id], "handover_to"
        )
    # NOTE: a linked user account stays active; deactivating it is a separate,
    # deliberate step (POST /users/{id}/deactivate) until leaving is tied to sign-in.
    if colleague.manager_id == leaver.id:
        colleague.manager_id = leaver.manager_id
    leaver.status = "left"
    leaver.left_at = datetime.now(UTC)
    await session.flush()

    moved = {
        "employees.manager_id": await repository.reassign_reports(
            session, from_id=leaver.id, to_id=colleague.id
        ),
        "departments.head_employee_id": await repository.reassign_heads(
            session, from_id=leaver.id, to_id=colleague.id
        ),
    }
    moved.update(
        await repository.hand_over_employee_records(
            session, from_id=leaver.id, to_id=colleague.id
        )
    )
    record_event(
        session,
        "employee.left",
        subject_id=leaver.id,
        payload={"handover_to": str(colleague.id), "moved": moved},
    )
    logger.info(
        "employee.left",
        employee_id=str(leaver.id),
        handover_to=str(colleague.id),
        moved=moved,
    )
    return leaver, moved


async def delete_employee(
    session: AsyncSession,
    employee_id: uuid.UUID,
    *,
    actor: Principal,
    expected_version: int | None,
) -> None:
    """Delete an employee who left no trace: still active, no reports, no
    departments headed, no user account, no records. Anyone else is marked as left
    instead (and someone who has left stays, with their history)."""
    employee = await repository.employee(
        session, employee_id, lock=True, within=employees_within(actor, WRITE)
    )
    if employee is None:
        raise NotFound("No such employee.")
    check_version(expected_version, employee.version)

    history = {
        "left": int(employee.status == "left"),
        "reports": await repository.count_reports(session, employee.id),
        "departments_headed": await repository.count_headed(session, employee.id),
        "user_account": int(employee.user_id is not None),
        **await repository.employee_records(session, employee.id),
    }
    history = {name: count for name, count in history.items() if count}
    if history:
        raise Conflict(
            f"{employee.name} has history ({', '.join(sorted(history))}) and cannot "
            "be deleted; mark them as left with a handover instead.",
            extra={"history": history},
        )
    await session.delete(employee)
    await session.flush()
    record_event(session, "employee.deleted", subject_id=employee.id, payload={})
    logger.info("employee.deleted", employee_id=str(employee.id))
