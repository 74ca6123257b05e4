"""From a CSV record to a decision about one customer: create, update or unchanged.

The checks are the API's own: the customer and contact schemas for standard fields,
and the tenant's custom-attribute definitions (``parse_text`` for the cell, then
``validate_create`` / ``validate_update``), so an import accepts exactly what a client
could have sent. Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from crm_api.custom_attributes.values import Definitions
from crm_api.customers.models import Contact, Customer
from crm_api.customers.schemas import ContactCreate, CustomerCreate
from crm_api.imports.mapping import STANDARD_TARGETS, Targets
from crm_api.kernel.errors import FieldError, ValidationFailed
from crm_api.kernel.problems import field_errors

CUSTOMER_DEFAULTS: dict[str, Any] = {
    "kind": "company",
    "status": "prospect",
    "level": None,
    "industry": None,
    "source": None,
    "phone": None,
    "email": None,
    "website": None,
    "street": None,
    "city": None,
    "region": None,
    "postal_code": None,
    "country": None,
    "tags": [],
}
CUSTOMER_ATTRIBUTES = ("code", "name", *CUSTOMER_DEFAULTS)
CONTACT_ATTRIBUTES = ("name", "title", "email", "phone")
# Never cleared by an empty cell: they cannot be null, so empty means "as it is".
_KEEP_WHEN_EMPTY = frozenset({"kind", "status"})
TAG_SEPARATOR = ";"
MAX_MESSAGE_CHARS = 1000

Action = Literal["create", "update", "unchanged"]


@dataclass(frozen=True)
class RowError:
    row_number: int
    column: str | None
    field: str | None
    code: str
    message: str


@dataclass(frozen=True)
class RowValues:
    """A row's mapped values, checked and in storage form.

    ``customer`` and ``contact`` hold only mapped attributes (None for an empty
    cell); ``contact`` is None when the row's contact cells are all empty, which
    leaves an existing primary contact alone.
    """

    row_number: int
    code: str
    customer: dict[str, Any]
    custom: dict[str, Any]
    contact: dict[str, Any] | None


@dataclass(frozen=True)
class Snapshot:
    """What an import compares a row with: a customer and its primary contact."""

    customer: dict[str, Any]
    custom: dict[str, Any]
    contact: dict[str, Any] | None

    @classmethod
    def of(cls, customer: Customer, contact: Contact | None) -> Snapshot:
        return cls(
            customer={name: getattr(customer, name) for name in CUSTOMER_ATTRIBUTES},
            custom=dict(customer.custom),
            contact=(
                {name: getattr(contact, name) for name in CONTACT_ATTRIBUTES}
                if contact is not None
                else None
            ),
        )


@dataclass(frozen=True)
class Decision:
    action: Action
    # Attributes to set on the customer (all of them when creating; "custom" too).
    customer: dict[str, Any] = field(default_factory=dict)
    # None: leave the contact alone; otherwise create or change these attributes.
    contact_action: Literal["create", "update"] | None = None
    contact: dict[str, Any] = field(default_factory=dict)
    after: Snapshot | None = None


def _message(text: str) -> str:
    return (
        text
        if len(text) <= MAX_MESSAGE_CHARS
        else text[: MAX_MESSAGE_CHARS - 3] + "..."
    )


class RowPlanner:
    """Reads records of one file with one mapping and one set of definitions."""

    def __init__(
        self,
        targets: Targets,
        header: list[str],
        *,
        customer_definitions: Definitions,
        contact_definitions: Definitions,
    ) -> None:
        self.targets = targets
        self.customers = customer_definitions
        self.contacts = contact_definitions
        position = {name: index for index, name in enumerate(header)}
        self._standard = [
            (position[h], h, target)
            for h, target in targets.columns.items()
            if target in STANDARD_TARGETS
        ]
        self._contact = [(position[h], h, a) for h, a in targets.contact.items()]
        self._custom = [(position[h], h, key) for h, key in targets.custom.items()]
        self._column_of = {target: h for h, target in targets.columns.items()}

    # --- reading a row ---

    def values(self, row_number: int, fields: list[str]) -> RowValues | list[RowError]:
        """The row's values, or every reason it cannot be imported."""
        errors: list[RowError] = []
        customer = self._customer(row_number, fields, errors)
        custom: dict[str, Any] = {}
        for index, header, key in self._custom:
            try:
                custom[key] = self.customers.parse_text(key, fields[index])
            except ValueError as exc:
                message = str(exc).removeprefix(f"{key}: ")
                # NOTE: parse_text reports a readable message but no stable code, so
                # every bad custom cell is "invalid_value"; keeping the check's own
                # code (invalid_date, not_an_option ...) needs parse_text to raise
                # InvalidValue.
                errors.append(
                    RowError(
                        row_number,
                        header,
                        f"custom.{key}",
                        "invalid_value",
                        _message(message),
                    )
                )
        contact = self._contact_values(row_number, fields, errors)
        if errors or customer is None:
            return errors
        return RowValues(
            row_number=row_number,
            code=customer["code"],
            customer=customer,
            custom=custom,
            contact=contact,
        )

    def _customer(
        self, row_number: int, fields: list[str], errors: list[RowError]
    ) -> dict[str, Any] | None:
        cells = {target: fields[index].strip() for index, _, target in self._standard}
        payload: dict[str, Any] = {}
        for target, cell in cells.items():
            if target in ("code", "name") and not cell:
                errors.append(self._error(row_number, target, "required", "Required."))
            elif not cell:
                continue
            elif target == "tags":
                payload["tags"] = [
                    t.strip() for t in cell.split(TAG_SEPARATOR) if t.strip()
                ]
            elif target.startswith("address."):
                payload.setdefault("address", {})[target.removeprefix("address.")] = (
                    cell
                )
            else:
                payload[target] = cell
        if errors:
            return None
        try:
            checked = CustomerCreate.model_validate(payload)
        except ValidationError as exc:
            errors.extend(self._schema_errors(row_number, exc.errors(), prefix=""))
            return None
        values: dict[str, Any] = {}
        for target, cell in cells.items():
            attribute = STANDARD_TARGETS[target]
            if not cell:
                if attribute in _KEEP_WHEN_EMPTY:
                    continue
                values[attribute] = [] if attribute == "tags" else None
            elif target.startswith("address."):
                values[attribute] = getattr(checked.address, attribute)
            else:
                values[attribute] = getattr(checked, attribute)
        return values

    def _contact_values(
        self, row_number: int, fields: list[str], errors: list[RowError]
    ) -> dict[str, Any] | None:
        cells = {
            attribute: fields[index].strip() for index, _, attribute in self._contact
        }
        if not any(cells.values()):
            return None
        payload = {attribute: cell for attribute, cell in cells.items() if cell}
        try:
            checked = ContactCreate.model_validate(payload)
        except ValidationError as exc:
            errors.extend(
                self._schema_errors(row_number, exc.errors(), prefix="contact.")
            )
            return None
        return {
            attribute: getattr(checked, attribute) if cell else None
            for attribute, cell in cells.items()
        }

    def _schema_errors(
        self, row_number: int, raw: Iterable[Any], *, prefix: str
    ) -> list[RowError]:
        found = []
        for error in field_errors(raw):
            target = self._target_of(prefix + error.field)
            found.append(
                RowError(
                    row_number,
                    self._column_of.get(target),
                    target,
                    error.code,
                    _message(error.message),
                )
            )
        return found

    def _target_of(self, path: str) -> str:
        """The mapped target a schema error path falls under (``tags.3`` -> ``tags``)."""
        parts = path.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self._column_of:
                return candidate
        return path

    def _error(self, row_number: int, target: str, code: str, message: str) -> RowError:
        return RowError(row_number, self._column_of.get(target), target, code, message)

    # --- deciding what to do ---

    def decide(
        self, values: RowValues, current: Snapshot | None
    ) -> Decision | list[RowError]:
        """Create, update or leave alone; the rules of the API decide custom values."""
        if current is None:
            return self._create(values)
        try:
            custom = self.customers.validate_update(current.custom, values.custom)
        except ValidationFailed as exc:
            return self._value_errors(values, exc.errors or [], prefix="")
        changes = {
            name: value
            for name, value in values.customer.items()
            if current.customer[name] != value
        }
        if custom != current.custom:
            changes["custom"] = custom
        contact_action: Literal["create", "update"] | None = None
        contact_changes: dict[str, Any] = {}
        after_contact = current.contact
        if values.contact is not None and current.contact is None:
            created = self._new_contact(values, values.contact)
            if isinstance(created, list):
                return created
            contact_action, contact_changes = "create", created
            after_contact = {name: created[name] for name in CONTACT_ATTRIBUTES}
        elif values.contact is not None and current.contact is not None:
            contact_changes = {
                name: value
                for name, value in values.contact.items()
                if current.contact[name] != value
            }
            if contact_changes:
                contact_action = "update"
                after_contact = {**current.contact, **contact_changes}
        if not changes and contact_action is None:
            return Decision("unchanged", after=current)
        after = Snapshot(
            customer={**current.customer, **values.customer},
            custom=custom,
            contact=after_contact,
        )
        return Decision(
            "update",
            customer=changes,
            contact_action=contact_action,
            contact=contact_changes,
            after=after,
        )

    def _create(self, values: RowValues) -> Decision | list[RowError]:
        try:
            custom = self.customers.validate_create(values.custom)
        except ValidationFailed as exc:
            return self._value_errors(values, exc.errors or [], prefix="")
        customer = {
            **CUSTOMER_DEFAULTS,
            **values.customer,
            "code": values.code,
        }
        contact: dict[str, Any] = {}
        after_contact = None
        if values.contact is not None:
            created = self._new_contact(values, values.contact)
            if isinstance(created, list):
                return created
            contact = created
            after_contact = {name: created[name] for name in CONTACT_ATTRIBUTES}
        return Decision(
            "create",
            customer={**customer, "custom": custom},
            contact_action="create" if values.contact is not None else None,
            contact=contact,
            after=Snapshot(customer=customer, custom=custom, contact=after_contact),
        )

    def _new_contact(
        self, values: RowValues, mapped: dict[str, Any]
    ) -> dict[str, Any] | list[RowError]:
        """A new primary contact: the mapped fields, and the contact defaults."""
        try:
            custom = self.contacts.validate_create({})
        except ValidationFailed as exc:
            return self._value_errors(values, exc.errors or [], prefix="contact.")
        return {**dict.fromkeys(CONTACT_ATTRIBUTES), **mapped, "custom": custom}

    def _value_errors(
        self, values: RowValues, errors: list[FieldError], *, prefix: str
    ) -> list[RowError]:
        return [
            RowError(
                values.row_number,
                self._column_of.get(prefix + error.field),
                prefix + error.field,
                error.code,
                _message(error.message),
            )
            for error in errors
        ]


def snapshots(
    customers: Mapping[str, Customer], contacts: Mapping[Any, Contact]
) -> dict[str, Snapshot]:
    """Snapshots by code of loaded customers and their primary contacts (by id)."""
    return {
        code: Snapshot.of(customer, contacts.get(customer.id))
        for code, customer in customers.items()
    }
