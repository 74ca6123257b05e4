"""Reading request bodies: JSON numbers become ``Decimal``, never ``float``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from crm_api.kernel.errors import BadRequest

MAX_JSON_DEPTH = 32


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Any
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(body: bytes) -> Any:
    """Parse a request body; floats are read as ``Decimal`` so money never rounds."""
    try:
        value = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequest(
            f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise BadRequest(
            f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
        )
    return value


def is_json_content(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class DecimalJSONRequest(Request):
    """A request whose ``json()`` uses :func:`parse_json`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json
