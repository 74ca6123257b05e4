"""Exception handlers: every error leaves the API as ``application/problem+json``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from asyncpg import PostgresConnectionError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from crm_api.kernel.context import request_id_var
from crm_api.kernel.errors import (
    PROBLEM_MEDIA_TYPE,
    AppError,
    BadRequest,
    Conflict,
    FieldError,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PreconditionFailed,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)

logger = structlog.get_logger(__name__)

_BY_STATUS: dict[int, type[AppError]] = {
    400: BadRequest,
    401: NotAuthenticated,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
}

_LOCATIONS = {"body", "query", "path", "header", "cookie", "form"}
# character_not_in_repertoire (NUL in text), untranslatable_character
_UNSTORABLE_TEXT_STATES = {"22021", "22P05"}
# A body with thousands of bad fields gets the first ones, not a response larger
# than the request.
MAX_FIELD_ERRORS = 50


def problem_response(error: AppError, *, instance: str | None) -> Response:
    problem = error.to_problem(instance=instance, request_id=request_id_var.get())
    if problem.errors is not None and len(problem.errors) > MAX_FIELD_ERRORS:
        problem.errors = problem.errors[:MAX_FIELD_ERRORS]
    return Response(
        content=problem.model_dump_json(exclude_none=True),
        status_code=error.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=error.headers,
    )


def field_errors(raw: Iterable[dict[str, Any]]) -> list[FieldError]:
    """Turn pydantic's error list into ours: one dotted field path per error."""
    errors = []
    for item in list(raw)[:MAX_FIELD_ERRORS]:
        loc: Sequence[Any] = item.get("loc", ())
        location = "body"
        if loc and loc[0] in _LOCATIONS:
            location, loc = str(loc[0]), loc[1:]
        code = str(item.get("type", "invalid"))
        if code == "extra_forbidden":
            code, message = "unknown_field", "Unknown field"
        else:
            message = str(item.get("msg", "Invalid value"))
        errors.append(
            FieldError(
                field=".".join(str(part) for part in loc) or location,
                location=location,
                code=code,
                message=message,
            )
        )
    return errors


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return problem_response(exc, instance=request.url.path)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(item.get("type") == "json_invalid" for item in raw):
        error: AppError = BadRequest("The request body is not valid JSON.")
    else:
        error = ValidationFailed(
            "One or more values are invalid.", errors=field_errors(raw)
        )
    return problem_response(error, instance=request.url.path)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error_class = _BY_STATUS.get(exc.status_code)
    if error_class is None:
        error = AppError(str(exc.detail))
        error.status = exc.status_code
    else:
        detail = exc.detail if isinstance(exc.detail, str) else None
        error = error_class(detail)
    if exc.headers:
        error.headers.update(exc.headers)
    return problem_response(error, instance=request.url.path)


async def _stale(request: Request, exc: Exception) -> Response:
    # Two writers read the same version; the second UPDATE matched no row.
    return problem_response(
        PreconditionFailed("The resource was changed by someone else; read it again."),
        instance=request.url.path,
    )


def _is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a lost database or Redis connection."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current, OSError | RedisConnectionError | PostgresConnectionError
        ):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def unexpected_error(exc: Exception) -> AppError:
    """The problem to answer for an exception nobody handled (and log it)."""
    if _is_outage(exc):
        logger.error("request.dependency_unavailable", error=repr(exc))
        return ServiceUnavailable(
            "A backing service (database or cache) is unreachable; try again shortly.",
            headers={"Retry-After": "5"},
        )
    logger.exception("request.failed", exc_info=exc)
    return AppError("An unexpected error occurred; it has been logged.")


_FOREIGN_KEY_VIOLATION = "23503"


def _still_referenced(exc: DBAPIError) -> Conflict:
    """A delete refused by a foreign key: other records still point at this one.

    Services check the references they know of; this is the net under the rest (a
    table added later, a record added meanwhile), so it never becomes a 500.
    """
    original = getattr(exc.orig, "__cause__", None) or exc.orig
    table = getattr(original, "table_name", None) or "other records"
    logger.warning("request.still_referenced", table=table)
    return Conflict(
        f"Other records ({table}) still refer to this one; remove or reassign them "
        "first.",
        extra={"referenced_by": table},
    )


async def _database_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    state = getattr(exc.orig, "sqlstate", None)
    if state == _FOREIGN_KEY_VIOLATION:
        return problem_response(_still_referenced(exc), instance=request.url.path)
    if state not in _UNSTORABLE_TEXT_STATES:
        raise exc
    return problem_response(
        ValidationFailed(
            "The request contains characters that cannot be stored (e.g. NUL)."
        ),
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StaleDataError, _stale)
    app.add_exception_handler(DBAPIError, _database_refusal)
    # Anything else is answered by RequestContextMiddleware (see unexpected_error).
