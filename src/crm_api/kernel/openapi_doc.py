"""The OpenAPI document, with errors described as what they are: problem details."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from crm_api.kernel.errors import PROBLEM_MEDIA_TYPE, Problem

_REF = "#/components/schemas/{model}"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF.format(model="Problem")}}
        },
    }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    _, problem_schemas = models_json_schema(
        [(Problem, "serialization")], ref_template=_REF
    )
    schemas.update(problem_schemas.get("$defs", {}))

    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["4XX"] = _problem_response(
                "Client error (RFC 9457 problem details; invalid fields under `errors`)."
            )
            responses["5XX"] = _problem_response("Server error (problem details).")
    app.openapi_schema = document
    return document
