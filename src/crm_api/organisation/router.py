from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from crm_api.auth.dependencies import Idempotent, require
from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import if_match_header, set_etag
from crm_api.kernel.deps import Session
from crm_api.kernel.pagination import Page, PageParams, page_params
from crm_api.kernel.routing import CrmRoute
from crm_api.organisation import department_service, employee_service
from crm_api.organisation.schemas import (
    DepartmentCreate,
    DepartmentNode,
    DepartmentRead,
    DepartmentTree,
    DepartmentUpdate,
    EmployeeCreate,
    EmployeeRead,
    EmployeeStatus,
    EmployeeUpdate,
    LeaveRead,
    LeaveRequest,
)

departments_router = APIRouter(
    prefix="/departments", tags=["departments"], route_class=CrmRoute
)
employees_router = APIRouter(
    prefix="/employees", tags=["employees"], route_class=CrmRoute
)

CanReadDepartments = Annotated[Principal, Depends(require("departments:read"))]
CanWriteDepartments = Annotated[Principal, Depends(require("departments:write"))]
CanReadEmployees = Annotated[Principal, Depends(require("employees:read"))]
CanWriteEmployees = Annotated[Principal, Depends(require("employees:write"))]
IfMatch = Annotated[int | None, Depends(if_match_header)]
Paging = Annotated[PageParams, Depends(page_params)]


@departments_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="departments_create",
    dependencies=[Idempotent],
)
async def create_department(
    data: DepartmentCreate,
    session: Session,
    actor: CanWriteDepartments,
    response: Response,
) -> DepartmentRead:
    """Create a department, at the top or under another one."""
    department = await department_service.create_department(session, data, actor=actor)

    set_etag(response, department.version)
    response.headers["Location"] = f"/api/v1/departments/{department.id}"
    return DepartmentRead.model_validate(department)


@departments_router.get("", operation_id="departments_list")
async def list_departments(
    session: Session,
    _: CanReadDepartments,
    page: Paging,
    parent_id: Annotated[
        uuid.UUID | None, Query(description="Only the departments directly under it.")
    ] = None,
) -> Page[DepartmentRead]:
    """List departments flat, oldest first."""
    departments, next_cursor = await department_service.list_departments(
        session, page, parent_id=parent_id
    )
    return Page(
        items=[DepartmentRead.model_validate(d) for d in departments],
        next_cursor=next_cursor,
    )


@departments_router.get("/tree", operation_id="departments_tree")
async def department_tree(session: Session, _: CanReadDepartments) -> DepartmentTree:
    """The whole department tree, nested."""
    roots = await department_service.tree(session)
    return DepartmentTree(roots=roots)


@departments_router.get("/{department_id}", operation_id="departments_get")
async def get_department(
    department_id: uuid.UUID,
    session: Session,
    _: CanReadDepartments,
    response: Response,
) -> DepartmentRead:
    """Read one department."""
    department = await department_service.get_department(session, department_id)

    set_etag(response, department.version)
    return DepartmentRead.model_validate(department)


@departments_router.get("/{department_id}/subtree", operation_id="departments_subtree")
async def department_subtree(
    department_id: uuid.UUID, session: Session, _: CanReadDepartments
) -> DepartmentNode:
    """A department with everything below it, nested."""
    return await department_service.subtree(session, department_id)


@departments_router.patch("/{department_id}", operation_id="departments_update")
async def update_department(
    department_id: uuid.UUID,
    data: DepartmentUpdate,
    session: Session,
    actor: CanWriteDepartments,
    expected_version: IfMatch,
    response: Response,
) -> DepartmentRead:
    """Rename a department, change its head, or move it (with its subtree)."""
    department = await department_service.update_department(
        session, department_id, data, actor=actor, expected_version=expected_version
    )

    set_etag(response, department.version)
    return DepartmentRead.model_validate(department)


@departments_router.delete(
    "/{department_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="departments_delete",
)
async def delete_department(
    department_id: uuid.UUID,
    session: Session,
    actor: CanWriteDepartments,
    expected_version: IfMatch,
    handover_to: Annotated[
        uuid.UUID | None,
        Query(
            description="A department that receives the child departments, "
            "employees and records; without it only an empty department goes."
        ),
    ] = None,
) -> None:
    """Delete a department: an empty one, or any with a handover department."""
    await department_service.delete_department(
        session,
        department_id,
        actor=actor,
        handover_to=handover_to,
        expected_version=expected_version,
    )


@employees_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="employees_create",
    dependencies=[Idempotent],
)
async def create_employee(
    data: EmployeeCreate,
    session: Session,
    actor: CanWriteEmployees,
    response: Response,
) -> EmployeeRead:
    """Add an employee to a department."""
    employee = await employee_service.create_employee(session, data, actor=actor)

    set_etag(response, employee.version)
    response.headers["Location"] = f"/api/v1/employees/{employee.id}"
    return EmployeeRead.model_validate(employee)


@employees_router.get("", operation_id="employees_list")
async def list_employees(
    session: Session,
    _: CanReadEmployees,
    page: Paging,
    department_id: Annotated[
        uuid.UUID | None, Query(description="Only this department's own employees.")
    ] = None,
    department_subtree: Annotated[
        uuid.UUID | None,
        Query(description="Employees of this department and every one below it."),
    ] = None,
    manager_id: Annotated[
        uuid.UUID | None, Query(description="Only the direct reports of this employee.")
    ] = None,
    employee_status: Annotated[EmployeeStatus | None, Query(alias="status")] = None,
) -> Page[EmployeeRead]:
    """List employees, oldest first."""
    employees, next_cursor = await employee_service.list_employees(
        session,
        page,
        department_id=department_id,
        department_subtree=department_subtree,
        manager_id=manager_id,
        status=employee_status,
    )
    return Page(
        items=[EmployeeRead.model_validate(e) for e in employees],
        next_cursor=next_cursor,
    )


@employees_router.get("/{employee_id}", operation_id="employees_get")
async def get_employee(
    employee_id: uuid.UUID, session: Session, _: CanReadEmployees, response: Response
) -> EmployeeRead:
    """Read one employee."""
    employee = await employee_service.get_employee(session, employee_id)

    set_etag(response, employee.version)
    return EmployeeRead.model_validate(employee)


@employees_router.patch("/{employee_id}", operation_id="employees_update")
async def update_employee(
    employee_id: uuid.UUID,
    data: EmployeeUpdate,
    session: Session,
    actor: CanWriteEmployees,
    expected_version: IfMatch,
    response: Response,
) -> EmployeeRead:
    """Change an employee; `custom` merges key by key and null removes a key."""
    employee = await employee_service.update_employee(
        session, employee_id, data, actor=actor, expected_version=expected_version
    )

    set_etag(response, employee.version)
    return EmployeeRead.model_validate(employee)


@employees_router.delete(
    "/{employee_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="employees_delete",
)
async def delete_employee(
    employee_id: uuid.UUID,
    session: Session,
    actor: CanWriteEmployees,
    expected_version: IfMatch,
) -> None:
    """Delete an employee without history (mistakes); others leave instead."""
    await employee_service.delete_employee(
        session, employee_id, actor=actor, expected_version=expected_version
    )


@employees_router.post(
    "/{employee_id}/leave", operation_id="employees_leave", dependencies=[Idempotent]
)
async def leave(
    employee_id: uuid.UUID,
    data: LeaveRequest,
    session: Session,
    actor: CanWriteEmployees,
    expected_version: IfMatch,
    response: Response,
) -> LeaveRead:
    """Mark an employee as left; a colleague takes over their reports and work."""
    employee, moved = await employee_service.leave(
        session,
        employee_id,
        actor=actor,
        handover_to=data.handover_to,
        expected_version=expected_version,
    )

    set_etag(response, employee.version)
    return LeaveRead(
        employee=EmployeeRead.model_validate(employee),
        handover_to=data.handover_to,
        moved=moved,
    )
