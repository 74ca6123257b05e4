from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from crm_api.custom_attributes.kinds import KEY_PATTERN, AttributeType
from crm_api.kernel.schemas import InputModel, ReadModel
from crm_api.kernel.types import PlainText

AttributeKey = Annotated[
    str,
    StringConstraints(pattern=KEY_PATTERN, max_length=63),
    Field(
        description="Lower-case identifier used in `custom.<key>`; cannot change.",
        examples=["contract_value"],
    ),
]


def _one_line(text: str) -> str:
    if any(char in text for char in "\n\r\t"):
        raise ValueError("must be one line, without tabs")
    return text


# Shown to every user: no control characters or bidi overrides (PlainText), and a
# label heads a form field or a column, so it is one line. A description may have
# several.
Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    PlainText,
    AfterValidator(_one_line),
]
Option = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _unique(options: list[str]) -> list[str]:
    if len(set(options)) != len(options):
        raise ValueError("options must be unique")
    return options


Options = Annotated[
    list[Option],
    AfterValidator(_unique),
    Field(
        max_length=500,
        description="The choices of a select or multiselect (required there, "
        "forbidden otherwise), each once.",
    ),
]
Description = Annotated[str, StringConstraints(max_length=1000), PlainText]
Position = Annotated[
    int, Field(ge=0, le=1_000_000, description="Display order; lower comes first.")
]
ValueType = Annotated[
    AttributeType,
    Field(
        description="The type of the values. Numbers: integer within -2^63..2^63-1; "
        "decimal with at most 30 digits before the point and 15 after (sent as a "
        'string such as "12.50" or a JSON number); money like decimal, with the '
        "tenant currency's decimal places. date is YYYY-MM-DD; datetime is ISO 8601 "
        "with an offset, within the years 1 to 9999 in UTC."
    ),
]
DefaultValue = Annotated[
    Any,
    Field(
        description="Given to new records that do not send a value, in the "
        "attribute's type; not for email, url or phone."
    ),
]


class CustomAttributeCreate(InputModel):
    key: AttributeKey
    label: Label
    type: ValueType
    required: bool = False
    options: Options | None = None
    default: DefaultValue = None
    archived: bool = False
    position: Position = 0
    description: Description | None = None


class ClearIncompatible(InputModel):
    """Remove the values that do not fit (for a multiselect losing options: only
    those options, and the value once none is left)."""

    on_incompatible: Literal["clear"]


class SetIncompatible(InputModel):
    """Replace the values that do not fit (and, where the attribute becomes
    required, fill in missing ones) with `value`."""

    on_incompatible: Literal["set"]
    value: Any = Field(description="A value of the changed attribute.")


class FirstIncompatible(InputModel):
    """Multiselect to select: keep the first chosen option that is still an option."""

    on_incompatible: Literal["first"]


Conversion = Annotated[
    ClearIncompatible | SetIncompatible | FirstIncompatible,
    Field(discriminator="on_incompatible"),
]


class CustomAttributeUpdate(InputModel):
    """Only the fields sent change. `key` cannot change; `label`, `type`,
    `required`, `archived` and `position` cannot be null."""

    label: Label | None = None
    type: ValueType | None = None
    required: bool | None = None
    options: Options | None = Field(
        default=None, description="Replaces the list; null or [] for none."
    )
    default: DefaultValue = None
    archived: bool | None = None
    position: Position | None = None
    description: Description | None = None
    conversion: Conversion | None = Field(
        default=None,
        description="What happens to stored values that would not survive a change "
        "of type or options, or that are missing when the attribute becomes "
        "required. Without it such a change is a 409 naming `affected_records`.",
    )

    @field_validator("label", "type", "required", "archived", "position", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for fields that were sent: leaving one out is fine, null is not.
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class CustomAttributeRead(ReadModel):
    id: uuid.UUID
    entity: str
    key: str
    label: str
    type: AttributeType
    required: bool
    options: list[str]
    default: Any
    archived: bool
    position: int
    description: str | None
    created_at: datetime
    updated_at: datetime
