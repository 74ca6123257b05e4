"""Reading request bodies: JSON numbers become ``Decimal``, never ``float``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from crm_api.kernel.errors import BadRequest, ValidationFailed
from crm_api.kernel.sqlvalues import MAX_DECIMAL_DIGITS, MAX_DECIMAL_EXPONENT

MAX_JSON_DEPTH = 32


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_text(text: str, path: str) -> None:
    if "\x00" in text:
        raise ValidationFailed.single(
            path or "body", "NUL characters are not allowed", code="nul_character"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed.single(
            path or "body", "Unpaired surrogates are not allowed", code="bad_text"
        ) from None


def _check_number(number: Decimal, path: str) -> None:
    if (
        not number.is_finite()
        or abs(number.adjusted()) > MAX_DECIMAL_EXPONENT
        or len(number.as_tuple().digits) > MAX_DECIMAL_DIGITS
    ):
        raise ValidationFailed.single(
            path or "body", "The number is out of range", code="number_out_of_range"
        )


def _check_structure(value: Any, limit: int) -> None:
    """Refuse bodies nested deeper than ``limit``, or holding text or numbers that
    cannot be stored: NUL and unpaired surrogates (PostgreSQL refuses them) and numbers
    with absurd exponents (converting 1e5000000 to an integer takes minutes).
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        children: Any
        if isinstance(item, str):
            _check_text(item, path)
            continue
        if isinstance(item, Decimal):
            _check_number(item, path)
            continue
        if isinstance(item, dict):
            children = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if depth > limit:
            raise BadRequest(f"The JSON body is nested more than {limit} levels deep.")
        for key, child in children:
            if isinstance(key, str):
                _check_text(key, path)
            stack.append((child, depth + 1, f"{path}.{key}" if path else str(key)))


def parse_json(body: bytes) -> Any:
    """Parse a request body; floats are read as ``Decimal`` so money never rounds."""
    try:
        value = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequest(
            f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
        ) from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"The request body is not valid JSON (line {exc.lineno}, column {exc.colno})."
        ) from None
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.") from None
    except ValueError:
        # NaN/Infinity, or an integer longer than Python reads by default.
        raise BadRequest(
            "The request body holds a number that is not accepted."
        ) from None
    _check_structure(value, MAX_JSON_DEPTH)
    return value


def is_json_content(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def is_form_data(content_type: str | None) -> bool:
    """Whether the body is ``multipart/form-data`` (a file upload)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


class DecimalJSONRequest(Request):
    """A request whose ``json()`` uses :func:`parse_json`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json
