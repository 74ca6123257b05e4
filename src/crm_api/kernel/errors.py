"""One error hierarchy, rendered everywhere as RFC 9457 problem details."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

PROBLEM_TYPE_PREFIX = "urn:crm-api:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    """One invalid input value: where it is, a stable code, and a readable message."""

    field: str = Field(
        description="Dotted path of the value, e.g. `email`, `custom.fax`."
    )
    location: str = Field(description="body, query, path, header, cookie or form.")
    code: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None
    extra: dict[str, Any] | None = Field(
        default=None, description="Problem-specific facts, e.g. a current state."
    )


class AppError(Exception):
    """Base of every error the API answers on purpose."""

    status = 500
    slug = "internal-error"
    title = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        preserve_writes: bool = False,
    ) -> None:
        super().__init__(detail or self.title)
        # True where the failure itself must be recorded: the request's transaction
        # commits although the response is an error (a reused refresh token revokes
        # its whole family, and that revocation must stick).
        self.preserve_writes = preserve_writes
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.extra = extra
        self.headers = headers or {}

    @property
    def type(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.slug

    def to_problem(self, *, instance: str | None, request_id: str | None) -> Problem:
        return Problem(
            type=self.type,
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            request_id=request_id,
            errors=self.errors,
            extra=self.extra,
        )


class BadRequest(AppError):
    """The request could not be read (malformed JSON, nesting too deep)."""

    status = 400
    slug = "bad-request"
    title = "Bad request"


class ValidationFailed(AppError):
    """One or more input values are invalid; each is listed under ``errors``."""

    status = 422
    slug = "validation-error"
    title = "Validation failed"

    @classmethod
    def single(
        cls, field: str, message: str, *, code: str = "invalid", location: str = "body"
    ) -> ValidationFailed:
        return cls(
            message,
            errors=[
                FieldError(field=field, location=location, code=code, message=message)
            ],
        )


def refuse_nulls(changes: Mapping[str, Any], required: Iterable[str]) -> None:
    """Raise a 422 listing each field of ``required`` that a PATCH sets to null.

    A PATCH leaves a field out to keep its value; null would clear a value the record
    cannot be without, so it is refused at that field (code ``required``).
    """
    nulls = [name for name in required if name in changes and changes[name] is None]
    if not nulls:
        return
    messages = [f"'{name}' cannot be null." for name in nulls]
    raise ValidationFailed(
        " ".join(messages),
        errors=[
            FieldError(field=name, location="body", code="required", message=message)
            for name, message in zip(nulls, messages, strict=True)
        ],
    )


class NotAuthenticated(AppError):
    """Credentials are missing, invalid or expired."""

    status = 401
    slug = "not-authenticated"
    title = "Not authenticated"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class PermissionDenied(AppError):
    """The caller is known but may not do this."""

    status = 403
    slug = "permission-denied"
    title = "Permission denied"


class NotFound(AppError):
    """No such resource, or not one the caller may see."""

    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowed(AppError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class Conflict(AppError):
    """The request clashes with the current state (duplicate, illegal transition)."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class PreconditionFailed(AppError):
    """``If-Match`` named a version that is no longer current."""

    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class PayloadTooLarge(AppError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(AppError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class BusinessRuleViolated(AppError):
    """Valid input that a business rule refuses; shaped like a validation error."""

    status = 422
    slug = "business-rule"
    title = "Business rule violated"


class RateLimited(AppError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class ServiceUnavailable(AppError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


ALL_ERRORS: tuple[type[AppError], ...] = (
    BadRequest,
    ValidationFailed,
    NotAuthenticated,
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    BusinessRuleViolated,
    RateLimited,
    ServiceUnavailable,
    AppError,
)
