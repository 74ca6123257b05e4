"""Column mapping: which CSV column feeds which customer field.

A target is a standard field (``name``, ``address.city``, ``tags`` ...), a field of the
customer's primary contact (``contact.name``), or a custom attribute
(``custom.<key>``). The mapping is checked before any row is read, so a typo is a 422
pointing at ``mapping.columns.<header>`` rather than a file full of row errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from crm_api.custom_attributes.values import Definitions
from crm_api.kernel.errors import BadRequest, FieldError, ValidationFailed
from crm_api.kernel.problems import field_errors
from crm_api.kernel.requests import parse_json
from crm_api.kernel.schemas import InputModel

# Target -> the Customer attribute it sets.
STANDARD_TARGETS: dict[str, str] = {
    "code": "code",
    "name": "name",
    "kind": "kind",
    "level": "level",
    "industry": "industry",
    "source": "source",
    "status": "status",
    "phone": "phone",
    "email": "email",
    "website": "website",
    "tags": "tags",
    "address.street": "street",
    "address.city": "city",
    "address.region": "region",
    "address.postal_code": "postal_code",
    "address.country": "country",
}
CONTACT_TARGETS: dict[str, str] = {
    "contact.name": "name",
    "contact.title": "title",
    "contact.email": "email",
    "contact.phone": "phone",
}
REQUIRED_TARGETS = ("code", "name")
CUSTOM_PREFIX = "custom."
MAX_COLUMNS = 500

Header = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ImportMapping(InputModel):
    """How the file's columns map to customer fields; unmapped columns are ignored."""

    columns: Annotated[
        dict[Header, Annotated[str, StringConstraints(max_length=100)]],
        Field(
            min_length=1,
            max_length=MAX_COLUMNS,
            description="CSV header -> target: a standard field (`code`, `name`, "
            "`address.city`, `tags` ...), `contact.name|title|email|phone` (the "
            "primary contact) or `custom.<key>`.",
            examples=[{"customer_id": "code", "company_name": "name"}],
        ),
    ]


@dataclass(frozen=True)
class Targets:
    """A checked mapping: CSV header -> target, and the same split by kind."""

    columns: dict[str, str]  # header -> target as written, e.g. "address.city"
    standard: dict[str, str]  # header -> Customer attribute
    contact: dict[str, str]  # header -> Contact attribute
    custom: dict[str, str]  # header -> custom attribute key

    @classmethod
    def of(cls, columns: Mapping[str, str]) -> Targets:
        standard: dict[str, str] = {}
        contact: dict[str, str] = {}
        custom: dict[str, str] = {}
        for header, target in columns.items():
            if target in STANDARD_TARGETS:
                standard[header] = STANDARD_TARGETS[target]
            elif target in CONTACT_TARGETS:
                contact[header] = CONTACT_TARGETS[target]
            else:
                custom[header] = target.removeprefix(CUSTOM_PREFIX)
        return cls(dict(columns), standard, contact, custom)

    def as_document(self) -> dict[str, Any]:
        """The mapping as stored with the import (and shown back)."""
        return {"columns": dict(self.columns)}


def _error(header: str, code: str, message: str) -> FieldError:
    return FieldError(
        field=f"mapping.columns.{header}", location="form", code=code, message=message
    )


def parse_mapping(text: str) -> ImportMapping:
    """The ``mapping`` form field (JSON) as a model, or a 422 naming what is wrong."""
    try:
        document: Any = parse_json(text.encode())
    except BadRequest as error:
        raise ValidationFailed.single(
            "mapping",
            f'Must be a JSON object like {{"columns": {{...}}}}. {error.detail}',
            code="invalid_json",
            location="form",
        ) from None
    try:
        return ImportMapping.model_validate(document)
    except ValidationError as error:
        errors = [
            FieldError(
                field=f"mapping.{item.field}" if item.field != "body" else "mapping",
                location="form",
                code=item.code,
                message=item.message,
            )
            for item in field_errors(error.errors())  # type: ignore[arg-type]
        ]
        raise ValidationFailed("The mapping is invalid.", errors=errors) from None


def check_targets(mapping: ImportMapping, definitions: Definitions) -> Targets:
    """Check every target; unknown, repeated or missing ones are a 422."""
    columns: dict[str, str] = {}
    errors: list[FieldError] = []
    seen: dict[str, str] = {}
    for header, raw_target in mapping.columns.items():
        target = raw_target.strip()
        if target in seen:
            errors.append(
                _error(
                    header,
                    "duplicate_target",
                    f"'{target}' is already fed by column '{seen[target]}'.",
                )
            )
            continue
        seen[target] = header
        problem = _target_problem(target, definitions)
        if problem is None:
            columns[header] = target
        else:
            errors.append(_error(header, *problem))
    for required in REQUIRED_TARGETS:
        if required not in seen:
            errors.append(
                FieldError(
                    field="mapping.columns",
                    location="form",
                    code="required_target",
                    message=f"A column must be mapped to '{required}'.",
                )
            )
    if errors:
        raise ValidationFailed("The mapping is invalid.", errors=errors)
    return Targets.of(columns)


def _target_problem(target: str, definitions: Definitions) -> tuple[str, str] | None:
    if target in STANDARD_TARGETS or target in CONTACT_TARGETS:
        return None
    if not target.startswith(CUSTOM_PREFIX):
        known = ", ".join([*STANDARD_TARGETS, *CONTACT_TARGETS])
        return (
            "unknown_target",
            f"'{target}' is not a target; use one of {known} or custom.<key>.",
        )
    key = target.removeprefix(CUSTOM_PREFIX)
    definition = definitions.get(key)
    if definition is None:
        return (
            "unknown_attribute",
            f"'{key}' is not a custom attribute of customers; define it first "
            "(POST /api/v1/custom-attributes/customer).",
        )
    if definition.archived:
        return ("archived", f"'{key}' is archived: not writable.")
    return None


def check_header(targets: Targets, header: list[str]) -> list[str]:
    """The file's header against the mapping; returns the columns nobody maps."""
    positions: dict[str, int] = {}
    for name in header:
        positions[name] = positions.get(name, 0) + 1
    errors: list[FieldError] = []
    for mapped in targets.columns:
        count = positions.get(mapped, 0)
        if count == 0:
            shown = ", ".join(header[:30]) + (", ..." if len(header) > 30 else "")
            errors.append(
                _error(
                    mapped,
                    "unknown_column",
                    f"The file has no column '{mapped}'; its header is: {shown}.",
                )
            )
        elif count > 1:
            errors.append(
                _error(
                    mapped,
                    "ambiguous_column",
                    f"The file has {count} columns '{mapped}'.",
                )
            )
    if errors:
        raise ValidationFailed("The mapping does not fit the file.", errors=errors)
    return list(dict.fromkeys(name for name in header if name not in targets.columns))
