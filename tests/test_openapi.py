"""The committed contract matches the code, and reads well as an SDK."""

from __future__ import annotations

import json
import re
from pathlib import Path

from crm_api.openapi import render_openapi

CONTRACT = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
# Public (no caller to scope a key to) or idempotent by nature (logout).
EXEMPT_POSTS = {"/api/v1/signup", "/api/v1/auth/token", "/api/v1/auth/logout"}


def _operations() -> list[tuple[str, str, dict[str, object]]]:
    document = json.loads(render_openapi())
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_committed_contract_matches_the_code() -> None:
    assert CONTRACT.read_text() == render_openapi(), (
        "openapi/openapi.json is stale: run `crm-api openapi` and commit the result"
    )


def test_operation_ids_are_unique_snake_case_and_tagged() -> None:
    operations = _operations()
    ids = [op["operationId"] for _, _, op in operations]

    assert len(ids) == len(set(ids))
    for path, _, operation in operations:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)+", str(operation["operationId"])), path
        assert operation.get("tags"), path


def test_every_authenticated_post_takes_an_idempotency_key() -> None:
    for path, method, operation in _operations():
        if method != "post" or path in EXEMPT_POSTS:
            continue
        headers = {
            p["name"]
            for p in operation.get("parameters", [])  # type: ignore[attr-defined]
            if p["in"] == "header"
        }
        assert "Idempotency-Key" in headers, path


def test_errors_are_documented_as_problems() -> None:
    document = json.loads(render_openapi())

    assert {"Problem", "FieldError"} <= set(document["components"]["schemas"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, _, operation in _operations():
        responses = operation["responses"]
        assert "422" not in responses, path  # type: ignore[operator]
        assert "application/problem+json" in responses["4XX"]["content"], path  # type: ignore[index]
